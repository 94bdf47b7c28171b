package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
		RequestParameters: lowerCamelMembers(body),
		ResponseElements:  audit.Null,
		Recipient:         caller.AccountID,
	}
	if werr != nil {
		ac.ErrorCode, ac.ErrorMessage = werr.Code, werr.Message
	} else if !op.ReadOnly {
		ac.ResponseElements = lowerCamelMembers(resp)
	}
	return ac.Record()
}

// lowerCamelMembers re-encodes a JSON object with its top-level member
// names lower-camel-cased (event-record.md §7.1), dropping null members
// and later duplicates. It returns null for an empty object and for
// anything that is not a JSON object.
func lowerCamelMembers(obj []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return audit.Null
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return audit.Null
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return audit.Null
		}
		name = lowerCamel(name)
		if string(v) == "null" || seen[name] {
			continue
		}
		seen[name] = true
		if len(seen) > 1 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		buf.Write(k)
		buf.WriteByte(':')
		if err := json.Compact(&buf, v); err != nil {
			return audit.Null
		}
	}
	if _, err := dec.Token(); err != nil {
		return audit.Null
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return audit.Null
	}
	if len(seen) == 0 {
		return audit.Null
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// lowerCamel is audit.LowerCamel (event-record.md §7.1).
func lowerCamel(s string) string { return audit.LowerCamel(s) }
