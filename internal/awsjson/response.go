package awsjson

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ContentType is the media type of every cloudtrail request and response.
const ContentType = "application/x-amz-json-1.1"

// ErrorTypeHeader carries the error code of an error response, read first
// by the Go SDK and by botocore's rest-json parser.
const ErrorTypeHeader = "X-Amzn-ErrorType"

// WriteJSON writes body, an already encoded JSON value, as a response with
// the given status.
func WriteJSON(w http.ResponseWriter, status int, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

// ErrorBody is the error envelope: {"__type":"Name","message":"..."}.
type ErrorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// EncodeError returns the error envelope for code and message.
func EncodeError(code, message string) []byte {
	b, _ := json.Marshal(ErrorBody{Type: code, Message: message}) // strings only: cannot fail
	return b
}

// WriteError writes an error response: the status, X-Amzn-ErrorType: code,
// and the envelope. code is the bare shape name, e.g.
// "InvalidMaxResultsException".
func WriteError(w http.ResponseWriter, status int, code, message string) error {
	w.Header().Set(ErrorTypeHeader, code)
	return WriteJSON(w, status, EncodeError(code, message))
}
