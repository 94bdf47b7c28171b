package s3api

import (
	"fmt"
	"io"
	"net/http"
)

// reply is a response decided but not yet sent. Handlers fill it; the call
// is recorded, durably, and only then is the reply sent (see record.go).
// It implements the part of http.ResponseWriter handlers use.
type reply struct {
	header http.Header
	status int    // 0 until WriteHeader: 200
	body   []byte // a document (XML) sent as is
	// stream, when set, is sent after body: streamLen bytes of an
	// object (GetObject). The reply owns it and closes it.
	stream    io.ReadCloser
	streamLen int64
}

func newReply() *reply { return &reply{header: http.Header{}} }

func (rp *reply) Header() http.Header { return rp.header }

// WriteHeader sets the status; the first call wins, as with
// http.ResponseWriter.
func (rp *reply) WriteHeader(status int) {
	if rp.status == 0 {
		rp.status = status
	}
}

// Write appends to the document.
func (rp *reply) Write(b []byte) (int, error) {
	rp.body = append(rp.body, b...)
	return len(b), nil
}

// streamBody makes the reply send n bytes of body, which it closes.
func (rp *reply) streamBody(body io.ReadCloser, n int64) {
	rp.stream, rp.streamLen = body, n
}

// bytesOut is the size of the response body, what S3 records as
// bytesTransferredOut.
func (rp *reply) bytesOut(r *http.Request) int64 {
	if r.Method == http.MethodHead {
		return 0
	}
	return int64(len(rp.body)) + rp.streamLen
}

// discard drops the body and status (an error replaces them) and closes
// the stream; headers stay.
func (rp *reply) discard() {
	rp.close()
	rp.status, rp.body, rp.stream, rp.streamLen = 0, nil, nil, 0
}

func (rp *reply) close() {
	if rp.stream != nil {
		_ = rp.stream.Close()
	}
}

// send writes the reply to w and closes the stream. An error means the
// status line is out and the body was cut short (usually the client went
// away).
func (rp *reply) send(w http.ResponseWriter, r *http.Request) error {
	defer rp.close()
	hdr := w.Header()
	for k, v := range rp.header {
		hdr[k] = v
	}
	status := rp.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := w.Write(rp.body); err != nil {
		return fmt.Errorf("write response: %w", err)
	}
	if rp.stream != nil {
		if _, err := io.CopyN(w, rp.stream, rp.streamLen); err != nil {
			return fmt.Errorf("send object body: %w", err)
		}
	}
	return nil
}
