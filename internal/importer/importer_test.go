package importer

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/klauspost/compress/gzip"
	"go.uber.org/goleak"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeStore is an in-memory Appender that skips duplicate eventIDs per
// account and region, within a call too.
type fakeStore struct {
	mu     sync.Mutex
	ids    map[string]bool
	events []event.Event
	calls  int
	// before, if set, runs at the start of every call and may fail it.
	before func(call int) error
}

var _ Appender = (*fakeStore)(nil)

func (f *fakeStore) Append(ctx context.Context, evs []event.Event, opt store.AppendOptions) (store.AppendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.before != nil {
		if err := f.before(f.calls); err != nil {
			return store.AppendResult{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return store.AppendResult{}, err
	}
	if f.ids == nil {
		f.ids = map[string]bool{}
	}
	var res store.AppendResult
	for i, ev := range evs {
		k := ev.Account + "/" + ev.Region + "/" + ev.EventID
		if opt.SkipDuplicates && f.ids[k] {
			res.Duplicates = append(res.Duplicates, i)
			continue
		}
		f.ids[k] = true
		f.events = append(f.events, ev)
		res.Appended++
	}
	return res, nil
}

func (f *fakeStore) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

// fakeAccounts records EnsureAccount calls.
type fakeAccounts struct {
	mu    sync.Mutex
	known map[string]bool
	calls []string
}

var _ Accounts = (*fakeAccounts)(nil)

func (f *fakeAccounts) EnsureAccount(_ context.Context, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, id)
	if f.known == nil {
		f.known = map[string]bool{}
	}
	if f.known[id] {
		return false, nil
	}
	f.known[id] = true
	return true, nil
}

// counts is the part of a Summary most tests check.
type summaryCounts struct {
	Files, Events, Imported, Duplicates, Rejected int
	NewAccounts                                   []string
	Skipped, Failed                               []string
	Reasons                                       map[string]int
}

func countsOf(s Summary) summaryCounts {
	c := summaryCounts{Files: s.Files, Events: s.Events, Imported: s.Imported, Duplicates: s.Duplicates,
		Rejected: s.Rejected, NewAccounts: s.NewAccounts, Reasons: map[string]int{}}
	for _, f := range s.Skipped {
		c.Skipped = append(c.Skipped, filepath.ToSlash(f.Path))
	}
	for _, f := range s.Failed {
		c.Failed = append(c.Failed, filepath.ToSlash(f.Path))
	}
	for _, r := range s.Rejections {
		c.Reasons[r.Reason] = r.Count
	}
	return c
}

const (
	missingTime = "eventTime: missing; every CloudTrail record has an eventTime"
	// The otrf records were reshaped by Logstash; the reason says so.
	missingTimeLogstash = missingTime + " (the record has Logstash's @timestamp instead: it was reshaped on its way here; import the original CloudTrail files)"
)

func TestImportTestdata(t *testing.T) {
	dir := testenv.CloudTrailData(t)
	st, acc := &fakeStore{}, &fakeAccounts{}
	opts := Options{Appender: st, Accounts: acc, Workers: 4, BatchSize: 100, CredentialsPath: "/var/lib/opentrail/credentials"}
	s, err := Run(t.Context(), []string{dir}, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	rel := func(p string) string { return filepath.ToSlash(filepath.Join(dir, p)) }
	want := summaryCounts{
		Files:       55 + 336 + 1 + 1,
		Events:      2900 + 315 + 381 + 103,
		Imported:    2900 + 314,
		Duplicates:  1,
		Rejected:    381 + 103,
		NewAccounts: []string{"111111111111", "123837392027"},
		Skipped: []string{
			rel("README.md"),
			rel("invictus-ir-aws-dataset/LICENSE"), rel("invictus-ir-aws-dataset/SOURCE.md"),
			rel("otrf-security-datasets/LICENSE"), rel("otrf-security-datasets/SOURCE.md"),
			rel("traildiscover/LICENSE"), rel("traildiscover/SOURCE.md"),
		},
		Reasons: map[string]int{missingTime: 381, missingTimeLogstash: 103},
	}
	if diff := cmp.Diff(want, countsOf(s), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if st.len() != s.Imported {
		t.Errorf("store holds %d events, summary says %d imported", st.len(), s.Imported)
	}
	var size int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			fi, _ := d.Info()
			size += fi.Size()
		}
		return err
	})
	if s.Bytes != size {
		t.Errorf("Bytes = %d, want the size of the test data, %d", s.Bytes, size)
	}
	// Reasons come most frequent first, each with its first example: the
	// 381 events-metadata.json records, then the 103 Logstash-reshaped otrf
	// lines.
	if len(s.Rejections) != 2 {
		t.Fatalf("rejections = %+v", s.Rejections)
	}
	ex0, ex1 := s.Rejections[0].Examples, s.Rejections[1].Examples
	if len(ex0) != 1 || !strings.HasSuffix(ex0[0].File, "events-metadata.json") || ex0[0].Index != 0 ||
		len(ex1) != 1 || !strings.Contains(ex1[0].File, "otrf-security-datasets") || ex1[0].Line != 1 {
		t.Errorf("examples = %+v / %+v, want the first record of events-metadata.json, then of otrf", ex0, ex1)
	}
	var out bytes.Buffer
	s.Print(&out)
	for _, want := range []string{"Imported 3,214 events from 393 files", "381  " + missingTime, "103  " + missingTimeLogstash,
		"README.md: not CloudTrail JSON", "New accounts: 111111111111, 123837392027", "/var/lib/opentrail/credentials"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Print output lacks %q:\n%s", want, out.String())
		}
	}

	// Again: everything is a duplicate, no account is new.
	s2, err := Run(t.Context(), []string{dir}, opts)
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
	want.Imported, want.Duplicates, want.NewAccounts = 0, 2900+315, nil
	if diff := cmp.Diff(want, countsOf(s2), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("second summary (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"111111111111", "111111111111", "123837392027", "123837392027"}, slices.Sorted(slices.Values(acc.calls))); diff != "" {
		t.Errorf("EnsureAccount calls, once per account and run (-want +got):\n%s", diff)
	}
}

func TestImportDatasets(t *testing.T) {
	dir := testenv.CloudTrailData(t)
	tests := []struct {
		name string
		path string
		want summaryCounts
	}{
		{
			name: "invictus",
			path: "invictus-ir-aws-dataset",
			want: summaryCounts{Files: 55, Events: 2900, Imported: 2900, NewAccounts: []string{"123837392027"},
				Skipped: []string{"invictus-ir-aws-dataset/LICENSE", "invictus-ir-aws-dataset/SOURCE.md"}},
		},
		{
			name: "traildiscover events",
			path: "traildiscover/events",
			want: summaryCounts{Files: 336, Events: 315, Imported: 314, Duplicates: 1, NewAccounts: []string{"111111111111"}},
		},
		{
			name: "otrf",
			path: "otrf-security-datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
			want: summaryCounts{Files: 1, Events: 103, Rejected: 103, Reasons: map[string]int{missingTimeLogstash: 103}},
		},
		{
			name: "event metadata",
			path: "traildiscover/events-metadata.json",
			want: summaryCounts{Files: 1, Events: 381, Rejected: 381, Reasons: map[string]int{missingTime: 381}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Run(t.Context(), []string{filepath.Join(dir, tt.path)}, Options{Appender: &fakeStore{}, Accounts: &fakeAccounts{}})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := countsOf(s)
			for i, p := range got.Skipped {
				got.Skipped[i] = strings.TrimPrefix(p, filepath.ToSlash(dir)+"/")
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
		})
	}
}

func writeGzip(t *testing.T, path string, content []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(content)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// invictusFile returns one invictus log file and its record count.
func invictusFile(t *testing.T) ([]byte, int) {
	t.Helper()
	name := "218007301253_CloudTrail_us-east-1_20230710T1145Z_7xgocspSowgK0Gto.json"
	b, err := os.ReadFile(filepath.Join(testenv.CloudTrailData(t), "invictus-ir-aws-dataset", name))
	if err != nil {
		t.Fatal(err)
	}
	return b, bytes.Count(b, []byte(`"eventVersion"`))
}

func TestImportAWSLogsTree(t *testing.T) {
	content, n := invictusFile(t)
	root := t.TempDir()
	logs := filepath.Join(root, "AWSLogs", "123837392027")
	writeGzip(t, filepath.Join(logs, "CloudTrail", "us-east-1", "2023", "07", "10",
		"123837392027_CloudTrail_us-east-1_20230710T1145Z_7xgocspSowgK0Gto.json.gz"), content)
	digest := filepath.Join(logs, "CloudTrail-Digest", "us-east-1", "2023", "07", "10",
		"123837392027_CloudTrail-Digest_us-east-1_trail_us-east-1_20230710T120000Z.json.gz")
	writeGzip(t, digest, []byte(`{"awsAccountId":"123837392027","logFiles":[]}`))
	writeFile(t, filepath.Join(root, "README.md"), "# my trail\n")
	writeFile(t, filepath.Join(root, ".DS_Store"), "\x00\x00\x00\x01Bud1")
	writeFile(t, filepath.Join(root, ".git", "HEAD"), "ref: refs/heads/main\n")
	writeFile(t, filepath.Join(root, "notes.txt.gz"), "") // empty, not gzip
	writeGzip(t, filepath.Join(root, "archive.tar.gz"), []byte("ustar\x00 not json"))

	var progress bytes.Buffer
	st := &fakeStore{}
	s, err := Run(t.Context(), []string{root}, Options{Appender: st, Accounts: &fakeAccounts{}, Progress: &progress})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := summaryCounts{
		Files: 1, Events: n, Imported: n, NewAccounts: []string{"123837392027"},
		Skipped: []string{filepath.ToSlash(digest), filepath.ToSlash(filepath.Join(root, "README.md")),
			filepath.ToSlash(filepath.Join(root, "archive.tar.gz")), filepath.ToSlash(filepath.Join(root, "notes.txt.gz"))},
	}
	if diff := cmp.Diff(want, countsOf(s), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if !strings.Contains(progress.String(), "100%  4/4 files") {
		t.Errorf("progress output lacks a final 100%% line:\n%s", progress.String())
	}
}

func TestImportExplicitFiles(t *testing.T) {
	dir := testenv.CloudTrailData(t)
	license := filepath.Join(dir, "invictus-ir-aws-dataset", "LICENSE")
	otrf := filepath.Join(dir, "otrf-security-datasets", "ec2_proxy_s3_exfiltration_2020-09-14011940.json")
	s, err := Run(t.Context(), []string{license, otrf, otrf}, Options{Appender: &fakeStore{}})
	if !errors.Is(err, ErrFailedFiles) {
		t.Fatalf("Run = %v, want ErrFailedFiles", err)
	}
	want := summaryCounts{Files: 1, Events: 103, Rejected: 103, Reasons: map[string]int{missingTimeLogstash: 103},
		Failed: []string{filepath.ToSlash(license)}}
	if diff := cmp.Diff(want, countsOf(s), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}

	_, err = Run(t.Context(), []string{filepath.Join(dir, "no-such-file.json")}, Options{Appender: &fakeStore{}})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Run(missing file) = %v, want fs.ErrNotExist", err)
	}
}

func TestImportMalformed(t *testing.T) {
	content, _ := invictusFile(t)
	recs := bytes.SplitN(content[len(`{"Records":[`):], []byte(`},{"eventVersion"`), 3)
	first := string(recs[0]) + "}"
	second := `{"eventVersion"` + string(recs[1]) + "}"
	dir := t.TempDir()
	path := filepath.Join(dir, "lines.json")
	writeFile(t, path, first+"\n"+`{"eventVersion":"1.08",`+"\n"+second+"\n"+`{"eventTime":"yesterday"}`+"\n")
	s, err := Run(t.Context(), []string{path}, Options{Appender: &fakeStore{}})
	if err != nil {
		t.Fatal(err)
	}
	want := summaryCounts{Files: 1, Events: 4, Imported: 2, Rejected: 2, NewAccounts: nil, Reasons: map[string]int{
		"malformed JSON: invalid character '{' looking for beginning of object key string": 1,
		`eventTime: "…" is not an ISO 8601 time like 2023-07-10T11:42:36Z`:                 1,
	}}
	if diff := cmp.Diff(want, countsOf(s), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	for _, r := range s.Rejections {
		if strings.HasPrefix(r.Reason, "eventTime") {
			ex := r.Examples[0]
			if ex.Reason != `eventTime: "yesterday" is not an ISO 8601 time like 2023-07-10T11:42:36Z` || ex.Line != 4 || ex.Index != 3 {
				t.Errorf("example = %+v", ex)
			}
		}
	}
}

func TestImportRetention(t *testing.T) {
	dir := filepath.Join(testenv.CloudTrailData(t), "invictus-ir-aws-dataset")
	eventDay := time.Date(2023, 7, 10, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name     string
		now      time.Time
		imported int
	}{
		{"within", eventDay.AddDate(0, 0, 89), 2900},
		{"beyond", eventDay.AddDate(0, 0, 92), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Run(t.Context(), []string{dir}, Options{Appender: &fakeStore{}, Retention: 90 * 24 * time.Hour,
				Now: func() time.Time { return tt.now }})
			if err != nil {
				t.Fatal(err)
			}
			if s.Imported != tt.imported || s.Rejected != 2900-tt.imported {
				t.Errorf("imported %d, rejected %d; want %d imported", s.Imported, s.Rejected, tt.imported)
			}
			for _, r := range s.Rejections {
				want := "older than the 90 days event history retention; import with --event-history-retention 0 to keep every event"
				if r.Reason != want {
					t.Errorf("reason %q, want %q", r.Reason, want)
				}
			}
		})
	}
}

func TestImportCancelled(t *testing.T) {
	dir := filepath.Join(testenv.CloudTrailData(t), "invictus-ir-aws-dataset")

	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		st := &fakeStore{}
		s, err := Run(ctx, []string{dir}, Options{Appender: st})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		if !s.Interrupted || s.Imported != 0 || st.len() != 0 {
			t.Errorf("Interrupted %v, imported %d, stored %d; want true, 0, 0", s.Interrupted, s.Imported, st.len())
		}
	})
	t.Run("during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		st := &fakeStore{before: func(call int) error {
			if call == 3 {
				cancel()
			}
			return nil
		}}
		s, err := Run(ctx, []string{dir}, Options{Appender: st, BatchSize: 10, Workers: 2})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		if !s.Interrupted || s.Imported != st.len() || s.Imported != 20 {
			t.Errorf("Interrupted %v, imported %d, stored %d; want true, 20, 20", s.Interrupted, s.Imported, st.len())
		}
		var out bytes.Buffer
		s.Print(&out)
		if !strings.HasPrefix(out.String(), "Interrupted: imported 20 events") {
			t.Errorf("Print output:\n%s", out.String())
		}
	})
}

func TestImportAppendErrors(t *testing.T) {
	content, n := invictusFile(t)
	path := filepath.Join(t.TempDir(), "log.json")
	writeFile(t, path, string(content))

	t.Run("backpressure", func(t *testing.T) {
		st := &fakeStore{before: func(call int) error {
			if call == 1 {
				return store.ErrBackpressure
			}
			return nil
		}}
		s, err := Run(t.Context(), []string{path}, Options{Appender: st})
		if err != nil || s.Imported != n {
			t.Errorf("Run = %d imported, %v; want %d, nil", s.Imported, err, n)
		}
	})
	t.Run("failure", func(t *testing.T) {
		boom := errors.New("disk full")
		st := &fakeStore{before: func(int) error { return boom }}
		_, err := Run(t.Context(), []string{path}, Options{Appender: st})
		if !errors.Is(err, boom) {
			t.Errorf("Run = %v, want %v", err, boom)
		}
	})
	t.Run("accounts", func(t *testing.T) {
		boom := errors.New("credentials file is read-only")
		_, err := Run(t.Context(), []string{path}, Options{Appender: &fakeStore{}, Accounts: failingAccounts{boom}})
		if !errors.Is(err, boom) {
			t.Errorf("Run = %v, want %v", err, boom)
		}
	})
}

type failingAccounts struct{ err error }

func (f failingAccounts) EnsureAccount(context.Context, string) (bool, error) { return false, f.err }
