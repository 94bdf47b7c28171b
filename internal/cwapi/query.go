package cwapi

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/jsonsvc"
)

// The query protocol (alerts.md §1.1 form 3, older SDKs): a form body
// with Action and Version, members flattened as Name.member.N.Field, and
// XML responses. It maps onto the same wire structs by their json tags.
// The SNS branch's internal/awsquery owns this protocol for SNS; when it
// lands, the form and envelope halves here should move onto it.

const (
	// QueryVersion is the API version query requests carry.
	QueryVersion = "2010-08-01"
	queryXMLNS   = "http://monitoring.amazonaws.com/doc/" + QueryVersion + "/"
)

// ServesQuery reports whether r is a CloudWatch query-protocol request:
// a form POST signed for the monitoring service (routed by the credential
// scope, never by Action: SNS shares action names; alerts.md §1.2).
func ServesQuery(r *http.Request) bool {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	return r.Method == http.MethodPost && strings.HasPrefix(ct, "application/x-www-form-urlencoded") && scopeService(r) == SigningName
}

// scopeService is the service of the request's SigV4 credential scope,
// "" when unsigned or unparsable.
func scopeService(r *http.Request) string {
	h := r.Header.Get("Authorization")
	_, rest, ok := strings.Cut(h, "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ := strings.Cut(rest, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// queryProtocol is the query protocol (alerts.md §1.1 form 3).
type queryProtocol struct{ inputs map[string]func() any }

func (queryProtocol) Match(r *http.Request) bool { return ServesQuery(r) }

func (queryProtocol) Operation(_ *http.Request, body []byte) (string, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", &jsonsvc.WireError{Code: "MalformedQueryString", Message: "The request body is not a valid form: " + err.Error()}
	}
	if v := form.Get("Version"); v != "" && v != QueryVersion {
		return "", &jsonsvc.WireError{Code: "InvalidAction", Message: fmt.Sprintf("Version %q is not CloudWatch's %s.", v, QueryVersion)}
	}
	return form.Get("Action"), nil
}

// JSON decodes the form into the operation's input and re-encodes it as
// the JSON its Invoke reads.
func (p queryProtocol) JSON(op string, body []byte) ([]byte, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &jsonsvc.WireError{Code: "MalformedQueryString", Message: "The request body is not a valid form: " + err.Error()}
	}
	in := p.inputs[op]()
	if err := decodeForm(form, in); err != nil {
		return nil, err
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, wireError("InvalidParameterValue", "A parameter has no valid value: "+err.Error())
	}
	return b, nil
}

// decodeForm decodes form values into v, a pointer to a wire struct.
func decodeForm(form url.Values, v any) error {
	keys := map[string]bool{}
	for k := range form {
		for i := range len(k) {
			if k[i] == '.' {
				keys[k[:i]] = true
			}
		}
		keys[k] = true
	}
	d := formDecoder{form: form, keys: keys}
	if err := d.assign(reflect.ValueOf(v).Elem(), "", 0); err != nil {
		return wireError("InvalidParameterValue", err.Error())
	}
	return nil
}

type formDecoder struct {
	form url.Values
	keys map[string]bool // every key and every dotted prefix of one
}

func (d formDecoder) assign(dst reflect.Value, name string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("the parameter %s is nested too deeply", name)
	}
	if !d.keys[name] && name != "" {
		return nil
	}
	val := d.form.Get(name)
	bad := func(what string) error {
		return fmt.Errorf("the value %q for parameter %s is not %s", val, name, what)
	}
	if dst.Type() == timeType {
		t, err := parseQueryTime(val)
		if err != nil {
			return bad("a timestamp")
		}
		dst.Set(reflect.ValueOf(awsjson.Time{Time: t}))
		return nil
	}
	switch dst.Kind() {
	case reflect.Pointer:
		p := reflect.New(dst.Type().Elem())
		if err := d.assign(p.Elem(), name, depth+1); err != nil {
			return err
		}
		dst.Set(p)
	case reflect.String:
		dst.SetString(val)
	case reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return bad("a boolean")
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || dst.OverflowInt(n) {
			return bad("an integer")
		}
		dst.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return bad("a number")
		}
		dst.SetFloat(f)
	case reflect.Slice:
		s := reflect.MakeSlice(dst.Type(), 0, 0)
		for i := 1; ; i++ {
			m := name + ".member." + strconv.Itoa(i)
			if !d.keys[m] {
				break
			}
			e := reflect.New(dst.Type().Elem()).Elem()
			if err := d.assign(e, m, depth+1); err != nil {
				return err
			}
			s = reflect.Append(s, e)
		}
		dst.Set(s)
	case reflect.Struct:
		t := dst.Type()
		for i := range t.NumField() {
			n, _ := jsonName(t.Field(i))
			if n == "" {
				continue
			}
			full := n
			if name != "" {
				full = name + "." + n
			}
			if err := d.assign(dst.Field(i), full, depth+1); err != nil {
				return err
			}
		}
	case reflect.Interface:
		dst.Set(reflect.ValueOf(name)) // opaque: only its presence counts
	default:
		return fmt.Errorf("the parameter %s is not supported", name)
	}
	return nil
}

// parseQueryTime reads ISO 8601 (what the SDKs send) or epoch seconds.
func parseQueryTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, ok := awsjson.ParseEpoch(s); ok {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("bad timestamp %q", s)
}

func (queryProtocol) WriteOutput(w http.ResponseWriter, reqID, op string, out any) {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<%sResponse xmlns="%s">`, op, queryXMLNS)
	if v := reflect.ValueOf(out); v.Kind() == reflect.Pointer && !v.IsNil() || v.Kind() == reflect.Struct && v.NumField() > 0 {
		writeXML(&b, op+"Result", v)
	}
	fmt.Fprintf(&b, `<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`, reqID, op)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// queryCodes are the query protocol's names for jsonsvc's common errors
// (alerts.md §1.3).
var queryCodes = map[string]string{
	"UnknownOperationException":           "InvalidAction",
	"InvalidSignatureException":           "SignatureDoesNotMatch",
	"UnrecognizedClientException":         "InvalidClientTokenId",
	"MissingAuthenticationTokenException": "MissingAuthenticationToken",
	"IncompleteSignatureException":        "IncompleteSignature",
	"ThrottlingException":                 "Throttling",
	"SerializationException":              "MalformedQueryString",
	"MethodNotAllowedException":           "MethodNotAllowed",
}

func (queryProtocol) WriteError(w http.ResponseWriter, reqID, _ string, e *jsonsvc.WireError) {
	code := e.Code
	if c, ok := queryCodes[code]; ok {
		code = c
	}
	st := status(e)
	fault := "Sender"
	if st >= 500 {
		fault = "Receiver"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>`, queryXMLNS, fault)
	_ = xml.EscapeText(&b, []byte(code))
	b.WriteString("</Code><Message>")
	_ = xml.EscapeText(&b, []byte(e.Message))
	fmt.Fprintf(&b, "</Message></Error><RequestId>%s</RequestId></ErrorResponse>", reqID)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(st)
	_, _ = w.Write(b.Bytes())
}

// writeXML writes v as the element name: structures by their members'
// json names, lists as <member>, maps as <entry><key/><value/>,
// timestamps in ISO 8601.
func writeXML(b *bytes.Buffer, name string, v reflect.Value) {
	if v.Type() == timeType {
		fmt.Fprintf(b, "<%s>%s</%s>", name, v.Interface().(awsjson.Time).UTC().Format("2006-01-02T15:04:05.000Z"), name)
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			writeXML(b, name, v.Elem())
		}
		return
	}
	fmt.Fprintf(b, "<%s>", name)
	switch v.Kind() {
	case reflect.String:
		_ = xml.EscapeText(b, []byte(v.String()))
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Float64:
		b.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case reflect.Slice:
		for i := range v.Len() {
			writeXML(b, "member", v.Index(i))
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			b.WriteString("<entry>")
			writeXML(b, "key", it.Key())
			writeXML(b, "value", it.Value())
			b.WriteString("</entry>")
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			n, omit := jsonName(t.Field(i))
			if n == "" || omit && v.Field(i).IsZero() {
				continue
			}
			writeXML(b, n, v.Field(i))
		}
	}
	fmt.Fprintf(b, "</%s>", name)
}
