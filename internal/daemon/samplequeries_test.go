package daemon_test

import (
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/lake/querygen/querygentest"
	"github.com/opentrail/opentrail/internal/lake/samples"
	"github.com/opentrail/opentrail/internal/testenv"
)

// System tests of SearchSampleQueries and GenerateQuery through the Go
// SDK against a daemon whose Lake store holds the repository's real
// CloudTrail events (testdata/cloudtrail: the invictus-ir dataset and
// TrailDiscover's events), with GenerateQuery asking a stub
// chat-completions server.

// realEventFiles are the log files of testdata/cloudtrail that hold
// CloudTrail records: invictus-ir's log files and TrailDiscover's events.
func realEventFiles(t *testing.T) []string {
	t.Helper()
	root := testenv.CloudTrailData(t)
	a, err := filepath.Glob(filepath.Join(root, "invictus-ir-aws-dataset", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := filepath.Glob(filepath.Join(root, "traildiscover", "events", "*", "*.json.cloudtrail"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a) == 0 || len(b) == 0 {
		t.Fatalf("no real events under %s (%d, %d files)", root, len(a), len(b))
	}
	return append(a, b...)
}

// importRealEvents imports realEventFiles into a new event data store of
// the stopped data directory root and returns the store's id.
func importRealEvents(t *testing.T, root string) string {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	dir, err := datadir.Open(root, log)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	res, err := daemon.ImportLake(t.Context(), dir, realEventFiles(t), daemon.LakeImportOptions{Store: "real-events", Account: testAccount, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Import.Stats.EventsCompleted; n < 3000 {
		t.Fatalf("imported %d real events, want over 3,000", n)
	}
	return res.Store.ID
}

// storeInPrompt finds the store id the system prompt names.
var storeInPrompt = regexp.MustCompile(`FROM ([0-9a-f-]{36})`)

// samplesEnv is a daemon with the real events in one store and a stub
// chat model that answers with what answer returns for the store id the
// system prompt names.
type samplesEnv struct {
	*lakeEnv
	stub *querygentest.Server
}

func newSamplesEnv(t *testing.T, answer func(store, prompt string) (int, string)) *samplesEnv {
	t.Helper()
	root := t.TempDir()
	id := importRealEvents(t, root)
	stub := querygentest.New(t, func(r querygentest.Request) (int, string) {
		m := storeInPrompt.FindStringSubmatch(r.System())
		if r.Model != "stub-model" || m == nil || !strings.Contains(r.System(), "useridentity STRUCT(") ||
			!strings.Contains(r.System(), "requestparameters MAP(VARCHAR, VARCHAR)") {
			t.Errorf("the generator got model %q and system prompt %q: want the model, the store id and its schema", r.Model, r.System())
			return http.StatusBadRequest, "bad request"
		}
		return answer(m[1], r.User())
	})
	d := startDaemon(t, root, func(c *config.Config) {
		c.Lake.Threads = 1
		c.QueryGenerator = config.QueryGenerator{URL: stub.URL + "/v1", Model: "stub-model"}
	})
	return &samplesEnv{lakeEnv: &lakeEnv{d: d, store: id, arn: "arn:aws:cloudtrail:us-east-1:" + testAccount + ":eventdatastore/" + id,
		ct: rootClient(t, d, testAccount, "us-east-1")}, stub: stub}
}

// rows runs stmt to its end and returns its result rows.
func (e *samplesEnv) rows(t *testing.T, stmt string) [][]map[string]string {
	t.Helper()
	id := e.run(t, stmt)
	out, err := e.ct.GetQueryResults(t.Context(), &cloudtrail.GetQueryResultsInput{QueryId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out.QueryResultRows
}

// TestSampleQueriesOnRealEvents runs every sample query of the catalogue
// on the real events: each must run and return at least one row. It then
// finds queries with SearchSampleQueries and runs what it returns.
func TestSampleQueriesOnRealEvents(t *testing.T) {
	e := newSamplesEnv(t, func(string, string) (int, string) { return http.StatusInternalServerError, "unused" })
	qs, err := samples.Catalogue()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		t.Run(q.Name, func(t *testing.T) {
			if rows := e.rows(t, strings.ReplaceAll(q.SQL, samples.Placeholder, e.store)); len(rows) == 0 {
				t.Errorf("no rows on the real events:\n%s", q.SQL)
			}
		})
	}
	for phrase, want := range map[string]string{
		"console logins without MFA":     "Console sign-ins without MFA",
		"who changed S3 bucket policies": "S3 bucket policy changes",
		"trail tampering":                "Trail tampering",
	} {
		out, err := e.ct.SearchSampleQueries(t.Context(), &cloudtrail.SearchSampleQueriesInput{SearchPhrase: aws.String(phrase), MaxResults: aws.Int32(3)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.SearchResults) == 0 || aws.ToString(out.SearchResults[0].Name) != want {
			t.Fatalf("%q: first result %+v, want %q", phrase, out.SearchResults, want)
		}
		sql := strings.ReplaceAll(aws.ToString(out.SearchResults[0].SQL), samples.Placeholder, e.store)
		if rows := e.rows(t, sql); len(rows) == 0 {
			t.Errorf("%q: the first result returns no rows", phrase)
		}
	}
}

// TestGenerateQueryOnRealEvents asks GenerateQuery through the Go SDK with
// a stub model: a good answer, one in prose around a code fence, answers
// the Lake's validator refuses (an unknown column, two statements, a
// table function, another table), a model server error and a model server
// that is down; then runs a generated query by its QueryAlias.
func TestGenerateQueryOnRealEvents(t *testing.T) {
	answers := map[string]func(store string) (int, string){
		"top event names": func(s string) (int, string) {
			return http.StatusOK, "SELECT eventName, count(*) AS n FROM " + s + " GROUP BY eventName ORDER BY n DESC LIMIT 5"
		},
		"console logins": func(s string) (int, string) {
			return http.StatusOK, "Here is a query:\n\n```sql\nSELECT eventTime, userIdentity.arn\nFROM " + s + "\nWHERE eventName = 'ConsoleLogin';\n```\n\nIt lists sign-ins."
		},
		"unknown column": func(s string) (int, string) { return http.StatusOK, "SELECT nosuchcolumn FROM " + s },
		"two statements": func(s string) (int, string) {
			return http.StatusOK, "```sql\nSELECT 1 FROM " + s + "; SELECT 2 FROM " + s + "\n```"
		},
		"read a file":   func(string) (int, string) { return http.StatusOK, "SELECT * FROM read_csv('/etc/passwd')" },
		"other table":   func(string) (int, string) { return http.StatusOK, "SELECT * FROM cloudtrail_logs" },
		"server error":  func(string) (int, string) { return http.StatusServiceUnavailable, "model is loading" },
		"not a query":   func(string) (int, string) { return http.StatusOK, "I'm sorry, I can't help." },
		"delete events": func(s string) (int, string) { return http.StatusOK, "```sql\nDELETE FROM " + s + "\n```" },
	}
	e := newSamplesEnv(t, func(store, prompt string) (int, string) {
		a, ok := answers[prompt]
		if !ok {
			return http.StatusBadRequest, "unexpected prompt " + prompt
		}
		return a(store)
	})
	gen := func(prompt string, stores ...string) (*cloudtrail.GenerateQueryOutput, error) {
		if stores == nil {
			stores = []string{e.arn}
		}
		return e.ct.GenerateQuery(t.Context(), &cloudtrail.GenerateQueryInput{EventDataStores: stores, Prompt: aws.String(prompt)})
	}
	for _, tc := range []struct{ prompt, want string }{
		{"top event names", "SELECT eventName, count(*) AS n FROM " + e.store + " GROUP BY eventName ORDER BY n DESC LIMIT 5"},
		{"console logins", "SELECT eventTime, userIdentity.arn\nFROM " + e.store + "\nWHERE eventName = 'ConsoleLogin'"},
	} {
		out, err := gen(tc.prompt)
		if err != nil {
			t.Fatalf("%s: %v", tc.prompt, err)
		}
		if aws.ToString(out.QueryStatement) != tc.want || aws.ToString(out.EventDataStoreOwnerAccountId) != testAccount {
			t.Fatalf("%s: %+v, want statement %q", tc.prompt, out, tc.want)
		}
		started, err := e.ct.StartQuery(t.Context(), &cloudtrail.StartQueryInput{QueryAlias: out.QueryAlias})
		if err != nil {
			t.Fatalf("StartQuery with QueryAlias %s: %v", aws.ToString(out.QueryAlias), err)
		}
		d := e.wait(t, e.ct, aws.ToString(started.QueryId))
		if d.QueryStatus != "FINISHED" || aws.ToString(d.QueryString) != tc.want || aws.ToString(d.Prompt) != tc.prompt {
			t.Errorf("DescribeQuery: %s %q prompt %q", d.QueryStatus, aws.ToString(d.QueryString), aws.ToString(d.Prompt))
		}
		res, err := e.ct.GetQueryResults(t.Context(), &cloudtrail.GetQueryResultsInput{QueryId: started.QueryId})
		if err != nil || len(res.QueryResultRows) == 0 {
			t.Errorf("%s: %d rows, %v", tc.prompt, len(res.QueryResultRows), err)
		}
	}
	for _, tc := range []struct{ prompt, msg string }{
		{"unknown column", "nosuchcolumn"},
		{"two statements", "holds 2 statements; give exactly one SELECT"},
		{"read a file", "read_csv"},
		{"other table", "reads a table that is not this event data store"},
		{"server error", "answered HTTP 503: model is loading. Check that the model server"},
		{"not a query", `The model answered without a SQL query. Its answer: "I'm sorry, I can't help."`},
		{"delete events", "without a SQL query"},
	} {
		_, err := gen(tc.prompt)
		if code := apiCode(err); code != "GenerateResponseException" || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want GenerateResponseException with %q", tc.prompt, err, tc.msg)
		}
	}
	_, err := gen("top event names", e.store, e.store)
	if apiCode(err) != "InvalidParameterException" {
		t.Errorf("two stores: %v", err)
	}
	_, err = gen("top event names", "0f8b3c1e-5d2a-4c7b-9e61-2a4d6f8b0c13")
	if apiCode(err) != "EventDataStoreNotFoundException" {
		t.Errorf("unknown store: %v", err)
	}
	e.stub.Close()
	_, err = gen("top event names")
	if apiCode(err) != "GenerateResponseException" || !strings.Contains(err.Error(), "The query generator did not answer: http://127.0.0.1:") ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Errorf("model server down: %v", err)
	}
}

// TestQueryGeneratorCheckedAtStart: an endpoint URL the generator cannot
// use stops the server from starting, saying which setting is wrong.
func TestQueryGeneratorCheckedAtStart(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.AccountID = t.TempDir(), "127.0.0.1:0", testAccount
	cfg.QueryGenerator = config.QueryGenerator{URL: "http://user:secret@127.0.0.1:1/v1", Model: "m"}
	d, err := daemon.New(cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		d.Close()
		t.Fatal("the server started with a generator URL holding credentials")
	}
	if !strings.Contains(err.Error(), "--query-generator-url") || !strings.Contains(err.Error(), "OPENTRAIL_QUERY_GENERATOR_API_KEY") {
		t.Errorf("daemon.New: %v", err)
	}
}

// TestGeneratedQueryAfterRestart: a QueryAlias GenerateQuery returned
// runs after the server restarts (here without a generator configured
// any more), DescribeQuery shows its prompt, and fsck checks the file the
// aliases are kept in.
func TestGeneratedQueryAfterRestart(t *testing.T) {
	root := t.TempDir()
	id := importRealEvents(t, root)
	stub := querygentest.New(t, func(querygentest.Request) (int, string) {
		return http.StatusOK, "SELECT eventSource, count(*) AS n FROM " + id + " GROUP BY eventSource"
	})
	start := func(mut func(*config.Config)) (*cloudtrail.Client, func()) {
		d, stop := runDaemonWith(t, root, func(c *config.Config) {
			c.Lake.Threads = 1
			if mut != nil {
				mut(c)
			}
		})
		return rootClient(t, d, testAccount, "us-east-1"), stop
	}
	ct, stop := start(func(c *config.Config) {
		c.QueryGenerator = config.QueryGenerator{URL: stub.URL + "/v1", Model: "stub-model"}
	})
	gen, err := ct.GenerateQuery(t.Context(), &cloudtrail.GenerateQueryInput{EventDataStores: []string{id}, Prompt: aws.String("events by service")})
	stop()
	if err != nil {
		t.Fatal(err)
	}
	ct, stop = start(nil)
	e := &lakeEnv{ct: ct}
	started, err := ct.StartQuery(t.Context(), &cloudtrail.StartQueryInput{QueryAlias: gen.QueryAlias})
	if err != nil {
		stop()
		t.Fatalf("StartQuery with the alias after a restart: %v", err)
	}
	d := e.wait(t, ct, aws.ToString(started.QueryId))
	res, err := ct.GetQueryResults(t.Context(), &cloudtrail.GetQueryResultsInput{QueryId: started.QueryId})
	stop()
	if d.QueryStatus != "FINISHED" || aws.ToString(d.Prompt) != "events by service" || err != nil || len(res.QueryResultRows) == 0 {
		t.Fatalf("after a restart: %s prompt %q, %v, %d rows", d.QueryStatus, aws.ToString(d.Prompt), err, len(res.QueryResultRows))
	}

	if r := daemon.Check(root); len(r.Problems) != 0 || !slices.Contains(r.Lines, "generated queries: 1 aliases") {
		t.Errorf("fsck: %+v", r)
	}
	path := filepath.Join(root, datadir.GeneratedQueriesFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{damaged}\n")
	f.Close()
	if r := daemon.Check(root); len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "line 2: not a generated query's JSON object") {
		t.Errorf("fsck of a damaged file: %+v", r.Problems)
	}
	cfg := config.Default()
	cfg.DataDir, cfg.Listen = root, "127.0.0.1:0"
	if d, err := daemon.New(cfg, slog.New(slog.DiscardHandler)); err == nil {
		d.Close()
		t.Error("the server started with a damaged generated-queries file")
	} else if !strings.Contains(err.Error(), "line 2") {
		t.Errorf("daemon.New: %v", err)
	}
}
