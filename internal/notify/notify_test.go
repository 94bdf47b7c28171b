package notify_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/opentrail/opentrail/internal/notify"
)

func TestPublishPostsSNSEnvelope(t *testing.T) {
	var got notify.Envelope
	var hdr http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hdr = r.Header
		if err := json.Unmarshal(b, &got); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
	}))
	defer srv.Close()
	topic := "arn:aws:sns:us-east-1:123456789012:trail-files"
	tg := &notify.Targets{Topics: map[string]string{topic: srv.URL}}
	msg := `{"s3Bucket":"b","s3ObjectKey":["k"]}`
	if err := tg.Publish(t.Context(), topic, msg); err != nil {
		t.Fatal(err)
	}
	if got.Type != "Notification" || got.TopicARN != topic || got.Message != msg || got.MessageID == "" || got.Timestamp == "" {
		t.Fatalf("envelope = %+v", got)
	}
	if hdr.Get("x-amz-sns-message-type") != "Notification" || hdr.Get("x-amz-sns-topic-arn") != topic {
		t.Fatalf("headers = %v", hdr)
	}
}

func TestPublishErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	tg := &notify.Targets{Default: srv.URL}
	err := tg.Publish(t.Context(), "arn:aws:sns:us-east-1:123456789012:t", "{}")
	var ne *notify.Error
	if !asError(err, &ne) || ne.Code() != "HTTP503" {
		t.Fatalf("err = %v", err)
	}
	none := &notify.Targets{}
	if err := none.Publish(t.Context(), "arn:aws:sns:us-east-1:123456789012:t", "{}"); !asError(err, &ne) || ne.Code() != "NotFound" {
		t.Fatalf("no target: err = %v", err)
	}
	srv.Close()
	if err := tg.Publish(t.Context(), "arn:aws:sns:us-east-1:123456789012:t", "{}"); !asError(err, &ne) || ne.Code() != "EndpointUnreachable" {
		t.Fatalf("closed server: err = %v", err)
	}
}

func asError(err error, target **notify.Error) bool {
	e, ok := err.(*notify.Error)
	if ok {
		*target = e
	}
	return ok
}
