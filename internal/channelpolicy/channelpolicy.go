// Package channelpolicy parses and evaluates the resource policy of a
// CloudTrail Lake channel (lake.md §7.1): which other accounts may send
// events to the channel with cloudtrail-data PutAuditEvents, optionally
// only with an external id. It is pure: [Parse] checks a policy text
// against the rules CloudTrail sets for channel policies and names the
// rule a policy breaks ([Error]); [Policy.Allows] answers for one caller.
//
// The rules: a JSON object with an optional Version (2012-10-17 or
// 2008-10-17), an optional Id and a Statement (one object or a list of 1
// to 20); each statement has an optional Sid, Effect Allow or Deny, a
// Principal {"AWS": one or a list of 1 to 50 account ids or IAM ARNs},
// exactly one Action, cloudtrail-data:PutAuditEvents, Resource equal to
// the channel's ARN, and at most one Condition, StringEquals on
// cloudtrail:ExternalId. Nothing else (NotPrincipal, NotAction,
// NotResource, other condition operators or keys, wildcards) is accepted.
package channelpolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/opentrail/opentrail/internal/event"
)

// Action is the one action a channel policy grants.
const Action = "cloudtrail-data:PutAuditEvents"

// ExternalIDKey is the condition key of the external id.
const ExternalIDKey = "cloudtrail:ExternalId"

// Limits of a channel policy.
const (
	MaxStatements = 20
	MaxPrincipals = 50
)

// Error is a policy that breaks a rule; Message says which, for the
// client.
type Error struct{ Message string }

func (e *Error) Error() string { return "channel policy: " + e.Message }

func errorf(format string, args ...any) error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// Statement is one statement of a parsed policy.
type Statement struct {
	Allow bool
	// Principals are 12-digit account ids (the whole account, also for
	// arn:aws:iam::ACCOUNT:root) or IAM principal ARNs.
	Principals []string
	// ExternalIDs, when not empty, are the external ids the statement
	// requires (any one of them).
	ExternalIDs []string
}

// Policy is a parsed channel policy.
type Policy struct{ Statements []Statement }

// Parse checks text as the policy of the channel with ARN channelARN.
func Parse(text, channelARN string) (*Policy, error) {
	var doc map[string]json.RawMessage
	if err := strictDecode([]byte(text), &doc); err != nil || doc == nil {
		return nil, errorf("the policy is not a JSON object")
	}
	for k := range doc {
		switch k {
		case "Version", "Id", "Statement":
		default:
			return nil, errorf("the policy has an element %q; a channel policy has only Version, Id and Statement", k)
		}
	}
	if v, ok := doc["Version"]; ok {
		var s string
		if json.Unmarshal(v, &s) != nil || s != "2012-10-17" && s != "2008-10-17" {
			return nil, errorf("Version must be \"2012-10-17\" (or \"2008-10-17\"), got %s", clip(string(v)))
		}
	}
	raw, ok := doc["Statement"]
	if !ok {
		return nil, errorf("the policy has no Statement")
	}
	stmts, err := oneOrMany[map[string]json.RawMessage](raw)
	if err != nil {
		return nil, errorf("Statement must be an object or a list of objects")
	}
	if len(stmts) < 1 || len(stmts) > MaxStatements {
		return nil, errorf("the policy has %d statements; a channel policy has 1 to %d", len(stmts), MaxStatements)
	}
	p := &Policy{}
	for i, st := range stmts {
		s, err := parseStatement(st, channelARN)
		if err != nil {
			return nil, errorf("Statement[%d]: %s", i, err.(*Error).Message) //nolint:errorlint // parseStatement returns only *Error
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

func parseStatement(st map[string]json.RawMessage, channelARN string) (Statement, error) {
	if st == nil {
		return Statement{}, errorf("a statement must be an object")
	}
	for k := range st {
		switch k {
		case "Sid", "Effect", "Principal", "Action", "Resource", "Condition":
		default:
			return Statement{}, errorf("the element %q is not supported in a channel policy (use Sid, Effect, Principal, Action, Resource and Condition)", k)
		}
	}
	var s Statement
	if v, ok := st["Sid"]; ok {
		var sid string
		if json.Unmarshal(v, &sid) != nil {
			return Statement{}, errorf("Sid must be a string")
		}
	}
	var effect string
	if json.Unmarshal(st["Effect"], &effect) != nil || effect != "Allow" && effect != "Deny" {
		return Statement{}, errorf("Effect must be \"Allow\" or \"Deny\"")
	}
	s.Allow = effect == "Allow"

	var principal map[string]json.RawMessage
	if json.Unmarshal(st["Principal"], &principal) != nil || principal == nil {
		return Statement{}, errorf("Principal must be an object {\"AWS\": [account ids or IAM ARNs]}")
	}
	for k := range principal {
		if k != "AWS" {
			return Statement{}, errorf("Principal %q is not supported: a channel policy names AWS accounts or IAM principals (\"AWS\")", k)
		}
	}
	aws, err := oneOrMany[string](principal["AWS"])
	if err != nil {
		return Statement{}, errorf("Principal.AWS must be a string or a list of strings")
	}
	if len(aws) < 1 || len(aws) > MaxPrincipals {
		return Statement{}, errorf("Principal.AWS has %d principals; a statement has 1 to %d", len(aws), MaxPrincipals)
	}
	for _, a := range aws {
		norm, ok := principalOf(a)
		if !ok {
			return Statement{}, errorf("the principal %q is not a 12-digit account id or an IAM ARN (arn:aws:iam::ACCOUNT:root, :user/NAME, :role/NAME); wildcards are not allowed", clip(a))
		}
		s.Principals = append(s.Principals, norm)
	}

	actions, err := oneOrMany[string](st["Action"])
	if err != nil || len(actions) != 1 || actions[0] != Action {
		return Statement{}, errorf("Action must be exactly %q, the one action a channel policy grants", Action)
	}
	resources, err := oneOrMany[string](st["Resource"])
	if err != nil || len(resources) != 1 || resources[0] != channelARN {
		return Statement{}, errorf("Resource must be the channel's ARN, %s", channelARN)
	}
	if c, ok := st["Condition"]; ok {
		ids, err := externalIDs(c)
		if err != nil {
			return Statement{}, err
		}
		s.ExternalIDs = ids
	}
	return s, nil
}

// externalIDs reads {"StringEquals": {"cloudtrail:ExternalId": ID or [IDs]}}.
func externalIDs(raw json.RawMessage) ([]string, error) {
	bad := errorf("Condition must be {\"StringEquals\": {\"%s\": \"<external id>\"}}, the only condition a channel policy has", ExternalIDKey)
	var ops map[string]map[string]json.RawMessage
	if json.Unmarshal(raw, &ops) != nil || len(ops) != 1 {
		return nil, bad
	}
	keys, ok := ops["StringEquals"]
	if !ok || len(keys) != 1 {
		return nil, bad
	}
	v, ok := keys[ExternalIDKey]
	if !ok {
		return nil, bad
	}
	ids, err := oneOrMany[string](v)
	if err != nil || len(ids) == 0 {
		return nil, bad
	}
	for _, id := range ids {
		if !ValidExternalID(id) {
			return nil, errorf("the external id %q is not 2 to 1224 characters of letters, digits and +=,.@:/-_", clip(id))
		}
	}
	return ids, nil
}

// ValidExternalID reports whether id is a valid externalId (2 to 1224
// characters of [\w+=,.@:/-], as the cloudtrail-data model has it).
func ValidExternalID(id string) bool {
	if len(id) < 2 || len(id) > 1224 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_+=,.@:/-", c) >= 0) {
			return false
		}
	}
	return true
}

// principalOf returns the principal as matched: a 12-digit account id
// for an account id or arn:aws:iam::ACCOUNT:root, the ARN itself for
// another IAM principal.
func principalOf(a string) (string, bool) {
	if event.ValidAccountID(a) {
		return a, true
	}
	p := strings.SplitN(a, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] == "" || p[2] != "iam" || p[3] != "" || !event.ValidAccountID(p[4]) || p[5] == "" || strings.ContainsAny(a, "*?") {
		return "", false
	}
	if p[5] == "root" {
		return p[4], true
	}
	return a, true
}

// Allows reports whether a caller of account, whose principal ARN is
// principalARN, may call PutAuditEvents with externalID ("" when the
// request has none): some Allow statement names the account or the
// principal and, when it has a condition, one of its external ids is
// externalID; and no Deny statement that applies names them. The channel
// owner's own account needs no policy: callers check that first.
func (p *Policy) Allows(account, principalARN, externalID string) bool {
	allowed := false
	for _, s := range p.Statements {
		if !slices.Contains(s.Principals, account) && (principalARN == "" || !slices.Contains(s.Principals, principalARN)) {
			continue
		}
		if len(s.ExternalIDs) > 0 && !slices.Contains(s.ExternalIDs, externalID) {
			continue
		}
		if !s.Allow {
			return false
		}
		allowed = true
	}
	return allowed
}

// RequiresExternalID reports whether every statement that could allow
// account has an external id condition: the hint a refused caller gets.
func (p *Policy) RequiresExternalID(account string) bool {
	need := false
	for _, s := range p.Statements {
		if s.Allow && slices.ContainsFunc(s.Principals, func(pr string) bool { return pr == account || strings.Contains(pr, "::"+account+":") }) {
			if len(s.ExternalIDs) == 0 {
				return false
			}
			need = true
		}
	}
	return need
}

// oneOrMany decodes a JSON value that is one T or a list of T.
func oneOrMany[T any](raw json.RawMessage) ([]T, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var xs []T
		if err := strictDecode(raw, &xs); err != nil {
			return nil, err
		}
		return xs, nil
	}
	var x T
	if err := strictDecode(raw, &x); err != nil {
		return nil, err
	}
	return []T{x}, nil
}

// strictDecode decodes raw into v, refusing null and trailing data.
func strictDecode(raw []byte, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return errorf("null")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errorf("trailing data")
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
