package api

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/lake/queries"
)

// fakeLake is a query engine that records what StartQuery is given and
// describes every query as finished and delivered.
type fakeLake struct {
	mu      sync.Mutex
	started []queries.StartOptions
}

var _ Lake = (*fakeLake)(nil)

const fakeQueryID = "0f8b3c1e-5d2a-4c7b-9e61-2a4d6f8b0c13"

func (f *fakeLake) StartQuery(_ context.Context, _, _, _ string, opt queries.StartOptions) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, opt)
	return fakeQueryID, nil
}

func (f *fakeLake) DescribeQuery(account, _, id string) (queries.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := queries.Info{ID: id, Account: account, Statement: "SELECT 1", Status: queries.Finished, Created: testNow}
	if n := len(f.started); n > 0 && f.started[n-1].DeliveryS3URI != "" {
		info.DeliveryS3URI, info.DeliveryStatus = f.started[n-1].DeliveryS3URI, queries.DeliverySuccess
	}
	if n := len(f.started); n > 0 {
		info.Prompt = f.started[n-1].Prompt
	}
	return info, nil
}

func (f *fakeLake) QueryResults(string, string, string, int, int) (queries.Info, [][]*string, error) {
	return queries.Info{}, nil, nil
}

func (f *fakeLake) ListQueries(string, string, time.Time, time.Time, string) []queries.Info {
	return nil
}

func (f *fakeLake) CancelQuery(string, string, string) (queries.Info, error) {
	return queries.Info{}, nil
}

func (f *fakeLake) ResolveStore(_, _, id string) (string, error) { return id, nil }

// CheckQuery takes SELECT statements of store "eds-1" only (the real
// check is the engine's, tested in package daemon).
func (f *fakeLake) CheckQuery(_ context.Context, _, _, stmt string) error {
	if !strings.HasPrefix(strings.ToUpper(stmt), "SELECT") {
		return fmt.Errorf("%w: only SELECT statements are allowed", queries.ErrInvalidQuery)
	}
	if !strings.Contains(stmt, "eds-1") {
		return fmt.Errorf("%w: %s", queries.ErrStoreNotFound, stmt)
	}
	return nil
}

func (f *fakeLake) StoreSchema(_, _, _ string) (string, error) { return "eventname VARCHAR\n", nil }

func (f *fakeLake) QueryByAlias(_, _, alias, _ string) (queries.Info, error) {
	return queries.Info{}, fmt.Errorf("%w: %s", queries.ErrQueryNotFound, alias)
}

func (f *fakeLake) starts() []queries.StartOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]queries.StartOptions(nil), f.started...)
}

func TestStartQueryDeliveryS3Uri(t *testing.T) {
	lk := &fakeLake{}
	e := newEnv(t, func(o *Options) {
		o.Lake = lk
		o.Buckets = testBuckets
	})
	c := e.client("AKIDALICE", "us-east-1")
	tests := []struct {
		name string
		uri  string
		code string // "" means accepted
		msg  string
	}{
		{name: "bucket", uri: "s3://" + bucket1},
		{name: "bucket and slash", uri: "s3://" + bucket1 + "/"},
		{name: "prefix", uri: "s3://" + bucket1 + "/team/lake/"},
		{name: "not s3", uri: "https://" + bucket1, code: codeInvalidParameter, msg: "s3://bucket[/prefix]"},
		{name: "bucket name too short for the pattern", uri: "s3://ab", code: codeInvalidParameter, msg: "s3://bucket[/prefix]"},
		{name: "upper case", uri: "s3://Bucket-1", code: codeInvalidParameter, msg: "s3://bucket[/prefix]"},
		{name: "two dots", uri: "s3://bucket..one", code: codeInvalidBucketName, msg: `must not contain ".."`},
		{name: "ip address", uri: "s3://192.168.10.1/x", code: codeInvalidBucketName, msg: "IP address"},
		{name: "empty segment", uri: "s3://" + bucket1 + "//x", code: codeInvalidPrefix, msg: "empty path segments"},
		{name: "dot-dot segment", uri: "s3://" + bucket1 + "/a/../b", code: codeInvalidPrefix, msg: `".." path segment`},
		{name: "control character", uri: "s3://" + bucket1 + "/a\x01b", code: codeInvalidPrefix, msg: "control character"},
		{name: "long prefix", uri: "s3://" + bucket1 + "/" + strings.Repeat("p", 201), code: codeInvalidPrefix, msg: "the maximum is 200"},
		{name: "no such bucket", uri: "s3://" + missingBucket + "/x", code: "S3BucketDoesNotExistException", msg: missingBucket},
		{name: "another account's bucket", uri: "s3://" + otherBucket, code: "InsufficientS3BucketPolicyException", msg: "belongs to another account"},
		{name: "denied", uri: "s3://" + deniedBucket, code: "InsufficientS3BucketPolicyException", msg: deniedBucket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(lk.starts())
			out, err := c.StartQuery(t.Context(), &cloudtrail.StartQueryInput{
				QueryStatement: aws.String("SELECT eventName FROM " + fakeQueryID), DeliveryS3Uri: aws.String(tt.uri)})
			started := lk.starts()
			if tt.code != "" {
				checkAPIError(t, err, tt.code, tt.msg)
				if len(started) != before {
					t.Error("the query was started")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(started) != before+1 || started[len(started)-1].DeliveryS3URI != tt.uri {
				t.Fatalf("the engine got %+v, want DeliveryS3URI %q", started[len(started)-1:], tt.uri)
			}
			d, err := c.DescribeQuery(t.Context(), &cloudtrail.DescribeQueryInput{QueryId: out.QueryId})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(d.DeliveryS3Uri) != tt.uri || d.DeliveryStatus != "SUCCESS" {
				t.Errorf("DescribeQuery: DeliveryS3Uri %q, DeliveryStatus %q", aws.ToString(d.DeliveryS3Uri), d.DeliveryStatus)
			}
		})
	}
}
