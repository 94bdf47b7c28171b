package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/jsonscan"
)

// MaxRecordSize is the largest record OpenTrail accepts (256 KB, the
// CloudTrail event size quota).
const MaxRecordSize = 256 * 1024

// Event is a validated record ready to store: its compact JSON bytes and the
// values derived from them.
type Event struct {
	Raw []byte // compact JSON, exactly what is stored and returned
	Summary
}

// Summary is what the store and LookupEvents need from a record, derived once
// when the record is accepted.
type Summary struct {
	EventID     string
	EventTime   time.Time // second precision, UTC
	EventName   string    // insightDetails.eventName for Insights events, eventData.eventName for ActivityAuditLog
	EventSource string    // insightDetails.eventSource for Insights events, eventData.eventSource for ActivityAuditLog
	Account     string    // recipientAccountId, else userIdentity.accountId
	Region      string    // awsRegion
	Category    string    // eventCategory, derived when absent
	EventType   string    // eventType, e.g. AwsApiCall
	ReadOnly    *bool
	Username    string // see DeriveUsername
	AccessKeyID string
	// Resources are the record's resources, each as its type and ARN (or
	// ARNPrefix): what selectors match resources.type and resources.ARN
	// against.
	Resources []LookupResource
	// LookupResources are LookupEvents' Resources and what its
	// ResourceType and ResourceName attributes match (event-record.md
	// §9.3): Resources, except for services with an extractor of their
	// own (S3: the bucket by name).
	LookupResources []LookupResource
	// ErrorCode and RequestID are the record's errorCode and requestID
	// when they are strings, else "". They are not validated: records
	// carry whatever their service wrote.
	ErrorCode string
	RequestID string
}

// Insight reports whether the event is a CloudTrail Insights event.
func (s *Summary) Insight() bool { return s.Category == CategoryInsight }

// ActivityAuditLog reports whether the event is a record of events from
// outside AWS (lake.md §7.5): only event data stores of that category
// take it; no trail, event history, Insights or EventBridge does.
func (s *Summary) ActivityAuditLog() bool { return s.Category == CategoryActivityAuditLog }

// InEventHistory reports whether LookupEvents can return the event: management
// events and Insights events (the latter only with EventCategory=insight).
func (s *Summary) InEventHistory() bool {
	return s.Category == CategoryMgmt || s.Category == CategoryInsight
}

// LookupResource is one element of LookupEvents' Resources list.
type LookupResource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName,omitempty"`
}

// ValidationError says why a record was rejected. Field is the JSON path of
// the offending member ("" for the whole record).
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return "invalid record: " + e.Reason
	}
	return "invalid record: " + e.Field + ": " + e.Reason
}

// ErrInvalid matches every *ValidationError with errors.Is.
var ErrInvalid = errors.New("invalid record")

// Is makes errors.Is(err, ErrInvalid) true for validation errors.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// summaryDoc is the subset of a record that Parse decodes. Members are
// matched by exact name, as [Record] and every other JSON consumer of the
// stored bytes match them (encoding/json's struct decoding would also accept
// "EventName" for eventName); when a name repeats, the last one wins; null
// counts as absent.
type summaryDoc struct {
	EventVersion       *string
	EventTime          *string
	EventSource        string
	EventName          string
	AWSRegion          string
	EventID            string
	EventType          string
	EventCategory      string
	ReadOnly           *bool
	ManagementEvent    *bool
	RecipientAccountID string
	ErrorCode          string
	RequestID          string
	BucketName         string // requestParameters.bucketName, for S3's Resources
	UserIdentity       *docIdentity
	Resources          []docResource
	InsightDetails     *docInsight
	// EventData is the raw eventData member (nil when absent), decoded
	// only for records of category ActivityAuditLog: other records
	// (Config items, say) may carry an eventData of their own.
	EventData []byte
}

type docIdentity struct {
	Type        string
	PrincipalID string
	ARN         string
	AccountID   string
	AccessKeyID string
	UserName    string
	InvokedBy   string
}

type docResource struct {
	ARN       string
	ARNPrefix string
	Type      string
}

type docInsight struct {
	EventName   string
	EventSource string
}

// Parse validates a record and derives its Summary. raw may contain
// insignificant whitespace; Event.Raw is its compact form, which must be at
// most [MaxRecordSize] bytes. Parse does not keep a reference to raw.
func Parse(raw []byte) (Event, error) {
	b, err := compactCopy(raw)
	if err != nil {
		return Event{}, err
	}
	if len(b) == 0 || b[0] != '{' {
		return Event{}, invalid("", "not a JSON object")
	}
	var d summaryDoc
	if err := d.decode(b); err != nil {
		return Event{}, err
	}
	s, err := summarize(&d)
	if err != nil {
		return Event{}, err
	}
	return Event{Raw: b, Summary: s}, nil
}

// ParseStored derives the Summary of a record the store holds: bytes that
// Parse returned as Event.Raw when the record was appended, read back from
// checksummed storage. It skips Parse's JSON validation, size check and
// copy, so raw MUST be such bytes, or bytes built to the same guarantee
// (valid UTF-8, valid compact JSON, at most MaxRecordSize bytes: the
// records PutAuditEvents builds around checked eventData); Event.Raw is
// raw itself.
func ParseStored(raw []byte) (Event, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return Event{}, invalid("", "not a JSON object")
	}
	var d summaryDoc
	if err := d.decode(raw); err != nil {
		return Event{}, err
	}
	s, err := summarize(&d)
	if err != nil {
		return Event{}, err
	}
	return Event{Raw: raw, Summary: s}, nil
}

// compactCopy validates raw as JSON and returns a new slice holding its
// compact form, or a *ValidationError.
func compactCopy(raw []byte) ([]byte, error) {
	tooLarge := func(n int) error {
		return invalid("", "record is %d bytes, larger than the 256 KB limit", n)
	}
	// Records read from log files and from the store are compact already:
	// validating and copying them is cheaper than json.Compact.
	if valid, compact := jsonscan.Valid(raw); valid && compact {
		if len(raw) > MaxRecordSize {
			return nil, tooLarge(len(raw))
		}
		return bytes.Clone(raw), nil
	}
	var compact bytes.Buffer
	compact.Grow(min(len(raw), MaxRecordSize+1))
	if err := json.Compact(&compact, raw); err != nil {
		return nil, invalid("", "not valid JSON: %v", err)
	}
	if compact.Len() > MaxRecordSize {
		return nil, tooLarge(compact.Len())
	}
	return compact.Bytes(), nil
}

// stringEnd returns the index just past the JSON string starting at b[i],
// or len(b) if it is not terminated.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			break
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
	return len(b)
}

// valueEnd returns the index just past the JSON value starting at b[i].
// b must be valid compact JSON.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
		j++
	}
	return j
}

// eachMember calls fn with the name and value of each member of the JSON
// object obj, in order. obj must be valid compact JSON. name is the decoded
// member name; fn must not keep it.
func eachMember(obj []byte, fn func(name, val []byte) error) error {
	i := 1
	for i < len(obj) && obj[i] == '"' {
		ke := stringEnd(obj, i)
		name := obj[i+1 : ke-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			name = []byte(jsonString(obj[i:ke]))
		}
		ve := valueEnd(obj, ke+1)
		if err := fn(name, obj[ke+1:ve]); err != nil {
			return err
		}
		i = ve + 1 // past ',' or the closing '}'
	}
	return nil
}

// eachElement calls fn with each element of the JSON array arr, in order.
// arr must be valid compact JSON.
func eachElement(arr []byte, fn func(i int, val []byte) error) error {
	for i, n := 1, 0; i < len(arr) && arr[i] != ']'; n++ {
		ve := valueEnd(arr, i)
		if err := fn(n, arr[i:ve]); err != nil {
			return err
		}
		i = ve + 1
	}
	return nil
}

// jsonString decodes the valid JSON string literal lit.
func jsonString(lit []byte) string {
	if s, ok := plainString(lit); ok {
		return s
	}
	if s, ok := unescape(lit); ok {
		return s
	}
	var s string
	_ = json.Unmarshal(lit, &s) // lit is valid: cannot fail
	return s
}

// unescape decodes a valid JSON string literal whose escapes are the
// two-character ones (\" \\ \/ \b \f \n \r \t) and whose text is valid
// UTF-8, as encoding/json would; ok false for anything else (\uXXXX,
// invalid UTF-8, which encoding/json replaces), left to encoding/json.
// Events sent as JSON inside a string (PutAuditEvents' eventData) are
// mostly \" escapes: this is about ten times faster than
// encoding/json for them.
func unescape(lit []byte) (string, bool) {
	if len(lit) < 2 {
		return "", false
	}
	s := lit[1 : len(lit)-1]
	b := make([]byte, 0, len(s))
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			b = append(b, s...)
			break
		}
		b = append(b, s[:i]...)
		if i+1 >= len(s) {
			return "", false
		}
		switch c := s[i+1]; c {
		case '"', '\\', '/':
			b = append(b, c)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		default:
			return "", false
		}
		s = s[i+2:]
	}
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// jsonKind names the JSON type of the value val for messages.
func jsonKind(val []byte) string {
	switch val[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// wrongType reports that member prefix+name has the wrong JSON type. The
// path is built only here, so that decoding valid records does not.
func wrongType(prefix, name string, val []byte, want string) error {
	return invalid(prefix+name, "is a JSON %s, want %s", jsonKind(val), want)
}

// pick sets vals[i] to the value of the last member of obj named names[i],
// or nil if there is none. obj must be valid compact JSON.
func pick(obj []byte, names []string, vals [][]byte) {
	_ = eachMember(obj, func(name, val []byte) error {
		for i, n := range names {
			if string(name) == n {
				vals[i] = val
				break
			}
		}
		return nil
	})
}

// decodeString sets *dst from a string or null member value; val nil
// (absent) leaves *dst unchanged.
func decodeString(prefix, name string, val []byte, dst *string) error {
	switch {
	case val == nil:
	case val[0] == '"':
		*dst = jsonString(val)
	case val[0] == 'n':
		*dst = ""
	default:
		return wrongType(prefix, name, val, "string")
	}
	return nil
}

func decodeStringPtr(name string, val []byte, dst **string) error {
	if val == nil || val[0] == 'n' {
		*dst = nil
		return nil
	}
	var s string
	if err := decodeString("", name, val, &s); err != nil {
		return err
	}
	*dst = &s
	return nil
}

func decodeBoolPtr(name string, val []byte, dst **bool) error {
	switch {
	case val == nil || val[0] == 'n':
		*dst = nil
	case val[0] == 't' || val[0] == 'f':
		v := val[0] == 't'
		*dst = &v
	default:
		return wrongType("", name, val, "boolean")
	}
	return nil
}

// decodeStrings decodes the string members names (at most 8) of obj into
// dsts, naming them prefix+name in errors.
func decodeStrings(prefix string, obj []byte, names []string, dsts ...*string) error {
	var buf [8][]byte
	vals := buf[:len(names)]
	pick(obj, names, vals)
	for i, v := range vals {
		if err := decodeString(prefix, names[i], v, dsts[i]); err != nil {
			return err
		}
	}
	return nil
}

// Members of a record that Parse reads, in the order decode checks them.
var docNames = [...]string{
	"eventVersion", "eventTime", "eventSource", "eventName", "awsRegion", "eventID",
	"eventType", "eventCategory", "readOnly", "managementEvent", "recipientAccountId",
	"userIdentity", "resources", "insightDetails", "errorCode", "requestID", "requestParameters",
	"eventData",
}

var (
	identityNames = []string{"type", "principalId", "arn", "accountId", "accessKeyId", "userName", "invokedBy"}
	resourceNames = []string{"ARN", "ARNPrefix", "type"}
	insightNames  = []string{"eventName", "eventSource"}
	// eventDataNames are the members of an ActivityAuditLog record's
	// eventData that its Summary takes; the same as insightNames.
	eventDataNames = insightNames
)

// decode fills d from the valid compact JSON object b.
func (d *summaryDoc) decode(b []byte) error {
	var v [len(docNames)][]byte
	pick(b, docNames[:], v[:])
	for _, err := range []error{
		decodeStringPtr("eventVersion", v[0], &d.EventVersion),
		decodeStringPtr("eventTime", v[1], &d.EventTime),
		decodeString("", "eventSource", v[2], &d.EventSource),
		decodeString("", "eventName", v[3], &d.EventName),
		decodeString("", "awsRegion", v[4], &d.AWSRegion),
		decodeString("", "eventID", v[5], &d.EventID),
		decodeString("", "eventType", v[6], &d.EventType),
		decodeString("", "eventCategory", v[7], &d.EventCategory),
		decodeBoolPtr("readOnly", v[8], &d.ReadOnly),
		decodeBoolPtr("managementEvent", v[9], &d.ManagementEvent),
		decodeString("", "recipientAccountId", v[10], &d.RecipientAccountID),
		d.decodeIdentity(v[11]),
		d.decodeResources(v[12]),
		d.decodeInsight(v[13]),
	} {
		if err != nil {
			return err
		}
	}
	// Not validated (see Summary): a value that is not a string is "".
	d.ErrorCode = lenientString(v[14])
	d.RequestID = lenientString(v[15])
	d.BucketName = bucketNameOf(v[16])
	d.EventData = v[17]
	return nil
}

// bucketNameOf returns the bucketName string member of a requestParameters
// value, or "".
func bucketNameOf(rp []byte) string {
	if len(rp) == 0 || rp[0] != '{' {
		return ""
	}
	var b [1][]byte
	pick(rp, []string{"bucketName"}, b[:])
	return lenientString(b[0])
}

// lenientString decodes a string member value; anything else is "".
func lenientString(val []byte) string {
	if len(val) == 0 || val[0] != '"' {
		return ""
	}
	return jsonString(val)
}

func (d *summaryDoc) decodeIdentity(val []byte) error {
	switch {
	case val == nil || val[0] == 'n':
		d.UserIdentity = nil
		return nil
	case val[0] != '{':
		return wrongType("", "userIdentity", val, "object")
	}
	u := new(docIdentity)
	d.UserIdentity = u
	return decodeStrings("userIdentity.", val, identityNames,
		&u.Type, &u.PrincipalID, &u.ARN, &u.AccountID, &u.AccessKeyID, &u.UserName, &u.InvokedBy)
}

func (d *summaryDoc) decodeResources(val []byte) error {
	switch {
	case val == nil || val[0] == 'n':
		d.Resources = nil
		return nil
	case val[0] != '[':
		return wrongType("", "resources", val, "array")
	}
	d.Resources = []docResource{}
	return eachElement(val, func(i int, val []byte) error {
		var r docResource
		switch val[0] {
		case 'n':
		case '{':
			if err := decodeStrings("", val, resourceNames, &r.ARN, &r.ARNPrefix, &r.Type); err != nil {
				if ve, ok := errors.AsType[*ValidationError](err); ok {
					ve.Field = "resources[" + strconv.Itoa(i) + "]." + ve.Field
				}
				return err
			}
		default:
			return wrongType("resources", "["+strconv.Itoa(i)+"]", val, "object")
		}
		d.Resources = append(d.Resources, r)
		return nil
	})
}

func (d *summaryDoc) decodeInsight(val []byte) error {
	switch {
	case val == nil || val[0] == 'n':
		d.InsightDetails = nil
		return nil
	case val[0] != '{':
		return wrongType("", "insightDetails", val, "object")
	}
	in := new(docInsight)
	d.InsightDetails = in
	return decodeStrings("insightDetails.", val, insightNames, &in.EventName, &in.EventSource)
}

func summarize(d *summaryDoc) (Summary, error) {
	var s Summary
	if d.EventTime == nil {
		return s, invalid("eventTime", "missing; every CloudTrail record has an eventTime")
	}
	t, err := time.Parse(time.RFC3339Nano, *d.EventTime)
	if err != nil {
		return s, invalid("eventTime", "%q is not an ISO 8601 time like 2023-07-10T11:42:36Z", *d.EventTime)
	}
	s.EventTime = t.UTC().Truncate(time.Second)
	if d.EventID == "" {
		return s, invalid("eventID", "missing")
	}
	if len(d.EventID) > 128 {
		return s, invalid("eventID", "longer than 128 characters")
	}
	s.EventID = d.EventID
	s.Region = d.AWSRegion
	if !ValidRegion(s.Region) {
		if s.Region == "" {
			return s, invalid("awsRegion", "missing")
		}
		return s, invalid("awsRegion", "%q is not a region name (lowercase letters, digits and '-', at most 32)", s.Region)
	}
	s.Account = d.RecipientAccountID
	accountField := "recipientAccountId"
	if s.Account == "" && d.UserIdentity != nil && d.UserIdentity.AccountID != "" {
		s.Account, accountField = d.UserIdentity.AccountID, "userIdentity.accountId"
	}
	if !ValidAccountID(s.Account) {
		if s.Account == "" {
			return s, invalid("recipientAccountId", "missing, and userIdentity.accountId is missing too")
		}
		return s, invalid(accountField, "%q is not a 12-digit account id", s.Account)
	}
	s.Category = deriveCategory(d)
	s.EventType = d.EventType
	s.ReadOnly = d.ReadOnly
	s.ErrorCode, s.RequestID = d.ErrorCode, d.RequestID
	if s.Category == CategoryInsight {
		// Insights records name the subject API inside insightDetails,
		// where both members are required (insights.md §3).
		if d.InsightDetails == nil {
			return s, invalid("insightDetails", "missing; an Insights record names its subject API there")
		}
		if d.InsightDetails.EventSource == "" {
			return s, invalid("insightDetails.eventSource", "missing")
		}
		if d.InsightDetails.EventName == "" {
			return s, invalid("insightDetails.eventName", "missing")
		}
		s.EventName = d.InsightDetails.EventName
		s.EventSource = d.InsightDetails.EventSource
	} else if s.Category == CategoryActivityAuditLog {
		// Records of events from outside AWS name the event inside
		// eventData (lake.md §7.5). PutAuditEvents validates the rest of
		// eventData (§7.3); the Summary needs only these two.
		if err := activityNames(d.EventData, &s); err != nil {
			return s, err
		}
	} else {
		if d.EventSource == "" {
			return s, invalid("eventSource", "missing")
		}
		if d.EventName == "" {
			return s, invalid("eventName", "missing")
		}
		s.EventName, s.EventSource = d.EventName, d.EventSource
	}
	if u := d.UserIdentity; u != nil {
		s.AccessKeyID = u.AccessKeyID
		s.Username = DeriveUsername(u.Type, u.UserName, u.ARN, u.InvokedBy)
	}
	s.Resources = recordResources(d)
	s.LookupResources = lookupResources(d, s.Resources)
	return s, nil
}

// activityNames sets the EventName and EventSource of an ActivityAuditLog
// record from its eventData, where both are required.
func activityNames(val []byte, s *Summary) error {
	switch {
	case val == nil || val[0] == 'n':
		return invalid("eventData", "missing; a record of category ActivityAuditLog names its event there")
	case val[0] != '{':
		return wrongType("", "eventData", val, "object")
	}
	if err := decodeStrings("eventData.", val, eventDataNames, &s.EventName, &s.EventSource); err != nil {
		return err
	}
	if s.EventSource == "" {
		return invalid("eventData.eventSource", "missing")
	}
	if s.EventName == "" {
		return invalid("eventData.eventName", "missing")
	}
	return nil
}

// sourceS3 is the eventSource of Amazon S3's calls.
const sourceS3 = "s3.amazonaws.com"

// recordResources lists the record's resources, each as its type and ARN
// (or ARNPrefix); elements with neither are left out.
func recordResources(d *summaryDoc) []LookupResource {
	var out []LookupResource
	for _, r := range d.Resources {
		name := r.ARN
		if name == "" {
			name = r.ARNPrefix
		}
		if r.Type == "" && name == "" {
			continue
		}
		out = append(out, LookupResource{ResourceType: r.Type, ResourceName: name})
	}
	return out
}

// lookupResources derives LookupEvents' Resources (event-record.md §9.3):
// the record's resources, except for the services with an extractor of
// their own. S3's is the bucket by name, from requestParameters.bucketName,
// so that CreateBucket (whose record has no resources) is found too
// (s3-events.md §2).
func lookupResources(d *summaryDoc, recorded []LookupResource) []LookupResource {
	if d.EventSource == sourceS3 {
		if d.BucketName == "" {
			return nil
		}
		return []LookupResource{{ResourceType: "AWS::S3::Bucket", ResourceName: d.BucketName}}
	}
	return recorded
}

func deriveCategory(d *summaryDoc) string {
	if d.EventCategory != "" {
		return d.EventCategory
	}
	switch {
	case d.EventType == TypeInsight || d.InsightDetails != nil:
		return CategoryInsight
	case d.EventType == TypeVpceEvent:
		return CategoryNetwork
	case d.ManagementEvent != nil && !*d.ManagementEvent:
		return CategoryData
	}
	// Records older than eventVersion 1.07 carry no category; before data
	// events existed every record was a management event, and later ones say
	// managementEvent=false when they are not.
	return CategoryMgmt
}

// DeriveUsername computes LookupEvents' Username from a userIdentity, as
// event-record.md §9.2 describes.
func DeriveUsername(typ, userName, arn, invokedBy string) string {
	switch typ {
	case "IAMUser", "SAMLUser", "WebIdentityUser":
		return userName
	case "AssumedRole", "FederatedUser":
		if i := strings.LastIndexByte(arn, '/'); i >= 0 && i < len(arn)-1 {
			return arn[i+1:]
		}
		return userName
	case "Root":
		if userName != "" {
			return userName
		}
		return "root"
	case "AWSService":
		return invokedBy
	}
	return userName
}

// ValidAccountID reports whether s is a 12-digit account id.
func ValidAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ValidRegion reports whether s can name a region: 1 to 32 lowercase
// letters, digits and hyphens, starting with a letter. Imported records may
// carry region names AWS does not have; they are kept as they are.
func ValidRegion(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// EachMember calls fn with the name and value of each member of the JSON
// object obj, in order, without decoding the values. obj must be valid
// compact JSON, as Event.Raw and every value inside it are. name is the
// decoded member name; fn must not keep it.
func EachMember(obj []byte, fn func(name, val []byte) error) error { return eachMember(obj, fn) }

// EachElement calls fn with each element of the JSON array arr, in order.
// arr must be valid compact JSON.
func EachElement(arr []byte, fn func(i int, val []byte) error) error {
	return eachElement(arr, fn)
}

// JSONString decodes the valid JSON string literal lit (quotes included).
func JSONString(lit []byte) string { return jsonString(lit) }
