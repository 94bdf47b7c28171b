package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/opentrail/opentrail/internal/validate"
)

// validateCmd is `opentrail validate-logs`, a port of aws-cli 1.45's
// `aws cloudtrail validate-logs` (spec delivery-and-integrity.md §7).
type validateCmd struct {
	stdout, stderr io.Writer
	// now is the clock for the default --end-time; nil means time.Now.
	now func() time.Time
}

func (*validateCmd) Name() string { return "validate-logs" }
func (*validateCmd) Summary() string {
	return "check a trail's digest and log files like aws cloudtrail validate-logs"
}

// errLogsInvalid makes validate-logs exit 1 after reporting INVALID files.
var errLogsInvalid = fmt.Errorf("validate-logs: some digest or log files are INVALID: %w", errReported)

// trailARNPattern is the CLI's check, anchored at the start only (re.match).
var trailARNPattern = regexp.MustCompile(`^arn:.+:cloudtrail:.+:\d{12}:trail/.+`)

// validateArgs is the parsed command line.
type validateArgs struct {
	trailARN                     string
	start, end                   time.Time
	bucket, prefix, account      string
	verbose                      bool
	endpointURL, region, profile string
	// From the ARN.
	homeRegion, arnAccount, trailName string
}

func (c *validateCmd) parse(args []string) (validateArgs, error) {
	const name = "validate-logs"
	fs := newFlagSet(name, c.stdout)
	var a validateArgs
	var start, end string
	fs.StringVar(&a.trailARN, "trail-arn", "", "`ARN` of the trail to validate (required)")
	fs.StringVar(&start, "start-time", "", "validate log files delivered on or after this UTC `time`, e.g. 2026-01-08T05:21:42Z (required)")
	fs.StringVar(&end, "end-time", "", "validate log files delivered on or before this UTC `time` (default: now)")
	fs.StringVar(&a.bucket, "s3-bucket", "", "`bucket` holding the digest files (default: the trail's, from DescribeTrails)")
	fs.StringVar(&a.prefix, "s3-prefix", "", "key `prefix` of the digest files (used with --s3-bucket)")
	fs.StringVar(&a.account, "account-id", "", "`account` id whose files to validate (default: the ARN's)")
	fs.BoolVar(&a.verbose, "verbose", false, "print valid files too")
	fs.StringVar(&a.endpointURL, "endpoint-url", "", "CloudTrail and S3 endpoint `URL`, e.g. http://127.0.0.1:4750 (default: AWS_ENDPOINT_URL_CLOUDTRAIL, AWS_ENDPOINT_URL_S3, AWS)")
	fs.StringVar(&a.region, "region", "", "`Region` of the requests and of the digests to validate (default: the profile's, else the trail's home Region)")
	fs.StringVar(&a.profile, "profile", "", "shared config `profile` for credentials and Region")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: opentrail validate-logs --trail-arn ARN --start-time T [--end-time T]
       [--s3-bucket B] [--s3-prefix P] [--account-id A] [--verbose]
       [--endpoint-url URL] [--region R] [--profile P]

Checks a trail's digest files (signatures and chain) and the log files they
list (SHA-256), reporting like aws cloudtrail validate-logs. Exits 1 when any
file is INVALID. Credentials come from the standard AWS configuration
(environment, shared files, --profile).

Times are RFC 3339 (2026-01-02T15:04:05Z), a date (2026-01-02) or epoch
seconds; times without a zone are UTC.

Flags:`)
		fs.PrintDefaults()
	}
	if err := parseFlagsOnly(fs, args); err != nil {
		return a, err
	}
	usage := func(format string, v ...any) error { return &usageError{cmd: name, msg: fmt.Sprintf(format, v...)} }
	var missing []string
	if a.trailARN == "" {
		missing = append(missing, "--trail-arn")
	}
	if start == "" {
		missing = append(missing, "--start-time")
	}
	if len(missing) > 0 {
		return a, usage("the following arguments are required: %s", strings.Join(missing, ", "))
	}
	if !trailARNPattern.MatchString(a.trailARN) {
		return a, usage("Invalid trail ARN provided: %s", a.trailARN)
	}
	parts := strings.Split(a.trailARN, ":")
	a.homeRegion, a.arnAccount = parts[3], parts[4]
	a.trailName = a.trailARN[strings.LastIndexByte(a.trailARN, '/')+1:]
	var err error
	if a.start, err = parseCLITime(start); err != nil {
		return a, usage("%v", err)
	}
	if end == "" {
		now := time.Now
		if c.now != nil {
			now = c.now
		}
		a.end = now().UTC()
	} else if a.end, err = parseCLITime(end); err != nil {
		return a, usage("%v", err)
	}
	if a.start.After(a.end) {
		return a, usage("Invalid time range specified: start-time must occur before end-time")
	}
	return a, nil
}

// parseCLITime reads the time forms validate-logs users type: RFC 3339,
// the same without a zone or seconds (UTC), a date, or epoch seconds.
func parseCLITime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "20060102T150405Z", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f < 1e11 {
		sec, frac := int64(f), f-float64(int64(f))
		return time.Unix(sec, int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("Unable to parse date value: %s", s) //nolint:staticcheck // the CLI's words
}

func (c *validateCmd) Run(ctx context.Context, args []string) error {
	a, err := c.parse(args)
	if err != nil {
		return err
	}
	cfg, err := loadAWSConfig(ctx, a)
	if err != nil {
		return err
	}
	ct := cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) {
		if a.endpointURL != "" {
			o.BaseEndpoint = aws.String(a.endpointURL)
		}
	})

	opts := validate.DefaultOptions()
	opts.TrailARN = a.trailARN
	opts.StartTime, opts.EndTime = a.start, a.end
	opts.Bucket, opts.Prefix = a.bucket, a.prefix
	opts.Account = a.account
	opts.TrailName, opts.HomeRegion = a.trailName, a.homeRegion
	opts.SourceRegion = a.region // the CLI: --region, else the home Region
	opts.Verbose = a.verbose
	opts.Stdout, opts.Stderr = c.stdout, c.stderr
	if a.bucket == "" {
		// The CLI takes the bucket and prefix from DescribeTrails (no
		// parameters) whenever --s3-bucket is not given, ignoring --s3-prefix.
		tr, err := findTrail(ctx, ct, a.trailARN)
		if err != nil {
			return err
		}
		opts.Bucket, opts.Prefix = aws.ToString(tr.S3BucketName), aws.ToString(tr.S3KeyPrefix)
		if aws.ToBool(tr.IsOrganizationTrail) {
			if a.account == "" {
				return &usageError{cmd: "validate-logs", msg: "Missing required parameter for organization trail: '--account-id'"}
			}
			return errors.New("validate-logs: organization trails need Organizations DescribeOrganization, which this command does not call; use aws cloudtrail validate-logs")
		}
	}
	if opts.Account == "" {
		opts.Account = a.arnAccount
	}
	objects := &s3Objects{cfg: cfg, endpoint: a.endpointURL, clients: map[string]*s3.Client{}, regions: map[string]string{}}
	res, err := validate.Run(ctx, objects, cloudTrailKeys{ct}, opts)
	if err != nil {
		return fmt.Errorf("validate-logs: %w", err)
	}
	if !res.OK() {
		return errLogsInvalid
	}
	return nil
}

// loadAWSConfig loads the standard AWS configuration chain with --profile
// and --region. Without any Region it uses the trail's home Region, so that
// requests can be signed.
func loadAWSConfig(ctx context.Context, a validateArgs) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if a.profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(a.profile))
	}
	if a.region != "" {
		opts = append(opts, awsconfig.WithRegion(a.region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("validate-logs: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = a.homeRegion
	}
	cfg.HTTPClient = hideWriteToClient(cfg.HTTPClient)
	return cfg, nil
}

// hideWriteToClient wraps the SDK's default HTTP client (whose transport
// carries AWS_CA_BUNDLE and the other configured options) in hideWriteTo.
func hideWriteToClient(c aws.HTTPClient) aws.HTTPClient {
	bc, ok := c.(*awshttp.BuildableClient)
	if !ok {
		bc = awshttp.NewBuildableClient()
	}
	return &http.Client{Transport: hideWriteTo{bc.GetTransport()}, Timeout: bc.GetTimeout()}
}

// hideWriteTo strips request bodies of their WriteTo method, so that
// net/http reads them with Read: smithy-go's closed body reports io.EOF
// from WriteTo, which net/http takes for a failed write against a server
// that answers early (aws-sdk-go-v2#2737; internal/sdktest explains).
type hideWriteTo struct{ next http.RoundTripper }

func (t hideWriteTo) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r = r.Clone(r.Context())
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return t.next.RoundTrip(r)
}

// trailInfo is what validate-logs needs from DescribeTrails.
type trailInfo struct {
	S3BucketName, S3KeyPrefix *string
	IsOrganizationTrail       *bool
}

// findTrail calls DescribeTrails with no parameters and picks the trail
// whose TrailARN is arn exactly.
func findTrail(ctx context.Context, ct *cloudtrail.Client, arn string) (trailInfo, error) {
	out, err := ct.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{})
	if err != nil {
		return trailInfo{}, fmt.Errorf("validate-logs: describe trails: %w", err)
	}
	for _, t := range out.TrailList {
		if aws.ToString(t.TrailARN) == arn {
			return trailInfo{S3BucketName: t.S3BucketName, S3KeyPrefix: t.S3KeyPrefix, IsOrganizationTrail: t.IsOrganizationTrail}, nil
		}
	}
	return trailInfo{}, fmt.Errorf("validate-logs: A trail could not be found for %s", arn)
}

// cloudTrailKeys serves ListPublicKeys.
type cloudTrailKeys struct{ ct *cloudtrail.Client }

var _ validate.KeySource = cloudTrailKeys{}

func (k cloudTrailKeys) PublicKeys(ctx context.Context, start, end time.Time) ([]validate.PublicKey, error) {
	out, err := k.ct.ListPublicKeys(ctx, &cloudtrail.ListPublicKeysInput{StartTime: aws.Time(start), EndTime: aws.Time(end)})
	if err != nil {
		return nil, err
	}
	keys := make([]validate.PublicKey, 0, len(out.PublicKeyList))
	for _, p := range out.PublicKeyList {
		keys = append(keys, validate.PublicKey{
			Fingerprint:   aws.ToString(p.Fingerprint),
			Value:         p.Value, // the SDK has base64-decoded the blob: PKCS#1 DER
			ValidityStart: aws.ToTime(p.ValidityStartTime),
			ValidityEnd:   aws.ToTime(p.ValidityEndTime),
		})
	}
	return keys, nil
}

// s3Objects reads buckets as the CLI's S3 client provider does: it asks
// GetBucketLocation once per bucket with a client in the configured Region,
// then uses a client for the bucket's Region (path-style requests).
type s3Objects struct {
	cfg      aws.Config
	endpoint string // --endpoint-url, overriding AWS_ENDPOINT_URL_S3 and AWS

	mu      sync.Mutex
	clients map[string]*s3.Client // by Region
	regions map[string]string     // bucket → Region
}

var _ validate.ObjectSource = (*s3Objects)(nil)

func (s *s3Objects) clientFor(region string) *s3.Client {
	if c, ok := s.clients[region]; ok {
		return c
	}
	c := s3.NewFromConfig(s.cfg, func(o *s3.Options) {
		o.Region = region
		o.UsePathStyle = true
		// Trail objects carry no checksum headers; do not log that for
		// every GetObject.
		o.DisableLogOutputChecksumValidationSkipped = true
		if s.endpoint != "" {
			o.BaseEndpoint = aws.String(s.endpoint)
		}
	})
	s.clients[region] = c
	return c
}

func (s *s3Objects) client(ctx context.Context, bucket string) (*s3.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	region, ok := s.regions[bucket]
	if !ok {
		out, err := s.clientFor(s.cfg.Region).GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
		if err != nil {
			return nil, fmt.Errorf("get location of bucket %s: %w", bucket, err)
		}
		if region = string(out.LocationConstraint); region == "" {
			region = "us-east-1"
		}
		s.regions[bucket] = region
	}
	return s.clientFor(region), nil
}

func (s *s3Objects) List(ctx context.Context, bucket, prefix, marker string, fn func(string) bool) error {
	c, err := s.client(ctx, bucket)
	if err != nil {
		return err
	}
	for {
		out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix), Marker: aws.String(marker)})
		if err != nil {
			return err
		}
		last := ""
		for _, o := range out.Contents {
			last = aws.ToString(o.Key)
			if !fn(last) {
				return nil
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		next := aws.ToString(out.NextMarker)
		if next == "" {
			next = last
		}
		if next == "" || next <= marker {
			return fmt.Errorf("list s3://%s: truncated listing without progress after %q", bucket, marker)
		}
		marker = next
	}
}

func (s *s3Objects) Get(ctx context.Context, bucket, key string) (validate.Object, error) {
	c, err := s.client(ctx, bucket)
	if err != nil {
		return validate.Object{}, err
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey" {
			return validate.Object{}, fmt.Errorf("%w: %w", validate.ErrNotFound, err)
		}
		return validate.Object{}, err
	}
	return validate.Object{Body: out.Body, Metadata: out.Metadata}, nil
}
