package s3api_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/objstore"
)

// TestPutIfNoneMatchRace: PutObject with If-None-Match: * from racing
// SDK clients over the embedded store creates each key once; every other
// writer gets 412 PreconditionFailed and the object holds the winner's
// bytes.
func TestPutIfNoneMatchRace(t *testing.T) {
	e, st := fsEnv(t)
	a := e.client(t, e.keyA)
	ctx := context.WithoutCancel(t.Context())
	const keys, writers = 4, 6
	for k := range keys {
		key := fmt.Sprintf("AWSLogs/%s/CloudTrail-Digest/race-%d.json.gz", accountA, k)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, writers)
		)
		for w := range writers {
			wg.Go(func() {
				<-start
				_, errs[w] = a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("abucket"), Key: aws.String(key),
					Body: strings.NewReader(fmt.Sprintf("writer %d", w)), IfNoneMatch: aws.String("*")})
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for w, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("%s: writers %d and %d both created the object", key, winner, w)
			case err == nil:
				winner = w
			default:
				wantAPIError(t, err, "PreconditionFailed", http.StatusPreconditionFailed)
			}
		}
		if winner < 0 {
			t.Errorf("%s: no writer created the object", key)
			continue
		}
		rc, _, err := st.Get(ctx, "abucket", key)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(rc)
		rc.Close()
		if want := fmt.Sprintf("writer %d", winner); string(body) != want {
			t.Errorf("%s holds %q, want the winner's %q", key, body, want)
		}
	}
}

// staleHead is a store whose Head never finds an object, as a check
// made before a racing writer's Put would: a front end that checks with
// Head and then writes overwrites; one that leaves the check to
// PutIfAbsent does not.
type staleHead struct{ *fakeStore }

func (s staleHead) Head(_ context.Context, bucket, key string) (objstore.Object, error) {
	return objstore.Object{}, fmt.Errorf("%s/%s: %w", bucket, key, objstore.ErrNoSuchKey)
}

func TestPutIfNoneMatchLeftToStore(t *testing.T) {
	fs := newFakeStore()
	e := newEnv(t, envOptions{backend: staleHead{fs}})
	a := e.client(t, e.keyA)
	ctx := t.Context()
	if _, err := a.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String("digest"),
		Body: strings.NewReader("first"), IfNoneMatch: aws.String("*")}); err != nil {
		t.Fatalf("PutObject If-None-Match of a free key: %v", err)
	}
	_, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String("digest"),
		Body: strings.NewReader("second"), IfNoneMatch: aws.String("*")})
	wantAPIError(t, err, "PreconditionFailed", http.StatusPreconditionFailed)
	if got := string(fs.buckets["trail"].objects["digest"].body); got != "first" {
		t.Errorf("object holds %q after a refused If-None-Match PutObject, want %q", got, "first")
	}
	// Without the header, PutObject replaces the object.
	if _, err := a.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String("digest"),
		Body: strings.NewReader("third")}); err != nil {
		t.Fatal(err)
	}
	if got := string(fs.buckets["trail"].objects["digest"].body); got != "third" {
		t.Errorf("object holds %q after a plain PutObject, want %q", got, "third")
	}
}

// TestPutIfNoneMatchWire checks the error documents on the wire.
func TestPutIfNoneMatchWire(t *testing.T) {
	e, st := fsEnv(t)
	type errorDoc struct {
		Code, Message, Condition string
		RequestID                string `xml:"RequestId"`
	}
	tests := []struct {
		name       string
		key        string
		hdr        map[string]string
		wantStatus int
		want       errorDoc
	}{
		{"existing key", "mine", map[string]string{"If-None-Match": "*"}, http.StatusPreconditionFailed,
			errorDoc{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold",
				Condition: "If-None-Match"}},
		{"ETag value", "fresh", map[string]string{"If-None-Match": `"0123"`}, http.StatusNotImplemented,
			errorDoc{Code: "NotImplemented"}},
		{"with If-Match, existing key", "mine", map[string]string{"If-None-Match": "*", "If-Match": "*"}, http.StatusPreconditionFailed,
			errorDoc{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold",
				Condition: "If-None-Match"}},
		{"free key", "fresh", map[string]string{"If-None-Match": "*"}, http.StatusOK, errorDoc{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do(t, e.request(t, &e.keyA, http.MethodPut, "/abucket/"+tc.key, []byte("body"), "", tc.hdr))
			if resp.status != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.status, tc.wantStatus, resp.body)
			}
			if tc.wantStatus == http.StatusOK {
				if len(resp.body) != 0 {
					t.Errorf("success with a body: %s", resp.body)
				}
				return
			}
			var got errorDoc
			if err := xml.Unmarshal(resp.body, &got); err != nil {
				t.Fatalf("error document %s: %v", resp.body, err)
			}
			if got.RequestID == "" || got.RequestID != resp.header.Get("X-Amz-Request-Id") {
				t.Errorf("RequestId %q, header %q", got.RequestID, resp.header.Get("X-Amz-Request-Id"))
			}
			got.RequestID = ""
			if tc.want.Message == "" {
				got.Message = "" // NotImplemented's message is ours
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("error document (-want +got):\n%s", diff)
			}
			if !bytes.HasPrefix(resp.body, []byte("<?xml")) || resp.header.Get("Content-Type") != "application/xml" {
				t.Errorf("not an XML error document: %s %s", resp.header.Get("Content-Type"), resp.body)
			}
		})
	}
	// The refused writes left "mine" as it was.
	rc, _, err := st.Get(t.Context(), "abucket", "mine")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if body, _ := io.ReadAll(rc); string(body) != "mine" {
		t.Errorf("abucket/mine holds %q after refused writes", body)
	}
}
