package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/testenv"
)

// realRecord is one record from the repository's corpus of real CloudTrail
// records (testdata/cloudtrail; see its README.md).
type realRecord struct {
	set  string // invictus, traildiscover or otrf
	name string // file (relative to the set) and index, for messages
	raw  []byte // the record as it appears in the file
}

// loadReal reads every record of the corpus in corpus, the directory
// testenv.CloudTrailData returns.
func loadReal(corpus string) ([]realRecord, error) {
	var out []realRecord
	add := func(set, dir, pattern string, split func([]byte) ([]json.RawMessage, error)) error {
		root := filepath.Join(corpus, dir)
		return filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if ok, _ := filepath.Match(pattern, d.Name()); !ok {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			recs, err := split(b)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			rel, _ := filepath.Rel(root, path)
			for i, r := range recs {
				out = append(out, realRecord{set: set, name: fmt.Sprintf("%s/%s#%d", set, rel, i), raw: r})
			}
			return nil
		})
	}
	logFile := func(b []byte) ([]json.RawMessage, error) {
		var f struct{ Records []json.RawMessage }
		err := json.Unmarshal(b, &f)
		return f.Records, err
	}
	arrayOrObject := func(b []byte) ([]json.RawMessage, error) {
		b = bytes.TrimSpace(b)
		if len(b) > 0 && b[0] == '{' {
			return []json.RawMessage{b}, nil
		}
		var recs []json.RawMessage
		err := json.Unmarshal(b, &recs)
		return recs, err
	}
	jsonLines := func(b []byte) ([]json.RawMessage, error) {
		var recs []json.RawMessage
		for line := range bytes.Lines(b) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				recs = append(recs, line)
			}
		}
		return recs, nil
	}
	if err := add("invictus", "invictus-ir-aws-dataset", "*.json", logFile); err != nil {
		return nil, err
	}
	if err := add("traildiscover", "traildiscover/events", "*.json.cloudtrail", arrayOrObject); err != nil {
		return nil, err
	}
	if err := add("otrf", "otrf-security-datasets", "*.json", jsonLines); err != nil {
		return nil, err
	}
	return out, nil
}

var (
	realOnce sync.Once
	realRecs []realRecord
	realErr  error
)

// realRecords returns the corpus, read once per test binary; the test fails
// when the corpus is missing.
func realRecords(tb testing.TB) []realRecord {
	tb.Helper()
	corpus := testenv.CloudTrailData(tb)
	realOnce.Do(func() { realRecs, realErr = loadReal(corpus) })
	recs, err := realRecs, realErr
	if err != nil {
		tb.Fatal(err)
	}
	return recs
}

// realSet returns the records of one set of the corpus.
func realSet(tb testing.TB, set string) []realRecord {
	tb.Helper()
	var out []realRecord
	for _, r := range realRecords(tb) {
		if r.set == set {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		tb.Fatalf("no records in set %s", set)
	}
	return out
}

// findReal returns the first record whose compact JSON contains every one
// of the substrings.
func findReal(tb testing.TB, set string, substrings ...string) realRecord {
	tb.Helper()
	for _, r := range realSet(tb, set) {
		var compact bytes.Buffer
		if err := json.Compact(&compact, r.raw); err != nil {
			tb.Fatalf("%s: %v", r.name, err)
		}
		if !slices.ContainsFunc(substrings, func(s string) bool { return !bytes.Contains(compact.Bytes(), []byte(s)) }) {
			return r
		}
	}
	tb.Fatalf("no %s record contains %s", set, strings.Join(substrings, ", "))
	return realRecord{}
}

func TestRealRecordsLoaded(t *testing.T) {
	counts := map[string]int{}
	for _, r := range realRecords(t) {
		counts[r.set]++
	}
	// The counts the corpus README states.
	want := map[string]int{"invictus": 2900, "traildiscover": 315, "otrf": 103}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("records per set (-want +got):\n%s", diff)
	}
}

// jsonValue decodes b to a generic value, keeping numbers as written, for
// comparing JSON documents regardless of member order.
func jsonValue(tb testing.TB, b []byte) any {
	tb.Helper()
	v, err := decodeAny(b)
	if err != nil {
		tb.Fatalf("decode %s: %v", b, err)
	}
	return v
}
