package event

import (
	"encoding/json"
	"testing"
)

// FuzzJSONString: JSONString decodes every valid string literal as
// encoding/json does, on the fast paths and off them.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{`"plain"`, `"{\"a\":\"b\"}"`, `"tab\there\\n"`, `"\/\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`, "\"caf\xc3\xa9\"", "\"bad \xff\"", `"\"`, `""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, lit []byte) {
		var want string
		if json.Unmarshal(lit, &want) != nil || len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
			return // not a valid string literal: JSONString's callers never pass one
		}
		if got := JSONString(lit); got != want {
			t.Fatalf("JSONString(%q) = %q, encoding/json gives %q", lit, got, want)
		}
	})
}

func BenchmarkJSONStringEscaped(b *testing.B) {
	lit := []byte(`"{\"version\":\"1.0\",\"UID\":\"req-42\",\"userIdentity\":{\"type\":\"CustomUserIdentity\",\"principalId\":\"alice\",\"details\":{\"team\":\"ops\"}},\"eventTime\":\"2021-10-27T12:13:14Z\",\"eventName\":\"Login\",\"eventSource\":\"myapp.example.com\",\"userAgent\":\"myapp/2.1\",\"requestParameters\":{\"k\":\"v\"},\"sourceIPAddress\":\"198.51.100.7\",\"recipientAccountId\":\"123456789012\"}"`)
	b.SetBytes(int64(len(lit)))
	for b.Loop() {
		_ = JSONString(lit)
	}
}
