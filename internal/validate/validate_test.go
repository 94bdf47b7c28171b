package validate_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/validate"
)

// Transcript pieces in the CLI's words.
func header(start, end time.Time) string {
	return "Validating log files for trail " + arn + " between " + start.Format(validate.DisplayTimeFormat) +
		" and " + end.Format(validate.DisplayTimeFormat) + "\n\n"
}

func validDigest(e entry) string { return "Digest file\t" + e.url() + "\tvalid\n" }

// validLogs lists e's log files as valid, except those in skip.
func validLogs(e entry, skip ...int) string {
	var b strings.Builder
	for i := range e.doc.LogFiles {
		if !containsInt(skip, i) {
			b.WriteString("Log file\t" + e.logURL(i) + "\tvalid\n")
		}
	}
	return b.String()
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// errLine is an error status written after a valid line (verbose).
func errLine(s string) string { return "\n" + s + "\n\n" }

func requested(start, end time.Time) string {
	return "Results requested for " + start.Format(validate.DisplayTimeFormat) + " to " + end.Format(validate.DisplayTimeFormat) + "\n"
}

func found(start, end time.Time) string {
	return "Results found for " + start.Format(validate.DisplayTimeFormat) + " to " + end.Format(validate.DisplayTimeFormat) + ":\n"
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func h(n int) time.Duration { return time.Duration(n) * time.Hour }

// scenario is what a test case sets up and expects.
type scenario struct {
	bucket     string
	start, end time.Time
	// want is the transcript: stdout and stderr written to one buffer, as a
	// terminal shows them (Verbose on).
	want string
	res  validate.Result
}

func TestRun(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture) scenario
	}{
		{"all valid", func(t *testing.T, f *fixture) scenario {
			c := f.chain("b1", t0.Add(h(1)), 3, 2)
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(3)),
				want: header(t0, t0.Add(h(3))) +
					validDigest(c[2]) + validLogs(c[2]) + validDigest(c[1]) + validLogs(c[1]) + validDigest(c[0]) + validLogs(c[0]) +
					"\n" + requested(t0, t0.Add(h(3))) + found(t0, t0.Add(h(3))) +
					"\n3/3 digest files valid\n6/6 log files valid\n",
				res: validate.Result{ValidDigests: 3, ValidLogs: 6, FoundStart: t0, FoundEnd: t0.Add(h(3))},
			}
		}},
		{"tampered log file", func(t *testing.T, f *fixture) scenario {
			c := f.chain("b1", t0.Add(h(1)), 3, 2)
			lf := c[1].doc.LogFiles[0]
			f.store.put(lf.S3Bucket, lf.S3Object, gzipBytes(t, []byte(`{"Records":[]}`)), nil)
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(3)),
				want: header(t0, t0.Add(h(3))) +
					validDigest(c[2]) + validLogs(c[2]) + validDigest(c[1]) +
					errLine("Log file\t"+c[1].logURL(0)+"\tINVALID: hash value doesn't match") +
					validLogs(c[1], 0) + validDigest(c[0]) + validLogs(c[0]) +
					"\n" + requested(t0, t0.Add(h(3))) + found(t0, t0.Add(h(3))) +
					"\n3/3 digest files valid\n5/6 log files valid, 1/6 log files INVALID\n",
				res: validate.Result{ValidDigests: 3, ValidLogs: 5, InvalidLogs: 1, FoundStart: t0, FoundEnd: t0.Add(h(3))},
			}
		}},
		{"deleted log file", func(t *testing.T, f *fixture) scenario {
			c := f.chain("b1", t0.Add(h(1)), 2, 2)
			lf := c[1].doc.LogFiles[1]
			f.store.remove(lf.S3Bucket, lf.S3Object)
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(2)),
				want: header(t0, t0.Add(h(2))) +
					validDigest(c[1]) + validLogs(c[1], 1) +
					errLine("Log file\t"+c[1].logURL(1)+"\tINVALID: not found") +
					validDigest(c[0]) + validLogs(c[0]) +
					"\n" + requested(t0, t0.Add(h(2))) + found(t0, t0.Add(h(2))) +
					"\n2/2 digest files valid\n3/4 log files valid, 1/4 log files INVALID\n",
				res: validate.Result{ValidDigests: 2, ValidLogs: 3, InvalidLogs: 1, FoundStart: t0, FoundEnd: t0.Add(h(2))},
			}
		}},
		{"log file not gzipped", func(t *testing.T, f *fixture) scenario {
			c := f.chain("b1", t0.Add(h(1)), 1, 1)
			lf := c[0].doc.LogFiles[0]
			f.store.put(lf.S3Bucket, lf.S3Object, []byte(`{"Records":[]}`), nil)
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(1)),
				want: header(t0, t0.Add(h(1))) + validDigest(c[0]) +
					errLine("Log file\t"+c[0].logURL(0)+"\tINVALID: invalid format") +
					requested(t0, t0.Add(h(1))) + found(t0, t0.Add(h(1))) +
					"\n1/1 digest files valid\n0/1 log files valid, 1/1 log files INVALID\n",
				res: validate.Result{ValidDigests: 1, InvalidLogs: 1, FoundStart: t0, FoundEnd: t0.Add(h(1))},
			}
		}},
		{"altered digest", func(t *testing.T, f *fixture) scenario {
			c := f.chain("b1", t0.Add(h(1)), 3, 1)
			// Change one byte of the JSON, keep the signature metadata.
			raw := bytes.Replace(c[1].sealed.Raw, []byte(`"awsAccountId":"111122223333"`), []byte(`"awsAccountId":"111122223334"`), 1)
			o, _ := f.store.obj("b1", c[1].key)
			f.store.put("b1", c[1].key, gzipBytes(t, raw), o.meta)
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(3)),
				want: header(t0, t0.Add(h(3))) + validDigest(c[2]) + validLogs(c[2]) +
					errLine("Digest file\t"+c[1].url()+"\tINVALID: signature verification failed") +
					validDigest(c[0]) + validLogs(c[0]) +
					"\n" + requested(t0, t0.Add(h(3))) + found(t0, t0.Add(h(3))) +
					"\n2/3 digest files valid, 1/3 digest files INVALID\n2/2 log files valid\n",
				res: validate.Result{ValidDigests: 2, InvalidDigests: 1, ValidLogs: 2, FoundStart: t0, FoundEnd: t0.Add(h(3))},
			}
		}},
		{"digest moved", func(t *testing.T, f *fixture) scenario {
			c := f.chain("b1", t0.Add(h(1)), 2, 0)
			// The newest digest copied one second later and deleted.
			o, _ := f.store.obj("b1", c[1].key)
			moved := f.digestKey(t0.Add(h(2)+time.Second), false)
			f.store.put("b1", moved, o.body, o.meta)
			f.store.remove("b1", c[1].key)
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(2)),
				want: header(t0, t0.Add(h(2))) +
					"Digest file\ts3://b1/" + moved + "\tINVALID: has been moved from its original location\n\n" +
					validDigest(c[0]) +
					"\n" + requested(t0, t0.Add(h(2))) + found(t0, t0.Add(h(1))) +
					"\n1/2 digest files valid, 1/2 digest files INVALID\n",
				res: validate.Result{ValidDigests: 1, InvalidDigests: 1, FoundStart: t0, FoundEnd: t0.Add(h(1))},
			}
		}},
		{"digest deleted", func(t *testing.T, f *fixture) scenario {
			c := f.chain("b1", t0.Add(h(1)), 3, 0)
			f.store.remove("b1", c[1].key)
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(3)),
				want: header(t0, t0.Add(h(3))) + validDigest(c[2]) +
					errLine("Digest file\t"+c[1].url()+"\tINVALID: not found") +
					validDigest(c[0]) +
					"\n" + requested(t0, t0.Add(h(3))) + found(t0, t0.Add(h(3))) +
					"\n2/3 digest files valid, 1/3 digest files INVALID\n",
				res: validate.Result{ValidDigests: 2, InvalidDigests: 1, FoundStart: t0, FoundEnd: t0.Add(h(3))},
			}
		}},
		{"unknown fingerprint", func(t *testing.T, f *fixture) scenario {
			d := f.add("b1", t0.Add(h(1)), digestOpts{logs: 1, signer: f.other})
			fp := d.doc.DigestPublicKeyFingerprint
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(1)),
				want: header(t0, t0.Add(h(1))) +
					"Digest file\t" + d.url() + "\tINVALID: public key not found in region us-east-1 for fingerprint " + fp + "\n\n" +
					requested(t0, t0.Add(h(1))) + "No valid digests found in range\n" +
					"\n0/1 digest files valid, 1/1 digest files INVALID\n",
				res: validate.Result{InvalidDigests: 1},
			}
		}},
		{"gap in the chain", func(t *testing.T, f *fixture) scenario {
			old := f.chain("b1", t0.Add(h(1)), 2, 1)   // ends 01:00, 02:00
			fresh := f.chain("b1", t0.Add(h(5)), 2, 0) // ends 05:00 (starting), 06:00
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(6)),
				want: header(t0, t0.Add(h(6))) + validDigest(fresh[1]) + validDigest(fresh[0]) +
					errLine("No log files were delivered by CloudTrail between 2026-01-01T02:00:00Z and 2026-01-01T04:00:00Z") +
					validDigest(old[1]) + validLogs(old[1]) + validDigest(old[0]) + validLogs(old[0]) +
					"\n" + requested(t0, t0.Add(h(6))) + found(t0, t0.Add(h(6))) +
					"\n4/4 digest files valid\n2/2 log files valid\n",
				res: validate.Result{ValidDigests: 4, ValidLogs: 2, FoundStart: t0, FoundEnd: t0.Add(h(6))},
			}
		}},
		{"digest not gzipped", func(t *testing.T, f *fixture) scenario {
			c := f.chain("b1", t0.Add(h(1)), 2, 0)
			o, _ := f.store.obj("b1", c[1].key)
			f.store.put("b1", c[1].key, c[1].sealed.Raw, o.meta)
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(2)),
				want: header(t0, t0.Add(h(2))) +
					"Digest file\t" + c[1].url() + "\tINVALID: invalid format\n\n" + validDigest(c[0]) +
					"\n" + requested(t0, t0.Add(h(2))) + found(t0, t0.Add(h(1))) +
					"\n1/2 digest files valid, 1/2 digest files INVALID\n",
				res: validate.Result{ValidDigests: 1, InvalidDigests: 1, FoundStart: t0, FoundEnd: t0.Add(h(1))},
			}
		}},
		{"signature metadata missing", func(t *testing.T, f *fixture) scenario {
			c := f.chain("b1", t0.Add(h(1)), 1, 0)
			o, _ := f.store.obj("b1", c[0].key)
			// A store that capitalises the header (pitfall P1) loses it too.
			f.store.put("b1", c[0].key, o.body, map[string]string{"Signature": o.meta["signature"], "signature-algorithm": "SHA256withRSA"})
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(1)),
				want: header(t0, t0.Add(h(1))) +
					"Digest file\t" + c[0].url() + "\tINVALID: signature verification failed\n\n" +
					requested(t0, t0.Add(h(1))) + "No valid digests found in range\n" +
					"\n0/1 digest files valid, 1/1 digest files INVALID\n",
				res: validate.Result{InvalidDigests: 1},
			}
		}},
		{"bucket switch", func(t *testing.T, f *fixture) scenario {
			a := f.add("b0", t0.Add(h(1)), digestOpts{logs: 1})
			b := f.add("b1", t0.Add(h(2)), digestOpts{logs: 1, prev: &a})
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(2)),
				want: header(t0, t0.Add(h(2))) + validDigest(b) + validLogs(b) + validDigest(a) + validLogs(a) +
					"\n" + requested(t0, t0.Add(h(2))) + found(t0, t0.Add(h(2))) +
					"\n2/2 digest files valid\n2/2 log files valid\n",
				res: validate.Result{ValidDigests: 2, ValidLogs: 2, FoundStart: t0, FoundEnd: t0.Add(h(2))},
			}
		}},
		{"range inside the chain", func(t *testing.T, f *fixture) scenario {
			// Digests end 01:00..05:00; asking for 02:30..03:30 lists those
			// ending 03:00 and 04:00 (≥ start, ≤ end + 1h) and walks from
			// 04:00 to 03:00, whose start (02:00) is before 02:30: the walk
			// stops there.
			c := f.chain("b1", t0.Add(h(1)), 5, 0)
			start, end := t0.Add(150*time.Minute), t0.Add(210*time.Minute)
			return scenario{
				bucket: "b1", start: start, end: end,
				want: header(start, end) + validDigest(c[3]) + validDigest(c[2]) +
					"\n" + requested(start, end) + found(start, end) + "\n2/2 digest files valid\n",
				res: validate.Result{ValidDigests: 2, FoundStart: start, FoundEnd: end},
			}
		}},
		{"no digests", func(t *testing.T, f *fixture) scenario {
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(1)),
				want: header(t0, t0.Add(h(1))) + requested(t0, t0.Add(h(1))) + "No digests found\n",
			}
		}},
		{"backfill digests", func(t *testing.T, f *fixture) scenario {
			c := f.chain("b1", t0.Add(h(1)), 1, 1)
			bf := f.add("b1", t0.Add(h(1)), digestOpts{logs: 1, backfill: true})
			bad := f.add("b1", t0.Add(h(2)), digestOpts{backfill: true})
			o, _ := f.store.obj("b1", bad.key)
			delete(o.meta, validate.MetaBackfillTimestamp)
			f.store.put("b1", bad.key, o.body, o.meta)
			return scenario{
				bucket: "b1", start: t0, end: t0.Add(h(2)),
				want: header(t0, t0.Add(h(2))) + validDigest(c[0]) + validLogs(c[0]) +
					errLine("(backfill) Digest file\t"+bad.url()+"\tINVALID: invalid format") +
					"(backfill) " + validDigest(bf) + validLogs(bf) +
					"\n" + requested(t0, t0.Add(h(2))) + found(t0, t0.Add(h(1))) +
					"\n1/1 digest files valid\n1/2 backfill digest files valid, 1/2 backfill digest files INVALID\n2/2 log files valid\n",
				res: validate.Result{ValidDigests: 1, ValidBackfillDigests: 1, InvalidBackfillDigests: 1, ValidLogs: 2,
					FoundStart: t0, FoundEnd: t0.Add(h(1))},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			sc := tt.setup(t, f)
			var out bytes.Buffer
			res, err := validate.Run(t.Context(), f.store, f.keys, options(sc.bucket, sc.start, sc.end, &out, &out))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(sc.want, out.String()); diff != "" {
				t.Errorf("transcript (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(sc.res, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if res.OK() != (res.InvalidDigests+res.InvalidBackfillDigests+res.InvalidLogs == 0) {
				t.Errorf("OK() = %v for %+v", res.OK(), res)
			}
		})
	}
}

// Without --verbose, stdout has the header and summary only and stderr the
// INVALID lines, each followed by a blank line.
func TestRunQuietStreams(t *testing.T) {
	f := newFixture(t)
	c := f.chain("b1", t0.Add(h(1)), 3, 1)
	lf := c[0].doc.LogFiles[0]
	f.store.remove(lf.S3Bucket, lf.S3Object)
	f.store.remove("b1", c[1].key)
	var stdout, stderr bytes.Buffer
	o := options("b1", t0, t0.Add(h(3)), &stdout, &stderr)
	o.Verbose = false
	res, err := validate.Run(t.Context(), f.store, f.keys, o)
	if err != nil {
		t.Fatal(err)
	}
	wantOut := header(t0, t0.Add(h(3))) + requested(t0, t0.Add(h(3))) + found(t0, t0.Add(h(3))) +
		"\n2/3 digest files valid, 1/3 digest files INVALID\n1/2 log files valid, 1/2 log files INVALID\n"
	wantErr := "Digest file\t" + c[1].url() + "\tINVALID: not found\n\n" +
		"Log file\t" + c[0].logURL(0) + "\tINVALID: not found\n\n"
	if diff := cmp.Diff(wantOut, stdout.String()); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantErr, stderr.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if res.OK() {
		t.Error("OK() = true with invalid files")
	}
}

// The calls the CLI makes: one listing after the marker for start − 1 min,
// ListPublicKeys(start, end + 2h) once, digests newest first, each followed
// by its log files.
func TestRunCalls(t *testing.T) {
	f := newFixture(t)
	c := f.chain("b1", t0.Add(h(1)), 2, 1)
	f.chain("b1", t0.Add(h(9)), 1, 0) // later than end + 1h: not read
	end := t0.Add(h(2))
	if _, err := validate.Run(t.Context(), f.store, f.keys, options("b1", t0, end, nil, nil)); err != nil {
		t.Fatal(err)
	}
	wantGets := []string{
		"b1/" + c[1].key, "b1/" + c[1].doc.LogFiles[0].S3Object,
		"b1/" + c[0].key, "b1/" + c[0].doc.LogFiles[0].S3Object,
	}
	if diff := cmp.Diff(wantGets, f.store.gets); diff != "" {
		t.Errorf("gets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b1"}, f.store.lists); diff != "" {
		t.Errorf("lists (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][2]time.Time{{t0, end.Add(h(2))}}, f.keys.calls); diff != "" {
		t.Errorf("ListPublicKeys calls (-want +got):\n%s", diff)
	}
}

// Another trail's digests in the same prefix are not read.
func TestRunOtherTrailIgnored(t *testing.T) {
	f := newFixture(t)
	f.chain("b1", t0.Add(h(1)), 1, 0)
	o := options("b1", t0, t0.Add(h(1)), nil, nil)
	o.TrailName = "t2"
	res, err := validate.Run(t.Context(), f.store, f.keys, o)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(validate.Result{}, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}

func TestRunErrors(t *testing.T) {
	t.Run("no public keys", func(t *testing.T) {
		f := newFixture(t)
		f.keys.keys = nil
		_, err := validate.Run(t.Context(), f.store, f.keys, options("b1", t0, t0.Add(h(1)), nil, nil))
		if !errors.Is(err, validate.ErrNoPublicKeys) {
			t.Fatalf("err = %v, want ErrNoPublicKeys", err)
		}
		if want := "No public keys found between 2026-01-01T00:00:00Z and 2026-01-01T03:00:00Z"; !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q, want it to contain %q", err, want)
		}
	})
	t.Run("start after end", func(t *testing.T) {
		f := newFixture(t)
		_, err := validate.Run(t.Context(), f.store, f.keys, options("b1", t0.Add(h(1)), t0, nil, nil))
		if !errors.Is(err, validate.ErrOptions) || !strings.Contains(err.Error(), "start-time must occur before end-time") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("store failure stops the run", func(t *testing.T) {
		f := newFixture(t)
		f.chain("b1", t0.Add(h(1)), 1, 0)
		boom := errors.New("boom")
		_, err := validate.Run(t.Context(), failingGet{f.store, boom}, f.keys, options("b1", t0, t0.Add(h(1)), nil, nil))
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
	})
	t.Run("default end is now", func(t *testing.T) {
		f := newFixture(t)
		var out bytes.Buffer
		o := options("b1", t0, time.Time{}, &out, nil)
		o.Now = func() time.Time { return t0.Add(h(5)) }
		if _, err := validate.Run(t.Context(), f.store, f.keys, o); err != nil {
			t.Fatal(err)
		}
		if want := header(t0, t0.Add(h(5))); !strings.HasPrefix(out.String(), want) {
			t.Errorf("output %q does not start with %q", out.String(), want)
		}
	})
}

type failingGet struct {
	*memStore
	err error
}

func (s failingGet) Get(ctx context.Context, bucket, key string) (validate.Object, error) {
	return validate.Object{}, s.err
}
