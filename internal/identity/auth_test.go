package identity_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/testenv"
)

// signedRequest builds a CloudTrail LookupEvents request signed by the SDK's
// signer for eu-west-1.
func signedRequest(t *testing.T, accessKeyID, secret string) (*http.Request, []byte) {
	t.Helper()
	body := []byte(`{"MaxResults":1}`)
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4750/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents")
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, r, hex.EncodeToString(sum[:]), "cloudtrail", "eu-west-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return r, body
}

func TestAuthenticate(t *testing.T) {
	dir := t.TempDir()
	writeAccounts(t, dir, handEdited)
	s, err := identity.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ensure(t, s, "333333333333")
	created := rootKey(t, s, "333333333333")
	a := identity.NewAuthenticator(s, sigv4.DefaultOptions())

	tests := []struct {
		name    string
		key     string
		secret  string
		want    identity.Caller
		wantErr error
	}{
		{
			name: "generated root key", key: created.AccessKeyID, secret: created.SecretAccessKey,
			want: identity.Caller{
				Principal: identity.Principal{AccountID: "333333333333", Type: identity.TypeRoot, AccessKeyID: created.AccessKeyID},
				Region:    "eu-west-1", Service: "cloudtrail",
			},
		},
		{
			name: "hand-edited root key", key: "AKIAROOTROOTROOTROOT", secret: "rootsecret",
			want: identity.Caller{
				Principal: identity.Principal{AccountID: "123456789012", Type: identity.TypeRoot, AccessKeyID: "AKIAROOTROOTROOTROOT"},
				Region:    "eu-west-1", Service: "cloudtrail",
			},
		},
		{
			name: "iam user", key: "AKIAALICEALICEALICE2", secret: "alicesecret",
			want: identity.Caller{
				Principal: identity.Principal{AccountID: "123456789012", Type: identity.TypeIAMUser, UserName: "alice", AccessKeyID: "AKIAALICEALICEALICE2"},
				Region:    "eu-west-1", Service: "cloudtrail",
			},
		},
		{name: "wrong secret", key: created.AccessKeyID, secret: "wrong", wantErr: sigv4.ErrSignatureMismatch},
		{name: "another key's secret", key: "AKIAALICEALICEALICE2", secret: "rootsecret", wantErr: sigv4.ErrSignatureMismatch},
		{name: "unknown key", key: "AKIAZZZZZZZZZZZZZZZZ", secret: "whatever", wantErr: sigv4.ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, body := signedRequest(t, tc.key, tc.secret)
			got, err := a.Authenticate(r, body)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Authenticate error = %v, want one wrapping %v", err, tc.wantErr)
				}
				if diff := cmp.Diff(identity.Caller{}, got); diff != "" {
					t.Errorf("Caller on error (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Caller (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("altered body", func(t *testing.T) {
		r, _ := signedRequest(t, created.AccessKeyID, created.SecretAccessKey)
		if _, err := a.Authenticate(r, []byte(`{"MaxResults":50}`)); !errors.Is(err, sigv4.ErrSignatureMismatch) {
			t.Errorf("Authenticate error = %v, want one wrapping ErrSignatureMismatch", err)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		r, body := signedRequest(t, created.AccessKeyID, created.SecretAccessKey)
		r.Header.Del("Authorization")
		if _, err := a.Authenticate(r, body); !errors.Is(err, sigv4.ErrMissingAuth) {
			t.Errorf("Authenticate error = %v, want one wrapping ErrMissingAuth", err)
		}
	})
	t.Run("key added after NewAuthenticator", func(t *testing.T) {
		ensure(t, s, "444444444444")
		k := rootKey(t, s, "444444444444")
		r, body := signedRequest(t, k.AccessKeyID, k.SecretAccessKey)
		got, err := a.Authenticate(r, body)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		if got.AccountID != "444444444444" {
			t.Errorf("Caller account = %s, want 444444444444", got.AccountID)
		}
	})
}

// TestCredentialsFileAWSCLI checks that the real aws CLI reads the
// credentials file the store writes.
func TestCredentialsFileAWSCLI(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	s, dir := openStore(t)
	first, _, err := s.CreateDefault("")
	if err != nil {
		t.Fatal(err)
	}
	ensure(t, s, "123456789012")

	// Only our files count: drop AWS_* variables from the environment.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, identity.CredentialsFile), "AWS_CONFIG_FILE="+os.DevNull)
	get := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := exec.Command("aws", append([]string{"configure", "get"}, args...)...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("aws configure get %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}

	tests := []struct {
		name    string
		profile []string // --profile flag, if any
		account string
	}{
		{"default", nil, first},
		{"first account", []string{"--profile", first}, first},
		{"second account", []string{"--profile", "123456789012"}, "123456789012"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := rootKey(t, s, tc.account)
			want := map[string]string{
				"aws_access_key_id":     k.AccessKeyID,
				"aws_secret_access_key": k.SecretAccessKey,
				"region":                identity.DefaultRegion,
			}
			got := map[string]string{}
			for name := range want {
				got[name] = get(t, append([]string{name}, tc.profile...)...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("aws configure get (-want +got):\n%s", diff)
			}
		})
	}
}
