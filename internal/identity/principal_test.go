package identity_test

import (
	"regexp"
	"testing"

	"github.com/opentrail/opentrail/internal/identity"
)

var iamUserIDPattern = regexp.MustCompile(`^AIDA[A-Z2-7]{17}$`)

func TestPrincipalARNAndID(t *testing.T) {
	tests := []struct {
		name    string
		p       identity.Principal
		wantARN string
		wantID  string // empty: check the AIDA form only
	}{
		{
			name:    "root",
			p:       identity.Principal{AccountID: "123456789012", Type: identity.TypeRoot, AccessKeyID: "AKIAAAAAAAAAAAAAAAAA"},
			wantARN: "arn:aws:iam::123456789012:root",
			wantID:  "123456789012",
		},
		{
			name:    "iam user",
			p:       identity.Principal{AccountID: "123456789012", Type: identity.TypeIAMUser, UserName: "alice", AccessKeyID: "AKIABBBBBBBBBBBBBBBB"},
			wantARN: "arn:aws:iam::123456789012:user/alice",
			// Pinned: ids are written into stored events, so the
			// derivation must not change between releases.
			wantID: "AIDAIVSCRQR4VGJSKRQXH",
		},
		{
			name:    "iam user in another account",
			p:       identity.Principal{AccountID: "210987654321", Type: identity.TypeIAMUser, UserName: "alice"},
			wantARN: "arn:aws:iam::210987654321:user/alice",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.ARN(); got != tc.wantARN {
				t.Errorf("ARN() = %q, want %q", got, tc.wantARN)
			}
			got := tc.p.PrincipalID()
			if tc.wantID != "" && got != tc.wantID {
				t.Errorf("PrincipalID() = %q, want %q", got, tc.wantID)
			}
			if tc.p.Type == identity.TypeIAMUser && !iamUserIDPattern.MatchString(got) {
				t.Errorf("PrincipalID() = %q, want AIDA and 17 characters of [A-Z2-7]", got)
			}
		})
	}
}

func TestPrincipalIDStable(t *testing.T) {
	alice := identity.Principal{AccountID: "123456789012", Type: identity.TypeIAMUser, UserName: "alice", AccessKeyID: "AKIA1"}
	id := alice.PrincipalID()

	sameUserOtherKey := alice
	sameUserOtherKey.AccessKeyID = "AKIA2"
	if got := sameUserOtherKey.PrincipalID(); got != id {
		t.Errorf("PrincipalID depends on the access key: %q vs %q", got, id)
	}

	others := map[string]identity.Principal{
		"other user":    {AccountID: "123456789012", Type: identity.TypeIAMUser, UserName: "bob"},
		"other account": {AccountID: "210987654321", Type: identity.TypeIAMUser, UserName: "alice"},
		"longer name":   {AccountID: "123456789012", Type: identity.TypeIAMUser, UserName: "alice2"},
	}
	for name, p := range others {
		t.Run(name, func(t *testing.T) {
			if got := p.PrincipalID(); got == id {
				t.Errorf("PrincipalID(%+v) = %q, same as alice's", p, got)
			}
		})
	}
}
