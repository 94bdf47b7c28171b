package api

import (
	"context"
	"encoding/binary"
	"regexp"

	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/lake/samples"
)

// SearchSampleQueries (lake.md §9): the bundled catalogue of package
// samples, ranked for the phrase (decisions 150–153).

type searchSampleQueriesInput struct {
	SearchPhrase *string `json:"SearchPhrase"`
	MaxResults   *int32  `json:"MaxResults"`
	NextToken    *string `json:"NextToken"`
}

type sampleQueryResult struct {
	Name        string  `json:"Name"`
	Description string  `json:"Description"`
	SQL         string  `json:"SQL"`
	Relevance   float32 `json:"Relevance"`
}

type searchSampleQueriesOutput struct {
	SearchResults []sampleQueryResult `json:"SearchResults"`
	NextToken     string              `json:"NextToken,omitempty"`
}

// printable is the model's pattern of SearchPhrase and Prompt: printable
// ASCII and line feeds.
var printable = regexp.MustCompile(`^[ -~\n]*$`)

// defaultSampleResults is the model's default MaxResults.
const defaultSampleResults = 10

func (h *Handler) searchSampleQueries(_ context.Context, caller identity.Caller, in *searchSampleQueriesInput) (*searchSampleQueriesOutput, error) {
	if in.SearchPhrase == nil {
		return nil, invalid(codeInvalidParameter, "SearchPhrase is required: describe in English the query you are looking for, such as \"console sign-ins without MFA\".")
	}
	phrase := *in.SearchPhrase
	if n := len([]rune(phrase)); n < 2 || n > 1000 {
		return nil, invalid(codeInvalidParameter, "SearchPhrase must be 2 to 1000 characters; it has %d.", n)
	}
	if !printable.MatchString(phrase) {
		return nil, invalid(codeInvalidParameter, "SearchPhrase may hold only printable ASCII characters and line feeds (the phrase must be in English).")
	}
	limit := defaultSampleResults
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, invalid(codeInvalidParameter, "MaxResults must be between 1 and 50; the request has %d.", *in.MaxResults)
		}
		limit = int(*in.MaxResults)
	}
	// The token binds the phrase: the ranking of a phrase never changes
	// while the server runs the same catalogue, so an offset is a cursor.
	scope := tokenScope{op: "SearchSampleQueries", account: caller.AccountID, region: caller.Region}
	var ph paramHash
	ph.add(true, phrase)
	scope.params = ph.sum()
	offset := 0
	if in.NextToken != nil {
		// The model declares no InvalidNextTokenException here.
		cur, err := h.tokens.open(scope, *in.NextToken)
		if err != nil || len(cur) != 8 || len(*in.NextToken) > 1000 {
			return nil, invalid(codeInvalidParameter, msgBadToken)
		}
		offset = int(min(binary.BigEndian.Uint64(cur), 1<<31))
	}
	res, err := samples.Search(phrase)
	if err != nil {
		return nil, err
	}
	out := &searchSampleQueriesOutput{SearchResults: []sampleQueryResult{}}
	end := min(len(res), offset+limit)
	for _, r := range res[min(offset, len(res)):end] {
		out.SearchResults = append(out.SearchResults, sampleQueryResult{Name: r.Name, Description: r.Description, SQL: r.SQL, Relevance: float32(r.Relevance)})
	}
	if end < len(res) {
		out.NextToken = h.tokens.seal(scope, binary.BigEndian.AppendUint64(nil, uint64(end)))
	}
	return out, nil
}
