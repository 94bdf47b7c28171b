package awsquery

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"slices"
)

// Entry is one map entry of a result: <entry><key>K</key><value>V</value></entry>.
// A result struct holds a map as a slice of them, e.g.
// `xml:"Attributes>entry"`.
type Entry struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

// Entries returns m as entries sorted by key.
func Entries(m map[string]string) []Entry {
	out := make([]Entry, 0, len(m))
	for k, v := range m {
		out = append(out, Entry{k, v})
	}
	slices.SortFunc(out, func(a, b Entry) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// EncodeResult returns the success response of operation op:
//
//	<OpResponse xmlns="namespace"><OpResult>result</OpResult>
//	<ResponseMetadata><RequestId>requestID</RequestId></ResponseMetadata></OpResponse>
//
// result is marshalled by encoding/xml as the OpResult element's content;
// a nil result (an operation without output) writes no OpResult.
func EncodeResult(namespace, op, requestID string, result any) ([]byte, error) {
	var b bytes.Buffer
	enc := xml.NewEncoder(&b)
	root := xml.StartElement{Name: xml.Name{Local: op + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: namespace}}}
	if err := enc.EncodeToken(root); err != nil {
		return nil, fmt.Errorf("encode %s response: %w", op, err)
	}
	if result != nil {
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: op + "Result"}}); err != nil {
			return nil, fmt.Errorf("encode %s response: %w", op, err)
		}
	}
	meta := struct {
		RequestID string `xml:"RequestId"`
	}{requestID}
	if err := enc.EncodeElement(meta, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}); err != nil {
		return nil, fmt.Errorf("encode %s response: %w", op, err)
	}
	if err := enc.EncodeToken(root.End()); err != nil {
		return nil, fmt.Errorf("encode %s response: %w", op, err)
	}
	if err := enc.Flush(); err != nil {
		return nil, fmt.Errorf("encode %s response: %w", op, err)
	}
	return b.Bytes(), nil
}

// ErrorDetail is the Error element of an error response. Type is "Sender"
// for client errors and "Receiver" for server faults; Code is the model's
// error code (NotFound, InvalidParameter), not the shape name.
type ErrorDetail struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// EncodeError returns the error response of alerts.md §1.3:
//
//	<ErrorResponse xmlns="namespace"><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>
func EncodeError(namespace string, e ErrorDetail, requestID string) []byte {
	doc := struct {
		XMLName   xml.Name    `xml:"ErrorResponse"`
		Xmlns     string      `xml:"xmlns,attr"`
		Error     ErrorDetail `xml:"Error"`
		RequestID string      `xml:"RequestId"`
	}{Xmlns: namespace, Error: e, RequestID: requestID}
	b, err := xml.Marshal(doc)
	if err != nil {
		// Strings always marshal; this cannot happen.
		panic(fmt.Sprintf("awsquery: encode error response: %v", err))
	}
	return b
}
