package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/sigv4"
)

// verifierAuth adapts the real SigV4 verifier to Authenticator, as the
// daemon does, with the test principals and the secret "secret".
type verifierAuth struct{ v *sigv4.Verifier }

func (a verifierAuth) Authenticate(r *http.Request, body []byte) (identity.Caller, error) {
	res, err := a.v.Verify(r.Context(), r, body)
	if err != nil {
		return identity.Caller{}, err
	}
	return identity.Caller{Principal: testPrincipals[res.AccessKeyID], Region: res.Region, Service: res.Service}, nil
}

// TestRealSigV4 drives the handler with the SDK's signer against the real
// verifier: a correct signature passes, a wrong secret maps to
// InvalidSignatureException, an unknown key to UnrecognizedClientException.
func TestRealSigV4(t *testing.T) {
	lookup := func(_ context.Context, key string) (string, error) {
		if _, ok := testPrincipals[key]; ok {
			return "secret", nil
		}
		return "", sigv4.ErrUnknownKey
	}
	e := newEnv(t, func(o *Options) { o.Auth = verifierAuth{sigv4.NewVerifier(lookup, sigv4.DefaultOptions())} })
	if _, err := e.client("AKIDALICE", "us-east-1").LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{}); err != nil {
		t.Fatalf("signed request: %v", err)
	}
	r := e.post(t, targetLong, `{"MaxResults": 5}`)
	if r.Status != http.StatusOK {
		t.Errorf("botocore-style request: %d %s", r.Status, r.Body)
	}
	wrong := e.client("AKIDALICE", "us-east-1")
	_, err := wrong.LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{}, func(o *cloudtrail.Options) {
		o.Credentials = staticCreds("AKIDALICE", "not-the-secret")
	})
	if code, _ := apiCode(t, err); code != "InvalidSignatureException" {
		t.Errorf("wrong secret: %q", code)
	}
	_, err = e.client("AKIDNOBODY", "us-east-1").LookupEvents(context.Background(), &cloudtrail.LookupEventsInput{})
	if code, _ := apiCode(t, err); code != "UnrecognizedClientException" {
		t.Errorf("unknown key: %q", code)
	}
	r = e.raw(t, http.MethodPost, targetShort, `{}`, "", "", "", nil)
	if code, _ := wireErr(t, r); code != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned: %q", code)
	}
}
