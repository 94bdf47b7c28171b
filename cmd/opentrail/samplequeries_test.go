package main

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/lake/querygen/querygentest"
	"github.com/opentrail/opentrail/internal/testenv"
)

// TestSampleQueriesAndGenerateQueryAWSCLI drives search-sample-queries
// and generate-query with the aws CLI against `opentrail serve
// --query-generator-url` pointed at a stub chat model: a search with
// --max-results and --next-token, a generated query run with start-query
// --query-alias over imported real events (describe-query shows its
// prompt), and a generated query the Lake refuses.
func TestSampleQueriesAndGenerateQueryAWSCLI(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	files, err := filepath.Glob(filepath.Join(testenv.CloudTrailData(t), "invictus-ir-aws-dataset", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("real events: %v", err)
	}
	runOK(t, nil, opentrailBin, append([]string{"import", "--data-dir", dir, "--event-data-store", "investigation", "--account", trailAccount}, files...)...)

	storeID := regexp.MustCompile(`FROM ([0-9a-f-]{36})`)
	stub := querygentest.New(t, func(r querygentest.Request) (int, string) {
		m := storeID.FindStringSubmatch(r.System())
		if m == nil || !strings.Contains(r.System(), "eventname VARCHAR") {
			return http.StatusBadRequest, "no store id or schema in the system prompt"
		}
		if strings.Contains(r.User(), "bad column") {
			return http.StatusOK, "```sql\nSELECT nosuchcolumn FROM " + m[1] + "\n```"
		}
		return http.StatusOK, "```sql\nSELECT eventName, count(*) AS n FROM " + m[1] + " GROUP BY eventName ORDER BY n DESC LIMIT 3\n```"
	})
	t.Setenv("OPENTRAIL_QUERY_GENERATOR_API_KEY", "sk-from-env")
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--query-generator-url", stub.URL+"/v1", "--query-generator-model", "stub-model")
	defer srv.kill()
	env := awsEnv(key, addr, "http://"+addr)

	type page struct {
		SearchResults []struct {
			Name, Description, SQL string
			Relevance              float64
		}
		NextToken string
	}
	var first, second page
	cliJSON(t, env, &first, "cloudtrail", "search-sample-queries", "--search-phrase", "console logins without MFA", "--max-results", "2")
	if len(first.SearchResults) != 2 || first.SearchResults[0].Name != "Console sign-ins without MFA" || first.NextToken == "" ||
		!strings.Contains(first.SearchResults[0].SQL, "$EDS_ID") || first.SearchResults[0].Relevance <= 0 || first.SearchResults[0].Relevance > 1 {
		t.Fatalf("search-sample-queries: %+v", first)
	}
	cliJSON(t, env, &second, "cloudtrail", "search-sample-queries", "--search-phrase", "console logins without MFA", "--max-results", "2", "--next-token", first.NextToken)
	if len(second.SearchResults) == 0 || second.SearchResults[0].Name == first.SearchResults[0].Name ||
		second.SearchResults[0].Relevance > first.SearchResults[1].Relevance {
		t.Errorf("second page: %+v", second)
	}
	if msg := cliError(t, env, "cloudtrail", "search-sample-queries", "--search-phrase", "top", "--max-results", "51"); !strings.Contains(msg, "InvalidParameterException") {
		t.Errorf("--max-results 51: %s", msg)
	}

	var stores struct {
		EventDataStores []struct{ EventDataStoreArn, Name string }
	}
	cliJSON(t, env, &stores, "cloudtrail", "list-event-data-stores")
	if len(stores.EventDataStores) != 1 {
		t.Fatalf("list-event-data-stores: %+v", stores)
	}
	arn := stores.EventDataStores[0].EventDataStoreArn
	var gen struct{ QueryStatement, QueryAlias, EventDataStoreOwnerAccountId string }
	cliJSON(t, env, &gen, "cloudtrail", "generate-query", "--event-data-stores", arn, "--prompt", "What are my most common events?")
	if !strings.HasPrefix(gen.QueryStatement, "SELECT eventName, count(*)") || gen.QueryAlias == "" || gen.EventDataStoreOwnerAccountId != trailAccount {
		t.Fatalf("generate-query: %+v", gen)
	}
	if r := stub.Requests(); len(r) != 1 || r[0].Model != "stub-model" || r[0].Authorization != "Bearer sk-from-env" ||
		r[0].User() != "What are my most common events?" {
		t.Errorf("the model was asked %+v", r)
	}
	var started struct{ QueryId string }
	cliJSON(t, env, &started, "cloudtrail", "start-query", "--query-alias", gen.QueryAlias)
	var desc struct{ QueryStatus, QueryString, Prompt string }
	for deadline := time.Now().Add(60 * time.Second); ; {
		cliJSON(t, env, &desc, "cloudtrail", "describe-query", "--query-id", started.QueryId)
		if desc.QueryStatus != "QUEUED" && desc.QueryStatus != "RUNNING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("query still %s after 60s", desc.QueryStatus)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if desc.QueryStatus != "FINISHED" || desc.QueryString != gen.QueryStatement || desc.Prompt != "What are my most common events?" {
		t.Fatalf("describe-query: %+v", desc)
	}
	var res struct{ QueryResultRows [][]map[string]string }
	cliJSON(t, env, &res, "cloudtrail", "get-query-results", "--query-id", started.QueryId)
	if len(res.QueryResultRows) != 3 {
		t.Errorf("get-query-results: %d rows, want 3", len(res.QueryResultRows))
	}
	msg := cliError(t, env, "cloudtrail", "generate-query", "--event-data-stores", arn, "--prompt", "use a bad column")
	if !strings.Contains(msg, "GenerateResponseException") || !strings.Contains(msg, "nosuchcolumn") {
		t.Errorf("generate-query of a refused query: %s", msg)
	}
}

// TestREADMESampleQueriesSnippet: the README's search-sample-queries
// snippet works as pasted, in bash in a fresh shell, with the aws CLI.
func TestREADMESampleQueriesSnippet(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	work, srv := readmeServer(t)
	defer srv.kill()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", atServer(t, readmeBlock(t, "sh", "search-sample-queries"), srv.addr))
	cmd.Dir, cmd.Env = work, freshShellEnv(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README snippet: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], "\tConsole sign-ins without MFA") {
		t.Errorf("the snippet printed:\n%s\nwant 3 results, Console sign-ins without MFA first", out)
	}
}

// TestBoto3SampleQueries: boto3 pages through search_sample_queries
// (Relevance as a float, most relevant first) and, with no generator
// configured, generate_query raises GenerateResponseException saying how
// to configure one.
func TestBoto3SampleQueries(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.Boto3, "python3", "-c", "import boto3")
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startServer(t, dir, addr)
	defer srv.kill()
	script := `
import boto3, sys
ct = boto3.client("cloudtrail", endpoint_url=sys.argv[1], region_name="us-east-1")
names, rel, token = [], [], None
while True:
    kw = {"SearchPhrase": "who changed IAM policies", "MaxResults": 4}
    if token:
        kw["NextToken"] = token
    page = ct.search_sample_queries(**kw)
    assert len(page["SearchResults"]) <= 4, page
    for r in page["SearchResults"]:
        assert isinstance(r["Relevance"], float) and 0 < r["Relevance"] <= 1, r
        assert "$EDS_ID" in r["SQL"] and r["Description"], r
        names.append(r["Name"])
        rel.append(r["Relevance"])
    token = page.get("NextToken")
    if not token:
        break
assert names[0] == "IAM policy changes", names
assert rel == sorted(rel, reverse=True) and len(names) == len(set(names)) > 4, (names, rel)
arn = ct.create_event_data_store(Name="boto-gen", TerminationProtectionEnabled=False)["EventDataStoreArn"]
try:
    ct.generate_query(EventDataStores=[arn], Prompt="top errors")
    raise SystemExit("generate_query without a generator succeeded")
except ct.exceptions.GenerateResponseException as e:
    assert "--query-generator-url" in str(e), e
print("ok", len(names))
`
	out := runOK(t, []string{"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"), "AWS_CONFIG_FILE=/dev/null"},
		"python3", "-c", script, "http://"+addr)
	if !strings.HasPrefix(string(out), "ok ") {
		t.Fatalf("boto3: %s", out)
	}
}
