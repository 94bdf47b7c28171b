package api

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/lake/imports"
	"github.com/opentrail/opentrail/internal/lake/queries"
)

// fakeImporter records the imports StartImport is asked for.
type fakeImporter struct {
	mu      sync.Mutex
	started []imports.Info
}

var _ Importer = (*fakeImporter)(nil)

func (f *fakeImporter) StartImport(_ context.Context, req imports.Info, _ string) (imports.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, req)
	req.ID, req.Status = fakeQueryID, imports.Initializing
	return req, nil
}

func (f *fakeImporter) GetImport(_, id string) (imports.Info, error) {
	return imports.Info{}, fmt.Errorf("%w: %s", imports.ErrNotFound, id)
}
func (f *fakeImporter) ListImports(string, string, string) []imports.Info { return nil }
func (f *fakeImporter) StopImport(_, id string) (imports.Info, error) {
	return imports.Info{}, fmt.Errorf("%w: %s", imports.ErrNotFound, id)
}
func (f *fakeImporter) HasOngoingImport(string) bool { return false }

func (f *fakeImporter) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.started)
}

// TestStartImportSourceBucket: StartImport reads only a bucket of the
// caller's, and words every bucket problem as InvalidImportSourceException,
// the only source error the operation declares.
func TestStartImportSourceBucket(t *testing.T) {
	im := &fakeImporter{}
	e := newEnv(t, func(o *Options) {
		o.Lake = &fakeLake{}
		o.Imports = im
		o.Buckets = testBuckets
	})
	c := e.client("AKIDALICE", "us-east-1")
	tests := []struct {
		name string
		uri  string
		code string // "" means started
		msg  string
	}{
		{name: "the caller's bucket", uri: "s3://" + bucket1 + "/AWSLogs/"},
		{name: "not s3", uri: "https://" + bucket1 + "/AWSLogs/", code: "InvalidImportSourceException", msg: "is not an S3 URI"},
		{name: "no bucket", uri: "s3:///AWSLogs/", code: "InvalidImportSourceException", msg: "is not an S3 URI"},
		{name: "bad bucket name", uri: "s3://bucket..one/AWSLogs/", code: "InvalidImportSourceException", msg: `must not contain ".."`},
		{name: "missing bucket", uri: "s3://" + missingBucket, code: "InvalidImportSourceException", msg: "S3 bucket no-such-bucket does not exist"},
		{name: "another account's bucket", uri: "s3://" + otherBucket, code: "InvalidImportSourceException", msg: "belongs to another account"},
		{name: "denied", uri: "s3://" + deniedBucket, code: "InvalidImportSourceException", msg: deniedBucket},
		{name: "unanswered", uri: "s3://" + downBucket, code: codeServiceUnavailable, msg: downBucket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := im.count()
			_, err := c.StartImport(t.Context(), &cloudtrail.StartImportInput{Destinations: []string{fakeQueryID},
				ImportSource: &types.ImportSource{S3: &types.S3ImportSource{S3LocationUri: aws.String(tt.uri),
					S3BucketRegion: aws.String("us-east-1"), S3BucketAccessRoleArn: aws.String("arn:aws:iam::" + acct1 + ":role/r")}}})
			if tt.code == "" {
				if err != nil || im.count() != before+1 {
					t.Fatalf("StartImport: %v", err)
				}
				return
			}
			if tt.code == codeServiceUnavailable {
				// The SDK retries a 503; its last answer is the same.
				if apiCode := errorCode(err); apiCode != tt.code {
					t.Errorf("got %v, want %s", err, tt.code)
				}
			} else {
				checkAPIError(t, err, tt.code, tt.msg)
			}
			if im.count() != before {
				t.Error("the import was started")
			}
		})
	}
}

func errorCode(err error) string {
	var ae interface{ ErrorCode() string }
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestLakeText: the engine's "sentinel: detail" becomes a sentence; a
// bare name goes into the row's sentence unchanged (not capitalised).
func TestLakeText(t *testing.T) {
	tests := []struct {
		name     string
		sentinel error
		err      error
		bare     string
		want     string
	}{
		{"bare id", queries.ErrQueryNotFound, fmt.Errorf("%w: c1f59372-6d67-40bb-88ef-6320600983ec", queries.ErrQueryNotFound), "Query %s was not found.",
			"Query c1f59372-6d67-40bb-88ef-6320600983ec was not found."},
		{"sentence", queries.ErrQueryInactive, fmt.Errorf("%w: query abc is FINISHED", queries.ErrQueryInactive), "Query %s was not found.", "Query abc is FINISHED."},
		{"no bare form", queries.ErrQueryNotFound, fmt.Errorf("%w: abc", queries.ErrQueryNotFound), "", "Abc."},
		{"sentinel only", queries.ErrQueryNotFound, queries.ErrQueryNotFound, "Query %s was not found.", ""},
		{"wrapped further", queries.ErrStoreNotFound,
			fmt.Errorf("lake: run: %w", fmt.Errorf("%w: arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/e1", queries.ErrStoreNotFound)),
			"Event data store %s does not exist.", "Event data store arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/e1 does not exist."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lakeText(tt.sentinel, tt.bare)(tt.err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
