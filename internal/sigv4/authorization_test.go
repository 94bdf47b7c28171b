package sigv4

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseAuthorization(t *testing.T) {
	want := authorization{
		Credential:    credential{AccessKeyID: "AKIDEXAMPLE", Date: "20261121", Region: "us-east-1", Service: "cloudtrail"},
		SignedHeaders: []string{"content-type", "host", "x-amz-date", "x-amz-target"},
		Signature:     "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
	}
	const sdk = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/cloudtrail/aws4_request, " +
		"SignedHeaders=content-type;host;x-amz-date;x-amz-target, " +
		"Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
	tests := []struct {
		name string
		in   string
	}{
		{"sdk form", sdk},
		{"no spaces", strings.ReplaceAll(sdk, ", ", ",")},
		{"extra spaces", "  " + strings.ReplaceAll(sdk, ", ", "  ,   ") + "  "},
		{"reordered", "AWS4-HMAC-SHA256 Signature=" + want.Signature +
			", Credential=AKIDEXAMPLE/20261121/us-east-1/cloudtrail/aws4_request" +
			", SignedHeaders=content-type;host;x-amz-date;x-amz-target"},
		{"trailing comma", sdk + ","},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAuthorization(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("parseAuthorization (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(sdk, got.String()); diff != "" {
				t.Errorf("String (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		skip string
		want string
	}{
		{"empty", "", "", ""},
		{"spec example", "channelArn=arn:aws:cloudtrail:us-east-1:123456789012:channel/abc", "",
			"channelArn=arn%3Aaws%3Acloudtrail%3Aus-east-1%3A123456789012%3Achannel%2Fabc"},
		{"already encoded", "channelArn=arn%3aaws%3Acloudtrail%3Aus-east-1%3A123456789012%3Achannel%2fabc", "",
			"channelArn=arn%3Aaws%3Acloudtrail%3Aus-east-1%3A123456789012%3Achannel%2Fabc"},
		{"sorted by name then value", "b=2&a=2&a=1&A=3", "", "A=3&a=1&a=2&b=2"},
		{"sorted after encoding", "k=a-b&k=a/b", "", "k=a%2Fb&k=a-b"},
		{"space and plus", "q=a+b%20c%2Bd", "", "q=a%20b%20c%2Bd"},
		{"unreserved kept", "x=-_.~AZaz09", "", "x=-_.~AZaz09"},
		{"no value", "location&acl=", "", "acl=&location="},
		{"empty pairs", "&&a=1&&", "", "a=1"},
		{"semicolon is data", "a=1;b=2", "", "a=1%3Bb%3D2"},
		{"utf-8", "name=caf%C3%A9", "", "name=caf%C3%A9"},
		{"skip", "X-Amz-Signature=abc&X-Amz-Date=1", "X-Amz-Signature", "X-Amz-Date=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params, err := parseQuery(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, canonicalQuery(params, tc.skip)); diff != "" {
				t.Errorf("canonicalQuery(%q) (-want +got):\n%s", tc.raw, diff)
			}
		})
	}
	if _, err := parseQuery("a=%zz"); !errors.Is(err, errBadQuery) {
		t.Errorf("parseQuery(bad escape) error = %v, want %v", err, errBadQuery)
	}
}

func TestCanonicalURIs(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		s3   bool
		want []string
	}{
		{"root", "/", false, []string{"/"}},
		{"PutAuditEvents", "/PutAuditEvents", false, []string{"/PutAuditEvents"}},
		{"space twice", "/a%20b", false, []string{"/a%2520b"}},
		{"space once for s3", "/bucket/a%20b", true, []string{"/bucket/a%20b"}},
		{"tilde", "/bucket/a~b", true, []string{"/bucket/a~b"}},
		{"loose wire encoding", "/a:b(c)", false, []string{"/a%3Ab%28c%29", "/a%253Ab%2528c%2529"}},
		{"loose wire encoding s3", "/bucket/a:b(c)", true, []string{"/bucket/a:b(c)", "/bucket/a%3Ab%28c%29"}},
		{"encoded slash kept", "/bucket/a%2Fb", true, []string{"/bucket/a%2Fb"}},
		{"lowercase hex", "/bucket/a%2fb", true, []string{"/bucket/a%2fb", "/bucket/a%2Fb"}},
		{"not normalised", "/bucket//./a/../b", true, []string{"/bucket//./a/../b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, canonicalURIs(tc.raw, tc.s3)); diff != "" {
				t.Errorf("canonicalURIs(%q, %t) (-want +got):\n%s", tc.raw, tc.s3, diff)
			}
		})
	}
}

func TestCanonicalHeaders(t *testing.T) {
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:18555/", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	r.Header["X-Amz-Meta-A"] = []string{"  one   two  ", "three"}
	r.Header["x-amz-meta-a"] = []string{"four"} // not canonical: set directly
	r.Header.Set("Content-Type", "application/json")
	got := canonicalHeaders(r, []string{"x-amz-meta-a", "Host", "content-type", "content-length", "x-absent"})
	want := "content-length:2\ncontent-type:application/json\nhost:127.0.0.1:18555\n" +
		"x-absent:\nx-amz-meta-a:one two,three,four\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("canonicalHeaders (-want +got):\n%s", diff)
	}
}

func TestExpiredErrorSkewText(t *testing.T) {
	now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	err := expiredError(now.Add(-time.Hour), now, 90*time.Second)
	want := "Signature expired: 20261121T050000Z is now earlier than 20261121T055830Z (20261121T060000Z - 1.5 min.)"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

// TestVerifyDateHeader signs with a Date header instead of X-Amz-Date,
// which the SDKs never do, so the test signs with this package's own
// primitives, checked against the SDK by the other tests.
func TestVerifyDateHeader(t *testing.T) {
	const secret = "secret"
	now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	v := NewVerifier(func(context.Context, string) (string, error) { return secret, nil },
		Options{Now: func() time.Time { return now }})

	tests := []struct {
		name string
		date string
		want error
	}{
		{"http format", "Sat, 21 Nov 2026 05:59:00 GMT", nil},
		{"numeric zone", "Sat, 21 Nov 2026 06:59:00 +0100", nil},
		{"not rfc 1123", "2026-11-21T05:59:00Z", ErrIncomplete},
		{"expired", "Sat, 21 Nov 2026 05:00:00 GMT", ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte("{}")
			r, err := http.NewRequest(http.MethodPost, "http://cloudtrail.example/", strings.NewReader(string(body)))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Date", tc.date)
			r.Header.Set("X-Amz-Target", "CloudTrail_20131101.DescribeTrails")
			cred := credential{AccessKeyID: "AKID", Date: "20261121", Region: "us-east-1", Service: "cloudtrail"}
			signedHeaders := []string{"date", "host", "x-amz-target"}
			creq := canonicalRequest(http.MethodPost, "/", "", canonicalHeaders(r, signedHeaders),
				strings.Join(signedHeaders, ";"), hashHex(body))
			sts := stringToSign("20261121T055900Z", cred.scope(), creq)
			a := authorization{Credential: cred, SignedHeaders: signedHeaders,
				Signature: signature(signingKey(secret, cred), sts)}
			r.Header.Set("Authorization", a.String())

			res, err := v.Verify(t.Context(), r, body)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify error = %v, want %v", err, tc.want)
			}
			if err == nil && !res.Date.Equal(time.Date(2026, 11, 21, 5, 59, 0, 0, time.UTC)) {
				t.Errorf("Result.Date = %v, want 05:59:00Z", res.Date)
			}
		})
	}
}

// FuzzParseAuthorization checks that the parser never panics and that what
// it accepts prints back to a header that parses to the same value and
// prints identically.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/cloudtrail/aws4_request, " +
			"SignedHeaders=content-type;host;x-amz-date;x-amz-target, " +
			"Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
		"AWS4-HMAC-SHA256 Credential=a/20240229/r/s3/aws4_request,SignedHeaders=host,Signature=0",
		"AWS4-HMAC-SHA256 Signature=x, SignedHeaders=Host;X-Amz-Date, Credential=k/20261121/eu-west-1/cloudtrail-data/aws4_request",
		"AWS4-HMAC-SHA256 Credential=AKID/20261121/us-east-1/cloudtrail/aws4_request",
		"AWS4-HMAC-SHA256 Credential",
		"AWS4-HMAC-SHA256",
		"Bearer token",
		"AWS AKID:signature",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrIncomplete) || e.Message == "" {
				t.Fatalf("parseAuthorization(%q) error = %#v, want *Error wrapping ErrIncomplete", h, err)
			}
			return
		}
		printed := a.String()
		b, err := parseAuthorization(printed)
		if err != nil {
			t.Fatalf("parseAuthorization(%q) accepted, but its printed form %q fails: %v", h, printed, err)
		}
		if diff := cmp.Diff(a, b); diff != "" {
			t.Fatalf("round trip of %q via %q (-first +second):\n%s", h, printed, diff)
		}
		if again := b.String(); again != printed {
			t.Fatalf("printed forms differ: %q then %q", printed, again)
		}
	})
}
