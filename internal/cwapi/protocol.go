package cwapi

import (
	"encoding/json"
	"net/http"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/opentrail/opentrail/internal/awsjson"
)

// codec is one wire form: how bodies decode and encode and how errors
// look. Both forms carry the same members.
type codec interface {
	decode(body []byte, v any) error
	writeOutput(w http.ResponseWriter, v any)
	writeError(w http.ResponseWriter, e *wireError)
}

const (
	jsonContentType = "application/x-amz-json-1.0"
	cborContentType = "application/cbor"
	// QueryErrorHeader carries "Code;Sender" (or ";Receiver" for 5xx):
	// the query-protocol code awsQueryCompatible clients report.
	QueryErrorHeader = "x-amzn-query-error"
)

// jsonCodec is botocore's JSON 1.0 form.
type jsonCodec struct{}

func (jsonCodec) decode(body []byte, v any) error { return awsjson.Decode(body, v) }

func (jsonCodec) writeOutput(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil { // wire structs always marshal
		b = []byte("{}")
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (jsonCodec) writeError(w http.ResponseWriter, e *wireError) {
	b, _ := json.Marshal(awsjson.ErrorBody{Type: e.shape(), Message: e.Message})
	e.headers(w)
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(e.status())
	_, _ = w.Write(b)
}

// cborCodec is Smithy RPC v2 CBOR.
type cborCodec struct{}

func (cborCodec) decode(body []byte, v any) error { return decodeCBOR(body, v) }

func (cborCodec) writeOutput(w http.ResponseWriter, v any) {
	b := encodeCBOR(v)
	w.Header().Set("Content-Type", cborContentType)
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (cborCodec) writeError(w http.ResponseWriter, e *wireError) {
	b := cbor.Encode(cbor.Map{"__type": cbor.String(e.shape()), "message": cbor.String(e.Message)})
	e.headers(w)
	w.Header().Set("Content-Type", cborContentType)
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.WriteHeader(e.status())
	_, _ = w.Write(b)
}
