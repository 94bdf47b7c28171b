package layout

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Object properties shared by log and digest files
// (docs/format/object-layout.md). Content-Encoding is never set.
const (
	// ContentType is the Content-Type of log, Insights and digest files.
	ContentType = "application/x-gzip"
	// ACL is the canned ACL (x-amz-acl) every trail object is written with;
	// AWS's standard bucket policy for CloudTrail requires it.
	ACL = "bucket-owner-full-control"
)

// Folder and file-name infixes.
const (
	awsLogs        = "AWSLogs"
	logService     = "CloudTrail"
	insightService = "CloudTrail-Insight"
	digestService  = "CloudTrail-Digest"
	fileSuffix     = ".json.gz"
	backfillSuffix = "_backfill.json.gz"
)

// Time formats of the file names.
const (
	logTimeFormat    = "20060102T1504Z"   // 14 characters
	digestTimeFormat = "20060102T150405Z" // 16 characters
)

// UniqueLen is the length of the unique part [NewUnique] makes.
const UniqueLen = 16

var (
	// ErrInvalidPart means a builder was given a part that cannot appear in
	// a key (an account that is not 12 digits, a region with "/", …). It is
	// a configuration or programming error: do not retry.
	ErrInvalidPart = errors.New("layout: invalid key part")
	// ErrNotLogKey means a string is not a log-file or Insights-file key.
	ErrNotLogKey = errors.New("layout: not a log-file key")
	// ErrNotDigestKey means a string is not a digest-file key.
	ErrNotDigestKey = errors.New("layout: not a digest-file key")
)

// partError explains why a part or key is rejected; builders wrap it in
// ErrInvalidPart, parsers in ErrNotLogKey or ErrNotDigestKey.
type partError string

func (e partError) Error() string { return string(e) }

func badf(format string, args ...any) error { return partError(fmt.Sprintf(format, args...)) }

// NormalizePrefix returns the trail's S3 key prefix without trailing
// slashes ("logs/" → "logs"; "" stays ""). Keys join a non-empty prefix to
// "AWSLogs/" with exactly one "/", as validate-logs does.
func NormalizePrefix(p string) string { return strings.TrimRight(p, "/") }

// NewUnique returns UniqueLen characters drawn uniformly from [A-Za-z0-9]
// by crypto/rand, for [LogKey.Unique].
func NewUnique() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	const limit = 256 - 256%len(alphabet) // reject bytes ≥ 248 to stay unbiased
	out := make([]byte, 0, UniqueLen)
	buf := make([]byte, 2*UniqueLen)
	for len(out) < UniqueLen {
		_, _ = rand.Read(buf) // never fails (crypto/rand crashes the program instead)
		for _, b := range buf {
			if int(b) < limit && len(out) < UniqueLen {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// LogKey holds the parts of a log-file (or Insights-file) key.
type LogKey struct {
	// Prefix is the trail's S3KeyPrefix; trailing slashes are dropped.
	Prefix string
	// OrgID is the organization ID ("o-…") of an organization trail, else "".
	OrgID string
	// Account is the 12-digit account whose events the file holds.
	Account string
	// Region is the Region where the events happened.
	Region string
	// Time is the delivery time; the key uses its UTC date, hour and minute.
	Time time.Time
	// Unique is the file's unique part, [A-Za-z0-9]+; see [NewUnique].
	Unique string
	// Insight selects the CloudTrail-Insight layout.
	Insight bool
}

func (k LogKey) service() string {
	if k.Insight {
		return insightService
	}
	return logService
}

// Build returns the object key. It fails with [ErrInvalidPart] when a part
// cannot appear in a key.
func (k LogKey) Build() (string, error) {
	if err := k.check(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidPart, err)
	}
	return k.build(), nil
}

func (k LogKey) check() error {
	if err := checkCommon(k.OrgID, k.Account, k.Region); err != nil {
		return err
	}
	if err := checkTime(k.Time); err != nil {
		return err
	}
	if k.Unique == "" || !all(k.Unique, isAlnum) {
		return badf("unique part %q is not [A-Za-z0-9]+", k.Unique)
	}
	return nil
}

func (k LogKey) build() string {
	t := k.Time.UTC()
	svc := k.service()
	var b strings.Builder
	b.WriteString(root(k.Prefix, k.OrgID, k.Account))
	b.WriteString(svc + "/" + k.Region + "/" + t.Format("2006/01/02") + "/")
	b.WriteString(k.Account + "_" + svc + "_" + k.Region + "_" + t.Format(logTimeFormat) + "_" + k.Unique + fileSuffix)
	return b.String()
}

// ParseLogKey splits a log-file or Insights-file key into its parts. It
// fails with [ErrNotLogKey] unless [LogKey.Build] of the result gives key
// back exactly. The returned Time is UTC, to the minute.
func ParseLogKey(key string) (LogKey, error) {
	k, err := parseLogKey(key)
	if err != nil {
		return LogKey{}, fmt.Errorf("%w %q: %w", ErrNotLogKey, key, err)
	}
	return k, nil
}

func parseLogKey(key string) (LogKey, error) {
	p, err := splitKey(key)
	if err != nil {
		return LogKey{}, err
	}
	var k LogKey
	switch p.service {
	case logService:
	case insightService:
		k.Insight = true
	default:
		return LogKey{}, badf("folder %q is not %s or %s", p.service, logService, insightService)
	}
	k.Prefix, k.OrgID, k.Account, k.Region = p.prefix, p.orgID, p.account, p.region
	head := k.Account + "_" + p.service + "_" + k.Region + "_"
	rest, ok := strings.CutPrefix(p.file, head)
	if !ok {
		return LogKey{}, badf("file name does not start with %q", head)
	}
	rest, ok = strings.CutSuffix(rest, fileSuffix)
	if !ok {
		return LogKey{}, badf("file name does not end with %q", fileSuffix)
	}
	n := len(logTimeFormat)
	if len(rest) < n+2 || rest[n] != '_' {
		return LogKey{}, badf("file name lacks _YYYYMMDDTHHmmZ_UNIQUE")
	}
	if k.Time, err = parseTime(logTimeFormat, rest[:n]); err != nil {
		return LogKey{}, err
	}
	k.Unique = rest[n+1:]
	if err := k.check(); err != nil {
		return LogKey{}, err
	}
	if p.date != k.Time.Format("2006/01/02") {
		return LogKey{}, badf("folder date %s differs from file time %s", p.date, rest[:n])
	}
	if k.build() != key {
		return LogKey{}, badf("key does not rebuild identically")
	}
	return k, nil
}

// DigestKey holds the parts of a digest-file key.
type DigestKey struct {
	// Prefix is the trail's S3KeyPrefix; trailing slashes are dropped.
	Prefix string
	// OrgID is the organization ID ("o-…") of an organization trail, else "".
	OrgID string
	// Account is the 12-digit account the digest is for.
	Account string
	// Region is the Region whose log files the digest covers.
	Region string
	// TrailName is the trail's name (not its ARN).
	TrailName string
	// HomeRegion is the trail's home Region.
	HomeRegion string
	// End is the digest end time (digestEndTime); the key uses its UTC date
	// and time to the second.
	End time.Time
	// Backfill selects the "_backfill" suffix. OpenTrail never writes
	// backfill digests; the field exists for parsing AWS buckets.
	Backfill bool
}

// Build returns the object key. It fails with [ErrInvalidPart] when a part
// cannot appear in a key.
func (k DigestKey) Build() (string, error) {
	if err := k.check(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidPart, err)
	}
	return k.build(), nil
}

func (k DigestKey) check() error {
	if err := checkCommon(k.OrgID, k.Account, k.Region); err != nil {
		return err
	}
	if !isRegion(k.HomeRegion) {
		return badf("home region %q is not [a-z0-9-]+", k.HomeRegion)
	}
	if k.TrailName == "" || !all(k.TrailName, isNameChar) {
		return badf("trail name %q is not [A-Za-z0-9._-]+", k.TrailName)
	}
	return checkTime(k.End)
}

func (k DigestKey) build() string {
	t := k.End.UTC()
	var b strings.Builder
	b.WriteString(DigestListPrefix(k.Prefix, k.OrgID, k.Account, k.Region))
	b.WriteString("/" + t.Format("2006/01/02") + "/")
	b.WriteString(k.Account + "_" + digestService + "_" + k.Region + "_" + k.TrailName + "_" + k.HomeRegion + "_" + t.Format(digestTimeFormat))
	if k.Backfill {
		b.WriteString(backfillSuffix)
	} else {
		b.WriteString(fileSuffix)
	}
	return b.String()
}

// ParseDigestKey splits a digest-file key into its parts. It fails with
// [ErrNotDigestKey] unless [DigestKey.Build] of the result gives key back
// exactly. The returned End is UTC, to the second.
func ParseDigestKey(key string) (DigestKey, error) {
	k, err := parseDigestKey(key)
	if err != nil {
		return DigestKey{}, fmt.Errorf("%w %q: %w", ErrNotDigestKey, key, err)
	}
	return k, nil
}

func parseDigestKey(key string) (DigestKey, error) {
	p, err := splitKey(key)
	if err != nil {
		return DigestKey{}, err
	}
	if p.service != digestService {
		return DigestKey{}, badf("folder %q is not %s", p.service, digestService)
	}
	k := DigestKey{Prefix: p.prefix, OrgID: p.orgID, Account: p.account, Region: p.region}
	head := k.Account + "_" + digestService + "_" + k.Region + "_"
	rest, ok := strings.CutPrefix(p.file, head)
	if !ok {
		return DigestKey{}, badf("file name does not start with %q", head)
	}
	if r, ok := strings.CutSuffix(rest, backfillSuffix); ok {
		rest, k.Backfill = r, true
	} else if rest, ok = strings.CutSuffix(rest, fileSuffix); !ok {
		return DigestKey{}, badf("file name does not end with %q", fileSuffix)
	}
	n := len(digestTimeFormat)
	if len(rest) < n+1 || rest[len(rest)-n-1] != '_' {
		return DigestKey{}, badf("file name lacks _YYYYMMDDTHHMMSSZ")
	}
	ts := rest[len(rest)-n:]
	if k.End, err = parseTime(digestTimeFormat, ts); err != nil {
		return DigestKey{}, err
	}
	nameHome := rest[:len(rest)-n-1]
	i := strings.LastIndexByte(nameHome, '_')
	if i < 0 {
		return DigestKey{}, badf("file name lacks _TRAIL_HOME-REGION")
	}
	k.TrailName, k.HomeRegion = nameHome[:i], nameHome[i+1:]
	if err := k.check(); err != nil {
		return DigestKey{}, err
	}
	if p.date != k.End.Format("2006/01/02") {
		return DigestKey{}, badf("folder date %s differs from file time %s", p.date, ts)
	}
	if k.build() != key {
		return DigestKey{}, badf("key does not rebuild identically")
	}
	return k, nil
}

// DigestListPrefix returns the prefix validate-logs lists a Region's digests
// with: [prefix/]AWSLogs/[orgID/]account/CloudTrail-Digest/region, with no
// trailing slash. It does not validate its arguments.
func DigestListPrefix(prefix, orgID, account, region string) string {
	return root(prefix, orgID, account) + digestService + "/" + region
}

// root returns "[prefix/]AWSLogs/[orgID/]account/".
func root(prefix, orgID, account string) string {
	var b strings.Builder
	if p := NormalizePrefix(prefix); p != "" {
		b.WriteString(p + "/")
	}
	b.WriteString(awsLogs + "/")
	if orgID != "" {
		b.WriteString(orgID + "/")
	}
	b.WriteString(account + "/")
	return b.String()
}

// parts are the path components every trail key shares.
type parts struct {
	prefix, orgID, account, service, region, date, file string
}

// splitKey splits [prefix/]AWSLogs/[org/]ACCOUNT/SERVICE/REGION/YYYY/MM/DD/FILE
// from the right, so that a prefix may itself contain "AWSLogs".
func splitKey(key string) (parts, error) {
	c := strings.Split(key, "/")
	n := len(c)
	if n < 8 {
		return parts{}, badf("too few path components")
	}
	p := parts{
		file:    c[n-1],
		date:    c[n-4] + "/" + c[n-3] + "/" + c[n-2],
		region:  c[n-5],
		service: c[n-6],
		account: c[n-7],
	}
	i := n - 8
	if c[i] != awsLogs {
		p.orgID = c[i]
		i--
		if i < 0 || c[i] != awsLogs {
			return parts{}, badf("no %s/ folder before the account", awsLogs)
		}
	}
	if i > 0 {
		p.prefix = strings.Join(c[:i], "/")
		if p.prefix == "" || p.prefix != NormalizePrefix(p.prefix) {
			return parts{}, badf("prefix %q ends with a slash", p.prefix+"/")
		}
	}
	return p, nil
}

func checkCommon(orgID, account, region string) error {
	if orgID != "" {
		rest, ok := strings.CutPrefix(orgID, "o-")
		if !ok || rest == "" || !all(rest, isLowerAlnum) {
			return badf("organization ID %q is not o-[a-z0-9]+", orgID)
		}
	}
	if len(account) != 12 || !all(account, isDigit) {
		return badf("account %q is not 12 digits", account)
	}
	if !isRegion(region) {
		return badf("region %q is not [a-z0-9-]+", region)
	}
	return nil
}

func checkTime(t time.Time) error {
	if y := t.UTC().Year(); y < 1970 || y > 9999 {
		return badf("time %s is outside the years 1970-9999", t.UTC().Format(time.RFC3339))
	}
	return nil
}

// parseTime parses s in layout and requires that formatting the result
// gives s back (time.Parse accepts one-digit hours and the like).
func parseTime(layout, s string) (time.Time, error) {
	t, err := time.Parse(layout, s)
	if err != nil || t.Format(layout) != s {
		return time.Time{}, badf("time %q is not in the form %s", s, layout)
	}
	return t, nil
}

func isRegion(s string) bool { return s != "" && all(s, isRegionChar) }

func all(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || isDigit(c) }
func isAlnum(c byte) bool      { return isLowerAlnum(c) || 'A' <= c && c <= 'Z' }
func isRegionChar(c byte) bool { return isLowerAlnum(c) || c == '-' }
func isNameChar(c byte) bool   { return isAlnum(c) || c == '.' || c == '_' || c == '-' }
