package api

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/opentrail/opentrail/internal/lake/samples"
)

// TestSearchSampleQueries drives SearchSampleQueries with the Go SDK:
// ranking, relevance, and paging with NextToken.
func TestSearchSampleQueries(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client("AKIDALICE", "us-east-1")
	out, err := c.SearchSampleQueries(t.Context(), &cloudtrail.SearchSampleQueriesInput{SearchPhrase: aws.String("console logins without MFA by user")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.SearchResults) != 10 || out.NextToken == nil {
		t.Fatalf("%d results, NextToken %v; want the default page of 10 and a token", len(out.SearchResults), out.NextToken)
	}
	first := out.SearchResults[0]
	if aws.ToString(first.Name) != "Console sign-ins without MFA" || !strings.Contains(aws.ToString(first.SQL), samples.Placeholder) ||
		aws.ToString(first.Description) == "" || first.Relevance <= 0 || first.Relevance > 1 {
		t.Errorf("first result %+v", first)
	}
	want, err := samples.Search("console logins without MFA by user")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var token *string
	for pages := 0; pages == 0 || token != nil; pages++ {
		if pages > len(want) {
			t.Fatal("paging does not end")
		}
		page, err := c.SearchSampleQueries(t.Context(), &cloudtrail.SearchSampleQueriesInput{
			SearchPhrase: aws.String("console logins without MFA by user"), MaxResults: aws.Int32(7), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		token = page.NextToken
		if len(page.SearchResults) > 7 {
			t.Fatalf("a page of %d results, MaxResults 7", len(page.SearchResults))
		}
		for _, r := range page.SearchResults {
			names = append(names, aws.ToString(r.Name))
		}
	}
	if len(names) != len(want) {
		t.Fatalf("paged through %d results, want %d", len(names), len(want))
	}
	for i, r := range want {
		if names[i] != r.Name {
			t.Errorf("result %d is %q, want %q", i, names[i], r.Name)
		}
	}
	// A token belongs to its phrase.
	_, err = c.SearchSampleQueries(t.Context(), &cloudtrail.SearchSampleQueriesInput{SearchPhrase: aws.String("top callers"), NextToken: out.NextToken})
	checkAPIError(t, err, codeInvalidParameter, "NextToken is invalid")
	// Nothing matches: an empty list, not an error.
	none, err := c.SearchSampleQueries(t.Context(), &cloudtrail.SearchSampleQueriesInput{SearchPhrase: aws.String("zebra")})
	if err != nil || len(none.SearchResults) != 0 || none.NextToken != nil {
		t.Errorf("unrelated phrase: %+v, %v", none, err)
	}
}

func TestSearchSampleQueriesErrors(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client("AKIDALICE", "us-east-1")
	for _, tc := range []struct {
		name string
		in   cloudtrail.SearchSampleQueriesInput
		msg  string
	}{
		{"short phrase", cloudtrail.SearchSampleQueriesInput{SearchPhrase: aws.String("x")}, "2 to 1000 characters; it has 1"},
		{"long phrase", cloudtrail.SearchSampleQueriesInput{SearchPhrase: aws.String(strings.Repeat("x", 1001))}, "it has 1001"},
		{"not ASCII", cloudtrail.SearchSampleQueriesInput{SearchPhrase: aws.String("connexions réussies")}, "printable ASCII"},
		{"tab", cloudtrail.SearchSampleQueriesInput{SearchPhrase: aws.String("a\tb")}, "printable ASCII"},
		{"MaxResults 0", cloudtrail.SearchSampleQueriesInput{SearchPhrase: aws.String("top"), MaxResults: aws.Int32(0)}, "between 1 and 50; the request has 0"},
		{"MaxResults 51", cloudtrail.SearchSampleQueriesInput{SearchPhrase: aws.String("top"), MaxResults: aws.Int32(51)}, "the request has 51"},
		{"bad token", cloudtrail.SearchSampleQueriesInput{SearchPhrase: aws.String("top"), NextToken: aws.String("AAAAAAAA")}, "NextToken is invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.SearchSampleQueries(t.Context(), &tc.in)
			checkAPIError(t, err, codeInvalidParameter, tc.msg)
		})
	}
	// The SDK checks required members itself; the server does too.
	code, msg := wireErr(t, e.post(t, "CloudTrail_20131101.SearchSampleQueries", `{}`))
	if code != codeInvalidParameter || !strings.Contains(msg, "SearchPhrase is required") {
		t.Errorf("no SearchPhrase: %s %q", code, msg)
	}
}
