package samples_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/lake/samples"
)

func TestCatalogue(t *testing.T) {
	qs, err := samples.Catalogue()
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 40 {
		t.Errorf("%d sample queries, want at least 40", len(qs))
	}
	for _, q := range qs {
		if !strings.HasPrefix(q.SQL, "SELECT") || strings.Count(q.SQL, samples.Placeholder) == 0 {
			t.Errorf("%s: SQL %q does not start with SELECT or name %s", q.Name, q.SQL, samples.Placeholder)
		}
		if strings.Contains(q.Description, "\n") {
			t.Errorf("%s: description holds a line break", q.Name)
		}
	}
}

func TestParse(t *testing.T) {
	const good = "preamble\n## One\n\nFirst line\nsecond line.\n\n```sql\nSELECT 1\nFROM $EDS_ID\n```\n\n## Two\nD.\n```sql\nSELECT * FROM $EDS_ID\n```\n"
	qs, err := samples.Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []samples.Query{
		{Name: "One", Description: "First line second line.", SQL: "SELECT 1\nFROM $EDS_ID"},
		{Name: "Two", Description: "D.", SQL: "SELECT * FROM $EDS_ID"},
	}
	if diff := cmp.Diff(want, qs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name, text string
		line       int
		msg        string
	}{
		{"no queries", "just text\n", 2, "no queries"},
		{"no fence", "## A\nd\n", 1, "no complete ```sql block"},
		{"unclosed fence", "## A\nd\n```sql\nSELECT 1 FROM $EDS_ID\n", 1, "no complete ```sql block"},
		{"no description", "## A\n```sql\nSELECT 1 FROM $EDS_ID\n```\n", 1, "no description"},
		{"empty SQL", "## A\nd\n```sql\n```\n", 5, "empty SQL"},
		{"no placeholder", "## A\nd\n```sql\nSELECT 1 FROM x\n```\n", 6, "does not name the store"},
		{"duplicate", "## A\nd\n```sql\nSELECT 1 FROM $EDS_ID\n```\n## A\nd\n```sql\nSELECT 1 FROM $EDS_ID\n```\n", 6, `"A" is also at line 1`},
		{"text after SQL", "## A\nd\n```sql\nSELECT 1 FROM $EDS_ID\n```\nmore\n", 6, "text after the SQL"},
		{"other fence", "## A\nd\n```\nSELECT 1 FROM $EDS_ID\n```\n", 3, "must open with ```sql"},
		{"empty name", "## \nd\n", 1, "empty query name"},
		{"long name", "## " + strings.Repeat("n", 101) + "\nd\n", 1, "at most 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := samples.Parse([]byte(tc.text))
			var pe *samples.ParseError
			if !errors.As(err, &pe) || pe.Line != tc.line || !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("Parse: %v, want line %d %q", err, tc.line, tc.msg)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("## A\nd\n```sql\nSELECT 1 FROM $EDS_ID\n```\n"))
	f.Add([]byte("x\n## A\r\nd\r\n```sql\r\nSELECT 1 FROM $EDS_ID\r\n```\r\n## B\n"))
	f.Add([]byte("## A\n```sql\n## B\n```\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		qs, err := samples.Parse(data)
		if err != nil {
			var pe *samples.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, q := range qs {
			if q.Name == "" || q.Description == "" || !strings.Contains(q.SQL, samples.Placeholder) || seen[q.Name] {
				t.Fatalf("accepted a bad query %+v", q)
			}
			seen[q.Name] = true
		}
	})
}

func TestTerms(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Show me console sign-ins without MFA", "consol login mfa"},
		{"ConsoleLogin", "consol login"},
		{"userIdentity.sessionContext.sessionIssuer.arn", "user principal session context session issuer arn"},
		{"MFAUsed", "mfa used"},
		{"AccessDenied errors", "access deny error"},
		{"deleted DELETE deleting deletion", "delet delet delet delet"},
		{"IAM policies", "iam policy"},
		{"security groups opened to the world", "security group open internet"},
		{"firewall changes", "security group chang"},
		{"s3 buckets", "s3 bucket bucket"},
		{"stopping logging", "stop log"},
	} {
		if got := strings.Join(samples.Terms(tc.in), " "); got != tc.want {
			t.Errorf("Terms(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSearchRanking checks that a phrase's obvious query ranks first.
func TestSearchRanking(t *testing.T) {
	for _, tc := range []struct{ phrase, want string }{
		{"console logins without MFA", "Console sign-ins without MFA"},
		{"who signed in to the console", "Console sign-in history"},
		{"access denied", "Access denied errors by principal"},
		{"top callers", "Top callers"},
		{"most frequent API calls", "Most frequent API calls"},
		{"errors by service", "Errors by service"},
		{"events per region", "Events by region"},
		{"trail tampering: someone stopped logging", "Trail tampering"},
		{"IAM policy changes", "IAM policy changes"},
		{"new access keys", "IAM access keys created, changed or deleted"},
		{"security group changes", "Security group changes"},
		{"firewall rules open to the world", "Security group rules open to the internet"},
		{"S3 bucket policy changes", "S3 bucket policy changes"},
		{"KMS key deletion", "KMS key creation, disabling and deletion"},
		{"S3 data events by bucket", "S3 activity by bucket"},
		{"user agent analysis", "User agents"},
		{"which roles were assumed", "Roles assumed"},
		{"who read secrets", "Secrets read from Secrets Manager"},
		{"GuardDuty disabled", "Security services disabled"},
		{"cloudtrail lake activity", "CloudTrail's own activity"},
		{"throttling", "Throttled calls"},
		{"GetCallerIdentity", "Caller identity checks"},
	} {
		t.Run(tc.phrase, func(t *testing.T) {
			res, err := samples.Search(tc.phrase)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) == 0 || res[0].Name != tc.want {
				var got []string
				for _, r := range res[:min(3, len(res))] {
					got = append(got, fmt.Sprintf("%s %.3f", r.Name, r.Relevance))
				}
				t.Errorf("first results %q, want %q first (terms %q)", got, tc.want, samples.Terms(tc.phrase))
			}
		})
	}
}

func TestSearchRelevance(t *testing.T) {
	res, err := samples.Search("console logins without MFA")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Relevance <= 0 || r.Relevance > 1 {
			t.Errorf("%s: relevance %v outside (0, 1]", r.Name, r.Relevance)
		}
		if i > 0 && r.Relevance > res[i-1].Relevance {
			t.Errorf("%s (%v) after %s (%v): not sorted", r.Name, r.Relevance, res[i-1].Name, res[i-1].Relevance)
		}
	}
	if res[0].Relevance < 0.5 {
		t.Errorf("best relevance %v for a phrase that names the query; want at least 0.5", res[0].Relevance)
	}
	// A phrase that shares no word with any query finds nothing; words no
	// query has lower the relevance of a match.
	if res, _ := samples.Search("zebra giraffe"); len(res) != 0 {
		t.Errorf("unrelated phrase found %d queries", len(res))
	}
	more, _ := samples.Search("console logins without MFA zebra giraffe")
	if more[0].Name != res[0].Name || more[0].Relevance >= res[0].Relevance {
		t.Errorf("unknown words: first %s %v, want %s below %v", more[0].Name, more[0].Relevance, res[0].Name, res[0].Relevance)
	}
}
