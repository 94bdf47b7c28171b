package channelpolicy_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/channelpolicy"
)

const chARN = "arn:aws:cloudtrail:us-east-1:111122223333:channel/6f0c2a1e-3b7d-4c55-9e0f-2d8a4b1c9e77"

func policy(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

func stmt(effect, principals, cond string) string {
	s := `{"Sid":"s","Effect":"` + effect + `","Principal":{"AWS":` + principals + `},"Action":"cloudtrail-data:PutAuditEvents","Resource":"` + chARN + `"`
	if cond != "" {
		s += `,"Condition":{"StringEquals":{"cloudtrail:ExternalId":` + cond + `}}`
	}
	return s + "}"
}

func TestAllows(t *testing.T) {
	p, err := channelpolicy.Parse(policy(
		stmt("Allow", `["444455556666","arn:aws:iam::777788889999:root"]`, ""),
		stmt("Allow", `"arn:aws:iam::123456789012:user/alice"`, `"ext-1"`),
		stmt("Allow", `"210987654321"`, `["a1","b2"]`),
		stmt("Deny", `"arn:aws:iam::444455556666:user/mallory"`, ""),
	), chARN)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		account, principal, ext string
		want                    bool
	}{
		{"444455556666", "arn:aws:iam::444455556666:root", "", true},
		{"444455556666", "arn:aws:iam::444455556666:user/bob", "anything", true},
		{"444455556666", "arn:aws:iam::444455556666:user/mallory", "", false}, // denied
		{"777788889999", "arn:aws:iam::777788889999:user/x", "", true},        // :root is the account
		{"123456789012", "arn:aws:iam::123456789012:user/alice", "ext-1", true},
		{"123456789012", "arn:aws:iam::123456789012:user/alice", "", false},      // no external id
		{"123456789012", "arn:aws:iam::123456789012:user/alice", "ext-2", false}, // wrong one
		{"123456789012", "arn:aws:iam::123456789012:user/bob", "ext-1", false},   // another user
		{"210987654321", "arn:aws:iam::210987654321:root", "b2", true},
		{"210987654321", "arn:aws:iam::210987654321:root", "c3", false},
		{"999999999999", "arn:aws:iam::999999999999:root", "", false},
	} {
		if got := p.Allows(c.account, c.principal, c.ext); got != c.want {
			t.Errorf("Allows(%s, %s, %q) = %v, want %v", c.account, c.principal, c.ext, got, c.want)
		}
	}
	if !p.RequiresExternalID("210987654321") || p.RequiresExternalID("444455556666") {
		t.Error("RequiresExternalID")
	}
}

// TestParseRules: every rule broken is refused with a message naming it.
func TestParseRules(t *testing.T) {
	many := func(n int, s string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	accounts := func(n int) string {
		var xs []string
		for i := range n {
			xs = append(xs, fmt.Sprintf(`"%012d"`, 100000000000+i))
		}
		return "[" + strings.Join(xs, ",") + "]"
	}
	ok := stmt("Allow", `"444455556666"`, "")
	for name, c := range map[string]struct{ text, want string }{
		"not JSON":         {`{`, "not a JSON object"},
		"array":            {`[]`, "not a JSON object"},
		"null":             {`null`, "not a JSON object"},
		"trailing":         {policy(ok) + `x`, "not a JSON object"},
		"extra element":    {`{"Statement":[` + ok + `],"Foo":1}`, `element "Foo"`},
		"bad version":      {`{"Version":"2020-01-01","Statement":[` + ok + `]}`, "Version"},
		"no statement":     {`{"Version":"2012-10-17"}`, "no Statement"},
		"zero statements":  {policy(), "0 statements"},
		"21 statements":    {policy(many(21, ok)...), "21 statements; a channel policy has 1 to 20"},
		"bad effect":       {policy(strings.Replace(ok, `"Allow"`, `"Maybe"`, 1)), "Statement[0]: Effect"},
		"no principal":     {policy(`{"Effect":"Allow","Action":"cloudtrail-data:PutAuditEvents","Resource":"` + chARN + `"}`), "Principal must be"},
		"service":          {policy(strings.Replace(ok, `{"AWS":"444455556666"}`, `{"Service":"x.amazonaws.com"}`, 1)), `Principal "Service"`},
		"wildcard":         {policy(stmt("Allow", `"*"`, "")), `principal "*"`},
		"51 principals":    {policy(stmt("Allow", accounts(51), "")), "51 principals"},
		"no principals":    {policy(stmt("Allow", `[]`, "")), "0 principals"},
		"two actions":      {policy(strings.Replace(ok, `"cloudtrail-data:PutAuditEvents"`, `["cloudtrail-data:PutAuditEvents","cloudtrail:GetChannel"]`, 1)), "Action must be exactly"},
		"other action":     {policy(strings.Replace(ok, `"cloudtrail-data:PutAuditEvents"`, `"cloudtrail-data:*"`, 1)), "Action must be exactly"},
		"other resource":   {policy(strings.Replace(ok, chARN, chARN+"x", 1)), "Resource must be the channel's ARN"},
		"not action":       {policy(strings.Replace(ok, `"Action"`, `"NotAction"`, 1)), `"NotAction" is not supported`},
		"other condition":  {policy(strings.Replace(stmt("Allow", `"444455556666"`, `"abc"`), "StringEquals", "StringLike", 1)), "Condition must be"},
		"other key":        {policy(strings.Replace(stmt("Allow", `"444455556666"`, `"abc"`), "cloudtrail:ExternalId", "aws:SourceIp", 1)), "Condition must be"},
		"bad external id":  {policy(stmt("Allow", `"444455556666"`, `"a"`)), "external id"},
		"statement null":   {`{"Statement":[null]}`, "Statement[0]: a statement must be an object"},
		"statement string": {`{"Statement":"x"}`, "Statement must be an object or a list"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := channelpolicy.Parse(c.text, chARN)
			var pe *channelpolicy.Error
			if !errors.As(err, &pe) || !strings.Contains(pe.Message, c.want) {
				t.Errorf("Parse: %v, want a message containing %q", err, c.want)
			}
		})
	}
	// A single statement object and scalar members are accepted.
	if _, err := channelpolicy.Parse(`{"Statement":`+ok+`}`, chARN); err != nil {
		t.Errorf("single statement: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(policy(stmt("Allow", `["444455556666","arn:aws:iam::777788889999:root"]`, `"ext-1"`)), "444455556666", "ext-1")
	f.Add(`{"Statement":[null]}`, "1", "")
	f.Add(`{"Statement":{"Effect":"Deny"}}`, "", "")
	f.Fuzz(func(t *testing.T, text, account, ext string) {
		p, err := channelpolicy.Parse(text, chARN)
		if err != nil {
			var pe *channelpolicy.Error
			if !errors.As(err, &pe) || pe.Message == "" {
				t.Fatalf("error %v is not a *channelpolicy.Error with a message", err)
			}
			return
		}
		if len(p.Statements) < 1 || len(p.Statements) > channelpolicy.MaxStatements {
			t.Fatalf("%d statements accepted", len(p.Statements))
		}
		_ = p.Allows(account, "", ext)
		_ = p.RequiresExternalID(account)
	})
}
