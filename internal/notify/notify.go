// Package notify delivers notifications to HTTP webhooks in the shape of an
// Amazon SNS HTTP/HTTPS subscription: a POST whose body is the SNS
// notification envelope (Type, MessageId, TopicArn, Message, Timestamp),
// with the x-amz-sns-* headers. Subscribers written for SNS, such as
// readers of CloudTrail's "new log file" notifications, parse it unchanged.
// It is the config file's shortcut for trails' notifications: topics
// created through the SNS API are published by internal/sns, signed; these
// webhook envelopes carry no Signature.
//
// Retrying is the caller's job: Publish makes one attempt and returns an
// error unless the target answered 2xx.
package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Targets maps SNS topic ARNs to webhook URLs; Default, when set, receives
// the topics without an entry.
type Targets struct {
	Topics  map[string]string
	Default string
	Client  *http.Client // nil means a client with a 10 s timeout
	Now     func() time.Time
}

// Error is a failed publish; Code is what GetTrailStatus shows as
// LatestNotificationError.
type Error struct {
	ErrCode string
	Msg     string
}

func (e *Error) Error() string { return e.ErrCode + ": " + e.Msg }

// Code returns the error code.
func (e *Error) Code() string { return e.ErrCode }

// Envelope is the SNS notification document.
type Envelope struct {
	Type             string `json:"Type"`
	MessageID        string `json:"MessageId"`
	TopicARN         string `json:"TopicArn"`
	Message          string `json:"Message"`
	Timestamp        string `json:"Timestamp"`
	SignatureVersion string `json:"SignatureVersion"`
}

// URL returns the webhook for topic, or "" when there is none.
func (t *Targets) URL(topic string) string {
	if u, ok := t.Topics[topic]; ok {
		return u
	}
	return t.Default
}

// Publish posts message to topic's webhook.
func (t *Targets) Publish(ctx context.Context, topic, message string) error {
	url := t.URL(topic)
	if url == "" {
		return &Error{"NotFound", "no webhook is configured for topic " + topic + "; add it to notifications.topics in the config file"}
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	env := Envelope{
		Type: "Notification", MessageID: newUUID(), TopicARN: topic, Message: message,
		Timestamp: now().UTC().Format("2006-01-02T15:04:05.000Z"), SignatureVersion: "1",
	}
	body, err := json.Marshal(env)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &Error{"InvalidParameter", fmt.Sprintf("webhook URL for %s: %v", topic, err)}
	}
	req.Header.Set("Content-Type", "text/plain; charset=UTF-8")
	req.Header.Set("x-amz-sns-message-type", "Notification")
	req.Header.Set("x-amz-sns-message-id", env.MessageID)
	req.Header.Set("x-amz-sns-topic-arn", topic)
	c := t.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return &Error{"EndpointUnreachable", err.Error()}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return &Error{fmt.Sprintf("HTTP%d", resp.StatusCode), "the webhook answered " + resp.Status}
	}
	return nil
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
