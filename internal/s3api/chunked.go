package s3api

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"strconv"
	"strings"
)

// Payload modes (x-amz-content-sha256) of aws-chunked uploads.
const (
	// streamingUnsignedTrailer is the only aws-chunked mode accepted: the
	// chunks are unsigned and a trailer carries a checksum. SDKs use it
	// for PutObject over HTTPS (aws-sdk-go-v2, botocore when checksums
	// are on).
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingPrefix          = "STREAMING-"
)

// isAWSChunked reports whether the body is aws-chunked framed.
func isAWSChunked(r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), streamingPrefix) {
		return true
	}
	for _, v := range r.Header.Values("Content-Encoding") {
		for e := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(e), "aws-chunked") {
				return true
			}
		}
	}
	return false
}

// checkStreamingMode refuses the signed aws-chunked modes, whose
// per-chunk signatures this server does not verify. It runs before
// authentication so the client gets a clear NotImplemented rather than a
// signature error.
func checkStreamingMode(r *http.Request) error {
	v := r.Header.Get("X-Amz-Content-Sha256")
	if strings.HasPrefix(v, streamingPrefix) && v != streamingUnsignedTrailer {
		return errNotImplemented(fmt.Sprintf("The signed aws-chunked payload mode %s "+
			"(use %s, UNSIGNED-PAYLOAD, or a signed whole-body SHA-256)", v, streamingUnsignedTrailer))
	}
	return nil
}

// chunkedLimit bounds the raw size of an aws-chunked body whose decoded
// size is at most max: chunk headers and the trailer add a little.
func chunkedLimit(max int64) int64 { return max + max/64 + 64<<10 }

// decodePayload decodes an aws-chunked PutObject body and checks its
// decoded length against x-amz-decoded-content-length.
func decodePayload(r *http.Request, raw []byte, max int64) ([]byte, map[string]string, error) {
	if v := r.Header.Get("X-Amz-Content-Sha256"); v != streamingUnsignedTrailer {
		return nil, nil, errNotImplemented(fmt.Sprintf("aws-chunked uploads with x-amz-content-sha256 %q "+
			"(only %s is accepted)", v, streamingUnsignedTrailer))
	}
	data, trailers, err := decodeAWSChunked(raw, max)
	switch {
	case errors.Is(err, errChunkTooLarge):
		return nil, nil, errEntityTooLarge(-1, max)
	case err != nil:
		return nil, nil, newErr(http.StatusBadRequest, codeIncompleteBody,
			"The aws-chunked request body is malformed: %v.", err)
	}
	if s := r.Header.Get("X-Amz-Decoded-Content-Length"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err != nil || n != int64(len(data)) {
			return nil, nil, newErr(http.StatusBadRequest, codeIncompleteBody,
				"The decoded body has %d bytes, not the %s of x-amz-decoded-content-length.", len(data), s)
		}
	}
	for name := range trailers {
		if !declaredTrailer(r.Header.Values("X-Amz-Trailer"), name) {
			return nil, nil, newErr(http.StatusBadRequest, codeInvalidRequest,
				"The trailer %q was not declared in x-amz-trailer.", name)
		}
	}
	// A declared trailer that never came would skip its checksum check.
	for _, v := range r.Header.Values("X-Amz-Trailer") {
		for d := range strings.SplitSeq(v, ",") {
			if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
				if _, ok := trailers[d]; !ok {
					return nil, nil, newErr(http.StatusBadRequest, codeIncompleteBody,
						"The aws-chunked request body ends without the trailer %q declared in x-amz-trailer.", d)
				}
			}
		}
	}
	return data, trailers, nil
}

func declaredTrailer(declared []string, name string) bool {
	for _, v := range declared {
		for d := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(d), name) {
				return true
			}
		}
	}
	return false
}

var errChunkTooLarge = errors.New("decoded body too large")

// maxTrailerBytes bounds the trailer section of an aws-chunked body.
const maxTrailerBytes = 16 << 10

// decodeAWSChunked decodes an aws-chunked body:
//
//	hex-size[;extensions] CRLF data CRLF ... 0[;extensions] CRLF
//	(trailer-name:value CRLF)* CRLF
//
// It returns the concatenated data (at most max bytes, else
// errChunkTooLarge) and the trailers, names lowercased. Chunk extensions
// are ignored. The final CRLF may be missing.
func decodeAWSChunked(raw []byte, max int64) ([]byte, map[string]string, error) {
	var out []byte
	rest := raw
	for {
		line, tail, ok := cutLine(rest)
		if !ok {
			return nil, nil, errors.New("chunk header without CRLF")
		}
		sizeText, _, _ := strings.Cut(string(line), ";")
		sizeText = strings.TrimSpace(sizeText)
		if sizeText == "" || len(sizeText) > 16 {
			return nil, nil, fmt.Errorf("invalid chunk size %q", sizeText)
		}
		size, err := strconv.ParseUint(sizeText, 16, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid chunk size %q", sizeText)
		}
		rest = tail
		if size == 0 {
			break
		}
		if size > uint64(max)-uint64(len(out)) || int64(size) > max {
			return nil, nil, errChunkTooLarge
		}
		if uint64(len(rest)) < size+2 {
			return nil, nil, errors.New("chunk shorter than its size")
		}
		if rest[size] != '\r' || rest[size+1] != '\n' {
			return nil, nil, errors.New("chunk data not followed by CRLF")
		}
		out = append(out, rest[:size]...)
		rest = rest[size+2:]
	}
	trailers := map[string]string{}
	if len(rest) > maxTrailerBytes {
		return nil, nil, errors.New("trailer section too large")
	}
	for len(rest) > 0 {
		line, tail, ok := cutLine(rest)
		if !ok {
			return nil, nil, errors.New("trailer without CRLF")
		}
		rest = tail
		if len(line) == 0 {
			if len(rest) != 0 {
				return nil, nil, errors.New("data after the trailer section")
			}
			break
		}
		name, value, ok := strings.Cut(string(line), ":")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("malformed trailer %q", line)
		}
		trailers[name] = strings.TrimSpace(value)
	}
	if out == nil {
		out = []byte{}
	}
	return out, trailers, nil
}

// cutLine splits b at the first CRLF.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return nil, nil, false
	}
	return b[:i], b[i+2:], true
}

// crc64NVME is the CRC-64/NVME table (reflected polynomial
// 0x9A6C9329AC4BC9B5), S3's CRC64NVME checksum.
var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

// checksumAlgorithms are the x-amz-checksum-* algorithms S3 knows.
var checksumAlgorithms = []struct {
	name   string // as in x-amz-sdk-checksum-algorithm
	header string // lowercase header / trailer name
	newFn  func() hash.Hash
}{
	{"CRC32", "x-amz-checksum-crc32", func() hash.Hash { return crc32.NewIEEE() }},
	{"CRC32C", "x-amz-checksum-crc32c", func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
	{"CRC64NVME", "x-amz-checksum-crc64nvme", func() hash.Hash { return crc64.New(crc64NVME) }},
	{"SHA1", "x-amz-checksum-sha1", sha1.New},
	{"SHA256", "x-amz-checksum-sha256", sha256.New},
}

// checksumOf returns the base64 checksum of body as S3 writes it.
func checksumOf(newFn func() hash.Hash, body []byte) string {
	hh := newFn()
	hh.Write(body)
	return base64.StdEncoding.EncodeToString(hh.Sum(nil))
}

// checkChecksums verifies every x-amz-checksum-* header and trailer
// against body; it returns the verified ones (lowercase name to value) to
// echo in the response. Other x-amz-checksum-* names are InvalidRequest.
func checkChecksums(h http.Header, trailers map[string]string, body []byte) (map[string]string, error) {
	given := map[string]string{}
	for name, vals := range h {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-amz-checksum-") && lower != "x-amz-checksum-type" && len(vals) > 0 {
			given[lower] = vals[0]
		}
	}
	for name, v := range trailers {
		if strings.HasPrefix(name, "x-amz-checksum-") {
			given[name] = v
		}
	}
	if len(given) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for name, v := range given {
		found := false
		for _, a := range checksumAlgorithms {
			if a.header != name {
				continue
			}
			found = true
			if checksumOf(a.newFn, body) != strings.TrimSpace(v) {
				return nil, newErr(http.StatusBadRequest, codeBadDigest,
					"The %s you specified did not match the calculated checksum.", a.name)
			}
			out[name] = strings.TrimSpace(v)
		}
		if !found {
			return nil, newErr(http.StatusBadRequest, codeInvalidRequest,
				"The checksum %s is not supported; use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256.", name)
		}
	}
	return out, nil
}
