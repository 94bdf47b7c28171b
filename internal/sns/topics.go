package sns

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/event"
)

// Page size of the List operations, as SNS.
const pageSize = 100

// MaxTags bounds a topic's tags.
const MaxTags = 50

// ParseTopicARN splits arn:aws:sns:<region>:<account>:<name> (the aws
// partition, a region name, a 12-digit account, a topic name).
func ParseTopicARN(arn string) (region, account, name string, ok bool) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "sns" ||
		!event.ValidRegion(parts[3]) || !event.ValidAccountID(parts[4]) {
		return "", "", "", false
	}
	if !validTopicName(parts[5]) {
		return "", "", "", false
	}
	return parts[3], parts[4], parts[5], true
}

// TopicARN builds a topic's ARN.
func TopicARN(region, account, name string) string {
	return "arn:aws:sns:" + region + ":" + account + ":" + name
}

func validTopicName(n string) bool {
	if n == "" || len(n) > 256 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ownTopic finds the topic arn for account: an [*Error] wrapping
// ErrInvalidParameter for a malformed ARN, ErrAuthorization for another
// account's topic, ErrNotFound for a missing one.
func ownTopic(st *state, account, action, arn string) (*topic, error) {
	if _, acct, _, ok := ParseTopicARN(arn); !ok {
		return nil, invalid("Invalid parameter: TopicArn")
	} else if acct != account {
		return nil, notAuthorized(account, action, arn)
	}
	t := st.topic(arn)
	if t == nil {
		return nil, notFound("Topic does not exist")
	}
	return t, nil
}

// topicAttributes are the attributes CreateTopic and SetTopicAttributes
// accept.
var topicAttributes = []string{"DisplayName", "Policy", "DeliveryPolicy", "SignatureVersion"}

// checkTopicAttribute validates one settable attribute.
func checkTopicAttribute(name, value string) error {
	switch name {
	case "DisplayName":
		if utf8.RuneCountInString(value) > 100 {
			return invalid("Invalid parameter: DisplayName: at most 100 characters")
		}
	case "Policy":
		if value != "" && !json.Valid([]byte(value)) {
			return invalid("Invalid parameter: Policy: not a JSON document")
		}
	case "DeliveryPolicy":
		if value != "" {
			if _, err := ParseTopicDeliveryPolicy(value); err != nil {
				return err
			}
		}
	case "SignatureVersion":
		if value != "1" && value != "2" {
			return invalid("Invalid parameter: SignatureVersion: must be 1 or 2")
		}
	default:
		return invalid("Invalid parameter: AttributeName: %s is not a topic attribute OpenTrail supports (%s)", name, strings.Join(topicAttributes, ", "))
	}
	return nil
}

// CreateTopic creates topic name in account and region, or returns the ARN
// of the existing one (CreateTopic is idempotent; an existing topic with
// other attributes is an error, as at AWS).
func (s *Service) CreateTopic(_ context.Context, account, region, name string, attrs, tags map[string]string) (string, error) {
	if strings.HasSuffix(name, ".fifo") {
		return "", invalid("Invalid parameter: Name: FIFO topics are not supported by OpenTrail")
	}
	if !validTopicName(name) {
		return "", invalid("Invalid parameter: Topic Name")
	}
	for k, v := range attrs {
		if err := checkTopicAttribute(k, v); err != nil {
			return "", err
		}
	}
	if err := checkTags(tags); err != nil {
		return "", err
	}
	arn := TopicARN(region, account, name)
	err := s.update(func(st *state) error {
		if t := st.topic(arn); t != nil {
			for k, v := range attrs {
				if t.Attributes[k] != v {
					return invalid("Invalid parameter: Attributes Reason: Topic already exists with different attributes")
				}
			}
			for k, v := range tags {
				if cur, ok := t.Tags[k]; ok && cur != v {
					return invalid("Invalid parameter: Tags Reason: Topic already exists with different tags")
				}
			}
			return nil
		}
		t := &topic{ARN: arn, Account: account, Region: region, Name: name, Created: s.opts.Now().UTC()}
		for k, v := range attrs {
			if v != "" {
				if t.Attributes == nil {
					t.Attributes = map[string]string{}
				}
				t.Attributes[k] = v
			}
		}
		if len(tags) > 0 {
			t.Tags = maps.Clone(tags)
		}
		st.Topics = append(st.Topics, t)
		return nil
	})
	if err != nil {
		return "", err
	}
	return arn, nil
}

// DeleteTopic deletes the topic with its subscriptions and tokens.
// Deleting a topic that does not exist is not an error, as at AWS.
func (s *Service) DeleteTopic(_ context.Context, account, arn string) error {
	return s.update(func(st *state) error {
		t, err := ownTopic(st, account, "DeleteTopic", arn)
		if errorsIsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		st.Topics = slices.DeleteFunc(st.Topics, func(x *topic) bool { return x == t })
		st.Subscriptions = slices.DeleteFunc(st.Subscriptions, func(x *subscription) bool { return x.TopicARN == arn })
		st.Tokens = slices.DeleteFunc(st.Tokens, func(x *token) bool { return x.TopicARN == arn })
		return nil
	})
}

// TopicExists reports whether account owns topic arn: what CreateTrail
// checks of SnsTopicName.
func (s *Service) TopicExists(account, arn string) bool {
	found := false
	s.view(func(st *state) {
		t := st.topic(arn)
		found = t != nil && t.Account == account
	})
	return found
}

// page returns the items after the NextToken next (the last ARN of the
// previous page, base64) and the token of the following page.
func page(arns []string, next string) ([]string, string, error) {
	slices.Sort(arns)
	if next != "" {
		b, err := base64.RawURLEncoding.DecodeString(next)
		if err != nil || len(b) == 0 {
			return nil, "", invalid("Invalid parameter: NextToken")
		}
		after := string(b)
		i, _ := slices.BinarySearch(arns, after)
		if i < len(arns) && arns[i] == after {
			i++
		}
		arns = arns[i:]
	}
	if len(arns) > pageSize {
		arns = arns[:pageSize]
		return arns, base64.RawURLEncoding.EncodeToString([]byte(arns[len(arns)-1])), nil
	}
	return arns, "", nil
}

// ListTopics lists account's topics in region, a page at a time.
func (s *Service) ListTopics(_ context.Context, account, region, next string) ([]string, string, error) {
	var arns []string
	s.view(func(st *state) {
		for _, t := range st.Topics {
			if t.Account == account && t.Region == region {
				arns = append(arns, t.ARN)
			}
		}
	})
	return page(arns, next)
}

// defaultPolicy is a topic's Policy when none was set (alerts.md §2.1).
func defaultPolicy(arn, account string) string {
	type statement struct {
		Sid       string            `json:"Sid"`
		Effect    string            `json:"Effect"`
		Principal map[string]string `json:"Principal"`
		Action    []string          `json:"Action"`
		Resource  string            `json:"Resource"`
		Condition map[string]any    `json:"Condition"`
	}
	doc := struct {
		Version   string      `json:"Version"`
		ID        string      `json:"Id"`
		Statement []statement `json:"Statement"`
	}{"2008-10-17", "__default_policy_ID", []statement{{
		Sid: "__default_statement_ID", Effect: "Allow", Principal: map[string]string{"AWS": "*"},
		Action: []string{"SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
			"SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"},
		Resource:  arn,
		Condition: map[string]any{"StringEquals": map[string]string{"AWS:SourceOwner": account}},
	}}}
	b, _ := json.Marshal(doc) // plain values always encode
	return string(b)
}

// TopicAttributes returns GetTopicAttributes' map.
func (s *Service) TopicAttributes(_ context.Context, account, arn string) (map[string]string, error) {
	var out map[string]string
	var err error
	s.view(func(st *state) {
		var t *topic
		if t, err = ownTopic(st, account, "GetTopicAttributes", arn); err != nil {
			return
		}
		var pending, confirmed int
		for _, sub := range st.subscriptionsOf(arn) {
			if sub.Confirmed {
				confirmed++
			} else {
				pending++
			}
		}
		out = map[string]string{
			"TopicArn":                arn,
			"Owner":                   t.Account,
			"Policy":                  defaultPolicy(arn, t.Account),
			"DisplayName":             t.Attributes["DisplayName"],
			"SubscriptionsPending":    strconv.Itoa(pending),
			"SubscriptionsConfirmed":  strconv.Itoa(confirmed),
			"SubscriptionsDeleted":    "0",
			"EffectiveDeliveryPolicy": topicEffectiveDeliveryPolicy(t.Attributes["DeliveryPolicy"]),
		}
		for _, k := range []string{"Policy", "DeliveryPolicy", "SignatureVersion"} {
			if v, ok := t.Attributes[k]; ok {
				out[k] = v
			}
		}
	})
	return out, err
}

// SetTopicAttribute sets one attribute; an empty Policy or DeliveryPolicy
// returns to the default.
func (s *Service) SetTopicAttribute(_ context.Context, account, arn, name, value string) error {
	if err := checkTopicAttribute(name, value); err != nil {
		return err
	}
	return s.update(func(st *state) error {
		t, err := ownTopic(st, account, "SetTopicAttributes", arn)
		if err != nil {
			return err
		}
		if value == "" && name != "DisplayName" {
			delete(t.Attributes, name)
			return nil
		}
		if t.Attributes == nil {
			t.Attributes = map[string]string{}
		}
		t.Attributes[name] = value
		return nil
	})
}

func checkTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return &Error{Kind: ErrTagLimit, Msg: "Could not complete request: tag quota of per resource exceeded"}
	}
	for k, v := range tags {
		if k == "" || utf8.RuneCountInString(k) > 128 {
			return invalid("Invalid parameter: Tags: a tag key must be 1 to 128 characters")
		}
		if utf8.RuneCountInString(v) > 256 {
			return invalid("Invalid parameter: Tags: a tag value must be at most 256 characters")
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return invalid("Invalid parameter: Tags: keys may not start with aws:")
		}
	}
	return nil
}

// taggedTopic is ownTopic for the tagging operations, whose missing
// resource is ResourceNotFound.
func taggedTopic(st *state, account, action, arn string) (*topic, error) {
	t, err := ownTopic(st, account, action, arn)
	if errorsIsNotFound(err) {
		return nil, &Error{Kind: ErrResourceNotFound, Msg: "Resource does not exist"}
	}
	return t, err
}

// TagResource adds or replaces tags of a topic.
func (s *Service) TagResource(_ context.Context, account, arn string, tags map[string]string) error {
	if err := checkTags(tags); err != nil {
		return err
	}
	return s.update(func(st *state) error {
		t, err := taggedTopic(st, account, "TagResource", arn)
		if err != nil {
			return err
		}
		merged := maps.Clone(t.Tags)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, tags)
		if err := checkTags(merged); err != nil {
			return err
		}
		t.Tags = merged
		return nil
	})
}

// UntagResource removes tag keys from a topic.
func (s *Service) UntagResource(_ context.Context, account, arn string, keys []string) error {
	return s.update(func(st *state) error {
		t, err := taggedTopic(st, account, "UntagResource", arn)
		if err != nil {
			return err
		}
		for _, k := range keys {
			delete(t.Tags, k)
		}
		if len(t.Tags) == 0 {
			t.Tags = nil
		}
		return nil
	})
}

// ListTags returns a topic's tags.
func (s *Service) ListTags(_ context.Context, account, arn string) (map[string]string, error) {
	var out map[string]string
	var err error
	s.view(func(st *state) {
		var t *topic
		if t, err = taggedTopic(st, account, "ListTagsForResource", arn); err == nil {
			out = maps.Clone(t.Tags)
		}
	})
	return out, err
}
