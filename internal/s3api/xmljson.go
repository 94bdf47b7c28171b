package s3api

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// Bucket configuration bodies (CreateBucketConfiguration, Tagging,
// VersioningConfiguration, ...) are recorded in requestParameters as JSON
// (s3-events.md §2.2), as AWS records them:
//
//	<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>
//
// becomes "VersioningConfiguration":{"Status":"Enabled","xmlns":"http://s3.amazonaws.com/doc/2006-03-01/"}.
//
// Rules: an element with children is an object with one member per child
// name, in document order, an array when the name repeats, then its
// unprefixed attributes (the default namespace declaration as "xmlns").
// An element without children is its trimmed text, typed as a boolean
// ("true", "false") or an integer (up to 15 digits) when it reads as one,
// else a string; or, when that text is empty and the element has
// attributes, the object of its attributes. Text beside child elements is
// dropped.

// xmlMaxDepth bounds element nesting; S3 configuration documents are a
// few levels deep.
const xmlMaxDepth = 32

// xmlNode is one element of a parsed document.
type xmlNode struct {
	name     string
	attrs    []xml.Attr
	children []*xmlNode
	text     strings.Builder
}

// errNotConfig is xmlToJSON's failure: the body is not one well-formed
// XML element.
var errNotConfig = errors.New("not a single well-formed XML element")

// xmlToJSON converts a configuration document to the root element's name
// and its JSON value. ok is false when doc is not one well-formed XML
// element (a DOCTYPE counts as not well-formed), or nests deeper than
// xmlMaxDepth.
func xmlToJSON(doc []byte) (name string, value json.RawMessage, ok bool) {
	root, err := parseXMLTree(doc)
	if err != nil {
		return "", nil, false
	}
	return root.name, root.json(), true
}

func parseXMLTree(doc []byte) (*xmlNode, error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var root *xmlNode
	var stack []*xmlNode
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && root != nil || len(stack) >= xmlMaxDepth {
				return nil, errNotConfig
			}
			n := &xmlNode{name: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Space == "" {
					n.attrs = append(n.attrs, a)
				}
			}
			if len(stack) == 0 {
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		case xml.Directive:
			return nil, errNotConfig
		}
	}
	if root == nil || len(stack) > 0 {
		return nil, errNotConfig
	}
	return root, nil
}

// json encodes the node's value.
func (n *xmlNode) json() json.RawMessage {
	if text := strings.TrimSpace(n.text.String()); len(n.children) == 0 && (text != "" || len(n.attrs) == 0) {
		return typedText(text)
	}
	var o jsonObject
	var order []string
	groups := map[string][]*xmlNode{}
	for _, c := range n.children {
		if _, seen := groups[c.name]; !seen {
			order = append(order, c.name)
		}
		groups[c.name] = append(groups[c.name], c)
	}
	for _, name := range order {
		g := groups[name]
		if len(g) == 1 {
			o.add(name, g[0].json())
			continue
		}
		var arr bytes.Buffer
		arr.WriteByte('[')
		for i, c := range g {
			if i > 0 {
				arr.WriteByte(',')
			}
			arr.Write(c.json())
		}
		arr.WriteByte(']')
		o.add(name, arr.Bytes())
	}
	for _, a := range n.attrs {
		o.str(a.Name.Local, a.Value)
	}
	return o.bytes()
}

// typedText is an element's text as a JSON value: true, false, an integer
// of up to 15 digits (exact in every JSON reader), or a string.
func typedText(s string) json.RawMessage {
	switch s {
	case "true", "false":
		return json.RawMessage(s)
	}
	digits := strings.TrimPrefix(s, "-")
	if digits != "" && len(digits) <= 15 && (digits == "0" || digits[0] != '0') &&
		strings.Trim(digits, "0123456789") == "" {
		return json.RawMessage(s)
	}
	return jsonString(s)
}
