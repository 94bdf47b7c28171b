package api

import (
	"context"
	"errors"
	"fmt"

	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/lake/queries"
	"github.com/opentrail/opentrail/internal/lake/querygen"
)

// GenerateQuery (lake.md §9): a prompt becomes Lake SQL through the
// configured chat-completions endpoint, is validated as StartQuery
// validates, and gets a QueryAlias StartQuery runs (decisions 154–158).

// QueryGenerator generates a Lake statement from a prompt (a
// *querygen.Client). Generate MUST return an error wrapping
// querygen.ErrUnavailable or querygen.ErrNoQuery when it has no statement;
// the statement it returns is not yet validated.
type QueryGenerator interface {
	Generate(ctx context.Context, r querygen.Request) (string, error)
}

var _ QueryGenerator = (*querygen.Client)(nil)

// GeneratedQueries keeps generated queries by QueryAlias (a
// *querygen.Aliases). Add MUST return only once the query is kept as
// durably as the implementation keeps anything; Resolve MUST find an
// alias only for the account and region that Add was given.
type GeneratedQueries interface {
	Add(account, region string, g querygen.Generated) (string, error)
	Resolve(account, region, alias string) (querygen.Generated, bool)
}

var _ GeneratedQueries = (*querygen.Aliases)(nil)

const codeGenerateResponse = "GenerateResponseException"

// msgNoGenerator says how to configure a generator.
const msgNoGenerator = "OpenTrail has no query generator configured. Start opentrail serve with " +
	"--query-generator-url (the base URL of an OpenAI-compatible chat completions API, such as a local model server: " +
	"http://127.0.0.1:11434/v1) and --query-generator-model (the model's name), or set queryGenerator.url and " +
	"queryGenerator.model in the config file; put an API key, if the server needs one, in OPENTRAIL_QUERY_GENERATOR_API_KEY."

type generateQueryInput struct {
	EventDataStores []string `json:"EventDataStores"`
	Prompt          *string  `json:"Prompt"`
}

type generateQueryOutput struct {
	QueryStatement               string `json:"QueryStatement"`
	QueryAlias                   string `json:"QueryAlias"`
	EventDataStoreOwnerAccountId string `json:"EventDataStoreOwnerAccountId"`
}

// generatedError is a generated statement the Lake refused: the model's
// answer was not a valid query for the store (GenerateResponseException).
type generatedError struct {
	statement string
	err       error
}

func (e *generatedError) Error() string {
	return fmt.Sprintf("generated query %q: %v", e.statement, e.err)
}

func (e *generatedError) Unwrap() error { return e.err }

func (h *Handler) generateQuery(ctx context.Context, caller identity.Caller, in *generateQueryInput) (*generateQueryOutput, error) {
	if len(in.EventDataStores) != 1 {
		return nil, invalid(codeInvalidParameter, "EventDataStores must name exactly one event data store (its ARN or ID); the request names %d.", len(in.EventDataStores))
	}
	if in.Prompt == nil {
		return nil, invalid(codeInvalidParameter, "Prompt is required: ask in English for the events you want, such as \"What are my top errors in the past month?\".")
	}
	prompt := *in.Prompt
	if n := len([]rune(prompt)); n < 3 || n > 500 {
		return nil, invalid(codeInvalidParameter, "Prompt must be 3 to 500 characters; it has %d.", n)
	}
	if !printable.MatchString(prompt) {
		return nil, invalid(codeInvalidParameter, "Prompt may hold only printable ASCII characters and line feeds (the prompt must be in English).")
	}
	id, err := h.resolveStore(caller, in.EventDataStores[0])
	if err != nil {
		return nil, err
	}
	if h.opts.Generator == nil {
		return nil, invalid(codeGenerateResponse, msgNoGenerator)
	}
	schema, err := h.opts.Lake.StoreSchema(caller.AccountID, caller.Region, id)
	if err != nil {
		return nil, err
	}
	stmt, err := h.opts.Generator.Generate(ctx, querygen.Request{Prompt: prompt, StoreID: id, Schema: schema})
	if err != nil {
		return nil, err
	}
	if err := h.opts.Lake.CheckQuery(ctx, caller.AccountID, caller.Region, stmt); err != nil {
		return nil, &generatedError{statement: stmt, err: err}
	}
	alias, err := h.generated.Add(caller.AccountID, caller.Region, querygen.Generated{Statement: stmt, Prompt: prompt})
	if err != nil {
		return nil, err
	}
	return &generateQueryOutput{QueryStatement: stmt, QueryAlias: alias, EventDataStoreOwnerAccountId: caller.AccountID}, nil
}

// queryAlias resolves a StartQuery QueryAlias of the caller's: the
// statement and prompt of a query GenerateQuery generated. StartQuery asks
// it before Options.QueryAliases (dashboard widgets), which have no
// prompt.
func (h *Handler) queryAlias(caller identity.Caller, alias string) (statement, prompt string, ok bool) {
	g, ok := h.generated.Resolve(caller.AccountID, caller.Region, alias)
	return g.Statement, g.Prompt, ok
}

// generatedText words a refused generated statement.
var generatedText = textOf(func(ge *generatedError) string {
	why := "it is not valid."
	switch {
	case errors.Is(ge.err, queries.ErrInvalidQuery):
		why = lakeText(queries.ErrInvalidQuery, "")(ge.err)
	case errors.Is(ge.err, queries.ErrStoreNotFound), errors.Is(ge.err, queries.ErrStoreInactive):
		why = "it reads a table that is not this event data store."
	}
	return fmt.Sprintf("The model's answer is not a query OpenTrail can run: %s Its answer was: %s. Rephrase the prompt, or correct the SQL and run it with StartQuery.", why, clipText(ge.statement, 500))
})

// clipText shortens s to at most n runes.
func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "..."
	}
	return s
}
