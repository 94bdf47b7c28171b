package daemon_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/lake/resultfile"
	"github.com/opentrail/opentrail/internal/objstore"
)

// lakeStoreWith imports records into a new event data store of the
// stopped data directory root and returns the store's id.
func lakeStoreWith(t *testing.T, root string, records []map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	dir, err := datadir.Open(root, log)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	res, err := daemon.ImportLake(t.Context(), dir, []string{file}, daemon.LakeImportOptions{Store: "forensics", Account: testAccount, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Import.Stats.EventsCompleted; n != int64(len(records)) {
		t.Fatalf("imported %d events, want %d", n, len(records))
	}
	return res.Store.ID
}

func lakeRecord(i int, name, agent, errorCode string) map[string]any {
	r := map[string]any{
		"eventVersion": "1.11",
		"userIdentity": map[string]any{"type": "IAMUser", "userName": "alice", "accountId": testAccount,
			"arn": "arn:aws:iam::" + testAccount + ":user/alice"},
		"eventTime":          time.Now().UTC().Add(-time.Hour).Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05Z"),
		"eventSource":        "s3.amazonaws.com",
		"eventName":          name,
		"awsRegion":          "us-east-1",
		"sourceIPAddress":    "192.0.2.1",
		"userAgent":          agent,
		"eventID":            fmt.Sprintf("7e0c2a11-0000-4000-8000-%012d", i),
		"readOnly":           false,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": testAccount,
		"eventCategory":      "Management",
	}
	if errorCode != "" {
		r["errorCode"] = errorCode
	}
	return r
}

// s3Objects reads objects through the daemon's S3 front end.
type s3Objects struct{ c *s3.Client }

func (o s3Objects) Get(ctx context.Context, bucket, key string) (io.ReadCloser, objstore.Object, error) {
	out, err := o.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *s3types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, objstore.Object{}, fmt.Errorf("%s: %w", key, objstore.ErrNoSuchKey)
		}
		return nil, objstore.Object{}, err
	}
	return out.Body, objstore.Object{Key: key}, nil
}

// publicKeys asks ListPublicKeys.
type publicKeys struct{ c *cloudtrail.Client }

func (k publicKeys) PublicKeys(ctx context.Context, start, end time.Time) ([]resultfile.PublicKey, error) {
	out, err := k.c.ListPublicKeys(ctx, &cloudtrail.ListPublicKeysInput{StartTime: &start, EndTime: &end})
	if err != nil {
		return nil, err
	}
	var keys []resultfile.PublicKey
	for _, p := range out.PublicKeyList {
		keys = append(keys, resultfile.PublicKey{Fingerprint: aws.ToString(p.Fingerprint), Value: p.Value})
	}
	return keys, nil
}

// TestLakeQueryResultsToS3 runs a query with a DeliveryS3Uri against a
// daemon through the Go SDK, reads what it delivered through the S3 front
// end, checks the sign file with the keys ListPublicKeys serves, and
// compares the CSV with GetQueryResults.
func TestLakeQueryResultsToS3(t *testing.T) {
	root := t.TempDir()
	id := lakeStoreWith(t, root, []map[string]any{
		lakeRecord(1, "CreateBucket", `aws-cli/1.45 "quoted", with a comma`, ""),
		lakeRecord(2, "DeleteBucket", "console.amazonaws.com", "AccessDenied"),
		lakeRecord(3, "PutObject", "line one\nline two", ""),
	})
	d := startDaemon(t, root, nil)
	ct := rootClient(t, d, testAccount, "us-east-1")
	sc := s3Client(t, d, testAccount)
	if _, err := sc.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("query-results")}); err != nil {
		t.Fatal(err)
	}
	stmt := "SELECT eventname, useragent, errorcode FROM " + id + " ORDER BY eventname"
	started, err := ct.StartQuery(t.Context(), &cloudtrail.StartQueryInput{QueryStatement: aws.String(stmt), DeliveryS3Uri: aws.String("s3://query-results/lake/")})
	if err != nil {
		t.Fatal(err)
	}
	qid := aws.ToString(started.QueryId)
	deadline := time.Now().Add(60 * time.Second)
	var desc *cloudtrail.DescribeQueryOutput
	for {
		if desc, err = ct.DescribeQuery(t.Context(), &cloudtrail.DescribeQueryInput{QueryId: &qid}); err != nil {
			t.Fatal(err)
		}
		if desc.DeliveryStatus != "PENDING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s the query is %s and its delivery %s", desc.QueryStatus, desc.DeliveryStatus)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if desc.QueryStatus != "FINISHED" || desc.DeliveryStatus != "SUCCESS" || aws.ToString(desc.DeliveryS3Uri) != "s3://query-results/lake/" {
		t.Fatalf("query %s (%s), delivery %s to %s", desc.QueryStatus, aws.ToString(desc.ErrorMessage), desc.DeliveryStatus, aws.ToString(desc.DeliveryS3Uri))
	}

	// The folder is prefix/AWSLogs/account/CloudTrail-Lake/Query/date/id.
	list, err := sc.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("query-results")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	folder := regexp.MustCompile(`^lake/AWSLogs/` + testAccount + `/CloudTrail-Lake/Query/\d{4}/\d{2}/\d{2}/` + qid + `$`)
	if len(keys) != 2 || !strings.HasSuffix(keys[0], "/result_1.csv.gz") || !strings.HasSuffix(keys[1], "/result_sign.json") ||
		!folder.MatchString(strings.TrimSuffix(keys[0], "/result_1.csv.gz")) {
		t.Fatalf("the bucket holds %q", keys)
	}
	dir := strings.TrimSuffix(keys[1], "/result_sign.json")
	if _, err := resultfile.Verify(t.Context(), s3Objects{sc}, publicKeys{ct}, "query-results", dir); err != nil {
		t.Fatalf("Verify: %v", err)
	}

	rc, _, err := s3Objects{sc}.Get(t.Context(), "query-results", keys[0])
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatalf("CSV %q: %v", raw, err)
	}
	res, err := ct.GetQueryResults(t.Context(), &cloudtrail.GetQueryResultsInput{QueryId: &qid})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"eventname", "useragent", "errorcode"}}
	for _, row := range res.QueryResultRows {
		var rec []string
		for _, cell := range row {
			for _, v := range cell {
				rec = append(rec, v)
			}
		}
		want = append(want, rec)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivered CSV (-GetQueryResults +file):\n%s", diff)
	}
	if !bytes.Contains(raw, []byte(`"aws-cli/1.45 ""quoted"", with a comma"`)) || !bytes.Contains(raw, []byte("CreateBucket,")) {
		t.Errorf("CSV quoting: %q", raw)
	}
}

// TestLakeQueryDeliveryBucketChecks: StartQuery checks the bucket of a
// DeliveryS3Uri in the daemon's bucket store, as CreateTrail does.
func TestLakeQueryDeliveryBucketChecks(t *testing.T) {
	root := t.TempDir()
	id := lakeStoreWith(t, root, []map[string]any{lakeRecord(1, "CreateBucket", "cli", "")})
	d := startDaemon(t, root, nil)
	const other = "444455556666"
	if _, _, err := d.Identities().CreateDefault(other); err != nil {
		t.Fatal(err)
	}
	if _, err := s3Client(t, d, other).CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("not-yours")}); err != nil {
		t.Fatal(err)
	}
	ct := rootClient(t, d, testAccount, "us-east-1")
	for uri, code := range map[string]string{
		"s3://no-such-bucket/x":      "S3BucketDoesNotExistException",
		"s3://not-yours":             "InsufficientS3BucketPolicyException",
		"s3://bucket..name":          "InvalidS3BucketNameException",
		"s3://no-such-bucket/a/../b": "InvalidS3PrefixException",
	} {
		_, err := ct.StartQuery(t.Context(), &cloudtrail.StartQueryInput{QueryStatement: aws.String("SELECT eventname FROM " + id), DeliveryS3Uri: aws.String(uri)})
		if apiCode(err) != code {
			t.Errorf("%s: %v, want %s", uri, err, code)
		}
	}
}
