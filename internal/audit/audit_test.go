package audit_test

import (
	"crypto/tls"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/audit"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"fits", "abc", 3, "abc"},
		{"cut", "abcd", 3, "abc"},
		{"inside a rune", "aé", 2, "a"},
		{"rune fits", "aé", 3, "aé"},
		{"invalid UTF-8", "a\xffb", 10, "a\uFFFDb"},
		{"1 KB of three-byte runes", strings.Repeat("€", 400), 1024, strings.Repeat("€", 341)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := audit.Truncate(tt.in, tt.n); got != tt.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		u := audit.NewUUID()
		if len(u) != 36 || u[8] != '-' || u[13] != '-' || u[14] != '4' || u[18] != '-' || u[23] != '-' || !strings.ContainsRune("89ab", rune(u[19])) {
			t.Fatalf("NewUUID() = %q, not a v4 UUID", u)
		}
		if strings.ToLower(u) != u || seen[u] {
			t.Fatalf("NewUUID() = %q: uppercase or repeated", u)
		}
		seen[u] = true
	}
}

func TestUserIdentity(t *testing.T) {
	tests := []struct {
		name string
		p    identity.Principal
		want string
	}{
		{"root", identity.Principal{AccountID: "123456789012", Type: identity.TypeRoot, AccessKeyID: "AKIAROOT"},
			`{"type":"Root","principalId":"123456789012","arn":"arn:aws:iam::123456789012:root","accountId":"123456789012","accessKeyId":"AKIAROOT"}`},
		{"IAM user", identity.Principal{AccountID: "123456789012", Type: identity.TypeIAMUser, UserName: "Alice", AccessKeyID: "AKIAALICE"},
			`{"type":"IAMUser","principalId":"` + (identity.Principal{AccountID: "123456789012", Type: identity.TypeIAMUser, UserName: "Alice"}).PrincipalID() +
				`","arn":"arn:aws:iam::123456789012:user/Alice","accountId":"123456789012","accessKeyId":"AKIAALICE","userName":"Alice"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(audit.UserIdentity(tt.p))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestRecord(t *testing.T) {
	plain := httptest.NewRequest("GET", "http://opentrail.test/", nil)
	plain.RemoteAddr = "192.0.2.7:4242"
	secure := httptest.NewRequest("GET", "https://bucket.localhost:4750/", nil)
	secure.RemoteAddr = "[2001:db8::1]:4242"
	secure.TLS = &tls.ConnectionState{Version: tls.VersionTLS12, CipherSuite: tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
	tls13 := httptest.NewRequest("GET", "https://opentrail.test/", nil)
	tls13.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256}
	now := time.Date(2025, 3, 1, 10, 15, 2, 900e6, time.UTC)
	huge := json.RawMessage(`{"a":"` + strings.Repeat("x", audit.MaxObjectField) + `"}`)

	tests := []struct {
		name string
		call audit.Call
		want func(*event.Record)
	}{
		{"management, plain HTTP", audit.Call{Request: plain, Name: "GetTrail", ReadOnly: true}, func(r *event.Record) {
			r.SourceIPAddress = "192.0.2.7"
			r.EventName = "GetTrail"
			r.ReadOnly = ptr(true)
		}},
		{"data event over TLS 1.2", audit.Call{Request: secure, Name: "GetObject", Category: event.CategoryData}, func(r *event.Record) {
			r.SourceIPAddress = "2001:db8::1"
			r.EventName = "GetObject"
			r.ManagementEvent = ptr(false)
			r.EventCategory = event.CategoryData
			r.TLSDetails = &event.TLSDetails{TLSVersion: "TLSv1.2", CipherSuite: "ECDHE-RSA-AES128-GCM-SHA256",
				ClientProvidedHostHeader: "bucket.localhost:4750"}
		}},
		{"TLS 1.3 suite names", audit.Call{Request: tls13, Name: "X"}, func(r *event.Record) {
			r.SourceIPAddress = "192.0.2.1"
			r.EventName = "X"
			r.TLSDetails = &event.TLSDetails{TLSVersion: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256",
				ClientProvidedHostHeader: "opentrail.test"}
		}},
		{"failed, long strings cut", audit.Call{Request: plain, Name: "X", UserAgent: strings.Repeat("u", 2000),
			ErrorCode: "Code", ErrorMessage: strings.Repeat("m", 1500)}, func(r *event.Record) {
			r.SourceIPAddress = "192.0.2.7"
			r.EventName = "X"
			r.UserAgent = strings.Repeat("u", 1024)
			r.ErrorCode = "Code"
			r.ErrorMessage = strings.Repeat("m", 1024)
		}},
		{"oversized objects replaced", audit.Call{Request: plain, Name: "X", RequestParameters: huge, ResponseElements: huge,
			AdditionalEventData: json.RawMessage(`{"b":"` + strings.Repeat("y", audit.MaxAdditionalData) + `"}`)}, func(r *event.Record) {
			r.SourceIPAddress = "192.0.2.7"
			r.EventName = "X"
			r.RequestParameters = json.RawMessage(`{"truncated":true}`)
			r.ResponseElements = json.RawMessage(`{"truncated":true}`)
			r.AdditionalEventData = json.RawMessage(`{"truncated":true}`)
			r.Addendum = json.RawMessage(`{"updatedFields":"requestParameters,responseElements,additionalEventData"}`)
		}},
		{"copies and resources", audit.Call{Request: plain, Name: "X", SharedEventID: "shared",
			Resources: []event.Resource{{ARN: "arn:aws:s3:::b", AccountID: "123456789012", Type: "AWS::S3::Bucket"}}}, func(r *event.Record) {
			r.SourceIPAddress = "192.0.2.7"
			r.EventName = "X"
			r.SharedEventID = "shared"
			r.Resources = []event.Resource{{ARN: "arn:aws:s3:::b", AccountID: "123456789012", Type: "AWS::S3::Bucket"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.call
			c.Time, c.Source, c.Region, c.Recipient, c.RequestID = now, "s3.amazonaws.com", "us-east-1", "123456789012", "REQ"
			got := c.Record()
			if len(got.EventID) != 36 {
				t.Errorf("eventID %q", got.EventID)
			}
			want := event.Record{EventVersion: event.Version, EventTime: "2025-03-01T10:15:02Z", EventSource: "s3.amazonaws.com",
				AWSRegion: "us-east-1", RequestParameters: audit.Null, ResponseElements: audit.Null, RequestID: "REQ",
				EventID: got.EventID, ReadOnly: ptr(false), EventType: event.TypeAPICall, ManagementEvent: ptr(true),
				RecipientAccountID: "123456789012", EventCategory: event.CategoryMgmt}
			tt.want(&want)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("record (-want +got):\n%s", d)
			}
			if _, err := audit.Parse(got); err != nil {
				t.Errorf("Parse: %v", err)
			}
		})
	}
}

func TestParseRejectsInvalid(t *testing.T) {
	c := audit.Call{Request: httptest.NewRequest("GET", "/", nil), Time: time.Now(), Source: "s3.amazonaws.com",
		Name: "X", Region: "us-east-1", Recipient: "anonymous"}
	if _, err := audit.Parse(c.Record()); err == nil {
		t.Fatal("a record without a 12-digit recipient account was accepted")
	}
}

func ptr[T any](v T) *T { return &v }
