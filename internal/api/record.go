package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/opentrail/opentrail/internal/audit"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/store"
)

// Self-recording: every authenticated call becomes a management event
// (event-record.md §2, §4.5, §7.1). internal/audit fills the fields every
// edge fills alike; this file adds what is particular to the cloudtrail
// API: its operation names and lower-camel JSON members.

const eventSource = "cloudtrail.amazonaws.com"

// record builds the event for one call and appends it to the store. werr
// is the error the client will get, or nil on success, in which case resp
// is the encoded output.
func (h *Handler) record(ctx context.Context, r *http.Request, c *call, op *operation, caller identity.Caller, body, resp []byte, werr *wireError) error {
	ev, err := audit.Parse(h.newRecord(r, c, op, caller, body, resp, werr))
	if err != nil {
		return fmt.Errorf("record %s: %w", op.Name, err)
	}
	if _, err := h.opts.Events.Append(ctx, []event.Event{ev}, store.AppendOptions{}); err != nil {
		return fmt.Errorf("record %s: append: %w", op.Name, err)
	}
	return nil
}

func (h *Handler) newRecord(r *http.Request, c *call, op *operation, caller identity.Caller, body, resp []byte, werr *wireError) event.Record {
	ac := audit.Call{
		Request:           r,
		Time:              h.now(),
		Source:            eventSource,
		Name:              op.Name,
		Region:            caller.Region,
		UserAgent:         r.UserAgent(),
		Identity:          audit.UserIdentity(caller.Principal),
		ReadOnly:          op.ReadOnly,
		Category:          event.CategoryMgmt,
		RequestID:         c.requestID,
		RequestParameters: audit.LowerCamelMembers(body),
		ResponseElements:  audit.Null,
		Recipient:         caller.AccountID,
	}
	if werr != nil {
		ac.ErrorCode, ac.ErrorMessage = werr.Code, werr.Message
	} else if !op.ReadOnly {
		ac.ResponseElements = audit.LowerCamelMembers(resp)
	}
	return ac.Record()
}
