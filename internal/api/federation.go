package api

import (
	"context"
	"strings"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
)

// Lake query federation, the open way (issue 10; docs/format/federation.md):
// EnableFederation and DisableFederation record FederationStatus and
// FederationRoleArn in the catalogue; the publisher (package
// lake/federation) publishes the store's files and table definitions to
// a bucket prefix, moving ENABLING to ENABLED, and removes them on
// disable, moving DISABLING to DISABLED.

// Federation is the publisher of federated stores as the API needs it.
type Federation interface {
	// Wake makes the publisher look at the stores' federation now.
	Wake()
}

const (
	codeFederationEnabled      = "EventDataStoreFederationEnabledException"
	codeConcurrentModification = "ConcurrentModificationException"
	minRoleARNLen, maxRoleARN  = 3, 125
)

type enableFederationInput struct {
	EventDataStore    *string `json:"EventDataStore,omitempty"`
	FederationRoleArn *string `json:"FederationRoleArn,omitempty"`
}

type enableFederationOutput struct {
	EventDataStoreArn string `json:"EventDataStoreArn"`
	FederationStatus  string `json:"FederationStatus"`
	FederationRoleArn string `json:"FederationRoleArn"`
}

type disableFederationOutput struct {
	EventDataStoreArn string `json:"EventDataStoreArn"`
	FederationStatus  string `json:"FederationStatus"`
}

// checkFederationRole validates a FederationRoleArn: the model's length
// and characters, and an IAM role of the caller's account (AWS requires
// the role to exist in the account; OpenTrail records it, since no Lake
// Formation uses it here).
func checkFederationRole(in *string, account string) (string, error) {
	if in == nil || *in == "" {
		return "", invalid(codeInvalidParameter, "FederationRoleArn is required: give the ARN of an IAM role of your account (arn:aws:iam::%s:role/NAME).", account)
	}
	s := *in
	if n := len(s); n < minRoleARNLen || n > maxRoleARN {
		return "", invalid(codeInvalidParameter, "FederationRoleArn %q is %d characters long; it must be %d to %d.", clip(s), n, minRoleARNLen, maxRoleARN)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnumByte(c) && !strings.ContainsRune("._/-:@=+,", rune(c)) {
			return "", invalid(codeInvalidParameter, "FederationRoleArn %q may contain only letters, digits and . _ / - : @ = + ,.", clip(s))
		}
	}
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] == "" || p[2] != "iam" || p[3] != "" || !event.ValidAccountID(p[4]) ||
		!strings.HasPrefix(p[5], "role/") || strings.HasSuffix(p[5], "/") {
		return "", invalid(codeInvalidParameter, "FederationRoleArn %q is not an IAM role ARN; give arn:aws:iam::%s:role/NAME.", clip(s), account)
	}
	if p[4] != account {
		return "", invalid(codeInvalidParameter, "FederationRoleArn %s is a role of account %s; the federation role must be in the event data store's account, %s.", s, p[4], account)
	}
	return s, nil
}

func (h *Handler) enableFederation(_ context.Context, caller identity.Caller, in *enableFederationInput) (*enableFederationOutput, error) {
	if _, err := checkStoreRef("EventDataStore", in.EventDataStore); err != nil {
		return nil, err
	}
	role, err := checkFederationRole(in.FederationRoleArn, caller.AccountID)
	if err != nil {
		return nil, err
	}
	d, err := h.changeStore(caller, in.EventDataStore, func(d *catalog.DataStore) error {
		switch d.FederationStatus {
		case catalog.FederationEnabled, catalog.FederationEnabling:
			return invalid(codeFederationEnabled, "Lake query federation is already %s for event data store %s (role %s). To use another role, disable federation, wait until it is DISABLED, and enable it again.", d.FederationStatus, d.ARN(), d.FederationRoleArn)
		case catalog.FederationDisabling:
			return invalid(codeConcurrentModification, "Lake query federation of event data store %s is being disabled (DISABLING); enable it again once GetEventDataStore reports DISABLED.", d.ARN())
		}
		if d.Status == catalog.StatusPendingDeletion {
			return invalid(codeEDSInactive, "Event data store %s is pending deletion; restore it (RestoreEventDataStore) before you federate it.", d.ARN())
		}
		d.FederationStatus, d.FederationRoleArn = catalog.FederationEnabling, role
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.opts.Federation.Wake()
	return &enableFederationOutput{EventDataStoreArn: d.ARN(), FederationStatus: d.FederationStatus, FederationRoleArn: d.FederationRoleArn}, nil
}

func (h *Handler) disableFederation(_ context.Context, caller identity.Caller, in *storeInput) (*disableFederationOutput, error) {
	d, err := h.findStore(caller, in.EventDataStore)
	if err != nil {
		return nil, err
	}
	if d.Status == catalog.StatusPendingDeletion {
		return nil, invalid(codeEDSInactive, "Event data store %s is pending deletion; restore it (RestoreEventDataStore) first.", d.ARN())
	}
	switch d.FederationStatus {
	case "", catalog.FederationDisabled, catalog.FederationDisabling:
		// Nothing to do, or being done: the call is idempotent.
	default:
		d, err = h.changeStore(caller, in.EventDataStore, func(d *catalog.DataStore) error {
			switch d.FederationStatus {
			case catalog.FederationEnabled, catalog.FederationEnabling:
				d.FederationStatus = catalog.FederationDisabling
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		h.opts.Federation.Wake()
	}
	st := d.FederationStatus
	if st == "" {
		st = catalog.FederationDisabled
	}
	return &disableFederationOutput{EventDataStoreArn: d.ARN(), FederationStatus: st}, nil
}
