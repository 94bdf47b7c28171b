package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
)

// Pagination tokens (protocol.md §2.4).
//
// A token is base64url (no padding) of
//
//	version (1 byte) | store cursor | HMAC-SHA256 (32 bytes)
//
// where the MAC covers the operation, the caller's account and region, a
// hash of the request parameters the token belongs to, and the cursor. A
// token that was altered, issued to another account or region, or comes
// back with different parameters fails the MAC and is refused with
// InvalidNextTokenException. Tokens do not expire; the store refuses
// cursors it can no longer resolve.

const (
	tokenVersion  = 1
	maxTokenChars = 4096
	msgBadToken   = "The NextToken is invalid: it was altered, issued for another account or region, or is being reused with different request parameters. Repeat the request with the parameters that returned the token, or without NextToken."
)

var errBadToken = invalid(codeInvalidNextToken, msgBadToken)

type tokenSigner struct{ key []byte }

// tokenScope is what a token is bound to.
type tokenScope struct {
	op, account, region string
	params              [sha256.Size]byte // hash of the canonical parameters
}

func (s tokenSigner) mac(scope tokenScope, cursor []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, f := range [][]byte{{tokenVersion}, []byte(scope.op), []byte(scope.account), []byte(scope.region), scope.params[:], cursor} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		m.Write(n[:])
		m.Write(f)
	}
	return m.Sum(nil)
}

// seal returns the token for cursor.
func (s tokenSigner) seal(scope tokenScope, cursor []byte) string {
	b := make([]byte, 0, 1+len(cursor)+sha256.Size)
	b = append(b, tokenVersion)
	b = append(b, cursor...)
	b = append(b, s.mac(scope, cursor)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// open verifies a token and returns its cursor.
func (s tokenSigner) open(scope tokenScope, token string) ([]byte, error) {
	if len(token) > maxTokenChars {
		return nil, errBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 1+sha256.Size || b[0] != tokenVersion {
		return nil, errBadToken
	}
	cursor, sum := b[1:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if !hmac.Equal(sum, s.mac(scope, cursor)) {
		return nil, errBadToken
	}
	return cursor, nil
}

// paramHash accumulates canonical request parameters for a tokenScope.
// Each value is length-prefixed and absent values differ from empty ones.
type paramHash struct{ b []byte }

func (p *paramHash) add(present bool, v string) {
	if !present {
		p.b = append(p.b, 0)
		return
	}
	p.b = append(p.b, 1)
	p.b = binary.BigEndian.AppendUint32(p.b, uint32(len(v)))
	p.b = append(p.b, v...)
}

func (p *paramHash) sum() [sha256.Size]byte { return sha256.Sum256(p.b) }
