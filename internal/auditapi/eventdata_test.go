package auditapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/auditapi"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/selector"
)

// TestCheckEvent: every per-event rule of lake.md §7.3–7.4, with the
// code and a message naming the field.
func TestCheckEvent(t *testing.T) {
	set := func(path string, v any) func(map[string]any) {
		return func(m map[string]any) {
			if sub, ok := strings.CutPrefix(path, "userIdentity."); ok {
				m["userIdentity"].(map[string]any)[sub] = v
				return
			}
			m[path] = v
		}
	}
	del := func(path string) func(map[string]any) {
		return func(m map[string]any) {
			if sub, ok := strings.CutPrefix(path, "userIdentity."); ok {
				delete(m["userIdentity"].(map[string]any), sub)
				return
			}
			delete(m, path)
		}
	}
	big := func(n int) map[string]any { return map[string]any{"k": strings.Repeat("x", n)} }
	for _, tt := range []struct {
		name      string
		data      string
		code, msg string
	}{
		{"not JSON", "{", "InvalidData", "not valid JSON"},
		{"trailing data", "{} {}", "InvalidData", "not valid JSON"},
		{"an array", "[]", "InvalidData", "not a JSON object"},
		{"a string", `"x"`, "InvalidData", "not a JSON object"},
		{"no version", eventData(del("version")), "FieldNotFound", "version"},
		{"null version", eventData(set("version", nil)), "FieldNotFound", "version"},
		{"no userIdentity", eventData(del("userIdentity")), "FieldNotFound", "userIdentity"},
		{"no userIdentity.type", eventData(del("userIdentity.type")), "FieldNotFound", "userIdentity.type"},
		{"no principalId", eventData(del("userIdentity.principalId")), "FieldNotFound", "userIdentity.principalId"},
		{"no eventSource", eventData(del("eventSource")), "FieldNotFound", "eventSource"},
		{"no eventName", eventData(del("eventName")), "FieldNotFound", "eventName"},
		{"no eventTime", eventData(del("eventTime")), "FieldNotFound", "eventTime"},
		{"no UID", eventData(del("UID")), "FieldNotFound", "UID"},
		{"lower-case uid", eventData(func(m map[string]any) { m["uid"] = m["UID"]; delete(m, "UID") }), "FieldNotFound", "UID"},
		{"no recipient", eventData(del("recipientAccountId")), "FieldNotFound", "recipientAccountId"},
		{"version a number", eventData(set("version", 1)), "InvalidData", "version must be a string"},
		{"userIdentity a string", eventData(set("userIdentity", "alice")), "InvalidData", "userIdentity must be a JSON object"},
		{"details a list", eventData(set("userIdentity.details", []int{1})), "InvalidData", "userIdentity.details must be a JSON object"},
		{"requestParameters a string", eventData(set("requestParameters", "k=v")), "InvalidData", "requestParameters must be a JSON object"},
		{"bad time", eventData(set("eventTime", "27/10/2021")), "InvalidData", "eventTime"},
		{"time with offset", eventData(set("eventTime", "2021-10-27T12:13:14+02:00")), "InvalidData", "eventTime"},
		{"bad IP", eventData(set("sourceIPAddress", "example.com")), "InvalidData", "sourceIPAddress"},
		{"long version", eventData(set("version", strings.Repeat("v", 257))), "FieldTooLong", "version is 257 characters long; at most 256"},
		{"long type", eventData(set("userIdentity.type", strings.Repeat("t", 129))), "FieldTooLong", "userIdentity.type"},
		{"long principalId", eventData(set("userIdentity.principalId", strings.Repeat("p", 1025))), "FieldTooLong", "userIdentity.principalId"},
		{"long userAgent", eventData(set("userAgent", strings.Repeat("u", 1025))), "FieldTooLong", "userAgent"},
		{"long eventSource", eventData(set("eventSource", strings.Repeat("s", 1025))), "FieldTooLong", "eventSource"},
		{"long eventName", eventData(set("eventName", strings.Repeat("n", 1025))), "FieldTooLong", "eventName"},
		{"long UID", eventData(set("UID", strings.Repeat("u", 1025))), "FieldTooLong", "UID"},
		{"long errorCode", eventData(set("errorCode", strings.Repeat("e", 257))), "FieldTooLong", "errorCode"},
		{"long errorMessage", eventData(set("errorMessage", strings.Repeat("é", 257))), "FieldTooLong", "errorMessage is 257 characters"},
		{"large requestParameters", eventData(set("requestParameters", big(100*1024))), "FieldTooLong", "requestParameters"},
		{"large responseElements", eventData(set("responseElements", big(100*1024))), "FieldTooLong", "responseElements"},
		{"large additionalEventData", eventData(set("additionalEventData", big(28*1024))), "FieldTooLong", "additionalEventData"},
		{"another recipient", eventData(set("recipientAccountId", other)), "InvalidRecipient", owner},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auditapi.CheckEvent(tt.data, nil, owner)
			if err == nil || err.Code != tt.code || !strings.Contains(err.Message, tt.msg) {
				t.Errorf("CheckEvent = %v, want %s naming %q", err, tt.code, tt.msg)
			}
			if err != nil && (len(err.Message) < 1 || len(err.Message) > 1024) {
				t.Errorf("message of %d characters", len(err.Message))
			}
		})
	}
	for name, data := range map[string]string{
		"full": eventData(nil),
		"at the limits": eventData(func(m map[string]any) {
			m["version"] = strings.Repeat("v", 256)
			m["requestParameters"] = big(100*1024 - 10)
		}),
		"no Z":              eventData(set("eventTime", "2021-10-27T12:13:14")),
		"fractional":        eventData(set("eventTime", "2021-10-27T12:13:14.123456Z")),
		"IPv6":              eventData(set("sourceIPAddress", "2001:db8::1")),
		"null optional":     eventData(set("userAgent", nil)),
		"extra members":     eventData(set("custom", map[string]any{"a": 1})),
		"multibyte at 1024": eventData(set("eventName", strings.Repeat("é", 1024))),
	} {
		t.Run("ok/"+name, func(t *testing.T) {
			c, err := auditapi.CheckEvent(data, nil, owner)
			if err != nil {
				t.Fatal(err)
			}
			if !c.EventTime.Equal(time.Date(2021, 10, 27, 12, 13, 14, 0, time.UTC)) || !json.Valid(c.EventData) {
				t.Errorf("checked %v %s", c.EventTime, c.EventData)
			}
		})
	}
	// The checksum is over the string exactly as received.
	d := eventData(nil)
	if _, err := auditapi.CheckEvent(d, checksum(d), owner); err != nil {
		t.Errorf("right checksum: %v", err)
	}
	if _, err := auditapi.CheckEvent(d+" ", checksum(d), owner); err == nil || err.Code != "InvalidChecksum" {
		t.Errorf("checksum of other bytes: %v", err)
	}
}

// FuzzCheckEvent: any eventData is either refused with a per-event code
// and a message of 1 to 1024 characters, or accepted as a JSON object
// that makes a valid record.
func FuzzCheckEvent(f *testing.F) {
	f.Add(eventData(nil), "")
	f.Add(`{"version":"1","userIdentity":{"type":"t","principalId":"p"},"eventSource":"s","eventName":"n","eventTime":"2021-10-27T12:13:14","UID":"u","recipientAccountId":"111111111111"}`, "x")
	f.Add(`{"userIdentity":null}`, "")
	f.Add("[1,2]", "")
	f.Fuzz(func(t *testing.T, data, sum string) {
		var cs *string
		if sum != "" {
			cs = &sum
		}
		c, err := auditapi.CheckEvent(data, cs, owner)
		if err != nil {
			switch err.Code {
			case "FieldTooLong", "FieldNotFound", "InvalidChecksum", "InvalidData", "InvalidRecipient":
			default:
				t.Fatalf("code %q", err.Code)
			}
			if len(err.Message) < 1 || len(err.Message) > 1024 {
				t.Fatalf("message of %d bytes", len(err.Message))
			}
			return
		}
		rec := auditapi.Record(auditapi.RecordFields{EventID: "e", EventTime: c.EventTime, Region: "us-east-1", Account: owner, IngestionTime: t0, ChannelARN: "arn"}, c.EventData)
		var back struct{ EventData json.RawMessage }
		if err := json.Unmarshal(rec, &back); err != nil || len(back.EventData) == 0 || back.EventData[0] != '{' {
			t.Fatalf("record %s: %v", rec, err)
		}
		// The handler takes the record with ParseStored, trusting it to be
		// what Parse would accept and keep unchanged.
		if len(rec) <= event.MaxRecordSize {
			ev, err := event.Parse(rec)
			if err != nil || !bytes.Equal(ev.Raw, rec) {
				t.Fatalf("record %s: Parse gives %v, raw %s", rec, err, ev.Raw)
			}
		}
	})
}

// trustAuth accepts every request as the owner's root, signed for
// cloudtrail-data in us-east-1: the envelope fuzz test is not about
// signatures.
type trustAuth struct{}

func (trustAuth) Authenticate(*http.Request, []byte) (identity.Caller, error) {
	return identity.Caller{Principal: identity.Principal{AccountID: owner, Type: identity.TypeRoot}, Region: "us-east-1", Service: auditapi.SigningName}, nil
}

// FuzzEnvelope: any request body gets a 200 with both lists, each input
// event in exactly one of them in request order, or a 4xx rest-json
// error; never a 5xx.
func FuzzEnvelope(f *testing.F) {
	f.Add(body(auditEvent{ID: "1", EventData: eventData(nil)}, auditEvent{ID: "2", EventData: "{}"}))
	f.Add(`{"auditEvents":[{"id":"1","eventData":"{}","eventDataChecksum":"x"}]}`)
	f.Add(`{"auditEvents":[{"id":"1","eventData":null}]}`)
	f.Add(`{"auditEvents":null}`)
	f.Add(`{"auditEvents":[null]}`)
	f.Add(`[]`)
	dir := f.TempDir()
	cat, err := catalog.Open(filepath.Join(dir, "catalog"), catalog.DefaultOptions())
	if err != nil {
		f.Fatal(err)
	}
	head := func() uint64 { return 0 }
	st, err := cat.CreateDataStore(catalog.DataStore{Name: "audit", Account: owner, HomeRegion: "us-east-1", Status: catalog.StatusEnabled,
		AdvancedEventSelectors: []selector.AdvancedEventSelector{{FieldSelectors: []selector.FieldSelector{{Field: "eventCategory", Equals: []string{"ActivityAuditLog"}}}}}}, head)
	if err != nil {
		f.Fatal(err)
	}
	ch, err := cat.CreateChannel(catalog.Channel{Name: "app", Account: owner, HomeRegion: "us-east-1", Source: catalog.SourceCustom}, []string{st.ARN()}, head)
	if err != nil {
		f.Fatal(err)
	}
	log := &memLog{}
	h, err := auditapi.New(auditapi.Options{Auth: trustAuth{}, Channels: cat, Events: log})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b string) {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/PutAuditEvents?channelArn="+ch.ARN(), strings.NewReader(b))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if w.Code != http.StatusOK {
			if w.Header().Get("X-Amzn-ErrorType") == "" {
				t.Fatalf("error %d without X-Amzn-ErrorType", w.Code)
			}
			return
		}
		var in struct{ AuditEvents []struct{ ID string } }
		if err := json.Unmarshal([]byte(b), &in); err != nil {
			t.Fatalf("200 for a body that does not decode: %v", err)
		}
		var out struct {
			Successful []struct{ ID, EventID string }
			Failed     []struct{ ID, ErrorCode, ErrorMessage string }
		}
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Successful == nil || out.Failed == nil {
			t.Fatalf("response %s: %v", w.Body, err)
		}
		if len(out.Successful)+len(out.Failed) != len(in.AuditEvents) {
			t.Fatalf("%d in, %d+%d out", len(in.AuditEvents), len(out.Successful), len(out.Failed))
		}
		s, fl := 0, 0
		for _, ae := range in.AuditEvents {
			switch {
			case s < len(out.Successful) && out.Successful[s].ID == ae.ID:
				s++
			case fl < len(out.Failed) && out.Failed[fl].ID == ae.ID:
				fl++
			default:
				t.Fatalf("event %q is in neither list in order", ae.ID)
			}
		}
	})
}
