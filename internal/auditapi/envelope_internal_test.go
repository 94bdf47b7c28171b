package auditapi

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/awsjson"
)

// FuzzFastEnvelope: whenever the fast path decodes a body, awsjson.Decode
// decodes it too, to the same input.
func FuzzFastEnvelope(f *testing.F) {
	f.Add(`{"auditEvents":[{"id":"1","eventData":"{\"a\":1}","eventDataChecksum":"x"}]}`)
	f.Add("{ \"auditEvents\" : [ { \"id\" : \"1\" , \"eventData\" : \"{}\" } ] , \"other\": [1, {\"x\": null}] }")
	f.Add(`{"auditEvents":null}`)
	f.Add(`{"auditEvents":[null]}`)
	f.Add(`{"auditEvents":[{"ID":"1"}]}`)
	f.Add(`{"AuditEvents":[]}`)
	f.Add(`{"auditEvents":[{"id":"1","id":"2"}]}`)
	f.Add(`{"auditEvents":[{"id":1}]}`)
	f.Add(`{"auditEvents":[{"id":"\u00e9\ud800"}]}`)
	f.Add("{\"auditEvents\":[{\"id\":\"\xff\"}]}")
	f.Fuzz(func(t *testing.T, body string) {
		fast, ok := fastEnvelope([]byte(body))
		if !ok {
			return
		}
		var slow putAuditEventsIn
		if err := awsjson.Decode([]byte(body), &slow); err != nil {
			t.Fatalf("the fast path took %q, awsjson.Decode refuses it: %v", body, err)
		}
		if len(fast.AuditEvents) == 0 && len(slow.AuditEvents) == 0 {
			return
		}
		if diff := cmp.Diff(slow, fast, cmp.AllowUnexported(putAuditEventsIn{})); diff != "" {
			t.Fatalf("%q: fast path differs (-awsjson +fast):\n%s", body, diff)
		}
	})
}

func TestFastEnvelopeUsed(t *testing.T) {
	for _, body := range []string{
		`{"auditEvents":[{"id":"1","eventData":"{\"a\":1}","eventDataChecksum":"x"}]}`,
		"{\"auditEvents\": [{\"id\": \"1\", \"eventData\": \"{}\"}]}",
	} {
		if _, ok := fastEnvelope([]byte(body)); !ok {
			t.Errorf("%s takes the slow path", body)
		}
	}
}
