package importer

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNum(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := num(n); got != want {
			t.Errorf("num(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestSizeString(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 5380594: "5.4 MB", 3 << 40: "3.3 TB"} {
		if got := sizeString(n); got != want {
			t.Errorf("sizeString(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestReasonGroup(t *testing.T) {
	tests := map[string]string{
		"eventTime: missing; every CloudTrail record has an eventTime":   "eventTime: missing; every CloudTrail record has an eventTime",
		`awsRegion: "Mars-1" is not a region name (lowercase letters)`:   `awsRegion: "…" is not a region name (lowercase letters)`,
		`eventTime: "a \"quoted\" time" is not an ISO 8601 time`:         `eventTime: "…" is not an ISO 8601 time`,
		`recipientAccountId: "12" is not a 12-digit account id, nor "x"`: `recipientAccountId: "…" is not a 12-digit account id, nor "…"`,
		`unbalanced "quote`: `unbalanced "quote`,
		"malformed JSON: invalid character 'x' looking for beginning of value": "malformed JSON: invalid character 'x' looking for beginning of value",
	}
	for in, want := range tests {
		if got := reasonGroup(in); got != want {
			t.Errorf("reasonGroup(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRejectionsKeepFirstExamples(t *testing.T) {
	var rs rejections
	// Added out of order, as parallel workers would.
	for _, order := range []int{5, 3, 9, 0, 7, 1, 8, 2, 6, 4} {
		for idx := 1; idx >= 0; idx-- { // parsers may report a file's records out of order
			rs.add(order, Rejection{File: fmt.Sprintf("f%d", order), Index: idx, Reason: fmt.Sprintf(`awsRegion: "r%d" is bad`, order)})
		}
	}
	rs.add(0, Rejection{File: "f0", Index: 7, Reason: "eventID: missing"})
	got := rs.list()
	want := []RejectReason{
		{Reason: `awsRegion: "…" is bad`, Count: 20, Files: 10, Examples: []Rejection{
			{File: "f0", Index: 0, Reason: `awsRegion: "r0" is bad`},
			{File: "f1", Index: 0, Reason: `awsRegion: "r1" is bad`},
			{File: "f2", Index: 0, Reason: `awsRegion: "r2" is bad`},
			{File: "f3", Index: 0, Reason: `awsRegion: "r3" is bad`},
			{File: "f4", Index: 0, Reason: `awsRegion: "r4" is bad`},
		}},
		{Reason: "eventID: missing", Count: 1, Files: 1, Examples: []Rejection{{File: "f0", Index: 7, Reason: "eventID: missing"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
}

func TestPrint(t *testing.T) {
	s := Summary{
		Files: 393, Bytes: 5380594, Events: 3699, Imported: 3214, Duplicates: 1, Rejected: 484,
		Rejections: []RejectReason{
			{Reason: missingTime, Count: 484, Files: 2, Examples: []Rejection{
				{File: "otrf/x.json", Index: 0, Line: 1, Reason: missingTime},
				{File: "td/events-metadata.json", Index: 0, Line: 2, Reason: missingTime},
			}},
			{Reason: `awsRegion: "…" is not a region name`, Count: 1, Files: 1, Examples: []Rejection{
				{File: "td/a.json", Index: 3, Line: 40, Reason: `awsRegion: "Mars" is not a region name`},
			}},
		},
		Skipped:         []SkippedFile{{Path: "README.md", Reason: `not CloudTrail JSON: content starts with "# Real"`}},
		Failed:          []SkippedFile{{Path: "bad.json.gz", Reason: "read: gzip: invalid checksum (after 12 records)"}},
		NewAccounts:     []string{"111111111111", "123837392027"},
		CredentialsPath: "/var/lib/opentrail/credentials",
		ServerURL:       "http://127.0.0.1:4750",
		Elapsed:         1500 * time.Millisecond,
	}
	var buf bytes.Buffer
	s.Print(&buf)
	want := `Imported 3,214 events from 393 files in 1.5s (5.4 MB read).
  read            3,699
  imported        3,214
  duplicates          1  (already stored, or repeated in the input)
  rejected          484
  rate            2,466 events/s

Rejected records, by reason:
  484  eventTime: missing; every CloudTrail record has an eventTime
         otrf/x.json:1 (record 1)
         td/events-metadata.json:2 (record 1)
         and 482 more, in 2 files in all
    1  awsRegion: "…" is not a region name
         td/a.json:40 (record 4): awsRegion: "Mars" is not a region name

Skipped 1 file:
  README.md: not CloudTrail JSON: content starts with "# Real"

Failed 1 file:
  bad.json.gz: read: gzip: invalid checksum (after 12 records)

New accounts: 111111111111, 123837392027
  Their access keys are in /var/lib/opentrail/credentials, one profile per account, named after the account id.
  With 'opentrail serve' running on this data directory, list an account's events
  (with the server's address, by default http://127.0.0.1:4750; --region for a Region other than the profile's):
    AWS_SHARED_CREDENTIALS_FILE=/var/lib/opentrail/credentials aws --endpoint-url http://127.0.0.1:4750 --profile 111111111111 cloudtrail lookup-events
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("Print (-want +got):\n%s", diff)
	}
}

// The hint for new accounts is a command that works as printed: the
// credentials file and the endpoint are in it, the path quoted for the
// shell when it needs to be.
func TestPrintNewAccountHint(t *testing.T) {
	tests := []struct {
		name      string
		accounts  []string
		creds     string
		url       string
		wantLines []string
	}{
		{
			name:     "one account",
			accounts: []string{"210987654321"},
			creds:    "/data/credentials",
			url:      "http://127.0.0.1:4750",
			wantLines: []string{
				"New account: 210987654321",
				"  Its access key is in /data/credentials, in a profile named after the account id.",
				"    AWS_SHARED_CREDENTIALS_FILE=/data/credentials aws --endpoint-url http://127.0.0.1:4750 --profile 210987654321 cloudtrail lookup-events",
			},
		},
		{
			name:     "path with spaces and a quote",
			accounts: []string{"210987654321"},
			creds:    "/home/ann/my data/it's/credentials",
			url:      "http://127.0.0.1:4750",
			wantLines: []string{
				`    AWS_SHARED_CREDENTIALS_FILE='/home/ann/my data/it'\''s/credentials' aws --endpoint-url http://127.0.0.1:4750 --profile 210987654321 cloudtrail lookup-events`,
			},
		},
		{
			name:     "no path or address known",
			accounts: []string{"210987654321", "310987654321"},
			wantLines: []string{
				"New accounts: 210987654321, 310987654321",
				"  Their access keys are in the credentials file, one profile per account, named after the account id.",
				"    aws --endpoint-url http://HOST:PORT --profile 210987654321 cloudtrail lookup-events",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			Summary{NewAccounts: tc.accounts, CredentialsPath: tc.creds, ServerURL: tc.url}.Print(&buf)
			lines := strings.Split(buf.String(), "\n")
			for _, want := range tc.wantLines {
				if !slices.Contains(lines, want) {
					t.Errorf("no line %q in:\n%s", want, buf.String())
				}
			}
		})
	}
}

// shellQuote's output, given to a real shell, is the string itself.
func TestShellQuote(t *testing.T) {
	for _, s := range []string{"/plain/path", "", "a b", "it's", `$HOME`, "`x`", "a\nb", `back\slash`, "semi;colon", "*"} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if string(out) != s {
			t.Errorf("shellQuote(%q) = %s; the shell read it as %q", s, shellQuote(s), out)
		}
	}
}
