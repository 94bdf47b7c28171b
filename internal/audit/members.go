package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode"
)

// LowerCamelMembers re-encodes a JSON object with its top-level member
// names lower-camel-cased (event-record.md §7.1), dropping null members
// and later duplicates. It returns null for an empty object and for
// anything that is not a JSON object.
func LowerCamelMembers(obj []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Null
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Null
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return Null
		}
		name = LowerCamel(name)
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
			return Null
		}
	}
	if _, err := dec.Token(); err != nil {
		return Null
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Null
	}
	if len(seen) == 0 {
		return Null
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// LowerCamel lower-cases a member name's leading capital, or its leading
// acronym: Name → name, S3BucketName → s3BucketName, KMSKeyId → kmsKeyId,
// ARN → arn.
func LowerCamel(s string) string {
	r := []rune(s)
	for i := range r {
		if !unicode.IsUpper(r[i]) {
			break
		}
		// Keep the last capital of an acronym that starts a new word.
		if i > 0 && i+1 < len(r) && unicode.IsLower(r[i+1]) {
			break
		}
		r[i] = unicode.ToLower(r[i])
	}
	return string(r)
}
