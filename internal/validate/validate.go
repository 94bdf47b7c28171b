package validate

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/digest"
	"github.com/opentrail/opentrail/internal/layout"
)

var (
	// ErrNotFound is what an [ObjectSource] wraps when an object does not
	// exist (S3 NoSuchKey). The engine reports the object "INVALID: not
	// found" and goes on; any other Get error stops the run.
	ErrNotFound = errors.New("validate: object not found")
	// ErrNoPublicKeys means ListPublicKeys returned no key for the range;
	// the run stops, as the CLI does ("No public keys found between …").
	// Check that the trail's Region serves its keys.
	ErrNoPublicKeys = errors.New("validate: no public keys found")
	// ErrOptions means [Options] are incomplete or inconsistent (a caller
	// mistake; the message says which field).
	ErrOptions = errors.New("validate: invalid options")
)

// MetaBackfillTimestamp is the user-metadata key of a backfill digest's
// generation time.
const MetaBackfillTimestamp = "backfill-generation-timestamp"

// Object is an object read from the store.
type Object struct {
	// Body is the object's content; the engine closes it.
	Body io.ReadCloser
	// Metadata is the user metadata (x-amz-meta-*) with the prefix removed
	// and the rest of the name as sent: the engine looks up "signature",
	// "signature-algorithm" and "backfill-generation-timestamp", so a store
	// that capitalises them fails validation, as it does with the CLI.
	Metadata map[string]string
}

// ObjectSource reads an S3-style store. Implementations pick the client
// for each bucket (the CLI asks GetBucketLocation once per bucket).
type ObjectSource interface {
	// List calls fn with every key of bucket that starts with prefix and
	// sorts after marker, in ascending byte order (ListObjects v1 with
	// Marker and Prefix, all pages), until fn returns false. It MUST NOT
	// call fn after fn returned false.
	List(ctx context.Context, bucket, prefix, marker string, fn func(key string) bool) error
	// Get returns an object. A missing object MUST be an error wrapping
	// [ErrNotFound]; any other error stops the run.
	Get(ctx context.Context, bucket, key string) (Object, error)
}

// PublicKey is one ListPublicKeys entry.
type PublicKey struct {
	// Fingerprint is the lowercase hex MD5 of Value.
	Fingerprint string
	// Value is the PKCS#1 RSAPublicKey DER (base64-decoded).
	Value []byte
	// ValidityStart and ValidityEnd bound the key's use.
	ValidityStart, ValidityEnd time.Time
}

// KeySource returns the digest-signing public keys of the trail's home
// Region.
type KeySource interface {
	// PublicKeys returns the keys whose validity overlaps [start, end]
	// (ListPublicKeys with StartTime and EndTime).
	PublicKeys(ctx context.Context, start, end time.Time) ([]PublicKey, error)
}

// Options say what to validate and where to report.
type Options struct {
	// TrailARN is printed in the first line.
	TrailARN string
	// StartTime is required. Digests that end before it are not read.
	StartTime time.Time
	// EndTime defaults to the time Run starts.
	EndTime time.Time
	// Bucket is the bucket holding the newest digests (required); Prefix
	// is the trail's S3 key prefix.
	Bucket, Prefix string
	// Account is the account whose digests are read (required).
	Account string
	// TrailName and HomeRegion come from the trail ARN (required).
	TrailName, HomeRegion string
	// SourceRegion is the Region whose digests are read; default
	// HomeRegion.
	SourceRegion string
	// OrgID is the organization ID of an organization trail, else "".
	OrgID string
	// Verbose prints valid digests and log files too.
	Verbose bool
	// Stdout receives the header, valid lines and the summary; Stderr the
	// INVALID lines and gaps. Nil discards.
	Stdout, Stderr io.Writer
	// Now returns the current time for the default EndTime; nil means
	// time.Now.
	Now func() time.Time
}

// DefaultOptions returns Options with every output discarded and the
// clock set to time.Now; the caller fills in the trail and times.
func DefaultOptions() Options {
	return Options{Stdout: io.Discard, Stderr: io.Discard, Now: time.Now}
}

// Result counts what Run found.
type Result struct {
	ValidDigests, InvalidDigests                 int
	ValidBackfillDigests, InvalidBackfillDigests int
	ValidLogs, InvalidLogs                       int
	// FoundStart and FoundEnd span the valid digests, clipped to the
	// requested range; zero when no digest was valid.
	FoundStart, FoundEnd time.Time
}

// OK reports whether nothing was invalid (the CLI's exit code 0).
func (r Result) OK() bool {
	return r.InvalidDigests == 0 && r.InvalidBackfillDigests == 0 && r.InvalidLogs == 0
}

// DisplayTimeFormat is the form of every time in the report.
const DisplayTimeFormat = "2006-01-02T15:04:05Z"

// keyDateFormat is the form of digest key timestamps.
const keyDateFormat = "20060102T150405Z"

func display(t time.Time) string { return t.UTC().Format(DisplayTimeFormat) }

// Run validates the trail's digests and log files between opts.StartTime
// and opts.EndTime, writing the CLI's report. It returns the counts; an
// error means the run stopped early (bad options, a store or key-source
// failure other than a missing object, [ErrNoPublicKeys], or ctx ending),
// and the summary has then not been written.
func Run(ctx context.Context, objects ObjectSource, keys KeySource, opts Options) (Result, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	if opts.Stderr == nil {
		opts.Stderr = io.Discard
	}
	if opts.SourceRegion == "" {
		opts.SourceRegion = opts.HomeRegion
	}
	opts.StartTime = opts.StartTime.UTC()
	if opts.EndTime.IsZero() {
		opts.EndTime = opts.Now()
	}
	opts.EndTime = opts.EndTime.UTC()
	switch {
	case opts.StartTime.IsZero():
		return Result{}, fmt.Errorf("%w: StartTime is required", ErrOptions)
	case opts.StartTime.After(opts.EndTime):
		return Result{}, fmt.Errorf("%w: Invalid time range specified: start-time must occur before end-time", ErrOptions)
	case opts.Bucket == "" || opts.Account == "" || opts.TrailName == "" || opts.HomeRegion == "":
		return Result{}, fmt.Errorf("%w: Bucket, Account, TrailName and HomeRegion are required", ErrOptions)
	}
	marker, err := layout.DigestKey{
		Prefix: opts.Prefix, OrgID: opts.OrgID, Account: opts.Account, Region: opts.SourceRegion,
		TrailName: opts.TrailName, HomeRegion: opts.HomeRegion, End: opts.StartTime.Add(-time.Minute),
	}.Build()
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	w := &walker{
		objects: objects,
		keys:    keys,
		opts:    opts,
		rep:     &reporter{out: opts.Stdout, err: opts.Stderr, verbose: opts.Verbose, lastDouble: true},
		marker:  marker,
		prefix:  layout.DigestListPrefix(opts.Prefix, opts.OrgID, opts.Account, opts.SourceRegion),
		keyRE:   digestKeyRegexp(opts),
		lists:   map[listID]*keyLists{},
	}
	w.rep.printf(opts.Stdout, "Validating log files for trail %s between %s and %s\n\n",
		opts.TrailARN, display(opts.StartTime), display(opts.EndTime))
	if err := w.traverse(ctx, false); err != nil {
		return w.res, err
	}
	if err := w.traverse(ctx, true); err != nil {
		return w.res, err
	}
	w.summary()
	return w.res, w.rep.werr
}

// digestKeyRegexp matches the digest keys of this trail, regular and
// backfill (the CLI's _create_digest_key_regex).
func digestKeyRegexp(o Options) *regexp.Regexp {
	q := regexp.QuoteMeta
	var b strings.Builder
	b.WriteString("^")
	if p := layout.NormalizePrefix(o.Prefix); p != "" {
		b.WriteString(q(p) + "/")
	}
	b.WriteString("AWSLogs/")
	if o.OrgID != "" {
		b.WriteString(q(o.OrgID) + "/")
	}
	fmt.Fprintf(&b, `%s/CloudTrail-Digest/%s/\d+/\d+/\d+/%s_CloudTrail-Digest_%s_%s_%s_.+(?:_backfill)?\.json\.gz$`,
		q(o.Account), q(o.SourceRegion), q(o.Account), q(o.SourceRegion), q(o.TrailName), q(o.HomeRegion))
	return regexp.MustCompile(b.String())
}

func isBackfillKey(key string) bool { return strings.HasSuffix(key, "_backfill.json.gz") }

// keyDate returns the 16-character timestamp of a digest key, read by
// position as the CLI does.
func keyDate(key string) string {
	if isBackfillKey(key) {
		if len(key) < 33 {
			return ""
		}
		return key[len(key)-33 : len(key)-17]
	}
	if len(key) < 24 {
		return ""
	}
	return key[len(key)-24 : len(key)-8]
}

// listID keys the listing cache, as the CLI's (bucket, prefix, start, end).
type listID struct {
	bucket string
	end    time.Time
}

// keyLists are a listing's regular and backfill keys, oldest first. The
// walk takes keys from the end, and the cache shares the consumed lists,
// as the CLI's does.
type keyLists struct{ regular, backfill []string }

type walker struct {
	objects ObjectSource
	keys    KeySource
	opts    Options
	rep     *reporter
	res     Result
	marker  string
	prefix  string
	keyRE   *regexp.Regexp
	lists   map[listID]*keyLists
}

// load returns the listed keys of bucket up to end + 1 hour.
func (w *walker) load(ctx context.Context, bucket string, end time.Time, backfill bool) (*[]string, error) {
	id := listID{bucket, end}
	l, ok := w.lists[id]
	if !ok {
		l = &keyLists{}
		from := w.opts.StartTime.Format(keyDateFormat)
		to := end.Add(time.Hour).UTC().Format(keyDateFormat)
		err := w.objects.List(ctx, bucket, w.prefix, w.marker, func(key string) bool {
			if key == "" || !w.keyRE.MatchString(key) {
				return true
			}
			d := keyDate(key)
			if d > to {
				return false
			}
			if d < from {
				return true
			}
			if _, err := time.Parse(keyDateFormat, d); err != nil {
				return true // the CLI would crash parsing it
			}
			if isBackfillKey(key) {
				l.backfill = append(l.backfill, key)
			} else {
				l.regular = append(l.regular, key)
			}
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("list digests in s3://%s/%s: %w", bucket, w.prefix, err)
		}
		w.lists[id] = l
	}
	if backfill {
		return &l.backfill, nil
	}
	return &l.regular, nil
}

// lastDigest takes from the end of digests the newest key, or with before
// set the newest key dated strictly before it, and returns it with its
// key date ("" when none is left).
func lastDigest(digests *[]string, before string) (string, time.Time) {
	var limit time.Time
	if before != "" {
		limit, _ = time.Parse(keyDateFormat, keyDate(before))
	}
	for len(*digests) > 0 {
		n := len(*digests) - 1
		key := (*digests)[n]
		*digests = (*digests)[:n]
		d, _ := time.Parse(keyDateFormat, keyDate(key))
		if before == "" || d.Before(limit) {
			return key, d
		}
	}
	return "", time.Time{}
}

func (w *walker) publicKeys(ctx context.Context, start, end time.Time) (map[string]PublicKey, error) {
	list, err := w.keys.PublicKeys(ctx, start, end)
	if err != nil {
		return nil, fmt.Errorf("list public keys: %w", err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: No public keys found between %s and %s", ErrNoPublicKeys, display(start), display(end))
	}
	m := make(map[string]PublicKey, len(list))
	for _, k := range list {
		m[k.Fingerprint] = k
	}
	return m, nil
}

// invalidDigest is a digest that failed validation; msg is the whole line.
type invalidDigest struct{ msg string }

func (e *invalidDigest) Error() string { return e.msg }

func invalidf(bucket, key, format string, a ...any) error {
	return &invalidDigest{fmt.Sprintf("Digest file\ts3://%s/%s\tINVALID: ", bucket, key) + fmt.Sprintf(format, a...)}
}

// traverse walks one chain (regular or backfill) from its newest key.
func (w *walker) traverse(ctx context.Context, backfill bool) error {
	start := w.opts.StartTime
	bucket := w.opts.Bucket
	digests, err := w.load(ctx, bucket, w.opts.EndTime, backfill)
	if err != nil {
		return err
	}
	pub := map[string]PublicKey{}
	if !backfill {
		if pub, err = w.publicKeys(ctx, start, w.opts.EndTime.Add(2*time.Hour)); err != nil {
			return err
		}
	}
	tag := ""
	if backfill {
		tag = "(backfill) "
	}
	key, _ := lastDigest(digests, "")
	lastStart, _ := time.Parse(keyDateFormat, keyDate(key))
	for key != "" && !start.After(lastStart) {
		if err := ctx.Err(); err != nil {
			return err
		}
		doc, err := w.loadDigest(ctx, pub, bucket, key, backfill)
		var inv *invalidDigest
		switch {
		case err == nil:
			lastStart = doc.DigestStartTime
			if err := w.validDigest(ctx, doc, backfill); err != nil {
				return err
			}
			if doc.PreviousDigestS3Bucket == "" || doc.PreviousDigestS3Object == "" {
				next, nextEnd := lastDigest(digests, key)
				if next != "" {
					w.rep.status(fmt.Sprintf("%sNo log files were delivered by CloudTrail between %s and %s",
						tag, display(nextEnd), display(lastStart)), true)
				}
				key = next
				continue
			}
			key = doc.PreviousDigestS3Object
			if doc.PreviousDigestS3Bucket != bucket {
				bucket = doc.PreviousDigestS3Bucket
				if digests, err = w.load(ctx, bucket, doc.DigestEndTime, backfill); err != nil {
					return err
				}
			}
		case errors.Is(err, ErrNotFound):
			w.countInvalidDigest(backfill)
			w.rep.status(fmt.Sprintf("%sDigest file\ts3://%s/%s\tINVALID: not found", tag, bucket, key), true)
			key, _ = lastDigest(digests, key)
		case errors.As(err, &inv):
			w.countInvalidDigest(backfill)
			w.rep.status(tag+inv.msg, true)
			key, _ = lastDigest(digests, key)
		default:
			return err
		}
	}
	return nil
}

func (w *walker) countInvalidDigest(backfill bool) {
	if backfill {
		w.res.InvalidBackfillDigests++
	} else {
		w.res.InvalidDigests++
	}
}

// loadDigest gets, parses and verifies one digest. It returns an
// *invalidDigest, an error wrapping ErrNotFound, or another error that
// stops the run.
func (w *walker) loadDigest(ctx context.Context, pub map[string]PublicKey, bucket, key string, backfill bool) (*digest.Document, error) {
	obj, err := w.objects.Get(ctx, bucket, key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	body, err := io.ReadAll(obj.Body)
	obj.Body.Close()
	if err != nil {
		return nil, invalidf(bucket, key, "%v", err)
	}
	raw, err := gunzip(body)
	if err != nil || !utf8.Valid(raw) || !json.Valid(raw) {
		return nil, invalidf(bucket, key, "invalid format")
	}
	sig, okSig := obj.Metadata[digest.MetaSignature]
	_, okAlg := obj.Metadata[digest.MetaSignatureAlgorithm]
	if !okSig || !okAlg {
		return nil, invalidf(bucket, key, "signature verification failed")
	}
	generatedAt, hasGenerated := obj.Metadata[MetaBackfillTimestamp]
	if backfill && !hasGenerated {
		return nil, invalidf(bucket, key, "invalid format")
	}
	doc, err := digest.Parse(raw)
	if err != nil {
		return nil, invalidf(bucket, key, "invalid format")
	}
	if doc.DigestS3Bucket != bucket || doc.DigestS3Object != key {
		return nil, invalidf(bucket, key, "has been moved from its original location")
	}
	fp := doc.DigestPublicKeyFingerprint
	if _, ok := pub[fp]; !ok && backfill {
		generated, err := parseTime(generatedAt)
		if err != nil {
			return nil, invalidf(bucket, key, "Unable to parse date value: %s", generatedAt)
		}
		more, err := w.publicKeys(ctx, generated.Add(-time.Hour), generated.Add(time.Hour))
		if errors.Is(err, ErrNoPublicKeys) {
			return nil, invalidf(bucket, key, "%s", strings.TrimPrefix(err.Error(), ErrNoPublicKeys.Error()+": "))
		}
		if err != nil {
			return nil, err
		}
		for k, v := range more {
			pub[k] = v
		}
	}
	k, ok := pub[fp]
	if !ok {
		return nil, invalidf(bucket, key, "public key not found in region %s for fingerprint %s", w.opts.HomeRegion, fp)
	}
	signing := digest.SigningString(digest.FormatTime(doc.DigestEndTime), doc.DigestS3Bucket, doc.DigestS3Object,
		digest.Hash(raw), doc.PreviousDigestSignature)
	switch err := digest.Verify(k.Value, signing, sig); {
	case errors.Is(err, digest.ErrBadKey):
		return nil, invalidf(bucket, key, "Unable to load PKCS #1 key with fingerprint %s", fp)
	case err != nil:
		return nil, invalidf(bucket, key, "signature verification failed")
	}
	return doc, nil
}

// parseTime reads the backfill generation timestamp: RFC 3339, or the
// digest key form.
func parseTime(s string) (time.Time, error) {
	for _, f := range []string{time.RFC3339Nano, keyDateFormat} {
		if t, err := time.Parse(f, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unable to parse date value: %s", s)
}

// gunzip inflates the first gzip member of b.
func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	return io.ReadAll(zr)
}

// validDigest counts and prints a valid digest, then checks its log files.
func (w *walker) validDigest(ctx context.Context, doc *digest.Document, backfill bool) error {
	s := doc.DigestStartTime
	if s.Before(w.opts.StartTime) {
		s = w.opts.StartTime
	}
	if w.res.FoundStart.IsZero() || s.Before(w.res.FoundStart) {
		w.res.FoundStart = s
	}
	e := doc.DigestEndTime
	if e.After(w.opts.EndTime) {
		e = w.opts.EndTime
	}
	if w.res.FoundEnd.IsZero() || e.After(w.res.FoundEnd) {
		w.res.FoundEnd = e
	}
	tag := ""
	if backfill {
		w.res.ValidBackfillDigests++
		tag = "(backfill) "
	} else {
		w.res.ValidDigests++
	}
	w.rep.status(fmt.Sprintf("%sDigest file\ts3://%s/%s\tvalid", tag, doc.DigestS3Bucket, doc.DigestS3Object), false)
	for _, lf := range doc.LogFiles {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.checkLog(ctx, lf); err != nil {
			return err
		}
	}
	return nil
}

// checkLog gets a log file, hashes its uncompressed content and compares
// the hash with the digest's.
func (w *walker) checkLog(ctx context.Context, lf digest.LogFile) error {
	where := "Log file\ts3://" + lf.S3Bucket + "/" + lf.S3Object + "\t"
	obj, err := w.objects.Get(ctx, lf.S3Bucket, lf.S3Object)
	switch {
	case errors.Is(err, ErrNotFound):
		w.res.InvalidLogs++
		w.rep.status(where+"INVALID: not found", true)
		return nil
	case err != nil:
		return fmt.Errorf("get s3://%s/%s: %w", lf.S3Bucket, lf.S3Object, err)
	}
	defer obj.Body.Close()
	h := sha256.New()
	err = gunzipTo(h, obj.Body)
	switch {
	case err != nil:
		// Like the CLI's streaming inflater, a truncated stream is hashed as
		// far as it goes; any other failure is a format error.
		w.res.InvalidLogs++
		w.rep.status(where+"INVALID: invalid format", true)
	case hex.EncodeToString(h.Sum(nil)) != lf.HashValue:
		w.res.InvalidLogs++
		w.rep.status(where+"INVALID: hash value doesn't match", true)
	default:
		w.res.ValidLogs++
		w.rep.status(where+"valid", false)
	}
	return nil
}

// gunzipTo writes the inflated first gzip member of r to dst. An empty or
// truncated stream is not an error: what was inflated is written.
func gunzipTo(dst io.Writer, r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	if err != nil {
		return err
	}
	zr.Multistream(false)
	if _, err := io.Copy(dst, zr); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	return nil
}

func (w *walker) summary() {
	out := w.opts.Stdout
	if !w.rep.lastDouble {
		w.rep.printf(out, "\n")
	}
	w.rep.printf(out, "Results requested for %s to %s\n", display(w.opts.StartTime), display(w.opts.EndTime))
	r := w.res
	valid := r.ValidDigests + r.ValidBackfillDigests
	invalid := r.InvalidDigests + r.InvalidBackfillDigests
	if valid == 0 && invalid == 0 {
		w.rep.printf(out, "No digests found\n")
		return
	}
	if r.FoundStart.IsZero() || r.FoundEnd.IsZero() {
		w.rep.printf(out, "No valid digests found in range\n")
	} else {
		w.rep.printf(out, "Results found for %s to %s:\n", display(r.FoundStart), display(r.FoundEnd))
	}
	w.ratio(r.ValidDigests, r.InvalidDigests, "digest")
	w.ratio(r.ValidBackfillDigests, r.InvalidBackfillDigests, "backfill digest")
	w.ratio(r.ValidLogs, r.InvalidLogs, "log")
	w.rep.printf(out, "\n")
}

func (w *walker) ratio(valid, invalid int, name string) {
	total := valid + invalid
	if total == 0 {
		return
	}
	w.rep.printf(w.opts.Stdout, "\n%d/%d %s files valid", valid, total, name)
	if invalid > 0 {
		w.rep.printf(w.opts.Stdout, ", %d/%d %s files INVALID", invalid, total, name)
	}
}

// reporter writes status lines with the CLI's spacing: an error line is
// followed by a blank line, and preceded by one unless the last thing
// written already ended with one.
type reporter struct {
	out, err   io.Writer
	verbose    bool
	lastDouble bool
	werr       error
}

func (r *reporter) printf(w io.Writer, format string, a ...any) {
	if _, err := fmt.Fprintf(w, format, a...); err != nil && r.werr == nil {
		r.werr = fmt.Errorf("write report: %w", err)
	}
}

func (r *reporter) status(msg string, isErr bool) {
	switch {
	case isErr && r.lastDouble:
		r.printf(r.err, "%s\n\n", msg)
		r.lastDouble = true
	case isErr:
		r.printf(r.err, "\n%s\n\n", msg)
		r.lastDouble = true
	case r.verbose:
		r.lastDouble = false
		r.printf(r.out, "%s\n", msg)
	}
}
