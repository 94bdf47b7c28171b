package api

import (
	"context"
	"crypto/md5"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/keyring"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/selector"
)

// System tests of the trail, selector, Insights, tag and public-key
// operations, through the real aws-sdk-go-v2 client (and hand-built
// requests where the exact wire JSON matters), over a real catalog and
// keyring.

// Buckets the fake BucketChecker knows.
const (
	bucket1       = "bucket-1"     // acct1's
	bucket2       = "bucket-2"     // acct1's
	otherBucket   = "other-bucket" // acct2's
	deniedBucket  = "denied-bucket"
	missingBucket = "no-such-bucket"
	downBucket    = "down-bucket" // the store does not answer
)

// fakeBuckets is a BucketChecker: bucket name to owning account.
type fakeBuckets map[string]string

var _ BucketChecker = fakeBuckets{}

func (f fakeBuckets) HeadBucket(_ context.Context, name string) (objstore.Bucket, error) {
	if name == deniedBucket {
		return objstore.Bucket{}, fmt.Errorf("head bucket %s: %w", name, objstore.ErrAccessDenied)
	}
	if name == downBucket {
		return objstore.Bucket{}, fmt.Errorf("head bucket %s: %w", name, objstore.ErrUnavailable)
	}
	owner, ok := f[name]
	if !ok {
		return objstore.Bucket{}, fmt.Errorf("head bucket %s: %w", name, objstore.ErrNoSuchBucket)
	}
	return objstore.Bucket{Name: name, Region: "us-east-1", Owner: owner}, nil
}

var testBuckets = fakeBuckets{bucket1: acct1, bucket2: acct1, otherBucket: acct2}

// fakeDelivery records Flush calls and answers Status with a canned status.
type fakeDelivery struct {
	mu       sync.Mutex
	flushes  int
	asked    []string // "ARN@region" per Status call
	flushErr error
	onFlush  func() // called inside Flush (under mu), to look at the catalog then
	never    bool   // Status answers the zero status of a trail that never delivered
}

var _ Delivery = (*fakeDelivery)(nil)

func (d *fakeDelivery) Flush(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.flushes++
	if d.onFlush != nil {
		d.onFlush()
	}
	return d.flushErr
}

// do runs fn under the lock: the test's way to set or read the fields
// the handler uses.
func (d *fakeDelivery) do(fn func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fn()
}

func (d *fakeDelivery) Status(arn, region string) TrailStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked = append(d.asked, arn+"@"+region)
	if d.never {
		return TrailStatus{}
	}
	return cannedStatus
}

func (d *fakeDelivery) flushCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flushes
}

var cannedStatus = TrailStatus{
	LatestDeliveryTime:                 testNow.Add(-10 * time.Minute),
	LatestDeliveryAttemptTime:          testNow.Add(-5 * time.Minute),
	LatestDeliveryAttemptSucceeded:     testNow.Add(-10 * time.Minute),
	LatestNotificationTime:             testNow.Add(-9 * time.Minute),
	LatestNotificationAttemptTime:      testNow.Add(-4 * time.Minute),
	LatestNotificationAttemptSucceeded: testNow.Add(-9 * time.Minute),
	LatestDigestDeliveryTime:           testNow.Add(-30*time.Minute + 250*time.Millisecond),
	LatestDeliveryError:                "AccessDenied",
	LatestNotificationError:            "NotFound",
	LatestDigestDeliveryError:          "NoSuchBucket",
}

// trailEnv is an env whose handler serves trails from a real catalog.
type trailEnv struct {
	*env
	cat  *catalog.Catalog
	keys *keyring.Keyring
	del  *fakeDelivery
	kclk *fakeClock // the keyring's clock
}

type trailEnvOptions struct {
	maxTrails int             // catalog quota; 0 means AWS's 5
	seed      []catalog.Trail // written to the catalog file before it opens
}

func newTrailEnv(t *testing.T, o trailEnvOptions) *trailEnv {
	t.Helper()
	dir := t.TempDir()
	catDir := filepath.Join(dir, "catalog")
	if len(o.seed) > 0 {
		seedFile(t, catDir, catalog.FileName, map[string]any{"version": 1, "trails": o.seed})
	}
	copts := catalog.DefaultOptions()
	if o.maxTrails > 0 {
		copts.MaxTrailsPerRegion = o.maxTrails
	}
	cat, err := catalog.Open(catDir, copts)
	if err != nil {
		t.Fatal(err)
	}
	te := &trailEnv{cat: cat, del: &fakeDelivery{}, kclk: &fakeClock{t: testNow}}
	kopts := keyring.DefaultOptions()
	kopts.Bits = 1024
	kopts.Now = te.kclk.Now
	te.keys, err = keyring.Open(filepath.Join(dir, "keys"), kopts)
	if err != nil {
		t.Fatal(err)
	}
	// Delivery makes the signing key when it first signs a digest; stand in.
	if _, err := te.keys.Current(SigningKeySet); err != nil {
		t.Fatal(err)
	}
	te.env = newEnv(t, func(o *Options) {
		o.Trails = cat
		o.Buckets = testBuckets
		o.Delivery = te.del
		o.Keys = te.keys
	})
	return te
}

// seedFile writes doc as JSON to dir/name, making dir: a catalogue file
// for a test to open.
func seedFile(t testing.TB, dir, name string, doc any) {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Clients.
func (te *trailEnv) c1() *cloudtrail.Client   { return te.client("AKIDALICE", "us-east-1") }
func (te *trailEnv) c1eu() *cloudtrail.Client { return te.client("AKIDALICE", "eu-west-1") }
func (te *trailEnv) c2() *cloudtrail.Client   { return te.client("AKIDOTHER", "us-east-1") }

func arnOf(region, account, name string) string { return catalog.ARN(region, account, name) }

// mkTrail is a CreateTrailInput for bucket-1, changed by mods.
func mkTrail(name string, mods ...func(*cloudtrail.CreateTrailInput)) *cloudtrail.CreateTrailInput {
	in := &cloudtrail.CreateTrailInput{Name: aws.String(name), S3BucketName: aws.String(bucket1)}
	for _, m := range mods {
		m(in)
	}
	return in
}

func multiRegion(in *cloudtrail.CreateTrailInput) { in.IsMultiRegionTrail = aws.Bool(true) }

func mustCreate(t *testing.T, c *cloudtrail.Client, in *cloudtrail.CreateTrailInput) *cloudtrail.CreateTrailOutput {
	t.Helper()
	out, err := c.CreateTrail(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateTrail %s: %v", aws.ToString(in.Name), err)
	}
	return out
}

// checkAPIError checks that err is a 400 API error with code and a message
// containing msg.
func checkAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want %s", code)
		return
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("error %v (%T) is not a smithy.APIError", err, err)
		return
	}
	if ae.ErrorCode() != code {
		t.Errorf("error code %s (%q), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	if !strings.Contains(ae.ErrorMessage(), msg) {
		t.Errorf("%s message %q does not contain %q", ae.ErrorCode(), ae.ErrorMessage(), msg)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Errorf("error %v carries no HTTP response", err)
	} else if s := re.HTTPStatusCode(); s != http.StatusBadRequest && code != codeInternal {
		t.Errorf("%s: HTTP status %d, want 400", code, s)
	}
}

// sdkCmp compares SDK shapes: unexported fields and result metadata are
// ignored, nil and empty lists are equal.
var sdkCmp = cmp.Options{
	cmp.FilterPath(func(p cmp.Path) bool {
		sf, ok := p.Last().(cmp.StructField)
		return ok && !token.IsExported(sf.Name())
	}, cmp.Ignore()),
	cmpopts.IgnoreTypes(middleware.Metadata{}),
	cmpopts.EquateEmpty(),
}

// rawOK sends a hand-built botocore-style request as AKIDALICE and
// returns the 200 response body.
func (te *trailEnv) rawOK(t *testing.T, op, region, body string) []byte {
	t.Helper()
	r := te.raw(t, http.MethodPost, "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."+op, body, "AKIDALICE", region, "cloudtrail", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("%s %s: status %d: %s", op, body, r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("%s: Content-Type %q", op, ct)
	}
	return r.Body
}

// jsonEqual compares JSON documents; numbers stay numbers and strings
// strings, so an epoch-seconds number never equals a string.
func jsonEqual(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: response %q: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: want %q: %v", what, want, err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("%s JSON (-want +got):\n%s\ngot: %s", what, diff, got)
	}
}

// --- CreateTrail ---

func TestCreateTrailEcho(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	arn := arnOf("us-east-1", acct1, "full")
	got := mustCreate(t, c, mkTrail("full", multiRegion, func(in *cloudtrail.CreateTrailInput) {
		in.S3KeyPrefix = aws.String("logs/")
		in.SnsTopicName = aws.String("alerts")
		in.EnableLogFileValidation = aws.Bool(true)
		in.IsOrganizationTrail = aws.Bool(false)
		in.KmsKeyId = aws.String("")
		in.CloudWatchLogsLogGroupArn, in.CloudWatchLogsRoleArn = aws.String(""), aws.String("")
		in.TagsList = []types.Tag{{Key: aws.String("team"), Value: aws.String("sec")}, {Key: aws.String("flag")}}
	}))
	want := &cloudtrail.CreateTrailOutput{
		Name: aws.String("full"), S3BucketName: aws.String(bucket1), S3KeyPrefix: aws.String("logs"),
		SnsTopicName: aws.String("alerts"), SnsTopicARN: aws.String("arn:aws:sns:us-east-1:111111111111:alerts"),
		IncludeGlobalServiceEvents: aws.Bool(true), IsMultiRegionTrail: aws.Bool(true), TrailARN: aws.String(arn),
		LogFileValidationEnabled: aws.Bool(true), IsOrganizationTrail: aws.Bool(false),
	}
	if diff := cmp.Diff(want, got, sdkCmp); diff != "" {
		t.Errorf("CreateTrail output (-want +got):\n%s", diff)
	}

	// A new trail is not logging; nothing was flushed for a create.
	st, err := c.GetTrailStatus(t.Context(), &cloudtrail.GetTrailStatusInput{Name: aws.String("full")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToBool(st.IsLogging) || st.StartLoggingTime != nil || aws.ToString(st.TimeLoggingStarted) != "" {
		t.Errorf("new trail status: IsLogging=%v StartLoggingTime=%v TimeLoggingStarted=%q", aws.ToBool(st.IsLogging), st.StartLoggingTime, aws.ToString(st.TimeLoggingStarted))
	}
	stored, ok := te.cat.Get(arn)
	if !ok || stored.S3KeyPrefix != "logs" || stored.Logging || !stored.CreatedTime.Equal(testNow) || len(stored.Tags) != 2 {
		t.Errorf("catalog holds %+v", stored)
	}
	tags, err := c.ListTags(t.Context(), &cloudtrail.ListTagsInput{ResourceIdList: []string{arn}})
	if err != nil {
		t.Fatal(err)
	}
	wantTags := []types.ResourceTag{{ResourceId: aws.String(arn), TagsList: []types.Tag{
		{Key: aws.String("team"), Value: aws.String("sec")}, {Key: aws.String("flag")},
	}}}
	if diff := cmp.Diff(wantTags, tags.ResourceTagList, sdkCmp); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}

	// Defaults: global events on, single-region, no validation, no
	// optional strings.
	got = mustCreate(t, c, mkTrail("minimal"))
	want = &cloudtrail.CreateTrailOutput{
		Name: aws.String("minimal"), S3BucketName: aws.String(bucket1),
		IncludeGlobalServiceEvents: aws.Bool(true), IsMultiRegionTrail: aws.Bool(false),
		TrailARN: aws.String(arnOf("us-east-1", acct1, "minimal")), LogFileValidationEnabled: aws.Bool(false),
		IsOrganizationTrail: aws.Bool(false),
	}
	if diff := cmp.Diff(want, got, sdkCmp); diff != "" {
		t.Errorf("minimal CreateTrail output (-want +got):\n%s", diff)
	}

	// Explicit false for global events; a topic given by ARN; a bare "/"
	// prefix is no prefix; a 200-character prefix is allowed.
	got = mustCreate(t, c, mkTrail("noglobal", func(in *cloudtrail.CreateTrailInput) {
		in.IncludeGlobalServiceEvents = aws.Bool(false)
		in.SnsTopicName = aws.String("arn:aws:sns:eu-west-1:111111111111:Other_Topic-1")
		in.S3KeyPrefix = aws.String("/")
	}))
	if aws.ToBool(got.IncludeGlobalServiceEvents) || aws.ToString(got.SnsTopicName) != "Other_Topic-1" ||
		aws.ToString(got.SnsTopicARN) != "arn:aws:sns:eu-west-1:111111111111:Other_Topic-1" || got.S3KeyPrefix != nil {
		t.Errorf("noglobal: global=%v topic=%q arn=%q prefix=%v", aws.ToBool(got.IncludeGlobalServiceEvents),
			aws.ToString(got.SnsTopicName), aws.ToString(got.SnsTopicARN), got.S3KeyPrefix)
	}
	// Raw JSON, as the aws CLI sends it: the response members are the
	// model's CreateTrailResponse / UpdateTrailResponse members.
	raw := arnOf("us-east-1", acct1, "raw")
	body := te.rawOK(t, "CreateTrail", "us-east-1", `{"Name":"raw","S3BucketName":"bucket-1","S3KeyPrefix":"a/b/","SnsTopicName":"tp",
		"IncludeGlobalServiceEvents":true,"IsMultiRegionTrail":false,"EnableLogFileValidation":true,"IsOrganizationTrail":false,
		"TagsList":[{"Key":"k","Value":"v"}]}`)
	jsonEqual(t, "CreateTrail", body, `{"Name":"raw","S3BucketName":"bucket-1","S3KeyPrefix":"a/b","SnsTopicName":"tp",
		"SnsTopicARN":"arn:aws:sns:us-east-1:111111111111:tp","IncludeGlobalServiceEvents":true,"IsMultiRegionTrail":false,
		"TrailARN":"`+raw+`","LogFileValidationEnabled":true,"IsOrganizationTrail":false}`)
	body = te.rawOK(t, "UpdateTrail", "us-east-1", `{"Name":"`+raw+`","S3KeyPrefix":"","SnsTopicName":"","IsMultiRegionTrail":true}`)
	jsonEqual(t, "UpdateTrail", body, `{"Name":"raw","S3BucketName":"bucket-1","IncludeGlobalServiceEvents":true,"IsMultiRegionTrail":true,
		"TrailARN":"`+raw+`","LogFileValidationEnabled":true,"IsOrganizationTrail":false}`)

	long := strings.Repeat("p", 200)
	got = mustCreate(t, c, mkTrail("longprefix", func(in *cloudtrail.CreateTrailInput) { in.S3KeyPrefix = aws.String(long) }))
	if aws.ToString(got.S3KeyPrefix) != long {
		t.Errorf("200-character prefix came back as %q", aws.ToString(got.S3KeyPrefix))
	}
	// Dots are fine where they do not make a whole "." or ".." segment.
	for _, p := range []string{"..a", "a..b/c.", "v1.2/...", "logs/_../x", "a b/ü"} {
		up, err := c.UpdateTrail(t.Context(), &cloudtrail.UpdateTrailInput{Name: aws.String("longprefix"), S3KeyPrefix: aws.String(p)})
		if err != nil {
			t.Errorf("UpdateTrail with prefix %q: %v", p, err)
			continue
		}
		if aws.ToString(up.S3KeyPrefix) != p {
			t.Errorf("prefix %q came back as %q", p, aws.ToString(up.S3KeyPrefix))
		}
	}
}

func TestCreateTrailNames(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	const badChars = "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens (-), and underscores (_)."
	tests := []struct {
		name, msg string // msg "" means valid
	}{
		{"", "Trail name too short. Minimum allowed length: 3 characters. Specified name length: 0 characters."},
		{"ab", "Trail name too short. Minimum allowed length: 3 characters. Specified name length: 2 characters."},
		{strings.Repeat("a", 129), "Trail name too long. Maximum allowed length: 128 characters. Specified name length: 129 characters."},
		{"my trail", badChars},
		{"my/trail", badChars},
		{"trailé", badChars},
		{"-trail", "Trail name must starts with a letter or number."},
		{"_trail", "Trail name must starts with a letter or number."},
		{"trail.", "Trail name must ends with a letter or number."},
		{"my--trail", `Trail name cannot contain adjacent periods, hyphens or underscores ("--").`},
		{"my-_namespace", `Trail name cannot contain adjacent periods, hyphens or underscores ("-_").`},
		{"a..b", `Trail name cannot contain adjacent periods, hyphens or underscores ("..").`},
		{"192.168.5.4", "Trail name cannot be formatted as an IP address (192.168.5.4)."},
		{"abc", ""},
		{strings.Repeat("a", 128), ""},
		{"My_Trail.1-x", ""},
		{"192.168.5", ""},
		{"1.2.3.4.5", ""},
	}
	for _, tt := range tests {
		_, err := c.CreateTrail(t.Context(), mkTrail(tt.name))
		if tt.msg == "" {
			if err != nil {
				t.Errorf("CreateTrail(%q): %v", tt.name, err)
				continue
			}
			if _, err := c.DeleteTrail(t.Context(), &cloudtrail.DeleteTrailInput{Name: aws.String(tt.name)}); err != nil {
				t.Errorf("DeleteTrail(%q): %v", tt.name, err)
			}
			continue
		}
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorMessage() != tt.msg {
			t.Errorf("CreateTrail(%q) message %q, want %q", tt.name, ae.ErrorMessage(), tt.msg)
		}
		checkAPIError(t, err, "InvalidTrailNameException", tt.msg)
		// The same rules apply to names in the other operations.
		_, err = c.GetTrail(t.Context(), &cloudtrail.GetTrailInput{Name: aws.String(tt.name)})
		if tt.name == "" {
			checkAPIError(t, err, "InvalidTrailNameException", "Name is required")
		} else {
			checkAPIError(t, err, "InvalidTrailNameException", tt.msg)
		}
	}
}

func TestCreateTrailErrors(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	str := aws.String
	tags := func(n int) []types.Tag {
		out := make([]types.Tag, n)
		for i := range out {
			out[i] = types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")}
		}
		return out
	}
	const uuid = "12345678-1234-1234-1234-123456789012"
	tests := []struct {
		name      string
		mod       func(*cloudtrail.CreateTrailInput)
		code, msg string
	}{
		{"bucket empty", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = str("") }, "InvalidS3BucketNameException", "S3BucketName is required"},
		{"bucket short", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = str("ab") }, "InvalidS3BucketNameException", "3 to 63 characters"},
		{"bucket long", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = str(strings.Repeat("b", 64)) }, "InvalidS3BucketNameException", "3 to 63 characters"},
		{"bucket upper", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = str("Bucket-1") }, "InvalidS3BucketNameException", "lowercase letters"},
		{"bucket underscore", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = str("my_bucket") }, "InvalidS3BucketNameException", "lowercase letters"},
		{"bucket starts with hyphen", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = str("-bucket") }, "InvalidS3BucketNameException", "start and end"},
		{"bucket ends with period", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = str("bucket.") }, "InvalidS3BucketNameException", "start and end"},
		{"bucket adjacent periods", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = str("my..bucket") }, "InvalidS3BucketNameException", `".."`},
		{"bucket IP", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = str("192.168.1.1") }, "InvalidS3BucketNameException", "IP address"},
		{"bucket missing", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = str(missingBucket) }, "S3BucketDoesNotExistException", "S3 bucket no-such-bucket does not exist"},
		{"bucket of another account", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = str(otherBucket) }, "InsufficientS3BucketPolicyException", "Incorrect S3 bucket policy is detected for bucket: other-bucket"},
		{"bucket denied", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = str(deniedBucket) }, "InsufficientS3BucketPolicyException", "denied-bucket"},
		{"prefix too long", func(in *cloudtrail.CreateTrailInput) { in.S3KeyPrefix = str(strings.Repeat("p", 201)) }, "InvalidS3PrefixException", "201 characters; the maximum is 200"},
		{"prefix empty segment", func(in *cloudtrail.CreateTrailInput) { in.S3KeyPrefix = str("a//b") }, "InvalidS3PrefixException", "empty path segments"},
		{"prefix leading slash", func(in *cloudtrail.CreateTrailInput) { in.S3KeyPrefix = str("/logs") }, "InvalidS3PrefixException", "empty path segments"},
		{"prefix dot-dot", func(in *cloudtrail.CreateTrailInput) { in.S3KeyPrefix = str("..") }, "InvalidS3PrefixException", `has a ".." path segment`},
		{"prefix dot-dot inside", func(in *cloudtrail.CreateTrailInput) { in.S3KeyPrefix = str("a/../b") }, "InvalidS3PrefixException", `has a ".." path segment`},
		{"prefix dot-dot last", func(in *cloudtrail.CreateTrailInput) { in.S3KeyPrefix = str("logs/../") }, "InvalidS3PrefixException", `has a ".." path segment`},
		{"prefix dot", func(in *cloudtrail.CreateTrailInput) { in.S3KeyPrefix = str("./logs") }, "InvalidS3PrefixException", `has a "." path segment`},
		{"prefix NUL", func(in *cloudtrail.CreateTrailInput) { in.S3KeyPrefix = str("a\x00b") }, "InvalidS3PrefixException", "control character (0x00) at byte 1"},
		{"prefix newline", func(in *cloudtrail.CreateTrailInput) { in.S3KeyPrefix = str("logs\n") }, "InvalidS3PrefixException", "control character (0x0A)"},
		{"prefix DEL", func(in *cloudtrail.CreateTrailInput) { in.S3KeyPrefix = str("a\x7f") }, "InvalidS3PrefixException", "control character (0x7F)"},
		{"topic bad chars", func(in *cloudtrail.CreateTrailInput) { in.SnsTopicName = str("my topic") }, "InvalidSnsTopicNameException", "letters, numbers, hyphens and underscores"},
		{"topic too long", func(in *cloudtrail.CreateTrailInput) { in.SnsTopicName = str(strings.Repeat("t", 257)) }, "InvalidSnsTopicNameException", "maximum is 256"},
		{"topic not an SNS ARN", func(in *cloudtrail.CreateTrailInput) { in.SnsTopicName = str("arn:aws:sqs:us-east-1:111111111111:q") }, "InvalidSnsTopicNameException", "not an SNS topic ARN"},
		{"kms malformed", func(in *cloudtrail.CreateTrailInput) { in.KmsKeyId = str("my-key") }, "InvalidKmsKeyIdException", `"my-key"`},
		{"kms alias", func(in *cloudtrail.CreateTrailInput) { in.KmsKeyId = str("alias/logs") }, "KmsKeyNotFoundException", "alias/logs"},
		{"kms uuid", func(in *cloudtrail.CreateTrailInput) { in.KmsKeyId = str(uuid) }, "KmsKeyNotFoundException", uuid},
		{"kms arn", func(in *cloudtrail.CreateTrailInput) {
			in.KmsKeyId = str("arn:aws:kms:us-east-1:111111111111:key/" + uuid)
		}, "KmsKeyNotFoundException", "no KMS"},
		{"kms wrong service arn", func(in *cloudtrail.CreateTrailInput) { in.KmsKeyId = str("arn:aws:s3:::bucket") }, "InvalidKmsKeyIdException", "KmsKeyId"},
		{"cwl group without role", func(in *cloudtrail.CreateTrailInput) {
			in.CloudWatchLogsLogGroupArn = str("arn:aws:logs:us-east-1:111111111111:log-group:g:*")
		}, "InvalidCloudWatchLogsRoleArnException", "CloudWatchLogsRoleArn is required"},
		{"cwl role without group", func(in *cloudtrail.CreateTrailInput) {
			in.CloudWatchLogsRoleArn = str("arn:aws:iam::111111111111:role/r")
		}, "InvalidCloudWatchLogsLogGroupArnException", "CloudWatchLogsLogGroupArn is required"},
		{"cwl bad group", func(in *cloudtrail.CreateTrailInput) {
			in.CloudWatchLogsLogGroupArn, in.CloudWatchLogsRoleArn = str("group"), str("arn:aws:iam::111111111111:role/r")
		}, "InvalidCloudWatchLogsLogGroupArnException", "not a CloudWatch Logs log group ARN"},
		{"cwl bad role", func(in *cloudtrail.CreateTrailInput) {
			in.CloudWatchLogsLogGroupArn, in.CloudWatchLogsRoleArn = str("arn:aws:logs:us-east-1:111111111111:log-group:g:*"), str("role")
		}, "InvalidCloudWatchLogsRoleArnException", "not an IAM role ARN"},
		{"cwl both valid", func(in *cloudtrail.CreateTrailInput) {
			in.CloudWatchLogsLogGroupArn, in.CloudWatchLogsRoleArn = str("arn:aws:logs:us-east-1:111111111111:log-group:g:*"), str("arn:aws:iam::111111111111:role/r")
		}, "CloudWatchLogsDeliveryUnavailableException", "does not deliver events to CloudWatch Logs"},
		{"multi-region without global events", func(in *cloudtrail.CreateTrailInput) {
			in.IsMultiRegionTrail, in.IncludeGlobalServiceEvents = aws.Bool(true), aws.Bool(false)
		}, "InvalidParameterCombinationException", "Multi-Region trail must include global service events."},
		{"organization trail", func(in *cloudtrail.CreateTrailInput) { in.IsOrganizationTrail = aws.Bool(true) }, "OrganizationsNotInUseException", "organization"},
		{"51 tags", func(in *cloudtrail.CreateTrailInput) { in.TagsList = tags(51) }, "TagsLimitExceededException", "at most 50 tags"},
		{"201 tags", func(in *cloudtrail.CreateTrailInput) { in.TagsList = tags(201) }, "InvalidTagParameterException", "at most 200"},
		{"duplicate tag keys", func(in *cloudtrail.CreateTrailInput) {
			in.TagsList = []types.Tag{{Key: str("k")}, {Key: str("k"), Value: str("v")}}
		}, "InvalidTagParameterException", `"k" more than once`},
		{"empty tag key", func(in *cloudtrail.CreateTrailInput) { in.TagsList = []types.Tag{{Key: str("")}} }, "InvalidTagParameterException", "Key must be 1 to 128"},
		{"long tag key", func(in *cloudtrail.CreateTrailInput) { in.TagsList = []types.Tag{{Key: str(strings.Repeat("k", 129))}} }, "InvalidTagParameterException", "Key must be 1 to 128"},
		{"reserved tag key", func(in *cloudtrail.CreateTrailInput) { in.TagsList = []types.Tag{{Key: str("aws:owner")}} }, "InvalidTagParameterException", "reserved prefix aws:"},
		{"long tag value", func(in *cloudtrail.CreateTrailInput) {
			in.TagsList = []types.Tag{{Key: str("k"), Value: str(strings.Repeat("v", 257))}}
		}, "InvalidTagParameterException", "1 to 256"},
		{"empty tag value", func(in *cloudtrail.CreateTrailInput) { in.TagsList = []types.Tag{{Key: str("k"), Value: str("")}} }, "InvalidTagParameterException", "1 to 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateTrail(t.Context(), mkTrail("bad", tt.mod))
			checkAPIError(t, err, tt.code, tt.msg)
		})
	}
	if n := len(te.cat.List(acct1, "")); n != 0 {
		t.Errorf("failed CreateTrails left %d trails", n)
	}
	// Required members: the SDK checks for absent ones, hand-built
	// requests reach the server.
	for _, tt := range []struct{ body, code string }{
		{`{"S3BucketName":"bucket-1"}`, "InvalidTrailNameException"},
		{`{"Name":"tr1"}`, "InvalidS3BucketNameException"},
		{`{"Name":"tr1","S3BucketName":null}`, "InvalidS3BucketNameException"},
		{`{"Name":"tr1","S3BucketName":"bucket-1","IsMultiRegionTrail":"yes"}`, "SerializationException"},
	} {
		r := te.post(t, "CloudTrail_20131101.CreateTrail", tt.body)
		if code, msg := wireErr(t, r); r.Status != http.StatusBadRequest || code != tt.code {
			t.Errorf("CreateTrail %s: %d %s %q, want 400 %s", tt.body, r.Status, code, msg, tt.code)
		}
	}
}

func TestCreateTrailExistsAndQuota(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c, eu := te.c1(), te.c1eu()
	mustCreate(t, c, mkTrail("tr1"))
	_, err := c.CreateTrail(t.Context(), mkTrail("tr1", multiRegion))
	checkAPIError(t, err, "TrailAlreadyExistsException", "Trail tr1 already exists for customer: 111111111111")
	// The same name is free in another region and in another account.
	mustCreate(t, eu, mkTrail("tr1"))
	mustCreate(t, te.c2(), mkTrail("tr1", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = aws.String(otherBucket) }))

	for _, n := range []string{"tr2", "tr3", "tr4", "tr5"} {
		mustCreate(t, c, mkTrail(n))
	}
	_, err = c.CreateTrail(t.Context(), mkTrail("tr6"))
	checkAPIError(t, err, "MaximumNumberOfTrailsExceededException", "User: 111111111111 already has 5 trails")
	// A multi-region trail made elsewhere would show in us-east-1 too.
	_, err = eu.CreateTrail(t.Context(), mkTrail("multi", multiRegion))
	checkAPIError(t, err, "MaximumNumberOfTrailsExceededException", "111111111111")
	// So would turning an eu-west-1 trail into a multi-region one.
	_, err = eu.UpdateTrail(t.Context(), &cloudtrail.UpdateTrailInput{Name: aws.String("tr1"), IsMultiRegionTrail: aws.Bool(true)})
	checkAPIError(t, err, "MaximumNumberOfTrailsExceededException", "111111111111")
	if tr, _ := te.cat.Get(arnOf("eu-west-1", acct1, "tr1")); tr.IsMultiRegionTrail {
		t.Error("the refused UpdateTrail made t1 multi-region")
	}
	// Other accounts have their own quota.
	mustCreate(t, te.c2(), mkTrail("tr2", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = aws.String(otherBucket) }))
	// Deleting one frees a place.
	if _, err := c.DeleteTrail(t.Context(), &cloudtrail.DeleteTrailInput{Name: aws.String("tr5")}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, c, mkTrail("tr6"))

	// Multi-region trails count in every region: with one made in
	// us-east-1, ap-south-1 takes four trails of its own.
	te = newTrailEnv(t, trailEnvOptions{})
	mustCreate(t, te.c1(), mkTrail("multi", multiRegion))
	ap := te.client("AKIDALICE", "ap-south-1")
	for _, n := range []string{"ap1", "ap2", "ap3", "ap4"} {
		mustCreate(t, ap, mkTrail(n))
	}
	_, err = ap.CreateTrail(t.Context(), mkTrail("ap5"))
	checkAPIError(t, err, "MaximumNumberOfTrailsExceededException", "already has 5 trails in ap-south-1")
	mustCreate(t, te.client("AKIDALICE", "sa-east-1"), mkTrail("sa1"))
}

// TestCreateTrailCheckOrder: as AWS does, CreateTrail and UpdateTrail
// check everything the request says, parameter combinations included,
// before they ask the object store about the bucket; a request wrong in
// both ways gets the request's error.
func TestCreateTrailCheckOrder(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	mustCreate(t, c, mkTrail("existing"))
	str := aws.String
	noGlobal := func(multi bool) (*bool, *bool) { return aws.Bool(multi), aws.Bool(false) }
	tests := []struct {
		name      string
		bucket    string
		mod       func(*cloudtrail.CreateTrailInput)
		code, msg string
	}{
		{"missing bucket, multi-region without global events", missingBucket, func(in *cloudtrail.CreateTrailInput) {
			in.IsMultiRegionTrail, in.IncludeGlobalServiceEvents = noGlobal(true)
		}, "InvalidParameterCombinationException", "Multi-Region trail must include global service events."},
		{"another account's bucket, multi-region without global events", otherBucket, func(in *cloudtrail.CreateTrailInput) {
			in.IsMultiRegionTrail, in.IncludeGlobalServiceEvents = noGlobal(true)
		}, "InvalidParameterCombinationException", "Multi-Region trail must include global service events."},
		{"unanswered bucket, multi-region without global events", downBucket, func(in *cloudtrail.CreateTrailInput) {
			in.IsMultiRegionTrail, in.IncludeGlobalServiceEvents = noGlobal(true)
		}, "InvalidParameterCombinationException", "Multi-Region trail must include global service events."},
		{"denied bucket, log group without role", deniedBucket, func(in *cloudtrail.CreateTrailInput) {
			in.CloudWatchLogsLogGroupArn = str("arn:aws:logs:us-east-1:111111111111:log-group:g:*")
		}, "InvalidCloudWatchLogsRoleArnException", "CloudWatchLogsRoleArn is required"},
		{"missing bucket, bad prefix", missingBucket, func(in *cloudtrail.CreateTrailInput) { in.S3KeyPrefix = str("a//b") },
			"InvalidS3PrefixException", "empty path segments"},
		{"missing bucket, bad topic", missingBucket, func(in *cloudtrail.CreateTrailInput) { in.SnsTopicName = str("my topic") },
			"InvalidSnsTopicNameException", "letters, numbers"},
		{"missing bucket, malformed KMS key", missingBucket, func(in *cloudtrail.CreateTrailInput) { in.KmsKeyId = str("my-key") },
			"InvalidKmsKeyIdException", `"my-key"`},
		{"missing bucket alone", missingBucket, func(*cloudtrail.CreateTrailInput) {},
			"S3BucketDoesNotExistException", "S3 bucket no-such-bucket does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mkTrail("bad", tt.mod)
			in.S3BucketName = str(tt.bucket)
			_, err := c.CreateTrail(t.Context(), in)
			checkAPIError(t, err, tt.code, tt.msg)

			up := &cloudtrail.UpdateTrailInput{Name: str("existing"), S3BucketName: str(tt.bucket), IsMultiRegionTrail: in.IsMultiRegionTrail,
				IncludeGlobalServiceEvents: in.IncludeGlobalServiceEvents, S3KeyPrefix: in.S3KeyPrefix, SnsTopicName: in.SnsTopicName,
				KmsKeyId: in.KmsKeyId, CloudWatchLogsLogGroupArn: in.CloudWatchLogsLogGroupArn, CloudWatchLogsRoleArn: in.CloudWatchLogsRoleArn}
			_, err = c.UpdateTrail(t.Context(), up)
			checkAPIError(t, err, tt.code, tt.msg)
		})
	}
	if tr, _ := te.cat.Get(arnOf("us-east-1", acct1, "existing")); tr.S3BucketName != bucket1 || tr.IsMultiRegionTrail {
		t.Errorf("refused UpdateTrails changed the trail: %+v", tr)
	}
}

// --- name-or-ARN resolution ---

// trailOp is one operation that takes a trail name or ARN.
type trailOp struct {
	name     string
	homeOnly bool
	call     func(ctx context.Context, c *cloudtrail.Client, ref string) error
}

func errOnly[O any](_ O, err error) error { return err }

var trailOps = []trailOp{
	{"GetTrail", false, func(ctx context.Context, c *cloudtrail.Client, ref string) error {
		return errOnly(c.GetTrail(ctx, &cloudtrail.GetTrailInput{Name: &ref}))
	}},
	{"GetTrailStatus", false, func(ctx context.Context, c *cloudtrail.Client, ref string) error {
		return errOnly(c.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: &ref}))
	}},
	{"GetEventSelectors", false, func(ctx context.Context, c *cloudtrail.Client, ref string) error {
		return errOnly(c.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: &ref}))
	}},
	{"StartLogging", true, func(ctx context.Context, c *cloudtrail.Client, ref string) error {
		return errOnly(c.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: &ref}))
	}},
	{"StopLogging", true, func(ctx context.Context, c *cloudtrail.Client, ref string) error {
		return errOnly(c.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: &ref}))
	}},
	{"UpdateTrail", true, func(ctx context.Context, c *cloudtrail.Client, ref string) error {
		return errOnly(c.UpdateTrail(ctx, &cloudtrail.UpdateTrailInput{Name: &ref, EnableLogFileValidation: aws.Bool(true)}))
	}},
	{"PutEventSelectors", true, func(ctx context.Context, c *cloudtrail.Client, ref string) error {
		return errOnly(c.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: &ref,
			EventSelectors: []types.EventSelector{{ReadWriteType: types.ReadWriteTypeWriteOnly}}}))
	}},
	{"PutInsightSelectors", true, func(ctx context.Context, c *cloudtrail.Client, ref string) error {
		return errOnly(c.PutInsightSelectors(ctx, &cloudtrail.PutInsightSelectorsInput{TrailName: &ref,
			InsightSelectors: []types.InsightSelector{{InsightType: types.InsightTypeApiErrorRateInsight}}}))
	}},
	{"GetInsightSelectors", false, func(ctx context.Context, c *cloudtrail.Client, ref string) error {
		return errOnly(c.GetInsightSelectors(ctx, &cloudtrail.GetInsightSelectorsInput{TrailName: &ref}))
	}},
	{"DeleteTrail", true, func(ctx context.Context, c *cloudtrail.Client, ref string) error { // last: it removes the trail
		return errOnly(c.DeleteTrail(ctx, &cloudtrail.DeleteTrailInput{Name: &ref}))
	}},
}

func TestTrailRefs(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	mustCreate(t, c, mkTrail("mine"))
	mustCreate(t, te.c2(), mkTrail("theirs", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = aws.String(otherBucket) }))
	mine := arnOf("us-east-1", acct1, "mine")
	unknownARN := arnOf("us-east-1", acct1, "nope")
	refs := []struct {
		name, ref, code, msg string
	}{
		{"unknown name", "nope", "TrailNotFoundException", "Unknown trail: nope for the user: 111111111111"},
		{"unknown ARN", unknownARN, "TrailNotFoundException", "Unknown trail: " + unknownARN + " for the user: 111111111111"},
		{"another account's ARN", arnOf("us-east-1", acct2, "theirs"), "TrailNotFoundException", "for the user: 111111111111"},
		{"another account's name", "theirs", "TrailNotFoundException", "Unknown trail: theirs for the user: 111111111111"},
		{"ARN in another region", arnOf("eu-west-1", acct1, "mine"), "TrailNotFoundException", "Unknown trail"},
		{"bad name", "a b", "InvalidTrailNameException", "can only contain"},
		{"ARN with a bad name", "arn:aws:cloudtrail:us-east-1:111111111111:trail/a--b", "InvalidTrailNameException", "adjacent"},
		{"ARN of another resource", "arn:aws:cloudtrail:us-east-1:111111111111:eventdatastore/x", "CloudTrailARNInvalidException", "Invalid trail ARN"},
		{"ARN of another service", "arn:aws:s3:::bucket-1", "CloudTrailARNInvalidException", "Invalid trail ARN"},
		{"ARN with a short account", "arn:aws:cloudtrail:us-east-1:1111:trail/mine", "CloudTrailARNInvalidException", "12-digit account"},
		{"ARN too short", "arn:aws:cloudtrail", "CloudTrailARNInvalidException", "arn:aws:cloudtrail"},
		{"empty", "", "InvalidTrailNameException", "is required"},
	}
	for _, op := range trailOps {
		for _, r := range refs {
			t.Run(op.name+"/"+r.name, func(t *testing.T) {
				checkAPIError(t, op.call(t.Context(), c, r.ref), r.code, r.msg)
			})
		}
		// The ARN works wherever a name does.
		if err := op.call(t.Context(), c, mine); err != nil {
			t.Errorf("%s by ARN: %v", op.name, err)
		}
	}
	if _, ok := te.cat.Get(mine); ok {
		t.Error("DeleteTrail by ARN left the trail")
	}
	if _, ok := te.cat.Get(arnOf("us-east-1", acct2, "theirs")); !ok {
		t.Error("acct2's trail is gone")
	}
}

func TestShadowTrails(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c, eu := te.c1(), te.c1eu()
	mustCreate(t, c, mkTrail("multi", multiRegion))
	mustCreate(t, c, mkTrail("solo"))
	mr, solo := arnOf("us-east-1", acct1, "multi"), arnOf("us-east-1", acct1, "solo")
	if _, err := c.PutInsightSelectors(t.Context(), &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("multi"),
		InsightSelectors: []types.InsightSelector{{InsightType: types.InsightTypeApiCallRateInsight}}}); err != nil {
		t.Fatal(err)
	}

	// From eu-west-1 the shadow trail is listed and described.
	lt, err := eu.ListTrails(t.Context(), &cloudtrail.ListTrailsInput{})
	if err != nil {
		t.Fatal(err)
	}
	wantInfo := []types.TrailInfo{{TrailARN: aws.String(mr), Name: aws.String("multi"), HomeRegion: aws.String("us-east-1")}}
	if diff := cmp.Diff(wantInfo, lt.Trails, sdkCmp); diff != "" {
		t.Errorf("ListTrails in eu-west-1 (-want +got):\n%s", diff)
	}
	dt, err := eu.DescribeTrails(t.Context(), &cloudtrail.DescribeTrailsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dt.TrailList) != 1 || aws.ToString(dt.TrailList[0].TrailARN) != mr || aws.ToString(dt.TrailList[0].HomeRegion) != "us-east-1" {
		t.Errorf("DescribeTrails in eu-west-1: %+v", dt.TrailList)
	}

	for _, op := range trailOps {
		// By name, the shadow is not found; by ARN, reads work and
		// changes must go to the home region.
		checkAPIError(t, op.call(t.Context(), eu, "multi"), "TrailNotFoundException", "Unknown trail: multi for the user: 111111111111")
		checkAPIError(t, op.call(t.Context(), eu, solo), "TrailNotFoundException", "Unknown trail: "+solo)
		err := op.call(t.Context(), eu, mr)
		if op.homeOnly {
			checkAPIError(t, err, "InvalidHomeRegionException", "home region, us-east-1; it was called in eu-west-1")
		} else if err != nil {
			t.Errorf("%s of the shadow by ARN: %v", op.name, err)
		}
	}
	// Tag changes of a multi-region trail also belong to its home region;
	// reading them works anywhere.
	_, err = eu.AddTags(t.Context(), &cloudtrail.AddTagsInput{ResourceId: aws.String(mr), TagsList: []types.Tag{{Key: aws.String("k")}}})
	checkAPIError(t, err, "InvalidHomeRegionException", "us-east-1")
	_, err = eu.RemoveTags(t.Context(), &cloudtrail.RemoveTagsInput{ResourceId: aws.String(mr), TagsList: []types.Tag{{Key: aws.String("k")}}})
	checkAPIError(t, err, "InvalidHomeRegionException", "us-east-1")
	if _, err := eu.ListTags(t.Context(), &cloudtrail.ListTagsInput{ResourceIdList: []string{mr}}); err != nil {
		t.Errorf("ListTags of the shadow: %v", err)
	}
	if _, ok := te.cat.Get(mr); !ok {
		t.Fatal("the shadow region deleted the trail")
	}
	if tr, _ := te.cat.Get(mr); tr.Logging || tr.LogFileValidationEnabled || !tr.Selectors.IsZero() {
		t.Errorf("the shadow region changed the trail: %+v", tr)
	}
	// Another account sees neither.
	dt, err = te.client("AKIDOTHER", "eu-west-1").DescribeTrails(t.Context(), &cloudtrail.DescribeTrailsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dt.TrailList) != 0 {
		t.Errorf("acct2 sees %d trails", len(dt.TrailList))
	}
}

// --- DescribeTrails, GetTrail, ListTrails ---

func TestDescribeTrails(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c, eu := te.c1(), te.c1eu()
	mustCreate(t, c, mkTrail("alpha", func(in *cloudtrail.CreateTrailInput) {
		in.S3KeyPrefix, in.SnsTopicName, in.EnableLogFileValidation = aws.String("p/"), aws.String("topic"), aws.Bool(true)
	}))
	mustCreate(t, c, mkTrail("multi", multiRegion))
	mustCreate(t, eu, mkTrail("euro"))
	mustCreate(t, te.c2(), mkTrail("alpha", func(in *cloudtrail.CreateTrailInput) { in.S3BucketName = aws.String(otherBucket) }))
	if _, err := c.PutEventSelectors(t.Context(), &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("alpha"),
		EventSelectors: []types.EventSelector{{ReadWriteType: types.ReadWriteTypeWriteOnly}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutInsightSelectors(t.Context(), &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("multi"),
		InsightSelectors: []types.InsightSelector{{InsightType: types.InsightTypeApiErrorRateInsight}}}); err != nil {
		t.Fatal(err)
	}
	a, mr, euARN := arnOf("us-east-1", acct1, "alpha"), arnOf("us-east-1", acct1, "multi"), arnOf("eu-west-1", acct1, "euro")

	// The full Trail shape.
	dt, err := c.DescribeTrails(t.Context(), &cloudtrail.DescribeTrailsInput{})
	if err != nil {
		t.Fatal(err)
	}
	want := []types.Trail{{
		Name: aws.String("alpha"), S3BucketName: aws.String(bucket1), S3KeyPrefix: aws.String("p"),
		SnsTopicName: aws.String("topic"), SnsTopicARN: aws.String("arn:aws:sns:us-east-1:111111111111:topic"),
		IncludeGlobalServiceEvents: aws.Bool(true), IsMultiRegionTrail: aws.Bool(false), HomeRegion: aws.String("us-east-1"),
		TrailARN: aws.String(a), LogFileValidationEnabled: aws.Bool(true),
		HasCustomEventSelectors: aws.Bool(true), HasInsightSelectors: aws.Bool(false), IsOrganizationTrail: aws.Bool(false),
	}, {
		Name: aws.String("multi"), S3BucketName: aws.String(bucket1),
		IncludeGlobalServiceEvents: aws.Bool(true), IsMultiRegionTrail: aws.Bool(true), HomeRegion: aws.String("us-east-1"),
		TrailARN: aws.String(mr), LogFileValidationEnabled: aws.Bool(false),
		HasCustomEventSelectors: aws.Bool(false), HasInsightSelectors: aws.Bool(true), IsOrganizationTrail: aws.Bool(false),
	}}
	if diff := cmp.Diff(want, dt.TrailList, sdkCmp); diff != "" {
		t.Errorf("DescribeTrails (-want +got):\n%s", diff)
	}
	gt, err := c.GetTrail(t.Context(), &cloudtrail.GetTrailInput{Name: aws.String("alpha")})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&want[0], gt.Trail, sdkCmp); diff != "" {
		t.Errorf("GetTrail (-want +got):\n%s", diff)
	}

	tests := []struct {
		name   string
		c      *cloudtrail.Client
		names  []string
		shadow *bool
		want   []string // ARNs
	}{
		{"all", c, nil, nil, []string{a, mr}},
		{"all, shadows explicitly", c, nil, aws.Bool(true), []string{a, mr}},
		{"all without shadows in the home region", c, nil, aws.Bool(false), []string{a, mr}},
		{"all in eu-west-1", eu, nil, nil, []string{euARN, mr}},
		{"all in eu-west-1 without shadows", eu, nil, aws.Bool(false), []string{euARN}},
		{"empty list is all", eu, []string{}, nil, []string{euARN, mr}},
		{"names and ARNs", c, []string{"multi", a}, nil, []string{mr, a}},
		{"duplicates once", c, []string{"alpha", a, "alpha"}, nil, []string{a}},
		{"shadow by ARN", eu, []string{mr}, nil, []string{mr}},
		{"shadow by ARN, shadows off", eu, []string{mr}, aws.Bool(false), []string{}},
		{"shadow by name", eu, []string{"multi"}, nil, []string{}},
		{"name of another region", c, []string{"euro"}, nil, []string{}},
		{"ARN of another region's single-region trail", c, []string{euARN}, nil, []string{}},
		{"unknown", c, []string{"nope", arnOf("us-east-1", acct1, "nope")}, nil, []string{}},
		{"another account's ARN", c, []string{arnOf("us-east-1", acct2, "alpha")}, nil, []string{}},
		{"another account sees its own", te.c2(), []string{"alpha"}, nil, []string{arnOf("us-east-1", acct2, "alpha")}},
	}
	for _, tt := range tests {
		out, err := tt.c.DescribeTrails(t.Context(), &cloudtrail.DescribeTrailsInput{TrailNameList: tt.names, IncludeShadowTrails: tt.shadow})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		got := []string{}
		for _, tr := range out.TrailList {
			got = append(got, aws.ToString(tr.TrailARN))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: trails (-want +got):\n%s", tt.name, diff)
		}
	}
	_, err = c.DescribeTrails(t.Context(), &cloudtrail.DescribeTrailsInput{TrailNameList: []string{"alpha", "a b"}})
	checkAPIError(t, err, "InvalidTrailNameException", "can only contain")
	_, err = c.DescribeTrails(t.Context(), &cloudtrail.DescribeTrailsInput{TrailNameList: []string{"arn:aws:cloudtrail:us-east-1:111111111111:mine"}})
	checkAPIError(t, err, "CloudTrailARNInvalidException", "Invalid trail ARN")

	// What the aws CLI sends: lower camel case members, as the model
	// spells them.
	body := te.rawOK(t, "DescribeTrails", "eu-west-1", `{"trailNameList":["euro"],"includeShadowTrails":false}`)
	jsonEqual(t, "DescribeTrails", body, `{"trailList":[{"Name":"euro","S3BucketName":"bucket-1","IncludeGlobalServiceEvents":true,
		"IsMultiRegionTrail":false,"HomeRegion":"eu-west-1","TrailARN":"`+euARN+`","LogFileValidationEnabled":false,
		"HasCustomEventSelectors":false,"HasInsightSelectors":false,"IsOrganizationTrail":false}]}`)
	body = te.rawOK(t, "DescribeTrails", "eu-west-1", `{"includeShadowTrails":false}`)
	jsonEqual(t, "DescribeTrails includeShadowTrails=false", body, `{"trailList":[{"Name":"euro","S3BucketName":"bucket-1","IncludeGlobalServiceEvents":true,
		"IsMultiRegionTrail":false,"HomeRegion":"eu-west-1","TrailARN":"`+euARN+`","LogFileValidationEnabled":false,
		"HasCustomEventSelectors":false,"HasInsightSelectors":false,"IsOrganizationTrail":false}]}`)
	jsonEqual(t, "DescribeTrails with nothing", te.rawOK(t, "DescribeTrails", "ap-south-1", `{"includeShadowTrails":false}`), `{"trailList":[]}`)
	body = te.rawOK(t, "GetTrail", "us-east-1", `{"Name":"alpha"}`)
	jsonEqual(t, "GetTrail", body, `{"Trail":{"Name":"alpha","S3BucketName":"bucket-1","S3KeyPrefix":"p","SnsTopicName":"topic",
		"SnsTopicARN":"arn:aws:sns:us-east-1:111111111111:topic","IncludeGlobalServiceEvents":true,"IsMultiRegionTrail":false,
		"HomeRegion":"us-east-1","TrailARN":"`+a+`","LogFileValidationEnabled":true,"HasCustomEventSelectors":true,
		"HasInsightSelectors":false,"IsOrganizationTrail":false}}`)
}

func TestListTrailsPages(t *testing.T) {
	var seed []catalog.Trail
	add := func(account, region, name string, multi bool) {
		seed = append(seed, catalog.Trail{Name: name, Account: account, HomeRegion: region, S3BucketName: bucket1,
			IncludeGlobalServiceEvents: true, IsMultiRegionTrail: multi, CreatedTime: testNow})
	}
	for i := range 60 {
		add(acct1, "us-east-1", fmt.Sprintf("home-%02d", i), false)
	}
	for i := range 45 {
		add(acct1, "eu-west-1", fmt.Sprintf("multi-%02d", i), true)
	}
	for i := range 5 {
		add(acct1, "ap-south-1", fmt.Sprintf("elsewhere-%d", i), false)
		add(acct2, "us-east-1", fmt.Sprintf("theirs-%d", i), false)
	}
	te := newTrailEnv(t, trailEnvOptions{maxTrails: 1000, seed: seed})
	c := te.c1()

	var pages []int
	var got []types.TrailInfo
	p := cloudtrail.NewListTrailsPaginator(c, &cloudtrail.ListTrailsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, len(out.Trails))
		got = append(got, out.Trails...)
	}
	if diff := cmp.Diff([]int{50, 50, 5}, pages); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	var want []types.TrailInfo
	for _, tr := range te.cat.List(acct1, "us-east-1") {
		want = append(want, types.TrailInfo{TrailARN: aws.String(tr.ARN()), Name: aws.String(tr.Name), HomeRegion: aws.String(tr.HomeRegion)})
	}
	if len(want) != 105 {
		t.Fatalf("catalog lists %d trails, want 105", len(want))
	}
	if diff := cmp.Diff(want, got, sdkCmp); diff != "" {
		t.Errorf("ListTrails pages (-want +got):\n%s", diff)
	}

	first, err := c.ListTrails(t.Context(), &cloudtrail.ListTrailsInput{})
	if err != nil {
		t.Fatal(err)
	}
	tok := aws.ToString(first.NextToken)
	// An empty token is no token.
	again, err := c.ListTrails(t.Context(), &cloudtrail.ListTrailsInput{NextToken: aws.String("")})
	if err != nil || aws.ToString(again.NextToken) != tok || len(again.Trails) != 50 {
		t.Errorf("ListTrails with NextToken \"\": %v", err)
	}
	altered := []byte(tok)
	altered[5] ^= 1
	for _, tt := range []struct {
		name  string
		c     *cloudtrail.Client
		token string
	}{
		{"garbage", c, "garbage"},
		{"altered", c, string(altered)},
		{"another region", te.c1eu(), tok},
		{"another account", te.c2(), tok},
	} {
		_, err := tt.c.ListTrails(t.Context(), &cloudtrail.ListTrailsInput{NextToken: aws.String(tt.token)})
		checkAPIError(t, err, codeInvalidNextToken, "NextToken is invalid")
	}

	// Raw shape, and an empty list as [].
	te2 := newTrailEnv(t, trailEnvOptions{})
	jsonEqual(t, "ListTrails empty", te2.rawOK(t, "ListTrails", "us-east-1", `{}`), `{"Trails":[]}`)
	mustCreate(t, te2.c1(), mkTrail("one"))
	jsonEqual(t, "ListTrails", te2.rawOK(t, "ListTrails", "us-east-1", `{}`),
		`{"Trails":[{"TrailARN":"`+arnOf("us-east-1", acct1, "one")+`","Name":"one","HomeRegion":"us-east-1"}]}`)
}

// --- UpdateTrail, DeleteTrail ---

func TestUpdateTrail(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c, eu := te.c1(), te.c1eu()
	arn := arnOf("us-east-1", acct1, "upd")
	mustCreate(t, c, mkTrail("upd", func(in *cloudtrail.CreateTrailInput) {
		in.S3KeyPrefix, in.SnsTopicName = aws.String("logs"), aws.String("topic")
		in.TagsList = []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}
	}))
	if _, err := c.StartLogging(t.Context(), &cloudtrail.StartLoggingInput{Name: aws.String("upd")}); err != nil {
		t.Fatal(err)
	}
	sel := []types.EventSelector{{ReadWriteType: types.ReadWriteTypeWriteOnly}}
	if _, err := c.PutEventSelectors(t.Context(), &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("upd"), EventSelectors: sel}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutInsightSelectors(t.Context(), &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("upd"),
		InsightSelectors: []types.InsightSelector{{InsightType: types.InsightTypeApiCallRateInsight}}}); err != nil {
		t.Fatal(err)
	}
	before, _ := te.cat.Get(arn)

	// Each update must flush delivery while the trail still has its old
	// settings.
	var atFlush []catalog.Trail
	te.del.do(func() {
		te.del.onFlush = func() {
			tr, _ := te.cat.Get(arn)
			atFlush = append(atFlush, tr)
		}
	})
	base := &cloudtrail.UpdateTrailOutput{
		Name: aws.String("upd"), S3BucketName: aws.String(bucket1), S3KeyPrefix: aws.String("logs"),
		SnsTopicName: aws.String("topic"), SnsTopicARN: aws.String("arn:aws:sns:us-east-1:111111111111:topic"),
		IncludeGlobalServiceEvents: aws.Bool(true), IsMultiRegionTrail: aws.Bool(false), TrailARN: aws.String(arn),
		LogFileValidationEnabled: aws.Bool(false), IsOrganizationTrail: aws.Bool(false),
	}
	steps := []struct {
		name   string
		in     cloudtrail.UpdateTrailInput
		change func(*cloudtrail.UpdateTrailOutput)
		shadow bool // visible in eu-west-1 afterwards
	}{
		{"nothing", cloudtrail.UpdateTrailInput{}, func(*cloudtrail.UpdateTrailOutput) {}, false},
		{"validation on", cloudtrail.UpdateTrailInput{EnableLogFileValidation: aws.Bool(true)},
			func(o *cloudtrail.UpdateTrailOutput) { o.LogFileValidationEnabled = aws.Bool(true) }, false},
		{"prefix normalised", cloudtrail.UpdateTrailInput{S3KeyPrefix: aws.String("new/prefix/")},
			func(o *cloudtrail.UpdateTrailOutput) { o.S3KeyPrefix = aws.String("new/prefix") }, false},
		{"prefix removed", cloudtrail.UpdateTrailInput{S3KeyPrefix: aws.String("")},
			func(o *cloudtrail.UpdateTrailOutput) { o.S3KeyPrefix = nil }, false},
		{"topic removed", cloudtrail.UpdateTrailInput{SnsTopicName: aws.String("")},
			func(o *cloudtrail.UpdateTrailOutput) { o.SnsTopicName, o.SnsTopicARN = nil, nil }, false},
		{"bucket", cloudtrail.UpdateTrailInput{S3BucketName: aws.String(bucket2)},
			func(o *cloudtrail.UpdateTrailOutput) { o.S3BucketName = aws.String(bucket2) }, false},
		{"multi-region on", cloudtrail.UpdateTrailInput{IsMultiRegionTrail: aws.Bool(true)},
			func(o *cloudtrail.UpdateTrailOutput) { o.IsMultiRegionTrail = aws.Bool(true) }, true},
		{"validation off, kms and cwl cleared, not organization", cloudtrail.UpdateTrailInput{EnableLogFileValidation: aws.Bool(false),
			KmsKeyId: aws.String(""), CloudWatchLogsLogGroupArn: aws.String(""), CloudWatchLogsRoleArn: aws.String(""), IsOrganizationTrail: aws.Bool(false)},
			func(o *cloudtrail.UpdateTrailOutput) { o.LogFileValidationEnabled = aws.Bool(false) }, true},
		{"multi-region off, global events off", cloudtrail.UpdateTrailInput{IsMultiRegionTrail: aws.Bool(false), IncludeGlobalServiceEvents: aws.Bool(false)},
			func(o *cloudtrail.UpdateTrailOutput) {
				o.IsMultiRegionTrail, o.IncludeGlobalServiceEvents = aws.Bool(false), aws.Bool(false)
			}, false},
		{"topic by ARN", cloudtrail.UpdateTrailInput{SnsTopicName: aws.String("arn:aws:sns:us-east-1:111111111111:t2")},
			func(o *cloudtrail.UpdateTrailOutput) {
				o.SnsTopicName, o.SnsTopicARN = aws.String("t2"), aws.String("arn:aws:sns:us-east-1:111111111111:t2")
			}, false},
	}
	want := base
	for i, s := range steps {
		in := s.in
		in.Name = aws.String("upd")
		if i%2 == 1 {
			in.Name = aws.String(arn)
		}
		flushes := te.del.flushCount()
		prev, _ := te.cat.Get(arn)
		got, err := c.UpdateTrail(t.Context(), &in)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		s.change(want)
		if diff := cmp.Diff(want, got, sdkCmp); diff != "" {
			t.Errorf("%s: UpdateTrail output (-want +got):\n%s", s.name, diff)
		}
		var last catalog.Trail
		te.del.do(func() {
			if len(atFlush) > 0 {
				last = atFlush[len(atFlush)-1]
			}
		})
		if n := te.del.flushCount(); n != flushes+1 {
			t.Errorf("%s: %d flushes, want 1", s.name, n-flushes)
		} else if last.Generation != prev.Generation {
			t.Errorf("%s: delivery was flushed after the trail changed", s.name)
		}
		dt, err := eu.DescribeTrails(t.Context(), &cloudtrail.DescribeTrailsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if shown := len(dt.TrailList) == 1; shown != s.shadow {
			t.Errorf("%s: shown in eu-west-1 = %v, want %v", s.name, shown, s.shadow)
		}
	}

	// Logging state, selectors, Insights and tags survive updates.
	after, _ := te.cat.Get(arn)
	if !after.Logging || !after.StartLoggingTime.Equal(before.StartLoggingTime) ||
		!cmp.Equal(after.Selectors, before.Selectors, cmpopts.EquateEmpty()) ||
		!cmp.Equal(after.InsightSelectors, before.InsightSelectors) || !cmp.Equal(after.Tags, before.Tags) ||
		!after.CreatedTime.Equal(before.CreatedTime) {
		t.Errorf("UpdateTrail lost state:\nbefore %+v\nafter  %+v", before, after)
	}

	// Refused updates change nothing and flush nothing.
	te.del.do(func() { te.del.onFlush = nil })
	flushes := te.del.flushCount()
	for _, tt := range []struct {
		name      string
		in        cloudtrail.UpdateTrailInput
		code, msg string
	}{
		{"missing bucket", cloudtrail.UpdateTrailInput{S3BucketName: aws.String(missingBucket)}, "S3BucketDoesNotExistException", missingBucket},
		{"another account's bucket", cloudtrail.UpdateTrailInput{S3BucketName: aws.String(otherBucket)}, "InsufficientS3BucketPolicyException", otherBucket},
		{"bad bucket", cloudtrail.UpdateTrailInput{S3BucketName: aws.String("Bad")}, "InvalidS3BucketNameException", "Bad"},
		{"empty bucket", cloudtrail.UpdateTrailInput{S3BucketName: aws.String("")}, "InvalidS3BucketNameException", "3 to 63"},
		{"long prefix", cloudtrail.UpdateTrailInput{S3KeyPrefix: aws.String(strings.Repeat("x", 201))}, "InvalidS3PrefixException", "200"},
		{"dot-dot prefix", cloudtrail.UpdateTrailInput{S3KeyPrefix: aws.String("x/..")}, "InvalidS3PrefixException", `".."`},
		{"control character in prefix", cloudtrail.UpdateTrailInput{S3KeyPrefix: aws.String("x\ty")}, "InvalidS3PrefixException", "control character"},
		{"bad topic", cloudtrail.UpdateTrailInput{SnsTopicName: aws.String("a:b")}, "InvalidSnsTopicNameException", "a:b"},
		{"kms", cloudtrail.UpdateTrailInput{KmsKeyId: aws.String("alias/x")}, "KmsKeyNotFoundException", "alias/x"},
		{"bad kms", cloudtrail.UpdateTrailInput{KmsKeyId: aws.String("x")}, "InvalidKmsKeyIdException", `"x"`},
		{"cwl half", cloudtrail.UpdateTrailInput{CloudWatchLogsRoleArn: aws.String("arn:aws:iam::111111111111:role/r")}, "InvalidCloudWatchLogsLogGroupArnException", "required"},
		{"multi-region without global events", cloudtrail.UpdateTrailInput{IsMultiRegionTrail: aws.Bool(true)}, "InvalidParameterCombinationException", "Multi-Region trail must include global service events."},
		{"organization", cloudtrail.UpdateTrailInput{IsOrganizationTrail: aws.Bool(true)}, "OrganizationsNotInUseException", "organization"},
	} {
		in := tt.in
		in.Name = aws.String("upd")
		_, err := c.UpdateTrail(t.Context(), &in)
		checkAPIError(t, err, tt.code, tt.msg)
	}
	if n := te.del.flushCount(); n != flushes {
		t.Errorf("refused updates flushed %d times", n-flushes)
	}
	if now, _ := te.cat.Get(arn); now.Generation != after.Generation {
		t.Errorf("refused updates changed the trail: %+v", now)
	}
}

func TestDeleteTrail(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	arn := arnOf("us-east-1", acct1, "del")
	mustCreate(t, c, mkTrail("del", multiRegion))

	// A failing flush fails the call and keeps the trail.
	te.del.do(func() { te.del.flushErr = errDiskOnFire })
	_, err := c.DeleteTrail(t.Context(), &cloudtrail.DeleteTrailInput{Name: aws.String("del")})
	checkAPIError(t, err, codeInternal, "internal error")
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != http.StatusInternalServerError {
		t.Errorf("failed flush: HTTP %d, want 500", re.HTTPStatusCode())
	}
	_, err = c.StartLogging(t.Context(), &cloudtrail.StartLoggingInput{Name: aws.String("del")})
	checkAPIError(t, err, codeInternal, "internal error")
	if tr, ok := te.cat.Get(arn); !ok || tr.Logging {
		t.Fatalf("after failed flushes: present=%v logging=%v", ok, tr.Logging)
	}
	present := false
	te.del.do(func() {
		te.del.flushErr = nil
		te.del.onFlush = func() { _, present = te.cat.Get(arn) }
	})
	body := te.rawOK(t, "DeleteTrail", "us-east-1", `{"Name":"del"}`)
	jsonEqual(t, "DeleteTrail", body, `{}`)
	te.del.do(func() {})
	if !present {
		t.Error("delivery was not flushed before the trail went")
	}
	if _, ok := te.cat.Get(arn); ok {
		t.Error("trail still there")
	}
	dt, err := te.c1eu().DescribeTrails(t.Context(), &cloudtrail.DescribeTrailsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dt.TrailList) != 0 {
		t.Errorf("the shadow outlived the trail: %+v", dt.TrailList)
	}
	_, err = c.DeleteTrail(t.Context(), &cloudtrail.DeleteTrailInput{Name: aws.String("del")})
	checkAPIError(t, err, "TrailNotFoundException", "Unknown trail: del for the user: 111111111111")
	// The name is free again.
	mustCreate(t, c, mkTrail("del"))
}

// --- GetTrailStatus, StartLogging, StopLogging ---

func TestTrailStatus(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	arn := arnOf("us-east-1", acct1, "stat")
	mustCreate(t, c, mkTrail("stat", multiRegion))
	status := func(cl *cloudtrail.Client, ref string) *cloudtrail.GetTrailStatusOutput {
		t.Helper()
		out, err := cl.GetTrailStatus(t.Context(), &cloudtrail.GetTrailStatusInput{Name: aws.String(ref)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := &cloudtrail.GetTrailStatusOutput{
		IsLogging:                          aws.Bool(false),
		LatestDeliveryError:                aws.String("AccessDenied"),
		LatestNotificationError:            aws.String("NotFound"),
		LatestDeliveryTime:                 aws.Time(cannedStatus.LatestDeliveryTime),
		LatestNotificationTime:             aws.Time(cannedStatus.LatestNotificationTime),
		LatestDigestDeliveryTime:           aws.Time(cannedStatus.LatestDigestDeliveryTime),
		LatestDigestDeliveryError:          aws.String("NoSuchBucket"),
		LatestDeliveryAttemptTime:          aws.String("2024-03-01T11:55:00Z"),
		LatestDeliveryAttemptSucceeded:     aws.String("2024-03-01T11:50:00Z"),
		LatestNotificationAttemptTime:      aws.String("2024-03-01T11:56:00Z"),
		LatestNotificationAttemptSucceeded: aws.String("2024-03-01T11:51:00Z"),
		TimeLoggingStarted:                 aws.String(""),
		TimeLoggingStopped:                 aws.String(""),
	}
	if diff := cmp.Diff(want, status(c, "stat"), sdkCmp); diff != "" {
		t.Errorf("new trail status (-want +got):\n%s", diff)
	}

	start := testNow.Add(123 * time.Millisecond)
	te.clock.Advance(123 * time.Millisecond)
	flushes := te.del.flushCount()
	if _, err := c.StartLogging(t.Context(), &cloudtrail.StartLoggingInput{Name: aws.String("stat")}); err != nil {
		t.Fatal(err)
	}
	if n := te.del.flushCount() - flushes; n != 1 {
		t.Errorf("StartLogging flushed %d times, want 1", n)
	}
	want.IsLogging, want.StartLoggingTime, want.TimeLoggingStarted = aws.Bool(true), aws.Time(start), aws.String("2024-03-01T12:00:00Z")
	if diff := cmp.Diff(want, status(c, arn), sdkCmp); diff != "" {
		t.Errorf("after StartLogging (-want +got):\n%s", diff)
	}
	// Starting a logging trail changes nothing.
	te.clock.Advance(time.Minute)
	flushes = te.del.flushCount()
	if _, err := c.StartLogging(t.Context(), &cloudtrail.StartLoggingInput{Name: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, status(c, "stat"), sdkCmp); diff != "" || te.del.flushCount() != flushes {
		t.Errorf("after a second StartLogging (-want +got):\n%s", diff)
	}

	// The shadow's status, by ARN, describes eu-west-1.
	te.del.do(func() { te.del.asked = nil })
	if diff := cmp.Diff(want, status(te.c1eu(), arn), sdkCmp); diff != "" {
		t.Errorf("shadow status (-want +got):\n%s", diff)
	}
	var asked []string
	te.del.do(func() { asked = te.del.asked })
	if diff := cmp.Diff([]string{arn + "@eu-west-1"}, asked); diff != "" {
		t.Errorf("delivery status asked for (-want +got):\n%s", diff)
	}

	te.clock.Advance(90 * time.Minute)
	stop := te.clock.Now()
	if _, err := c.StopLogging(t.Context(), &cloudtrail.StopLoggingInput{Name: aws.String("stat")}); err != nil {
		t.Fatal(err)
	}
	want.IsLogging, want.StopLoggingTime, want.TimeLoggingStopped = aws.Bool(false), aws.Time(stop), aws.String("2024-03-01T13:31:00Z")
	if diff := cmp.Diff(want, status(c, "stat"), sdkCmp); diff != "" {
		t.Errorf("after StopLogging (-want +got):\n%s", diff)
	}
	if _, err := c.StopLogging(t.Context(), &cloudtrail.StopLoggingInput{Name: aws.String("stat")}); err != nil {
		t.Errorf("StopLogging of a stopped trail: %v", err)
	}

	// Start again: a new start time, the stop time stays.
	te.clock.Advance(time.Hour)
	if _, err := c.StartLogging(t.Context(), &cloudtrail.StartLoggingInput{Name: aws.String("stat")}); err != nil {
		t.Fatal(err)
	}
	// Raw JSON: Date members are epoch-second numbers, the legacy
	// members strings.
	body := te.rawOK(t, "GetTrailStatus", "us-east-1", `{"Name":"stat"}`)
	jsonEqual(t, "GetTrailStatus", body, `{"IsLogging":true,
		"LatestDeliveryError":"AccessDenied","LatestNotificationError":"NotFound","LatestDigestDeliveryError":"NoSuchBucket",
		"LatestDeliveryTime":1709293800,"LatestNotificationTime":1709293860,"LatestDigestDeliveryTime":1709292600.25,
		"StartLoggingTime":1709303460.123,"StopLoggingTime":1709299860.123,
		"LatestDeliveryAttemptTime":"2024-03-01T11:55:00Z","LatestDeliveryAttemptSucceeded":"2024-03-01T11:50:00Z",
		"LatestNotificationAttemptTime":"2024-03-01T11:56:00Z","LatestNotificationAttemptSucceeded":"2024-03-01T11:51:00Z",
		"TimeLoggingStarted":"2024-03-01T14:31:00Z","TimeLoggingStopped":"2024-03-01T13:31:00Z"}`)
	jsonEqual(t, "StopLogging", te.rawOK(t, "StopLogging", "us-east-1", `{"Name":"stat"}`), `{}`)
	jsonEqual(t, "StartLogging", te.rawOK(t, "StartLogging", "us-east-1", `{"Name":"stat"}`), `{}`)
}

// --- event selectors ---

func TestEventSelectors(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	arn := arnOf("us-east-1", acct1, "sel")
	mustCreate(t, c, mkTrail("sel"))
	get := func() *cloudtrail.GetEventSelectorsOutput {
		t.Helper()
		out, err := c.GetEventSelectors(t.Context(), &cloudtrail.GetEventSelectorsInput{TrailName: aws.String("sel")})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	hasCustom := func() bool {
		t.Helper()
		out, err := c.GetTrail(t.Context(), &cloudtrail.GetTrailInput{Name: aws.String("sel")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToBool(out.Trail.HasCustomEventSelectors)
	}
	defaultSel := []types.EventSelector{{ReadWriteType: types.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(true),
		DataResources: []types.DataResource{}, ExcludeManagementEventSources: []string{}}}

	// A new trail reports the default selector.
	if diff := cmp.Diff(&cloudtrail.GetEventSelectorsOutput{TrailARN: aws.String(arn), EventSelectors: defaultSel}, get(), sdkCmp); diff != "" {
		t.Errorf("default selectors (-want +got):\n%s", diff)
	}
	jsonEqual(t, "GetEventSelectors default", te.rawOK(t, "GetEventSelectors", "us-east-1", `{"TrailName":"sel"}`),
		`{"TrailARN":"`+arn+`","EventSelectors":[{"ReadWriteType":"All","IncludeManagementEvents":true,"DataResources":[],"ExcludeManagementEventSources":[]}]}`)
	if hasCustom() {
		t.Error("HasCustomEventSelectors on a new trail")
	}

	basic := []types.EventSelector{
		{ReadWriteType: types.ReadWriteTypeReadOnly, IncludeManagementEvents: aws.Bool(false),
			DataResources: []types.DataResource{{Type: aws.String("AWS::S3::Object"), Values: []string{"arn:aws:s3:::bucket-1/"}}}},
		{ExcludeManagementEventSources: []string{"kms.amazonaws.com"}},
	}
	basicEcho := []types.EventSelector{
		{ReadWriteType: types.ReadWriteTypeReadOnly, IncludeManagementEvents: aws.Bool(false),
			DataResources:                 []types.DataResource{{Type: aws.String("AWS::S3::Object"), Values: []string{"arn:aws:s3:::bucket-1/"}}},
			ExcludeManagementEventSources: []string{}},
		{ReadWriteType: types.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(true), DataResources: []types.DataResource{},
			ExcludeManagementEventSources: []string{"kms.amazonaws.com"}},
	}
	advanced := []types.AdvancedEventSelector{
		{Name: aws.String("writes"), FieldSelectors: []types.AdvancedFieldSelector{
			{Field: aws.String("eventCategory"), Equals: []string{"Management"}},
			{Field: aws.String("readOnly"), Equals: []string{"false"}},
		}},
		{FieldSelectors: []types.AdvancedFieldSelector{
			{Field: aws.String("eventCategory"), Equals: []string{"Data"}},
			{Field: aws.String("resources.type"), Equals: []string{"AWS::S3::Object"}},
			{Field: aws.String("resources.ARN"), StartsWith: []string{"arn:aws:s3:::bucket-1/"}},
		}},
	}
	steps := []struct {
		name   string
		in     cloudtrail.PutEventSelectorsInput
		want   cloudtrail.GetEventSelectorsOutput
		custom bool
	}{
		{"basic", cloudtrail.PutEventSelectorsInput{EventSelectors: basic},
			cloudtrail.GetEventSelectorsOutput{EventSelectors: basicEcho}, true},
		{"advanced replaces basic", cloudtrail.PutEventSelectorsInput{AdvancedEventSelectors: advanced},
			cloudtrail.GetEventSelectorsOutput{AdvancedEventSelectors: advanced}, true},
		{"basic replaces advanced", cloudtrail.PutEventSelectorsInput{EventSelectors: basic[1:]},
			cloudtrail.GetEventSelectorsOutput{EventSelectors: basicEcho[1:]}, true},
		{"the default again", cloudtrail.PutEventSelectorsInput{EventSelectors: []types.EventSelector{{}}},
			cloudtrail.GetEventSelectorsOutput{EventSelectors: defaultSel}, false},
	}
	for _, s := range steps {
		in := s.in
		in.TrailName = aws.String(arn)
		flushes := te.del.flushCount()
		out, err := c.PutEventSelectors(t.Context(), &in)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		want := s.want
		want.TrailARN = aws.String(arn)
		if diff := cmp.Diff(&cloudtrail.PutEventSelectorsOutput{TrailARN: want.TrailARN, EventSelectors: want.EventSelectors,
			AdvancedEventSelectors: want.AdvancedEventSelectors}, out, sdkCmp); diff != "" {
			t.Errorf("%s: PutEventSelectors echo (-want +got):\n%s", s.name, diff)
		}
		got := get()
		if diff := cmp.Diff(&want, got, sdkCmp); diff != "" {
			t.Errorf("%s: GetEventSelectors (-want +got):\n%s", s.name, diff)
		}
		if (len(got.EventSelectors) > 0) == (len(got.AdvancedEventSelectors) > 0) {
			t.Errorf("%s: GetEventSelectors returned both kinds or neither", s.name)
		}
		if hasCustom() != s.custom {
			t.Errorf("%s: HasCustomEventSelectors = %v, want %v", s.name, !s.custom, s.custom)
		}
		if n := te.del.flushCount() - flushes; n != 1 {
			t.Errorf("%s: %d flushes, want 1", s.name, n)
		}
	}

	// Refused selectors leave the stored ones alone.
	stored, _ := te.cat.Get(arn)
	flushes := te.del.flushCount()
	six := make([]types.EventSelector, 6)
	for _, tt := range []struct {
		name      string
		in        cloudtrail.PutEventSelectorsInput
		code, msg string
	}{
		{"both kinds", cloudtrail.PutEventSelectorsInput{EventSelectors: basic, AdvancedEventSelectors: advanced}, "InvalidParameterCombinationException", "not both"},
		{"neither", cloudtrail.PutEventSelectorsInput{}, "InvalidEventSelectorsException", "Specify EventSelectors or AdvancedEventSelectors"},
		{"empty list", cloudtrail.PutEventSelectorsInput{EventSelectors: []types.EventSelector{}}, "InvalidEventSelectorsException", "Specify"},
		{"bad ReadWriteType", cloudtrail.PutEventSelectorsInput{EventSelectors: []types.EventSelector{{ReadWriteType: "read-only"}}}, "InvalidEventSelectorsException", "read-only"},
		{"six selectors", cloudtrail.PutEventSelectorsInput{EventSelectors: six}, "InvalidEventSelectorsException", "between 1 and 5 event selectors; the request has 6"},
		{"bad data resource type", cloudtrail.PutEventSelectorsInput{EventSelectors: []types.EventSelector{{DataResources: []types.DataResource{
			{Type: aws.String("AWS::EC2::Instance"), Values: []string{"arn:aws:ec2"}}}}}}, "InvalidEventSelectorsException", "AWS::EC2::Instance"},
		{"bad data resource value", cloudtrail.PutEventSelectorsInput{EventSelectors: []types.EventSelector{{DataResources: []types.DataResource{
			{Type: aws.String("AWS::S3::Object"), Values: []string{"bucket-1"}}}}}}, "InvalidEventSelectorsException", "bucket-1"},
		{"bad excluded source", cloudtrail.PutEventSelectorsInput{EventSelectors: []types.EventSelector{{ExcludeManagementEventSources: []string{"s3.amazonaws.com"}}}},
			"InvalidEventSelectorsException", "s3.amazonaws.com"},
		{"advanced bad field", cloudtrail.PutEventSelectorsInput{AdvancedEventSelectors: []types.AdvancedEventSelector{{FieldSelectors: []types.AdvancedFieldSelector{
			{Field: aws.String("eventCategory"), Equals: []string{"Management"}}, {Field: aws.String("nope"), Equals: []string{"x"}}}}}},
			"InvalidEventSelectorsException", "nope"},
		{"advanced without eventCategory", cloudtrail.PutEventSelectorsInput{AdvancedEventSelectors: []types.AdvancedEventSelector{{FieldSelectors: []types.AdvancedFieldSelector{
			{Field: aws.String("readOnly"), Equals: []string{"true"}}}}}}, "InvalidEventSelectorsException", "eventCategory"},
		{"advanced bad readOnly", cloudtrail.PutEventSelectorsInput{AdvancedEventSelectors: []types.AdvancedEventSelector{{FieldSelectors: []types.AdvancedFieldSelector{
			{Field: aws.String("eventCategory"), Equals: []string{"Management"}}, {Field: aws.String("readOnly"), Equals: []string{"yes"}}}}}},
			"InvalidEventSelectorsException", "readOnly"},
	} {
		in := tt.in
		in.TrailName = aws.String("sel")
		_, err := c.PutEventSelectors(t.Context(), &in)
		checkAPIError(t, err, tt.code, tt.msg)
	}
	if now, _ := te.cat.Get(arn); now.Generation != stored.Generation || te.del.flushCount() != flushes {
		t.Errorf("refused PutEventSelectors changed the trail or flushed")
	}

	// Raw JSON of an advanced round trip.
	body := te.rawOK(t, "PutEventSelectors", "us-east-1", `{"TrailName":"sel","AdvancedEventSelectors":[{"Name":"m","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]}]}`)
	wantJSON := `{"TrailARN":"` + arn + `","AdvancedEventSelectors":[{"Name":"m","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]}]}`
	jsonEqual(t, "PutEventSelectors", body, wantJSON)
	jsonEqual(t, "GetEventSelectors", te.rawOK(t, "GetEventSelectors", "us-east-1", `{"TrailName":"sel"}`), wantJSON)
}

// --- Insights selectors ---

func TestInsightSelectors(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	arn := arnOf("us-east-1", acct1, "ins")
	mustCreate(t, c, mkTrail("ins"))
	put := func(sel ...types.InsightSelector) (*cloudtrail.PutInsightSelectorsOutput, error) {
		if sel == nil {
			sel = []types.InsightSelector{}
		}
		return c.PutInsightSelectors(t.Context(), &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("ins"), InsightSelectors: sel})
	}
	putEvents := func(in cloudtrail.PutEventSelectorsInput) {
		t.Helper()
		in.TrailName = aws.String("ins")
		if _, err := c.PutEventSelectors(t.Context(), &in); err != nil {
			t.Fatal(err)
		}
	}
	hasInsights := func() bool {
		t.Helper()
		out, err := c.GetTrail(t.Context(), &cloudtrail.GetTrailInput{Name: aws.String("ins")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToBool(out.Trail.HasInsightSelectors)
	}
	notEnabled := func() {
		t.Helper()
		_, err := c.GetInsightSelectors(t.Context(), &cloudtrail.GetInsightSelectorsInput{TrailName: aws.String("ins")})
		checkAPIError(t, err, "InsightNotEnabledException", arn)
	}
	notEnabled()

	sel := []types.InsightSelector{
		{InsightType: types.InsightTypeApiCallRateInsight},
		{InsightType: types.InsightTypeApiErrorRateInsight, EventCategories: []types.SourceEventCategory{types.SourceEventCategoryManagement}},
	}
	out, err := put(sel...)
	if err != nil {
		t.Fatal(err)
	}
	want := &cloudtrail.PutInsightSelectorsOutput{TrailARN: aws.String(arn), InsightSelectors: sel}
	if diff := cmp.Diff(want, out, sdkCmp); diff != "" {
		t.Errorf("PutInsightSelectors (-want +got):\n%s", diff)
	}
	got, err := c.GetInsightSelectors(t.Context(), &cloudtrail.GetInsightSelectorsInput{TrailName: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&cloudtrail.GetInsightSelectorsOutput{TrailARN: aws.String(arn), InsightSelectors: sel}, got, sdkCmp); diff != "" {
		t.Errorf("GetInsightSelectors (-want +got):\n%s", diff)
	}
	if !hasInsights() {
		t.Error("HasInsightSelectors false with Insights on")
	}
	jsonEqual(t, "GetInsightSelectors", te.rawOK(t, "GetInsightSelectors", "us-east-1", `{"TrailName":"ins"}`),
		`{"TrailARN":"`+arn+`","InsightSelectors":[{"InsightType":"ApiCallRateInsight"},{"InsightType":"ApiErrorRateInsight","EventCategories":["Management"]}]}`)

	// An empty list turns Insights off.
	out, err = put()
	if err != nil {
		t.Fatal(err)
	}
	if out.InsightSelectors == nil || len(out.InsightSelectors) != 0 {
		t.Errorf("PutInsightSelectors([]) echoed %v", out.InsightSelectors)
	}
	jsonEqual(t, "PutInsightSelectors []", te.rawOK(t, "PutInsightSelectors", "us-east-1", `{"TrailName":"ins","InsightSelectors":[]}`),
		`{"TrailARN":"`+arn+`","InsightSelectors":[]}`)
	notEnabled()
	if hasInsights() {
		t.Error("HasInsightSelectors true with Insights off")
	}

	stored, _ := te.cat.Get(arn)
	for _, tt := range []struct {
		name      string
		sel       []types.InsightSelector
		code, msg string
	}{
		{"bad type", []types.InsightSelector{{InsightType: "ApiCallVolume"}}, "InvalidInsightSelectorsException", "ApiCallVolume"},
		{"no type", []types.InsightSelector{{}}, "InvalidInsightSelectorsException", "InsightType"},
		{"bad category", []types.InsightSelector{{InsightType: types.InsightTypeApiCallRateInsight, EventCategories: []types.SourceEventCategory{"Network"}}},
			"InvalidInsightSelectorsException", "Network"},
		{"duplicate type", []types.InsightSelector{{InsightType: types.InsightTypeApiCallRateInsight}, {InsightType: types.InsightTypeApiCallRateInsight}},
			"InvalidInsightSelectorsException", "more than once"},
		{"data insights without data events", []types.InsightSelector{{InsightType: types.InsightTypeApiErrorRateInsight,
			EventCategories: []types.SourceEventCategory{types.SourceEventCategoryData}}}, "InvalidInsightSelectorsException", "data events"},
	} {
		_, err := put(tt.sel...)
		checkAPIError(t, err, tt.code, tt.msg)
	}
	if now, _ := te.cat.Get(arn); now.Generation != stored.Generation {
		t.Error("refused PutInsightSelectors changed the trail")
	}

	// Prerequisites on the event selectors.
	callRate := types.InsightSelector{InsightType: types.InsightTypeApiCallRateInsight}
	errorRate := types.InsightSelector{InsightType: types.InsightTypeApiErrorRateInsight}
	data := []types.SourceEventCategory{types.SourceEventCategoryData}
	readOnlyMgmt := cloudtrail.PutEventSelectorsInput{EventSelectors: []types.EventSelector{{ReadWriteType: types.ReadWriteTypeReadOnly}}}
	putEvents(readOnlyMgmt)
	_, err = put(callRate)
	checkAPIError(t, err, "InvalidInsightSelectorsException", "needs the trail to log write management events")
	if _, err := put(errorRate); err != nil {
		t.Errorf("error-rate Insights on read-only management events: %v", err)
	}
	putEvents(cloudtrail.PutEventSelectorsInput{EventSelectors: []types.EventSelector{{IncludeManagementEvents: aws.Bool(false),
		DataResources: []types.DataResource{{Type: aws.String("AWS::S3::Object"), Values: []string{"arn:aws:s3"}}}}}})
	_, err = put(errorRate)
	checkAPIError(t, err, "InvalidInsightSelectorsException", "management events")
	if _, err := put(types.InsightSelector{InsightType: types.InsightTypeApiCallRateInsight, EventCategories: data}); err != nil {
		t.Errorf("data Insights with data events: %v", err)
	}
	putEvents(cloudtrail.PutEventSelectorsInput{AdvancedEventSelectors: []types.AdvancedEventSelector{{FieldSelectors: []types.AdvancedFieldSelector{
		{Field: aws.String("eventCategory"), Equals: []string{"Management"}}, {Field: aws.String("readOnly"), Equals: []string{"true"}}}}}})
	_, err = put(callRate)
	checkAPIError(t, err, "InvalidInsightSelectorsException", "write management events")
	putEvents(cloudtrail.PutEventSelectorsInput{AdvancedEventSelectors: []types.AdvancedEventSelector{{FieldSelectors: []types.AdvancedFieldSelector{
		{Field: aws.String("eventCategory"), Equals: []string{"Management"}}}}}})
	if _, err := put(callRate, errorRate); err != nil {
		t.Errorf("Insights on advanced management selectors: %v", err)
	}

	// The event data store forms.
	eds := "arn:aws:cloudtrail:us-east-1:111111111111:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE"
	_, err = c.PutInsightSelectors(t.Context(), &cloudtrail.PutInsightSelectorsInput{EventDataStore: aws.String(eds), InsightsDestination: aws.String(eds),
		InsightSelectors: []types.InsightSelector{callRate}})
	checkAPIError(t, err, codeUnsupported, "event data stores")
	_, err = c.PutInsightSelectors(t.Context(), &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("ins"), EventDataStore: aws.String(eds),
		InsightSelectors: []types.InsightSelector{callRate}})
	checkAPIError(t, err, "InvalidParameterCombinationException", "not both")
	_, err = c.PutInsightSelectors(t.Context(), &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("ins"), InsightsDestination: aws.String(eds),
		InsightSelectors: []types.InsightSelector{callRate}})
	checkAPIError(t, err, "InvalidParameterCombinationException", "not both")
	_, err = c.GetInsightSelectors(t.Context(), &cloudtrail.GetInsightSelectorsInput{EventDataStore: aws.String(eds)})
	checkAPIError(t, err, codeUnsupported, "event data stores")
	_, err = c.GetInsightSelectors(t.Context(), &cloudtrail.GetInsightSelectorsInput{TrailName: aws.String("ins"), EventDataStore: aws.String(eds)})
	checkAPIError(t, err, "InvalidParameterCombinationException", "not both")
	_, err = c.GetInsightSelectors(t.Context(), &cloudtrail.GetInsightSelectorsInput{})
	checkAPIError(t, err, "InvalidTrailNameException", "TrailName is required")

	// InsightSelectors is required; the SDK checks, so send it by hand.
	r := te.post(t, "CloudTrail_20131101.PutInsightSelectors", `{"TrailName":"ins"}`)
	if code, _ := wireErr(t, r); r.Status != http.StatusBadRequest || code != codeInvalidParameter {
		t.Errorf("PutInsightSelectors without InsightSelectors: %d %s", r.Status, code)
	}
}

// --- tags ---

func TestTags(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	arn := arnOf("us-east-1", acct1, "tagged")
	theirs := arnOf("us-east-1", acct2, "theirs")
	mustCreate(t, c, mkTrail("tagged", func(in *cloudtrail.CreateTrailInput) {
		in.TagsList = []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}
	}))
	mustCreate(t, te.c2(), mkTrail("theirs", func(in *cloudtrail.CreateTrailInput) {
		in.S3BucketName = aws.String(otherBucket)
		in.TagsList = []types.Tag{{Key: aws.String("secret"), Value: aws.String("x")}}
	}))
	tag := func(k string, v *string) types.Tag { return types.Tag{Key: aws.String(k), Value: v} }
	list := func() []types.Tag {
		t.Helper()
		out, err := c.ListTags(t.Context(), &cloudtrail.ListTagsInput{ResourceIdList: []string{arn}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ResourceTagList) != 1 || aws.ToString(out.ResourceTagList[0].ResourceId) != arn || out.NextToken != nil {
			t.Fatalf("ListTags: %+v", out)
		}
		return out.ResourceTagList[0].TagsList
	}
	add := func(tags ...types.Tag) error {
		_, err := c.AddTags(t.Context(), &cloudtrail.AddTagsInput{ResourceId: aws.String(arn), TagsList: tags})
		return err
	}

	// Overwrite a value, add a key without a value.
	if err := add(tag("a", aws.String("2")), tag("b", nil)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]types.Tag{tag("a", aws.String("2")), tag("b", nil)}, list(), sdkCmp); diff != "" {
		t.Errorf("after AddTags (-want +got):\n%s", diff)
	}
	jsonEqual(t, "ListTags", te.rawOK(t, "ListTags", "us-east-1", `{"ResourceIdList":["`+arn+`"]}`),
		`{"ResourceTagList":[{"ResourceId":"`+arn+`","TagsList":[{"Key":"a","Value":"2"},{"Key":"b"}]}]}`)
	jsonEqual(t, "AddTags", te.rawOK(t, "AddTags", "us-east-1", `{"ResourceId":"`+arn+`","TagsList":[{"Key":"b"}]}`), `{}`)

	// Up to 50 tags; overwriting at the limit is fine, a 51st is not.
	var more []types.Tag
	for i := range 48 {
		more = append(more, tag(fmt.Sprintf("k%02d", i), aws.String("v")))
	}
	if err := add(more...); err != nil {
		t.Fatal(err)
	}
	if err := add(tag("a", aws.String("3")), tag("k00", nil)); err != nil {
		t.Errorf("overwriting at 50 tags: %v", err)
	}
	checkAPIError(t, add(tag("z", nil)), "TagsLimitExceededException", "51 tags; at most 50")
	if n := len(list()); n != 50 {
		t.Errorf("%d tags after the refused AddTags, want 50", n)
	}

	for _, tt := range []struct {
		name      string
		tags      []types.Tag
		code, msg string
	}{
		{"duplicate keys", []types.Tag{tag("x", nil), tag("x", aws.String("1"))}, "InvalidTagParameterException", `"x" more than once`},
		{"empty value", []types.Tag{tag("a", aws.String(""))}, "InvalidTagParameterException", "1 to 256"},
		{"long value", []types.Tag{tag("a", aws.String(strings.Repeat("v", 257)))}, "InvalidTagParameterException", "1 to 256"},
		{"empty key", []types.Tag{tag("", nil)}, "InvalidTagParameterException", "Key must be 1 to 128"},
		{"reserved key", []types.Tag{tag("AWS:x", nil)}, "InvalidTagParameterException", "aws:"},
	} {
		checkAPIError(t, add(tt.tags...), tt.code, tt.msg)
	}

	// RemoveTags matches keys only; absent keys are fine.
	_, err := c.RemoveTags(t.Context(), &cloudtrail.RemoveTagsInput{ResourceId: aws.String(arn),
		TagsList: []types.Tag{tag("a", aws.String("not-the-value")), tag("b", nil), tag("never", nil)}})
	if err != nil {
		t.Fatal(err)
	}
	got := list()
	if len(got) != 48 || aws.ToString(got[0].Key) != "k00" {
		t.Errorf("after RemoveTags: %d tags, first %q", len(got), aws.ToString(got[0].Key))
	}
	_, err = c.RemoveTags(t.Context(), &cloudtrail.RemoveTagsInput{ResourceId: aws.String(arn), TagsList: []types.Tag{tag("k00", nil), tag("k00", nil)}})
	checkAPIError(t, err, "InvalidTagParameterException", "more than once")
	jsonEqual(t, "RemoveTags", te.rawOK(t, "RemoveTags", "us-east-1", `{"ResourceId":"`+arn+`","TagsList":[{"Key":"k00"}]}`), `{}`)

	// ListTags takes up to 20 ARNs, each echoed as given.
	twenty := make([]string, 20)
	for i := range twenty {
		twenty[i] = arn
	}
	lt, err := c.ListTags(t.Context(), &cloudtrail.ListTagsInput{ResourceIdList: twenty})
	if err != nil || len(lt.ResourceTagList) != 20 {
		t.Errorf("ListTags of 20: %v", err)
	}
	_, err = c.ListTags(t.Context(), &cloudtrail.ListTagsInput{ResourceIdList: append(twenty, arn)})
	checkAPIError(t, err, codeValidation, "21 ARNs; at most 20")
	_, err = c.ListTags(t.Context(), &cloudtrail.ListTagsInput{ResourceIdList: []string{}})
	checkAPIError(t, err, codeValidation, "ResourceIdList is required")
	_, err = c.ListTags(t.Context(), &cloudtrail.ListTagsInput{ResourceIdList: []string{arn}, NextToken: aws.String("x")})
	checkAPIError(t, err, "InvalidTokenException", "one page")

	// Resources that are not this account's trails.
	unknown := arnOf("us-east-1", acct1, "nope")
	for _, tt := range []struct {
		name, id, code, msg string
		listCode            string // ListTags' code, when not code (it declares no ChannelNotFoundException)
	}{
		{"another account's trail", theirs, "ResourceNotFoundException", "Unknown trail: " + theirs + " for the user: 111111111111", ""},
		{"unknown trail", unknown, "ResourceNotFoundException", "Unknown trail: " + unknown, ""},
		{"trail in another region", arnOf("eu-west-1", acct1, "tagged"), "ResourceNotFoundException", "Unknown trail", ""},
		{"event data store", "arn:aws:cloudtrail:us-east-1:111111111111:eventdatastore/EXAMPLE", "EventDataStoreNotFoundException", "eventdatastore/EXAMPLE", ""},
		{"channel", "arn:aws:cloudtrail:us-east-1:111111111111:channel/EXAMPLE", "ChannelNotFoundException", "channel/EXAMPLE", "ResourceNotFoundException"},
		{"dashboard", "arn:aws:cloudtrail:us-east-1:111111111111:dashboard/d", "ResourceNotFoundException", "dashboard/d", ""},
		{"other cloudtrail resource", "arn:aws:cloudtrail:us-east-1:111111111111:query/q", "ResourceTypeNotSupportedException", "cannot be tagged", ""},
		{"other service", "arn:aws:s3:::bucket-1", "ResourceTypeNotSupportedException", "s3", ""},
		{"not an ARN", "tagged", "CloudTrailARNInvalidException", "not an ARN", ""},
		{"bad trail name in ARN", "arn:aws:cloudtrail:us-east-1:111111111111:trail/-xy", "InvalidTrailNameException", "starts with", ""},
		{"empty", "", "ResourceNotFoundException", "ResourceId is required", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ListTags(t.Context(), &cloudtrail.ListTagsInput{ResourceIdList: []string{arn, tt.id}})
			if tt.listCode != "" {
				checkAPIError(t, err, tt.listCode, tt.msg)
			} else {
				checkAPIError(t, err, tt.code, tt.msg)
			}
			_, err = c.AddTags(t.Context(), &cloudtrail.AddTagsInput{ResourceId: aws.String(tt.id), TagsList: []types.Tag{tag("x", nil)}})
			checkAPIError(t, err, tt.code, tt.msg)
			_, err = c.RemoveTags(t.Context(), &cloudtrail.RemoveTagsInput{ResourceId: aws.String(tt.id), TagsList: []types.Tag{tag("secret", nil)}})
			checkAPIError(t, err, tt.code, tt.msg)
		})
	}
	if tr, _ := te.cat.Get(theirs); len(tr.Tags) != 1 {
		t.Errorf("acct2's tags changed: %+v", tr.Tags)
	}
}

// --- ListPublicKeys ---

func TestListPublicKeys(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	// The setup key is valid from testNow for 30 days; rotate once, so the
	// keyring also holds a key valid from testNow+29d.
	te.kclk.Advance(29 * 24 * time.Hour)
	if _, err := te.keys.Current(SigningKeySet); err != nil {
		t.Fatal(err)
	}
	keys := te.keys.Public(SigningKeySet, testNow.Add(-time.Hour), testNow.Add(100*24*time.Hour))
	if len(keys) != 2 {
		t.Fatalf("keyring has %d keys, want 2", len(keys))
	}
	// The api sees the keyring through its set name only.
	if other := te.keys.Public("us-east-1", testNow, testNow); len(other) != 0 {
		t.Fatalf("keys in region set: %d", len(other))
	}

	wantKey := func(k keyring.PublicKey) types.PublicKey {
		return types.PublicKey{Value: k.Value, ValidityStartTime: aws.Time(k.ValidityStart), ValidityEndTime: aws.Time(k.ValidityEnd), Fingerprint: aws.String(k.Fingerprint)}
	}
	day := 24 * time.Hour
	tests := []struct {
		name       string
		start, end *time.Time
		want       []types.PublicKey
	}{
		{"default is now", nil, nil, []types.PublicKey{wantKey(keys[0])}},
		{"whole range, one page", aws.Time(testNow.Add(-day)), aws.Time(testNow.Add(90 * day)), []types.PublicKey{wantKey(keys[0]), wantKey(keys[1])}},
		{"overlap only", aws.Time(testNow.Add(29*day + time.Hour)), aws.Time(testNow.Add(29*day + 2*time.Hour)), []types.PublicKey{wantKey(keys[0]), wantKey(keys[1])}},
		{"later key only", aws.Time(testNow.Add(40 * day)), aws.Time(testNow.Add(41 * day)), []types.PublicKey{wantKey(keys[1])}},
		{"start only", aws.Time(testNow.Add(-2 * day)), nil, []types.PublicKey{wantKey(keys[0])}},
		{"before any key", aws.Time(testNow.Add(-3 * day)), aws.Time(testNow.Add(-2 * day)), nil},
		{"bounds included", aws.Time(testNow.Add(-day)), aws.Time(testNow), []types.PublicKey{wantKey(keys[0])}},
	}
	for _, tt := range tests {
		out, err := c.ListPublicKeys(t.Context(), &cloudtrail.ListPublicKeysInput{StartTime: tt.start, EndTime: tt.end})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, out.PublicKeyList, sdkCmp); diff != "" {
			t.Errorf("%s: keys (-want +got):\n%s", tt.name, diff)
		}
		if out.NextToken != nil {
			t.Errorf("%s: NextToken %q", tt.name, *out.NextToken)
		}
		for _, k := range out.PublicKeyList {
			if _, err := x509.ParsePKCS1PublicKey(k.Value); err != nil {
				t.Errorf("%s: key is not PKCS#1: %v", tt.name, err)
			}
			sum := md5.Sum(k.Value)
			if fp := aws.ToString(k.Fingerprint); fp != hex.EncodeToString(sum[:]) || fp != strings.ToLower(fp) {
				t.Errorf("%s: fingerprint %q is not the lowercase hex MD5 of the DER", tt.name, fp)
			}
		}
	}

	_, err := c.ListPublicKeys(t.Context(), &cloudtrail.ListPublicKeysInput{StartTime: aws.Time(testNow), EndTime: aws.Time(testNow.Add(-time.Second))})
	checkAPIError(t, err, codeInvalidTimeRange, "is after EndTime")
	_, err = c.ListPublicKeys(t.Context(), &cloudtrail.ListPublicKeysInput{EndTime: aws.Time(testNow.Add(-time.Hour))})
	checkAPIError(t, err, codeInvalidTimeRange, "is after EndTime")
	_, err = c.ListPublicKeys(t.Context(), &cloudtrail.ListPublicKeysInput{NextToken: aws.String("abc")})
	checkAPIError(t, err, "InvalidTokenException", "one page")
	// The paginator stops after the one page.
	p := cloudtrail.NewListPublicKeysPaginator(c, &cloudtrail.ListPublicKeysInput{StartTime: aws.Time(testNow), EndTime: aws.Time(testNow.Add(60 * day))})
	pages := 0
	for p.HasMorePages() {
		if _, err := p.NextPage(t.Context()); err != nil {
			t.Fatal(err)
		}
		pages++
	}
	if pages != 1 {
		t.Errorf("%d pages of keys, want 1", pages)
	}

	// Raw JSON: Value is base64 of the DER, times are epoch seconds.
	body := te.rawOK(t, "ListPublicKeys", "us-east-1", `{"StartTime":1709294400,"EndTime":1709294400}`)
	var raw struct {
		PublicKeyList []map[string]any
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	fields := map[string]any{}
	if len(raw.PublicKeyList) == 1 {
		fields = raw.PublicKeyList[0]
	}
	v, _ := fields["Value"].(string)
	der, err := base64.StdEncoding.DecodeString(v)
	if err != nil || string(der) != string(keys[0].Value) {
		t.Errorf("Value %q is not the standard base64 of the key's DER (%v)", v, err)
	}
	delete(fields, "Value")
	if diff := cmp.Diff(map[string]any{
		"ValidityStartTime": float64(testNow.Unix()), "ValidityEndTime": float64(testNow.Add(30 * day).Unix()),
		"Fingerprint": keys[0].Fingerprint,
	}, fields); diff != "" {
		t.Errorf("ListPublicKeys JSON (-want +got):\n%s\n%s", diff, body)
	}
	if strings.Contains(string(body), "NextToken") {
		t.Errorf("ListPublicKeys sent a NextToken: %s", body)
	}
}

// TestTrailCatalogPersists checks what the API stores in the catalog, the
// state delivery reads.
func TestTrailCatalogPersists(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	mustCreate(t, c, mkTrail("per", multiRegion, func(in *cloudtrail.CreateTrailInput) { in.S3KeyPrefix = aws.String("x/") }))
	if _, err := c.PutEventSelectors(t.Context(), &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("per"),
		EventSelectors: []types.EventSelector{{ReadWriteType: types.ReadWriteTypeWriteOnly}}}); err != nil {
		t.Fatal(err)
	}
	all := te.cat.All()
	if len(all) != 1 {
		t.Fatalf("%d trails", len(all))
	}
	tr := all[0]
	if tr.S3KeyPrefix != "x" || !tr.IsMultiRegionTrail || tr.Selectors.IsAdvanced() ||
		len(tr.Selectors.EventSelectors) != 1 || tr.Selectors.EventSelectors[0].ReadWriteType != selector.WriteOnly {
		t.Errorf("stored trail %+v", tr)
	}
}

// Turning Insights on checks the trail's bucket, where Insights files go;
// turning them off does not.
func TestInsightSelectorsCheckTheBucket(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	c := te.c1()
	mustCreate(t, c, mkTrail("ins"))
	arn := arnOf("us-east-1", acct1, "ins")
	on := []types.InsightSelector{{InsightType: types.InsightTypeApiCallRateInsight}}
	for _, tt := range []struct{ bucket, code string }{
		{missingBucket, "S3BucketDoesNotExistException"},
		{otherBucket, "InsufficientS3BucketPolicyException"},
	} {
		if _, err := te.cat.Update(arn, func(cur *catalog.Trail) error { cur.S3BucketName = tt.bucket; return nil }); err != nil {
			t.Fatal(err)
		}
		_, err := c.PutInsightSelectors(t.Context(), &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("ins"), InsightSelectors: on})
		checkAPIError(t, err, tt.code, tt.bucket)
		if _, err := c.PutInsightSelectors(t.Context(), &cloudtrail.PutInsightSelectorsInput{TrailName: aws.String("ins"),
			InsightSelectors: []types.InsightSelector{}}); err != nil {
			t.Errorf("turning Insights off with bucket %s: %v", tt.bucket, err)
		}
	}
}
