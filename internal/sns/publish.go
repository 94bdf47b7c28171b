package sns

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Message types: the x-amz-sns-message-type header and the Type member.
const (
	TypeNotification             = "Notification"
	TypeSubscriptionConfirmation = "SubscriptionConfirmation"
	TypeUnsubscribeConfirmation  = "UnsubscribeConfirmation"
)

// Limits of Publish (alerts.md §2.1).
const (
	MaxMessageBytes      = 262_144
	MaxSubjectRunes      = 99
	MaxMessageAttributes = 10
)

// MessageAttribute is one message attribute: DataType String, String.Array,
// Number or Binary (optionally with a custom suffix after a dot), and
// StringValue or BinaryValue.
type MessageAttribute struct {
	DataType    string
	StringValue string
	BinaryValue []byte
}

// PublishInput is a Publish call.
type PublishInput struct {
	TopicARN string
	Subject  string
	Message  string
	// MessageStructure "json" makes Message a JSON object of protocol to
	// message, with a required "default".
	MessageStructure string
	Attributes       map[string]MessageAttribute
}

// Publish publishes a message to a topic and returns its MessageId once a
// delivery to each confirmed subscriber is on disk. It is the in-process
// entry point (trail notifications, EventBridge targets, CloudWatch
// alarms): the caller has decided it may publish; the topic need only
// exist.
func (s *Service) Publish(ctx context.Context, topicARN, subject, message string, attrs map[string]MessageAttribute) (string, error) {
	return s.publish(ctx, "", PublishInput{TopicARN: topicARN, Subject: subject, Message: message, Attributes: attrs})
}

// PublishAs is Publish for a caller of the API: account must own the
// topic.
func (s *Service) PublishAs(ctx context.Context, account string, in PublishInput) (string, error) {
	if _, acct, _, ok := ParseTopicARN(in.TopicARN); !ok {
		return "", invalid("Invalid parameter: TopicArn")
	} else if acct != account {
		return "", notAuthorized(account, "Publish", in.TopicARN)
	}
	return s.publish(ctx, account, in)
}

func checkPublish(in PublishInput) (perProtocol map[string]string, err error) {
	if in.Message == "" {
		return nil, invalid("Invalid parameter: Empty message")
	}
	if len(in.Message) > MaxMessageBytes {
		return nil, invalid("Invalid parameter: Message too long")
	}
	if !utf8.ValidString(in.Message) {
		return nil, invalid("Invalid parameter: Message must be valid UTF-8")
	}
	if in.Subject != "" {
		if utf8.RuneCountInString(in.Subject) > MaxSubjectRunes {
			return nil, invalid("Subject must be less than 100 characters")
		}
		for _, r := range in.Subject {
			if unicode.IsControl(r) {
				return nil, invalid("Invalid parameter: Subject")
			}
		}
	}
	switch in.MessageStructure {
	case "":
	case "json":
		if err := json.Unmarshal([]byte(in.Message), &perProtocol); err != nil {
			return nil, invalid("Invalid parameter: Message Structure - JSON message body failed to parse")
		}
		if _, ok := perProtocol["default"]; !ok {
			return nil, invalid("Invalid parameter: Message Structure - No default entry in JSON message body")
		}
	default:
		return nil, invalid("Invalid parameter: MessageStructure")
	}
	if len(in.Attributes) > MaxMessageAttributes {
		return nil, invalid("Invalid parameter: MessageAttributes: at most %d attributes", MaxMessageAttributes)
	}
	for name, a := range in.Attributes {
		if err := checkAttribute(name, a); err != nil {
			return nil, err
		}
	}
	return perProtocol, nil
}

func checkAttribute(name string, a MessageAttribute) error {
	if name == "" || len(name) > 256 || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") ||
		strings.HasPrefix(strings.ToLower(name), "aws.") || strings.HasPrefix(strings.ToLower(name), "amazon.") {
		return invalid("Invalid attribute name: %s", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return invalid("Invalid attribute name: %s", name)
		}
	}
	base, _, _ := strings.Cut(a.DataType, ".")
	switch {
	case a.DataType == "String.Array" || base == "String" || base == "Number":
		if a.StringValue == "" {
			return invalid("Invalid parameter: MessageAttributes: the message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'", name, a.DataType)
		}
	case base == "Binary":
		if len(a.BinaryValue) == 0 {
			return invalid("Invalid parameter: MessageAttributes: the message attribute '%s' must contain non-empty binary value", name)
		}
	default:
		return invalid("Invalid parameter: MessageAttributes: the message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", name)
	}
	return nil
}

func (s *Service) publish(_ context.Context, account string, in PublishInput) (string, error) {
	perProtocol, err := checkPublish(in)
	if err != nil {
		return "", err
	}
	id := newUUID()
	ds, err := s.render(account, in, id, perProtocol)
	if err != nil {
		return "", err
	}
	// The files are written outside the state lock: other calls go on
	// while this one waits for its fsyncs.
	if err := s.q.room(len(ds), s.opts.MaxQueued); err != nil {
		return "", err
	}
	if err := s.q.enqueue(s, ds); err != nil {
		return "", err
	}
	s.m.published.Inc()
	return id, nil
}

// render builds one signed notification per confirmed subscriber of the
// topic, under the state lock.
func (s *Service) render(account string, in PublishInput, id string, perProtocol map[string]string) ([]*delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.st.topic(in.TopicARN)
	if t == nil || account != "" && t.Account != account {
		return nil, notFound("Topic does not exist")
	}
	ts := s.opts.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	var ds []*delivery
	for _, sub := range s.st.subscriptionsOf(in.TopicARN) {
		if !sub.Confirmed {
			continue
		}
		msg := in.Message
		if perProtocol != nil {
			msg = perProtocol["default"]
			if m, ok := perProtocol[sub.Protocol]; ok {
				msg = m
			}
		}
		d, err := s.notification(t, sub, id, ts, in.Subject, msg, in.Attributes)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// document is the JSON body of an HTTP delivery, members in SNS's order.
type document struct {
	Type              string                   `json:"Type"`
	MessageID         string                   `json:"MessageId"`
	Token             string                   `json:"Token,omitempty"`
	TopicARN          string                   `json:"TopicArn"`
	Subject           *string                  `json:"Subject,omitempty"`
	Message           string                   `json:"Message"`
	SubscribeURL      string                   `json:"SubscribeURL,omitempty"`
	Timestamp         string                   `json:"Timestamp"`
	SignatureVersion  string                   `json:"SignatureVersion"`
	Signature         string                   `json:"Signature"`
	SigningCertURL    string                   `json:"SigningCertURL"`
	UnsubscribeURL    string                   `json:"UnsubscribeURL,omitempty"`
	MessageAttributes map[string]attributeJSON `json:"MessageAttributes,omitempty"`
}

type attributeJSON struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

// signed fills the document's signature fields.
func (s *Service) signed(doc *document, version string) error {
	if version == "" {
		version = "1"
	}
	fields := map[string]string{"Message": doc.Message, "MessageId": doc.MessageID, "Timestamp": doc.Timestamp,
		"TopicArn": doc.TopicARN, "Type": doc.Type}
	if doc.Subject != nil {
		fields["Subject"] = *doc.Subject
	}
	if doc.Type != TypeNotification {
		fields["SubscribeURL"], fields["Token"] = doc.SubscribeURL, doc.Token
	}
	sig, err := s.signer.sign(version, StringToSign(fields))
	if err != nil {
		return err
	}
	doc.SignatureVersion, doc.Signature = version, sig
	doc.SigningCertURL = s.baseURL() + s.signer.certName
	return nil
}

// encode renders a JSON document without HTML escaping (SNS writes < and
// & as they are).
func encode(doc *document) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func (s *Service) unsubscribeURL(subARN string) string {
	return s.baseURL() + "?Action=Unsubscribe&SubscriptionArn=" + url.QueryEscape(subARN)
}

// notification renders and signs one Notification for sub.
func (s *Service) notification(t *topic, sub *subscription, id, ts, subject, message string, attrs map[string]MessageAttribute) (*delivery, error) {
	eff := effectivePolicy(t.Attributes["DeliveryPolicy"], sub.Attributes["DeliveryPolicy"])
	headers := map[string]string{
		"x-amz-sns-message-type":     TypeNotification,
		"x-amz-sns-message-id":       id,
		"x-amz-sns-topic-arn":        t.ARN,
		"x-amz-sns-subscription-arn": sub.ARN,
		"Content-Type":               eff.ContentType,
		"User-Agent":                 "Amazon Simple Notification Service Agent",
	}
	var body string
	if sub.Attributes["RawMessageDelivery"] == "true" {
		headers["x-amz-sns-rawdelivery"] = "true"
		body = message
	} else {
		doc := &document{Type: TypeNotification, MessageID: id, TopicARN: t.ARN, Message: message, Timestamp: ts,
			UnsubscribeURL: s.unsubscribeURL(sub.ARN)}
		if subject != "" {
			doc.Subject = &subject
		}
		if len(attrs) > 0 {
			doc.MessageAttributes = map[string]attributeJSON{}
			for k, a := range attrs {
				v := a.StringValue
				if strings.HasPrefix(a.DataType, "Binary") {
					v = base64.StdEncoding.EncodeToString(a.BinaryValue)
				}
				doc.MessageAttributes[k] = attributeJSON{Type: a.DataType, Value: v}
			}
		}
		if err := s.signed(doc, t.Attributes["SignatureVersion"]); err != nil {
			return nil, err
		}
		var err error
		if body, err = encode(doc); err != nil {
			return nil, err
		}
	}
	return &delivery{Kind: TypeNotification, Account: t.Account, TopicARN: t.ARN, SubscriptionARN: sub.ARN, MessageID: id,
		Endpoint: sub.Endpoint, Headers: headers, Body: body, Policy: eff.Retry, Throttle: eff.Throttle}, nil
}

// confirmation renders and signs a Subscription- or
// UnsubscribeConfirmation carrying tok.
func (s *Service) confirmation(kind string, t *topic, sub *subscription, tok *token, message string) (*delivery, error) {
	eff := effectivePolicy(t.Attributes["DeliveryPolicy"], sub.Attributes["DeliveryPolicy"])
	id := newUUID()
	doc := &document{Type: kind, MessageID: id, Token: tok.Token, TopicARN: t.ARN, Message: message,
		SubscribeURL: s.baseURL() + "?Action=ConfirmSubscription&TopicArn=" + url.QueryEscape(t.ARN) + "&Token=" + tok.Token,
		Timestamp:    s.opts.Now().UTC().Format("2006-01-02T15:04:05.000Z")}
	if err := s.signed(doc, t.Attributes["SignatureVersion"]); err != nil {
		return nil, err
	}
	body, err := encode(doc)
	if err != nil {
		return nil, err
	}
	headers := map[string]string{
		"x-amz-sns-message-type": kind,
		"x-amz-sns-message-id":   id,
		"x-amz-sns-topic-arn":    t.ARN,
		"Content-Type":           eff.ContentType,
		"User-Agent":             "Amazon Simple Notification Service Agent",
	}
	if kind == TypeUnsubscribeConfirmation {
		headers["x-amz-sns-subscription-arn"] = sub.ARN
	}
	return &delivery{Kind: kind, Account: t.Account, TopicARN: t.ARN, SubscriptionARN: sub.ARN, MessageID: id,
		Endpoint: sub.Endpoint, Headers: headers, Body: body, Policy: eff.Retry, Throttle: eff.Throttle}, nil
}
