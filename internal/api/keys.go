package api

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/keyring"
)

// ListPublicKeys (operations.md §2.8, delivery-and-integrity.md §6.6).

// PublicKeys serves the digest-signing public keys (a *keyring.Keyring).
type PublicKeys interface {
	Public(set string, start, end time.Time) []keyring.PublicKey
}

// SigningKeySet is the keyring set digests are signed with; it matches
// delivery.SigningKeySet (one set for every region).
const SigningKeySet = "global"

type listPublicKeysInput struct {
	StartTime *awsjson.Time `json:"StartTime,omitempty"`
	EndTime   *awsjson.Time `json:"EndTime,omitempty"`
	NextToken *string       `json:"NextToken,omitempty"`
}

type publicKeyOut struct {
	Value             string        `json:"Value"` // base64 of the PKCS#1 DER (a blob)
	ValidityStartTime *awsjson.Time `json:"ValidityStartTime"`
	ValidityEndTime   *awsjson.Time `json:"ValidityEndTime"`
	Fingerprint       string        `json:"Fingerprint"`
}

type listPublicKeysOutput struct {
	PublicKeyList []publicKeyOut `json:"PublicKeyList"`
}

func (h *Handler) listPublicKeys(_ context.Context, _ identity.Caller, in *listPublicKeysInput) (*listPublicKeysOutput, error) {
	now := h.now().UTC()
	start, end := now, now
	if in.StartTime != nil {
		start = in.StartTime.Time
	}
	if in.EndTime != nil {
		end = in.EndTime.Time
	}
	if start.After(end) {
		return nil, invalid(codeInvalidTimeRange, "StartTime (%s) is after EndTime (%s).", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	if in.NextToken != nil && *in.NextToken != "" {
		return nil, invalid("InvalidTokenException", "ListPublicKeys returns every key on one page; NextToken is not valid here.")
	}
	out := &listPublicKeysOutput{PublicKeyList: []publicKeyOut{}}
	if h.opts.Keys == nil {
		return out, nil
	}
	for _, k := range h.opts.Keys.Public(SigningKeySet, start, end) {
		out.PublicKeyList = append(out.PublicKeyList, publicKeyOut{
			Value:             base64.StdEncoding.EncodeToString(k.Value),
			ValidityStartTime: &awsjson.Time{Time: k.ValidityStart},
			ValidityEndTime:   &awsjson.Time{Time: k.ValidityEnd},
			Fingerprint:       k.Fingerprint,
		})
	}
	return out, nil
}
