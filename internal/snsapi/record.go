package snsapi

import (
	"encoding/json"
	"fmt"

	"github.com/opentrail/opentrail/internal/audit"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/store"
)

// Recording: every authenticated SNS call is a CloudTrail record with
// eventSource sns.amazonaws.com. requestParameters are the call's members
// with lower-camel names (Name → name, Tags → tags with key/value);
// Publish is a data event whose message, subject and message attributes
// are not recorded (the members are replaced by
// HIDDEN_DUE_TO_SECURITY_REASONS); responseElements are the result's
// members for the calls that change something.

const eventSource = "sns.amazonaws.com"

const hidden = "HIDDEN_DUE_TO_SECURITY_REASONS"

// record appends the call's record; it runs before the reply is sent.
func (h *Handler) record(c *call, result any, werr *wireError) error {
	category := event.CategoryMgmt
	if c.op.data {
		category = event.CategoryData
	}
	ac := audit.Call{
		Request:           c.r,
		Time:              h.opts.Now(),
		Source:            eventSource,
		Name:              c.action,
		Region:            c.caller.Region,
		UserAgent:         c.r.UserAgent(),
		Identity:          audit.UserIdentity(c.caller.Principal),
		ReadOnly:          c.op.readOnly,
		Category:          category,
		RequestID:         c.requestID,
		RequestParameters: h.requestParameters(c),
		ResponseElements:  audit.Null,
		Recipient:         c.caller.AccountID,
		Resources:         resources(c),
	}
	if werr != nil {
		ac.ErrorCode, ac.ErrorMessage = werr.Code, werr.Message
	} else if !c.op.readOnly && result != nil {
		ac.ResponseElements = responseElements(result)
	}
	ev, err := audit.Parse(ac.Record())
	if err != nil {
		return fmt.Errorf("record %s: %w", c.action, err)
	}
	if _, err := h.opts.Events.Append(c.r.Context(), []event.Event{ev}, store.AppendOptions{}); err != nil {
		return fmt.Errorf("record %s: append: %w", c.action, err)
	}
	return nil
}

// requestParameters renders the form: top-level names lower-camel, the
// fields of list items likewise, map keys as sent.
func (h *Handler) requestParameters(c *call) json.RawMessage {
	tree, err := c.form.Tree()
	if err != nil || len(tree) == 0 {
		return audit.Null
	}
	out := make(map[string]any, len(tree))
	for k, v := range tree {
		if list, ok := v.([]any); ok {
			for i, item := range list {
				if m, ok := item.(map[string]any); ok {
					lm := make(map[string]any, len(m))
					for mk, mv := range m {
						lm[audit.LowerCamel(mk)] = mv
					}
					list[i] = lm
				}
			}
		}
		out[audit.LowerCamel(k)] = v
	}
	if c.op.data {
		for _, k := range []string{"message", "subject", "messageAttributes"} {
			if _, ok := out[k]; ok {
				out[k] = hidden
			}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return audit.Null
	}
	return b
}

// responseElements renders a result's scalar members, lower-camel (the
// result types carry JSON tags for this).
func responseElements(result any) json.RawMessage {
	b, err := json.Marshal(result)
	if err != nil {
		return audit.Null
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return audit.Null
	}
	out := map[string]string{}
	for k, v := range m {
		if s, ok := v.(string); ok && s != "" {
			out[audit.LowerCamel(k)] = s
		}
	}
	if len(out) == 0 {
		return audit.Null
	}
	j, _ := json.Marshal(out)
	return j
}

// resources names the topic a call is about.
func resources(c *call) []event.Resource {
	arn := c.form["TopicArn"]
	if arn == "" {
		arn = c.form["ResourceArn"]
	}
	if arn == "" {
		return nil
	}
	return []event.Resource{{ARN: arn, AccountID: c.caller.AccountID, Type: "AWS::SNS::Topic"}}
}
