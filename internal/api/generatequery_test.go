package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/lake/querygen"
	"github.com/opentrail/opentrail/internal/lake/querygen/querygentest"
)

// generatorEnv is an API with the fake Lake and a generator that asks a
// stub chat endpoint, which answers what reply returns.
func generatorEnv(t *testing.T, reply func(querygentest.Request) (int, string)) (*env, *fakeLake, *querygentest.Server) {
	t.Helper()
	stub := querygentest.New(t, reply)
	o := querygen.DefaultOptions()
	o.URL, o.Model = stub.URL+"/v1", "stub-model"
	gen, err := querygen.New(o)
	if err != nil {
		t.Fatal(err)
	}
	lk := &fakeLake{}
	return newEnv(t, func(o *Options) { o.Lake, o.Generator = lk, gen }), lk, stub
}

func TestGenerateQuery(t *testing.T) {
	e, lk, stub := generatorEnv(t, func(r querygentest.Request) (int, string) {
		return http.StatusOK, "```sql\nSELECT eventName, count(*) FROM eds-1 GROUP BY eventName\n```"
	})
	c := e.client("AKIDALICE", "us-east-1")
	out, err := c.GenerateQuery(t.Context(), &cloudtrail.GenerateQueryInput{EventDataStores: []string{"eds-1"}, Prompt: aws.String("top events")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.QueryStatement) != "SELECT eventName, count(*) FROM eds-1 GROUP BY eventName" ||
		!strings.HasPrefix(aws.ToString(out.QueryAlias), "generated-") || aws.ToString(out.EventDataStoreOwnerAccountId) == "" {
		t.Fatalf("GenerateQuery = %+v", out)
	}
	if r := stub.Requests(); len(r) != 1 || r[0].User() != "top events" || !strings.Contains(r[0].System(), "FROM eds-1") ||
		!strings.Contains(r[0].System(), "eventname VARCHAR") {
		t.Errorf("the generator was asked %+v", r)
	}
	// StartQuery runs the alias's statement and keeps its prompt.
	q, err := c.StartQuery(t.Context(), &cloudtrail.StartQueryInput{QueryAlias: out.QueryAlias})
	if err != nil {
		t.Fatal(err)
	}
	if s := lk.starts(); len(s) != 1 || s[0].Prompt != "top events" {
		t.Errorf("the engine got %+v, want the prompt", s)
	}
	d, err := c.DescribeQuery(t.Context(), &cloudtrail.DescribeQueryInput{QueryId: q.QueryId})
	if err != nil || aws.ToString(d.Prompt) != "top events" {
		t.Errorf("DescribeQuery: Prompt %q, %v", aws.ToString(d.Prompt), err)
	}
	// The alias is the caller's: another region does not find it.
	_, err = e.client("AKIDALICE", "eu-west-1").StartQuery(t.Context(), &cloudtrail.StartQueryInput{QueryAlias: out.QueryAlias})
	checkAPIError(t, err, codeInvalidParameter, "or one GenerateQuery returned in the last 7 days")
	_, err = c.StartQuery(t.Context(), &cloudtrail.StartQueryInput{QueryAlias: aws.String("generated-nope")})
	checkAPIError(t, err, codeInvalidParameter, "generate the query again")
}

func TestGenerateQueryErrors(t *testing.T) {
	answer := "SELECT 1 FROM eds-1"
	status := http.StatusOK
	e, _, _ := generatorEnv(t, func(querygentest.Request) (int, string) { return status, answer })
	c := e.client("AKIDALICE", "us-east-1")
	for _, tc := range []struct {
		name         string
		stores       []string
		prompt       string
		status       int
		answer       string
		code, msg    string
		wantGenerate bool
	}{
		{name: "two stores", stores: []string{"eds-1", "eds-2"}, prompt: "top events", code: codeInvalidParameter, msg: "exactly one event data store (its ARN or ID); the request names 2"},
		{name: "bad store", stores: []string{"a b"}, prompt: "top events", code: codeEDSARNInvalid, msg: `"a b" is not an event data store ARN or id`},
		{name: "short prompt", stores: []string{"eds-1"}, prompt: "ab", code: codeInvalidParameter, msg: "3 to 500 characters; it has 2"},
		{name: "long prompt", stores: []string{"eds-1"}, prompt: strings.Repeat("a", 501), code: codeInvalidParameter, msg: "it has 501"},
		{name: "not ASCII", stores: []string{"eds-1"}, prompt: "événements", code: codeInvalidParameter, msg: "printable ASCII"},
		{name: "endpoint error", stores: []string{"eds-1"}, prompt: "top events", status: 500, answer: "out of memory",
			code: codeGenerateResponse, msg: "answered HTTP 500: out of memory. Check that the model server"},
		{name: "no SQL", stores: []string{"eds-1"}, prompt: "top events", answer: "Sorry, I can't.",
			code: codeGenerateResponse, msg: `The model answered without a SQL query. Its answer: "Sorry, I can't."`},
		{name: "other table", stores: []string{"eds-1"}, prompt: "top events", answer: "SELECT * FROM cloudtrail_logs",
			code: codeGenerateResponse, msg: "reads a table that is not this event data store. Its answer was: SELECT * FROM cloudtrail_logs."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, answer = http.StatusOK, "SELECT 1 FROM eds-1"
			if tc.status != 0 {
				status = tc.status
			}
			if tc.answer != "" {
				answer = tc.answer
			}
			_, err := c.GenerateQuery(t.Context(), &cloudtrail.GenerateQueryInput{EventDataStores: tc.stores, Prompt: aws.String(tc.prompt)})
			checkAPIError(t, err, tc.code, tc.msg)
		})
	}
	code, msg := wireErr(t, e.post(t, "CloudTrail_20131101.GenerateQuery", `{"EventDataStores":["eds-1"]}`))
	if code != codeInvalidParameter || !strings.Contains(msg, "Prompt is required") {
		t.Errorf("no Prompt: %s %q", code, msg)
	}
	code, msg = wireErr(t, e.post(t, "CloudTrail_20131101.GenerateQuery", `{"Prompt":"top events"}`))
	if code != codeInvalidParameter || !strings.Contains(msg, "the request names 0") {
		t.Errorf("no EventDataStores: %s %q", code, msg)
	}
}

func TestGenerateQueryNotConfigured(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Lake = &fakeLake{} })
	_, err := e.client("AKIDALICE", "us-east-1").GenerateQuery(t.Context(),
		&cloudtrail.GenerateQueryInput{EventDataStores: []string{"eds-1"}, Prompt: aws.String("top events")})
	checkAPIError(t, err, codeGenerateResponse, "no query generator configured. Start opentrail serve with --query-generator-url")
}
