package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/opentrail/opentrail/internal/sigv4"
)

func ExampleVerifier_Verify() {
	// The key store: the identity layer provides this in the server.
	keys := map[string]string{"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	lookup := func(_ context.Context, id string) (string, error) {
		secret, ok := keys[id]
		if !ok {
			return "", fmt.Errorf("access key %q: %w", id, sigv4.ErrUnknownKey)
		}
		return secret, nil
	}
	signedAt := time.Date(2026, 11, 21, 5, 59, 0, 0, time.UTC)
	opts := sigv4.DefaultOptions()
	opts.Now = func() time.Time { return signedAt.Add(time.Minute) } // a fixed clock, for the example
	v := sigv4.NewVerifier(lookup, opts)

	// A client signs a LookupEvents call, as the AWS SDK does.
	body := []byte(`{"MaxResults":5}`)
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:18555/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents")
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: keys["AKIDEXAMPLE"]}
	sum := sha256.Sum256(body)
	_ = v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "cloudtrail", "us-east-1", signedAt)

	// The server verifies it, with the body it has read.
	res, err := v.Verify(context.Background(), r, body)
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	fmt.Println(res.AccessKeyID, res.Region, res.Service, res.Date.Format(time.RFC3339))

	// A body altered after signing is rejected.
	_, err = v.Verify(context.Background(), r, []byte(`{"MaxResults":50}`))
	var authErr *sigv4.Error
	if errors.Is(err, sigv4.ErrSignatureMismatch) && errors.As(err, &authErr) {
		fmt.Println("rejected:", authErr.Message)
	}
	// Output:
	// AKIDEXAMPLE us-east-1 cloudtrail 2026-11-21T05:59:00Z
	// rejected: The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.
}
