package sns

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"
)

// TokenLifetime is how long a confirmation token is valid (SNS: two days).
const TokenLifetime = 48 * time.Hour

// PendingConfirmation is the SubscriptionArn Subscribe returns, and the
// lists show, for a subscription not yet confirmed.
const (
	PendingConfirmation = "pending confirmation"
	pendingInLists      = "PendingConfirmation"
)

// Subscription is one row of ListSubscriptions.
type Subscription struct {
	SubscriptionARN string // PendingConfirmation while pending
	Owner           string
	Protocol        string
	Endpoint        string
	TopicARN        string
}

// subscriptionAttributes are the attributes Subscribe and
// SetSubscriptionAttributes accept.
var subscriptionAttributes = []string{"RawMessageDelivery", "DeliveryPolicy"}

func checkSubscriptionAttribute(name, value string) error {
	switch name {
	case "RawMessageDelivery":
		if value != "true" && value != "false" {
			return invalid("Invalid parameter: RawMessageDelivery: must be true or false")
		}
	case "DeliveryPolicy":
		if value != "" {
			if _, err := ParseSubscriptionDeliveryPolicy(value); err != nil {
				return err
			}
		}
	default:
		return invalid("Invalid parameter: AttributeName: %s is not a subscription attribute OpenTrail supports (%s)",
			name, strings.Join(subscriptionAttributes, ", "))
	}
	return nil
}

// checkEndpoint accepts an http or https URL whose scheme is the
// protocol.
func checkEndpoint(protocol, endpoint string) error {
	if protocol != "http" && protocol != "https" {
		return invalid("Invalid parameter: Protocol: OpenTrail delivers to http and https endpoints only")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != protocol || u.Host == "" || u.User != nil {
		return invalid("Invalid parameter: Endpoint must match the specified protocol")
	}
	return nil
}

// Subscribe subscribes endpoint to a topic of account. A new subscription
// is pending: a SubscriptionConfirmation is queued for the endpoint and
// the result is PendingConfirmation, or the new ARN when returnARN. An
// endpoint already subscribed gets its ARN back (confirmed) or a fresh
// confirmation (pending).
func (s *Service) Subscribe(_ context.Context, account, topicARN, protocol, endpoint string, attrs map[string]string, returnARN bool) (string, error) {
	if err := checkEndpoint(protocol, endpoint); err != nil {
		return "", err
	}
	for k, v := range attrs {
		if err := checkSubscriptionAttribute(k, v); err != nil {
			return "", err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.q.room(1, s.opts.MaxQueued); err != nil {
		return "", err
	}
	var sub *subscription
	var tok *token
	var t *topic
	err := s.updateLocked(func(st *state) error {
		var err error
		if t, err = ownTopic(st, account, "Subscribe", topicARN); err != nil {
			return err
		}
		for _, x := range st.subscriptionsOf(topicARN) {
			if x.Protocol == protocol && x.Endpoint == endpoint {
				sub = x
			}
		}
		if sub != nil && sub.Confirmed {
			return nil
		}
		if sub == nil {
			sub = &subscription{ARN: topicARN + ":" + newUUID(), TopicARN: topicARN, Owner: account, Protocol: protocol, Endpoint: endpoint}
			for k, v := range attrs {
				if v != "" {
					if sub.Attributes == nil {
						sub.Attributes = map[string]string{}
					}
					sub.Attributes[k] = v
				}
			}
			st.Subscriptions = append(st.Subscriptions, sub)
		}
		tok = &token{Token: newToken(), TopicARN: topicARN, SubscriptionARN: sub.ARN, Owner: account, Protocol: protocol,
			Endpoint: endpoint, Expires: s.opts.Now().Add(TokenLifetime).UTC()}
		st.Tokens = append(st.Tokens, tok)
		return nil
	})
	if err != nil {
		return "", err
	}
	if tok == nil { // already confirmed
		return sub.ARN, nil
	}
	d, err := s.confirmation(TypeSubscriptionConfirmation, t, sub, tok, "You have chosen to subscribe to the topic "+topicARN+
		".\nTo confirm the subscription, visit the SubscribeURL included in this message.")
	if err != nil {
		return "", err
	}
	if err := s.q.enqueue(s, []*delivery{d}); err != nil {
		return "", err
	}
	if returnARN {
		return sub.ARN, nil
	}
	return PendingConfirmation, nil
}

// ConfirmSubscription confirms the subscription a token was issued for
// (or re-creates one an unauthenticated unsubscribe removed). account is
// the signed caller's, "" for the unsigned SubscribeURL GET; only a
// signed call may set authenticateOnUnsubscribe.
func (s *Service) ConfirmSubscription(_ context.Context, account, topicARN, tokenText string, authenticateOnUnsubscribe bool) (string, error) {
	var arn string
	err := s.update(func(st *state) error {
		_, acct, _, ok := ParseTopicARN(topicARN)
		if !ok {
			return invalid("Invalid parameter: TopicArn")
		}
		if account != "" && acct != account {
			return notAuthorized(account, "ConfirmSubscription", topicARN)
		}
		t := st.topic(topicARN)
		if t == nil {
			return notFound("Topic does not exist")
		}
		now := s.opts.Now()
		i := slices.IndexFunc(st.Tokens, func(x *token) bool {
			return x.Token == tokenText && x.TopicARN == topicARN && now.Before(x.Expires)
		})
		if i < 0 {
			return invalid("Invalid token")
		}
		tok := st.Tokens[i]
		sub := st.subscription(tok.SubscriptionARN)
		if sub == nil {
			sub = &subscription{ARN: tok.SubscriptionARN, TopicARN: topicARN, Owner: tok.Owner, Protocol: tok.Protocol, Endpoint: tok.Endpoint}
			st.Subscriptions = append(st.Subscriptions, sub)
		}
		if !sub.Confirmed {
			sub.Confirmed = true
			sub.ConfirmationWasAuthenticated = account != ""
		}
		if account != "" && authenticateOnUnsubscribe {
			sub.AuthenticateOnUnsubscribe = true
		}
		arn = sub.ARN
		return nil
	})
	return arn, err
}

// parseSubscriptionARN returns the topic ARN of <topicArn>:<uuid>.
func parseSubscriptionARN(arn string) (topicARN, account string, ok bool) {
	i := strings.LastIndexByte(arn, ':')
	if i < 0 || len(arn)-i-1 != 36 {
		return "", "", false
	}
	topicARN = arn[:i]
	_, account, _, ok = ParseTopicARN(topicARN)
	return topicARN, account, ok
}

// ownSubscription finds subscription arn for account.
func ownSubscription(st *state, account, action, arn string) (*subscription, error) {
	_, acct, ok := parseSubscriptionARN(arn)
	if !ok {
		return nil, invalid("Invalid parameter: SubscriptionArn")
	}
	sub := st.subscription(arn)
	if account != "" && acct != account && (sub == nil || sub.Owner != account) {
		return nil, notAuthorized(account, action, arn)
	}
	if sub == nil {
		return nil, notFound("Subscription does not exist")
	}
	return sub, nil
}

// Unsubscribe deletes a subscription. account is the signed caller's, ""
// for the unsigned UnsubscribeURL GET, which is refused for a
// subscription confirmed with AuthenticateOnUnsubscribe and sends the
// endpoint a final UnsubscribeConfirmation whose SubscribeURL restores
// the subscription.
func (s *Service) Unsubscribe(_ context.Context, account, arn string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone *subscription
	var tok *token
	var t *topic
	err := s.updateLocked(func(st *state) error {
		sub, err := ownSubscription(st, account, "Unsubscribe", arn)
		if err != nil {
			return err
		}
		if account == "" && sub.AuthenticateOnUnsubscribe {
			return notAuthorized("anonymous", "Unsubscribe", arn)
		}
		st.Subscriptions = slices.DeleteFunc(st.Subscriptions, func(x *subscription) bool { return x == sub })
		st.Tokens = slices.DeleteFunc(st.Tokens, func(x *token) bool { return x.SubscriptionARN == arn })
		gone, t = sub, st.topic(sub.TopicARN)
		if account == "" && sub.Confirmed && t != nil {
			tok = &token{Token: newToken(), TopicARN: sub.TopicARN, SubscriptionARN: arn, Owner: sub.Owner, Protocol: sub.Protocol,
				Endpoint: sub.Endpoint, Expires: s.opts.Now().Add(TokenLifetime).UTC()}
			st.Tokens = append(st.Tokens, tok)
		}
		return nil
	})
	if err != nil || tok == nil {
		return err
	}
	d, err := s.confirmation(TypeUnsubscribeConfirmation, t, gone, tok, "You have chosen to deactivate subscription "+arn+
		".\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.")
	if err != nil {
		return err
	}
	return s.q.enqueue(s, []*delivery{d})
}

// ListSubscriptions lists the subscriptions account owns, or, with
// topicARN set, those of that topic (which account must own).
func (s *Service) ListSubscriptions(_ context.Context, account, topicARN, next string) ([]Subscription, string, error) {
	rows := map[string]Subscription{}
	var err error
	s.view(func(st *state) {
		subs := st.Subscriptions
		if topicARN != "" {
			if _, err = ownTopic(st, account, "ListSubscriptionsByTopic", topicARN); err != nil {
				return
			}
			subs = st.subscriptionsOf(topicARN)
		}
		for _, sub := range subs {
			if topicARN == "" && sub.Owner != account {
				continue
			}
			r := Subscription{SubscriptionARN: sub.ARN, Owner: sub.Owner, Protocol: sub.Protocol, Endpoint: sub.Endpoint, TopicARN: sub.TopicARN}
			if !sub.Confirmed {
				r.SubscriptionARN = pendingInLists
			}
			rows[sub.ARN] = r
		}
	})
	if err != nil {
		return nil, "", err
	}
	arns := make([]string, 0, len(rows))
	for k := range rows {
		arns = append(arns, k)
	}
	arns, nextToken, err := page(arns, next)
	if err != nil {
		return nil, "", err
	}
	out := make([]Subscription, 0, len(arns))
	for _, a := range arns {
		out = append(out, rows[a])
	}
	return out, nextToken, nil
}

// SubscriptionAttributes returns GetSubscriptionAttributes' map.
func (s *Service) SubscriptionAttributes(_ context.Context, account, arn string) (map[string]string, error) {
	var out map[string]string
	var err error
	s.view(func(st *state) {
		var sub *subscription
		if sub, err = ownSubscription(st, account, "GetSubscriptionAttributes", arn); err != nil {
			return
		}
		var topicPolicy string
		if t := st.topic(sub.TopicARN); t != nil {
			topicPolicy = t.Attributes["DeliveryPolicy"]
		}
		out = map[string]string{
			"SubscriptionArn":              sub.ARN,
			"TopicArn":                     sub.TopicARN,
			"Owner":                        sub.Owner,
			"Protocol":                     sub.Protocol,
			"Endpoint":                     sub.Endpoint,
			"ConfirmationWasAuthenticated": boolString(sub.ConfirmationWasAuthenticated),
			"PendingConfirmation":          boolString(!sub.Confirmed),
			"RawMessageDelivery":           boolString(sub.Attributes["RawMessageDelivery"] == "true"),
			"EffectiveDeliveryPolicy":      subscriptionEffectiveDeliveryPolicy(effectivePolicy(topicPolicy, sub.Attributes["DeliveryPolicy"])),
		}
		if v, ok := sub.Attributes["DeliveryPolicy"]; ok {
			out["DeliveryPolicy"] = v
		}
	})
	return out, err
}

// SetSubscriptionAttribute sets RawMessageDelivery or DeliveryPolicy.
func (s *Service) SetSubscriptionAttribute(_ context.Context, account, arn, name, value string) error {
	if err := checkSubscriptionAttribute(name, value); err != nil {
		return err
	}
	return s.update(func(st *state) error {
		sub, err := ownSubscription(st, account, "SetSubscriptionAttributes", arn)
		if err != nil {
			return err
		}
		if value == "" {
			delete(sub.Attributes, name)
			return nil
		}
		if sub.Attributes == nil {
			sub.Attributes = map[string]string{}
		}
		sub.Attributes[name] = value
		return nil
	})
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
