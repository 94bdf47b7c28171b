package querygen_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/lake/querygen"
	"github.com/opentrail/opentrail/internal/lake/querygen/querygentest"
)

const schema = "eventname VARCHAR\neventtime TIMESTAMP\n"

func newClient(t *testing.T, url string, mut func(*querygen.Options)) *querygen.Client {
	t.Helper()
	o := querygen.DefaultOptions()
	o.URL, o.Model = url, "test-model"
	if mut != nil {
		mut(&o)
	}
	c, err := querygen.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGenerate(t *testing.T) {
	stub := querygentest.New(t, func(r querygentest.Request) (int, string) {
		return http.StatusOK, "Here it is:\n```sql\nSELECT eventName FROM eds-1;\n```\nIt lists names."
	})
	c := newClient(t, stub.URL+"/v1/", func(o *querygen.Options) { o.APIKey = "sk-test" })
	got, err := c.Generate(t.Context(), querygen.Request{Prompt: "list event names", StoreID: "eds-1", Schema: schema})
	if err != nil || got != "SELECT eventName FROM eds-1" {
		t.Fatalf("Generate = %q, %v", got, err)
	}
	reqs := stub.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Model != "test-model" || r.User() != "list event names" || r.Authorization != "Bearer sk-test" ||
		!strings.Contains(r.System(), "FROM eds-1") || !strings.Contains(r.System(), schema) {
		t.Errorf("request %+v: want the model, the prompt, the key, the store id and the schema", r)
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(querygentest.Request) (int, string)
		opts   func(*querygen.Options)
		want   error
		msg    string
	}{
		{"500", func(querygentest.Request) (int, string) { return 500, "model not loaded" }, nil,
			querygen.ErrUnavailable, "answered HTTP 500: model not loaded"},
		{"401", func(querygentest.Request) (int, string) { return 401, "bad key" }, nil,
			querygen.ErrUnavailable, "answered HTTP 401: bad key"},
		{"timeout", func(r querygentest.Request) (int, string) { <-r.Context.Done(); return 200, "" },
			func(o *querygen.Options) { o.Timeout = 50 * time.Millisecond }, querygen.ErrUnavailable, "no answer from"},
		{"too large", func(querygentest.Request) (int, string) {
			return 200, "SELECT " + strings.Repeat("x", 2000) + " FROM e"
		},
			func(o *querygen.Options) { o.MaxReplyBytes = 1000 }, querygen.ErrUnavailable, "larger than 1000 bytes"},
		{"no SQL", func(querygentest.Request) (int, string) { return 200, "I cannot help with that." }, nil,
			querygen.ErrNoQuery, "I cannot help with that."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub := querygentest.New(t, tc.answer)
			c := newClient(t, stub.URL+"/v1", tc.opts)
			_, err := c.Generate(t.Context(), querygen.Request{Prompt: "p", StoreID: "s", Schema: schema})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Generate: %v, want %v with %q", err, tc.want, tc.msg)
			}
		})
	}
	t.Run("down", func(t *testing.T) {
		stub := querygentest.New(t, func(querygentest.Request) (int, string) { return 200, "SELECT 1" })
		url := stub.URL + "/v1/chat/completions"
		stub.Close()
		_, err := newClient(t, url, nil).Generate(t.Context(), querygen.Request{Prompt: "p"})
		if !errors.Is(err, querygen.ErrUnavailable) || !strings.Contains(err.Error(), "connect") {
			t.Errorf("Generate: %v, want ErrUnavailable saying the connection failed", err)
		}
	})
	t.Run("not a chat completion", func(t *testing.T) {
		stub := querygentest.New(t, func(querygentest.Request) (int, string) { return 200, "" })
		stub.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"ok":true}`)) })
		_, err := newClient(t, stub.URL+"/v1", nil).Generate(t.Context(), querygen.Request{Prompt: "p"})
		if !errors.Is(err, querygen.ErrUnavailable) || !strings.Contains(err.Error(), "not a chat completion") {
			t.Errorf("Generate: %v", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		stub := querygentest.New(t, func(r querygentest.Request) (int, string) { <-r.Context.Done(); return 200, "" })
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := newClient(t, stub.URL+"/v1", nil).Generate(ctx, querygen.Request{Prompt: "p"})
		if !errors.Is(err, querygen.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("Generate: %v, want ErrUnavailable wrapping context.Canceled", err)
		}
	})
}

func TestNewChecksOptions(t *testing.T) {
	for _, tc := range []struct{ url, model, msg string }{
		{"ftp://host/v1", "m", "not an http"},
		{"http:///v1", "m", "no host"},
		{"http://user:pw@host/v1", "m", "credentials"},
		{"http://host/v1?x=1", "m", "query or fragment"},
		{"http://host/v1", " ", "model name is required"},
	} {
		o := querygen.DefaultOptions()
		o.URL, o.Model = tc.url, tc.model
		if _, err := querygen.New(o); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("New(%q, %q): %v, want %q", tc.url, tc.model, err, tc.msg)
		}
	}
	c := newClient(t, "http://127.0.0.1:11434/v1/chat/completions", nil)
	if c.Endpoint() != "http://127.0.0.1:11434/v1/chat/completions" {
		t.Errorf("Endpoint %q", c.Endpoint())
	}
}

func TestExtractSQL(t *testing.T) {
	for _, tc := range []struct{ name, reply, want string }{
		{"bare", "SELECT eventName FROM e", "SELECT eventName FROM e"},
		{"semicolons", "  SELECT 1 FROM e;; \n", "SELECT 1 FROM e"},
		{"sql fence", "Sure.\n```sql\nSELECT a\nFROM e\n```\nDone.", "SELECT a\nFROM e"},
		{"untagged fence", "```\nWITH x AS (SELECT 1) SELECT * FROM x\n```", "WITH x AS (SELECT 1) SELECT * FROM x"},
		{"tilde fence", "~~~sql\nselect 1 from e\n~~~", "select 1 from e"},
		{"first SQL block wins", "```json\n{}\n```\n```sql\nSELECT 2 FROM e\n```\n```sql\nSELECT 3 FROM e\n```", "SELECT 2 FROM e"},
		{"comment first", "```sql\n-- top callers\nSELECT 1 FROM e\n```", "-- top callers\nSELECT 1 FROM e"},
		{"text before", "The query is: SELECT count(*) FROM e", "SELECT count(*) FROM e"},
		{"thinking", "<think>maybe SELECT x? no</think>\n```sql\nSELECT y FROM e\n```", "SELECT y FROM e"},
		{"unclosed fence", "```sql\nSELECT z FROM e", "SELECT z FROM e"},
		{"one-line fence", "```SELECT 1 FROM e```", "SELECT 1 FROM e"},
		{"non-SELECT kept for the validator", "```sql\nDELETE FROM e\n```\nSELECT 1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := querygen.ExtractSQL(tc.reply)
			if tc.want == "" {
				if !errors.Is(err, querygen.ErrNoQuery) {
					t.Errorf("ExtractSQL = %q, %v; want ErrNoQuery", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ExtractSQL = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func FuzzExtractSQL(f *testing.F) {
	for _, s := range []string{"SELECT 1", "```sql\nSELECT 1\n```", "<think>x</think>WITH a AS (SELECT 1) SELECT 2",
		"~~~\n~~~", "```", "``````", "-- c\nSELECT", "no query here", "```sql\n-- only a comment\n```"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		got, err := querygen.ExtractSQL(reply)
		if err != nil {
			if !errors.Is(err, querygen.ErrNoQuery) {
				t.Fatalf("error %v is not ErrNoQuery", err)
			}
			return
		}
		if got == "" || got != strings.TrimSpace(got) || strings.HasSuffix(got, ";") || !strings.Contains(reply, got) {
			t.Fatalf("ExtractSQL(%q) = %q: empty, untrimmed, ending in ; or not from the reply", reply, got)
		}
		up := strings.ToUpper(got)
		if !strings.Contains(up, "SELECT") && !strings.Contains(up, "WITH") {
			t.Fatalf("ExtractSQL(%q) = %q holds no SELECT or WITH", reply, got)
		}
	})
}

func TestAliases(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := querygen.NewAliases(time.Hour, 2, func() time.Time { return now })
	add := func(stmt, prompt string) string {
		t.Helper()
		alias, err := a.Add("111111111111", "us-east-1", querygen.Generated{Statement: stmt, Prompt: prompt})
		if err != nil {
			t.Fatal(err)
		}
		return alias
	}
	x := add("SELECT 1", "one")
	if g, ok := a.Resolve("111111111111", "us-east-1", x); !ok || g.Statement != "SELECT 1" || g.Prompt != "one" {
		t.Fatalf("Resolve = %+v, %v", g, ok)
	}
	for _, k := range [][2]string{{"222222222222", "us-east-1"}, {"111111111111", "eu-west-1"}} {
		if _, ok := a.Resolve(k[0], k[1], x); ok {
			t.Errorf("alias resolved for %v", k)
		}
	}
	y := add("SELECT 2", "two")
	add("SELECT 3", "three")
	if _, ok := a.Resolve("111111111111", "us-east-1", x); ok {
		t.Error("the oldest alias survived beyond MaxPerAccount")
	}
	if _, ok := a.Resolve("111111111111", "us-east-1", y); !ok {
		t.Error("a recent alias was dropped")
	}
	now = now.Add(2 * time.Hour)
	if _, ok := a.Resolve("111111111111", "us-east-1", y); ok {
		t.Error("an alias older than Keep resolved")
	}
	if x == y || !strings.HasPrefix(x, "generated-") {
		t.Errorf("aliases %q, %q", x, y)
	}
}

// TestAliasesFile: aliases outlive a restart; expired ones and a torn last
// line are dropped by a rewrite; a damaged line is a *CorruptError.
func TestAliasesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "generated-queries.jsonl")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a, err := querygen.OpenAliases(path, time.Hour, 10, clock)
	if err != nil {
		t.Fatal(err)
	}
	old, err := a.Add("111111111111", "us-east-1", querygen.Generated{Statement: "SELECT 1 FROM s", Prompt: "old"})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(50 * time.Minute)
	fresh, err := a.Add("111111111111", "us-east-1", querygen.Generated{Statement: "SELECT 2 FROM s", Prompt: "fresh"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := querygen.CheckAliases(path); n != 2 || err != nil {
		t.Fatalf("CheckAliases = %d, %v", n, err)
	}
	// A crash in the middle of an append leaves a torn line.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"account":"111111111111","reg`)
	f.Close()
	now = now.Add(20 * time.Minute) // old is 70 minutes old now
	b, err := querygen.OpenAliases(path, time.Hour, 10, clock)
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := b.Resolve("111111111111", "us-east-1", fresh); !ok || g.Statement != "SELECT 2 FROM s" || g.Prompt != "fresh" {
		t.Errorf("after a restart: %+v, %v", g, ok)
	}
	if _, ok := b.Resolve("111111111111", "us-east-1", old); ok {
		t.Error("an expired alias came back")
	}
	data, _ := os.ReadFile(path)
	if lines := strings.Count(string(data), "\n"); lines != 1 || !strings.HasSuffix(string(data), "\n") || strings.Contains(string(data), old) {
		t.Errorf("the file after opening:\n%s\nwant only the fresh alias", data)
	}
	for _, tc := range []struct{ name, line, msg string }{
		{"not JSON", "{nope", "line 2: not a generated query's JSON object"},
		{"unknown member", `{"account":"1","region":"r","alias":"generated-00000000000000000000","statement":"s","prompt":"p","created":"2026-01-01T00:00:00Z","x":1}`, "line 2: not a generated"},
		{"missing member", `{"account":"1","region":"r","alias":"generated-00000000000000000000","statement":"s","created":"2026-01-01T00:00:00Z"}`, "line 2: a member is missing"},
		{"bad alias", `{"account":"1","region":"r","alias":"x","statement":"s","prompt":"p","created":"2026-01-01T00:00:00Z"}`, `line 2: alias "x"`},
		{"duplicate", strings.TrimSuffix(string(data), "\n"), "line 2: alias " + fresh + " is also on line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "g.jsonl")
			if err := os.WriteFile(p, append(append([]byte{}, data...), tc.line+"\n"...), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := querygen.OpenAliases(p, time.Hour, 10, clock)
			var ce *querygen.CorruptError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("OpenAliases: %v, want a *CorruptError with %q", err, tc.msg)
			}
			if _, err := querygen.CheckAliases(p); !errors.As(err, &ce) {
				t.Errorf("CheckAliases: %v", err)
			}
		})
	}
}

func FuzzCheckAliases(f *testing.F) {
	f.Add([]byte(`{"account":"1","region":"r","alias":"generated-00000000000000000000","statement":"s","prompt":"p","created":"2026-01-01T00:00:00Z"}` + "\n"))
	f.Add([]byte("{\n"))
	f.Add([]byte(""))
	f.Add([]byte("\n\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "g.jsonl")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		n, err := querygen.CheckAliases(p)
		var ce *querygen.CorruptError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("CheckAliases: %v is not a *CorruptError", err)
		}
		if err == nil && n > strings.Count(string(data), "\n") {
			t.Fatalf("%d aliases from %d lines", n, strings.Count(string(data), "\n"))
		}
	})
}
