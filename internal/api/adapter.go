package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/store"
)

// opSpec is one row of the generated operation table.
type opSpec struct {
	Name     string
	ReadOnly bool
}

// operation is an opSpec bound to its implementation.
type operation struct {
	opSpec
	invoke invoker
}

// opFunc is the shape of every operation implementation: typed input in,
// typed output out. Errors are resolved by the catalogue in errors.go.
type opFunc[I, O any] func(ctx context.Context, caller identity.Caller, in *I) (*O, error)

// invoker runs one operation on a raw request body and returns its output,
// ready for json.Marshal.
type invoker func(ctx context.Context, caller identity.Caller, body []byte) (any, error)

// adapt turns a typed operation into an invoker: it decodes the body into a
// fresh input (an empty body is {}, nulls are absent, unknown members are
// ignored) and returns {} for a nil output.
func adapt[I, O any](f opFunc[I, O]) invoker {
	return func(ctx context.Context, caller identity.Caller, body []byte) (any, error) {
		in := new(I)
		if err := awsjson.Decode(body, in); err != nil {
			return nil, err
		}
		out, err := f(ctx, caller, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = new(O)
		}
		return out, nil
	}
}

// unsupported is the invoker of every operation OpenTrail does not
// implement yet.
func unsupported(name string) invoker {
	return func(context.Context, identity.Caller, []byte) (any, error) {
		return nil, errUnsupported(name)
	}
}

// call is the state of one request, for the response, the audit record and
// metrics.
type call struct {
	start     time.Time
	requestID string
	opName    string // "Unknown" until the target resolves
	code      string // error code sent, "" on success
}

// serveOp runs an authenticated operation, records it, and writes the
// response.
func (h *Handler) serveOp(w http.ResponseWriter, r *http.Request, c *call, op *operation, caller identity.Caller, body []byte) {
	ctx := r.Context()
	out, err := op.invoke(withRequestID(ctx, c.requestID), caller, body)
	var resp []byte
	if err == nil {
		resp, err = json.Marshal(out)
	}
	var werr *wireError
	if err != nil {
		werr = h.resolve(ctx, c, err)
	}
	// The record must be durable before the client learns the outcome; a
	// client that has gone away must not stop it either.
	if rerr := h.record(context.WithoutCancel(ctx), r, c, op, caller, body, resp, werr); rerr != nil {
		// The store logs a full disk once and counts back-pressure; a
		// line per refused call would flood the log meanwhile.
		level := slog.LevelWarn
		if errors.Is(rerr, store.ErrUnavailable) || errors.Is(rerr, store.ErrBackpressure) {
			level = slog.LevelDebug
		}
		h.log.Log(ctx, level, "api: recording the call failed; the client gets an error instead of the result",
			slog.String(logKeyRequestID, c.requestID), slog.String(logKeyOperation, op.Name), slog.Any(logKeyErr, rerr))
		h.writeError(w, r, c, rerr)
		return
	}
	if werr != nil {
		h.writeWire(w, r, c, werr)
		return
	}
	if err := awsjson.WriteJSON(w, http.StatusOK, resp); err != nil {
		h.log.DebugContext(ctx, "api: writing the response failed",
			slog.String(logKeyRequestID, c.requestID), slog.Any(logKeyErr, err))
	}
}

type requestIDKey struct{}

// withRequestID gives operations the request id, which is also the
// requestID of the call's own event.
func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// requestIDOf returns the request id withRequestID stored, or "".
func requestIDOf(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
