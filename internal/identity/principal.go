package identity

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// Principal types.
const (
	TypeRoot    = "Root"
	TypeIAMUser = "IAMUser"
)

// Principal is who owns an access key: an account's root or one of its IAM
// users.
type Principal struct {
	AccountID   string
	Type        string // TypeRoot or TypeIAMUser
	UserName    string // IAM user name; empty for root
	AccessKeyID string
}

// ARN is the principal's ARN, as CloudTrail writes it in userIdentity.arn.
func (p Principal) ARN() string {
	if p.Type == TypeRoot {
		return "arn:aws:iam::" + p.AccountID + ":root"
	}
	return "arn:aws:iam::" + p.AccountID + ":user/" + p.UserName
}

// PrincipalID is the principal's unique id: the account id for root, and a
// stable AIDA… id derived from the account and user name for IAM users.
func (p Principal) PrincipalID() string {
	if p.Type == TypeRoot {
		return p.AccountID
	}
	sum := sha256.Sum256([]byte(p.AccountID + "/" + p.UserName))
	return "AIDA" + strings.ToUpper(base32.StdEncoding.EncodeToString(sum[:])[:17])
}

// Caller is an authenticated request's principal and the signing scope it
// used.
type Caller struct {
	Principal
	Region  string // from the SigV4 credential scope
	Service string // from the SigV4 credential scope
}
