package selector

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/opentrail/opentrail/internal/event"
)

// ErrInvalid matches every *[Error] with errors.Is. The API reports it as
// InvalidEventSelectorsException with the error's message.
var ErrInvalid = errors.New("invalid event selectors")

// Error says why a selector set was rejected. Its message is written for
// the API client, in the style of AWS's; Path locates the offending member
// for logs, e.g. "EventSelectors[0].DataResources[1].Values[2]".
type Error struct {
	Path    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func fail(path, format string, args ...any) error {
	return &Error{Path: path, Message: fmt.Sprintf(format, args...)}
}

// Limits are the quotas selector validation enforces. A zero field means
// the AWS value (operations.md §4).
type Limits struct {
	MaxEventSelectors     int // basic selectors per trail; AWS: 5
	MaxDataResources      int // data resource values across a trail's basic selectors, "all" prefixes excepted; AWS: 250
	MaxAdvancedValues     int // operator values across a trail's or an event data store's advanced selectors; AWS: 500
	MaxDataStoreSelectors int // advanced selectors per event data store; AWS: 5
}

// DefaultLimits returns the AWS quotas.
func DefaultLimits() Limits {
	return Limits{MaxEventSelectors: 5, MaxDataResources: 250, MaxAdvancedValues: 500, MaxDataStoreSelectors: 5}
}

func (l Limits) filled() Limits {
	d := DefaultLimits()
	if l.MaxEventSelectors <= 0 {
		l.MaxEventSelectors = d.MaxEventSelectors
	}
	if l.MaxDataResources <= 0 {
		l.MaxDataResources = d.MaxDataResources
	}
	if l.MaxAdvancedValues <= 0 {
		l.MaxAdvancedValues = d.MaxAdvancedValues
	}
	if l.MaxDataStoreSelectors <= 0 {
		l.MaxDataStoreSelectors = d.MaxDataStoreSelectors
	}
	return l
}

// Validate checks a Set: [ErrBothKinds] if it holds both kinds, else
// [Limits.ValidateBasic] or [Limits.ValidateAdvanced]. The zero Set is
// valid (it is [Default]).
func (l Limits) Validate(s Set) error {
	switch {
	case len(s.EventSelectors) > 0 && len(s.AdvancedEventSelectors) > 0:
		return ErrBothKinds
	case s.IsZero():
		return nil
	case s.IsAdvanced():
		return l.ValidateAdvanced(s.AdvancedEventSelectors)
	}
	return l.ValidateBasic(s.EventSelectors)
}

// ValidateBasic checks basic selectors against the default [Limits].
func ValidateBasic(sel []EventSelector) error { return DefaultLimits().ValidateBasic(sel) }

// ValidateAdvanced checks advanced selectors against the default [Limits].
func ValidateAdvanced(sel []AdvancedEventSelector) error {
	return DefaultLimits().ValidateAdvanced(sel)
}

// ValidateBasic checks basic selectors for a trail (operations.md §3.3) and
// returns nil or an *[Error]:
//   - 1 to MaxEventSelectors selectors;
//   - ReadWriteType empty (All), ReadOnly, WriteOnly or All;
//   - DataResources of type AWS::S3::Object, AWS::Lambda::Function or
//     AWS::DynamoDB::Table, each with at least one value of a valid form
//     (see [ValidDataResourceValue]);
//   - at most MaxDataResources values in all, not counting the "all
//     resources" prefixes (arn:aws:s3, arn:aws:lambda, arn:aws:dynamodb);
//   - ExcludeManagementEventSources a subset of kms.amazonaws.com and
//     rdsdata.amazonaws.com.
func (l Limits) ValidateBasic(sel []EventSelector) error {
	l = l.filled()
	if n := len(sel); n < 1 || n > l.MaxEventSelectors {
		return fail("EventSelectors", "A trail must have between 1 and %d event selectors; the request has %d.", l.MaxEventSelectors, n)
	}
	count := 0
	for i, s := range sel {
		p := "EventSelectors[" + strconv.Itoa(i) + "]"
		switch s.ReadWriteType {
		case "", ReadOnly, WriteOnly, All:
		default:
			return fail(p+".ReadWriteType", "Invalid value for ReadWriteType: %s. Valid values are ReadOnly, WriteOnly, All.", s.ReadWriteType)
		}
		for j, d := range s.DataResources {
			dp := p + ".DataResources[" + strconv.Itoa(j) + "]"
			switch d.Type {
			case TypeS3Object, TypeLambdaFunction, TypeDynamoDBTable:
			case "":
				return fail(dp+".Type", "DataResources.Type is required. Valid values are %s, %s, %s.", TypeS3Object, TypeLambdaFunction, TypeDynamoDBTable)
			default:
				return fail(dp+".Type", "Invalid value for DataResources.Type: %s. Basic event selectors support %s, %s and %s; use advanced event selectors for other resource types.",
					d.Type, TypeS3Object, TypeLambdaFunction, TypeDynamoDBTable)
			}
			if len(d.Values) == 0 {
				return fail(dp+".Values", "DataResources of type %s must list at least one ARN or ARN prefix in Values.", d.Type)
			}
			for k, v := range d.Values {
				if !ValidDataResourceValue(d.Type, v) {
					return fail(dp+".Values["+strconv.Itoa(k)+"]", "Value %s for DataResources.Values is invalid for type %s. %s", v, d.Type, valueHint(d.Type))
				}
				if !allResourcesPrefix(d.Type, v) {
					count++
				}
			}
		}
		for j, src := range s.ExcludeManagementEventSources {
			if src != SourceKMS && src != SourceRDSData {
				return fail(p+".ExcludeManagementEventSources["+strconv.Itoa(j)+"]",
					"Invalid value for ExcludeManagementEventSources: %s. Valid values are %s, %s.", src, SourceKMS, SourceRDSData)
			}
		}
	}
	if count > l.MaxDataResources {
		return fail("EventSelectors", "A trail can have at most %d data resources across all its event selectors; the request has %d. Values that log all resources of a type (arn:aws:s3, arn:aws:lambda, arn:aws:dynamodb) do not count toward this limit.", l.MaxDataResources, count)
	}
	return nil
}

func valueHint(typ string) string {
	switch typ {
	case TypeS3Object:
		return "Use arn:aws:s3 for all objects in all buckets, arn:aws:s3:::bucket/ for all objects in a bucket (the trailing slash is required), or arn:aws:s3:::bucket/prefix."
	case TypeLambdaFunction:
		return "Use arn:aws:lambda for all functions, or a function ARN such as arn:aws:lambda:us-east-1:123456789012:function:my-function."
	case TypeDynamoDBTable:
		return "Use arn:aws:dynamodb for all tables, or a table ARN such as arn:aws:dynamodb:us-east-1:123456789012:table/my-table."
	}
	return ""
}

// ValidDataResourceValue reports whether v is a valid DataResources value
// for a basic selector of resource type typ:
//   - AWS::S3::Object: arn:P:s3 or arn:P:s3::: (all buckets), or
//     arn:P:s3:::bucket/ followed by an optional object-key prefix;
//   - AWS::Lambda::Function: arn:P:lambda (all functions), or
//     arn:P:lambda:region:account:function:name with an optional
//     :version-or-alias qualifier;
//   - AWS::DynamoDB::Table: arn:P:dynamodb (all tables), or
//     arn:P:dynamodb:region:account:table/name.
//
// P is a partition: aws, or aws- followed by letters and hyphens.
func ValidDataResourceValue(typ, v string) bool {
	if allResourcesPrefix(typ, v) {
		return true
	}
	a, ok := parseARN(v)
	if !ok {
		return false
	}
	switch typ {
	case TypeS3Object:
		return a.service == "s3" && a.region == "" && a.account == "" && validS3ObjectPrefix(a.resource)
	case TypeLambdaFunction:
		return a.service == "lambda" && validLambdaResource(a)
	case TypeDynamoDBTable:
		return a.service == "dynamodb" && validDynamoDBResource(a)
	}
	return false
}

// allResourcesPrefix reports whether v is the "all resources" prefix of a
// basic resource type, such as arn:aws:s3.
func allResourcesPrefix(typ, v string) bool {
	var svc string
	switch typ {
	case TypeS3Object:
		svc = "s3"
		if p, ok := strings.CutSuffix(v, ":::"); ok { // arn:aws:s3::: is an older spelling
			v = p
		}
	case TypeLambdaFunction:
		svc = "lambda"
	case TypeDynamoDBTable:
		svc = "dynamodb"
	default:
		return false
	}
	rest, ok := strings.CutPrefix(v, "arn:")
	if !ok {
		return false
	}
	part, s, ok := strings.Cut(rest, ":")
	return ok && validPartition(part) && s == svc
}

type arn struct {
	partition, service, region, account, resource string
}

// parseARN splits arn:partition:service:region:account:resource; partition,
// service and resource must not be empty.
func parseARN(s string) (arn, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return arn{}, false
	}
	a := arn{parts[1], parts[2], parts[3], parts[4], parts[5]}
	if !validPartition(a.partition) || a.service == "" || a.resource == "" {
		return arn{}, false
	}
	for _, c := range a.service {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return arn{}, false
		}
	}
	return a, true
}

func validPartition(p string) bool {
	if p == "aws" {
		return true
	}
	rest, ok := strings.CutPrefix(p, "aws-")
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

func validRegion(r string) bool {
	if r == "" || len(r) > 32 {
		return false
	}
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validAccount(a string) bool {
	if len(a) != 12 {
		return false
	}
	for _, c := range a {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validBucket accepts current bucket names and the legacy us-east-1 ones
// (up to 255 characters, upper case and underscores allowed).
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 255 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validS3ObjectPrefix accepts "bucket/" plus an optional key prefix.
func validS3ObjectPrefix(res string) bool {
	bucket, _, ok := strings.Cut(res, "/")
	return ok && validBucket(bucket)
}

// validS3Object accepts "bucket/key" with a non-empty key.
func validS3Object(res string) bool {
	bucket, key, ok := strings.Cut(res, "/")
	return ok && validBucket(bucket) && key != ""
}

func validName(s string, minLen, maxLen int, extra string) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(extra, c)) {
			return false
		}
	}
	return true
}

// validLambdaResource accepts function:name or function:name:qualifier.
func validLambdaResource(a arn) bool {
	if !validRegion(a.region) || !validAccount(a.account) {
		return false
	}
	rest, ok := strings.CutPrefix(a.resource, "function:")
	if !ok {
		return false
	}
	name, qual, hasQual := strings.Cut(rest, ":")
	return validName(name, 1, 64, "-_") && (!hasQual || validName(qual, 1, 128, "-_$"))
}

func validDynamoDBResource(a arn) bool {
	if !validRegion(a.region) || !validAccount(a.account) {
		return false
	}
	name, ok := strings.CutPrefix(a.resource, "table/")
	return ok && validName(name, 3, 255, "-_.")
}

// Advanced selector fields, as spelled in Field.
const (
	FieldEventCategory  = "eventCategory"
	FieldEventSource    = "eventSource"
	FieldEventName      = "eventName"
	FieldEventType      = "eventType"
	FieldReadOnly       = "readOnly"
	FieldResourcesType  = "resources.type"
	FieldResourcesARN   = "resources.ARN"
	FieldSessionConsole = "sessionCredentialFromConsole"
	FieldUserARN        = "userIdentity.arn"
	FieldErrorCode      = "errorCode"
	FieldVpcEndpointID  = "vpcEndpointId"
)

// Event categories that advanced selectors may select: the first three on
// trails and event data stores (CloudTrail events), the others on event
// data stores only, each a kind of store of its own (lake.md §2.1).
const (
	CategoryManagement        = "Management"
	CategoryData              = "Data"
	CategoryNetwork           = "NetworkActivity"
	CategoryInsight           = "Insight"
	CategoryConfigurationItem = "ConfigurationItem"
	CategoryEvidence          = "Evidence"
	CategoryActivityAuditLog  = event.CategoryActivityAuditLog
)

// CloudTrailCategory reports whether category selects CloudTrail events
// (Management, Data or NetworkActivity): the categories a trail logs and
// that one event data store may combine.
func CloudTrailCategory(category string) bool {
	return category == CategoryManagement || category == CategoryData || category == CategoryNetwork
}

// StoreCategory returns the eventCategory the first of sel selects (its
// Equals value), or "" when sel is empty or the selector names none. For
// selectors [ValidateDataStore] accepted, every selector selects the same
// kind of event: CloudTrail events ([CloudTrailCategory]) or one of the
// other categories alone.
func StoreCategory(sel []AdvancedEventSelector) string {
	if len(sel) == 0 {
		return ""
	}
	for _, f := range sel[0].FieldSelectors {
		if f.Field == FieldEventCategory && len(f.Equals) > 0 {
			return f.Equals[0]
		}
	}
	return ""
}

// DefaultDataStoreName is the name of the selector an event data store
// created without selectors gets.
const DefaultDataStoreName = "Default management events"

// DefaultDataStore returns the advanced selectors of an event data store
// created without any, as CreateEventDataStore and GetEventDataStore return
// them at AWS: one selector named "Default management events" selecting
// every management event.
func DefaultDataStore() []AdvancedEventSelector {
	return []AdvancedEventSelector{{
		Name:           DefaultDataStoreName,
		FieldSelectors: []FieldSelector{{Field: FieldEventCategory, Equals: []string{CategoryManagement}}},
	}}
}

// target is what advanced selectors are validated for: a trail or an
// event data store.
type target struct {
	noun   string              // "trail", "event data store"
	fields map[string][]string // the fields allowed per eventCategory
	// categories lists the eventCategory values, in the order messages
	// name them.
	categories []string
	// trailMgmtSource: management selectors accept eventSource only as
	// NotEquals kms.amazonaws.com or rdsdata.amazonaws.com (trails).
	trailMgmtSource bool
}

// trailTarget: trails (operations.md §3.4; API Reference
// "AdvancedFieldSelector").
var trailTarget = &target{
	noun: "trail",
	fields: map[string][]string{
		CategoryManagement: {FieldEventCategory, FieldEventSource, FieldReadOnly},
		CategoryData: {FieldEventCategory, FieldResourcesType, FieldEventName, FieldEventSource, FieldEventType,
			FieldReadOnly, FieldResourcesARN, FieldSessionConsole, FieldUserARN},
		CategoryNetwork: {FieldEventCategory, FieldEventSource, FieldEventName, FieldErrorCode, FieldVpcEndpointID, FieldUserARN},
	},
	categories:      []string{CategoryManagement, CategoryData, CategoryNetwork},
	trailMgmtSource: true,
}

// storeTarget: event data stores. Management selectors add eventName,
// eventType, sessionCredentialFromConsole and userIdentity.arn, and take
// eventSource with any operator; network activity selectors do not take
// userIdentity.arn; the four store-only categories take eventCategory
// alone (operations.md §3.4).
var storeTarget = &target{
	noun: "event data store",
	fields: map[string][]string{
		CategoryManagement: {FieldEventCategory, FieldEventSource, FieldReadOnly, FieldEventName, FieldEventType,
			FieldSessionConsole, FieldUserARN},
		CategoryData: {FieldEventCategory, FieldResourcesType, FieldEventName, FieldEventSource, FieldEventType,
			FieldReadOnly, FieldResourcesARN, FieldSessionConsole, FieldUserARN},
		CategoryNetwork:           {FieldEventCategory, FieldEventSource, FieldEventName, FieldErrorCode, FieldVpcEndpointID},
		CategoryInsight:           {FieldEventCategory},
		CategoryConfigurationItem: {FieldEventCategory},
		CategoryEvidence:          {FieldEventCategory},
		CategoryActivityAuditLog:  {FieldEventCategory},
	},
	categories: []string{CategoryManagement, CategoryData, CategoryNetwork,
		CategoryInsight, CategoryConfigurationItem, CategoryEvidence, CategoryActivityAuditLog},
}

var knownFields = []string{
	FieldEventCategory, FieldEventSource, FieldEventName, FieldEventType, FieldReadOnly, FieldResourcesType,
	FieldResourcesARN, FieldSessionConsole, FieldUserARN, FieldErrorCode, FieldVpcEndpointID,
}

const (
	maxSelectorName = 1000
	maxFieldName    = 1000
	maxValueLen     = 2048
)

// ValidateAdvanced checks advanced selectors for a trail (operations.md
// §3.4) and returns nil or an *[Error]. Beyond the per-field rules listed
// there, it requires at least one selector, exactly one eventCategory Equals
// value per selector, and at most MaxAdvancedValues operator values in all.
// A trail has no separate cap on the number of advanced selectors: AWS
// publishes none, and the value quota bounds it (every selector has at least
// one value).
func (l Limits) ValidateAdvanced(sel []AdvancedEventSelector) error {
	l = l.filled()
	if len(sel) == 0 {
		return fail("AdvancedEventSelectors", "At least one advanced event selector is required.")
	}
	_, err := l.validateAll(sel, trailTarget)
	return err
}

// ValidateDataStore checks the advanced selectors of an event data store
// against the default [Limits].
func ValidateDataStore(sel []AdvancedEventSelector) error {
	return DefaultLimits().ValidateDataStore(sel)
}

// ValidateDataStore checks the advanced selectors of an event data store
// (operations.md §3.4, lake.md §2.1) and returns nil or an *[Error]: 1 to
// MaxDataStoreSelectors selectors, each valid for event data stores (the
// fields of its eventCategory, which may also be Insight,
// ConfigurationItem, Evidence or ActivityAuditLog), at most
// MaxAdvancedValues operator values in all, and one kind of event: the
// CloudTrail categories (Management, Data, NetworkActivity) combine, each
// other category stands alone, since every kind of store has a schema of
// its own.
func (l Limits) ValidateDataStore(sel []AdvancedEventSelector) error {
	l = l.filled()
	if n := len(sel); n < 1 || n > l.MaxDataStoreSelectors {
		return fail("AdvancedEventSelectors", "An event data store must have between 1 and %d advanced event selectors; the request has %d.", l.MaxDataStoreSelectors, n)
	}
	cats, err := l.validateAll(sel, storeTarget)
	if err != nil {
		return err
	}
	for i, c := range cats[1:] {
		first := cats[0]
		if c == first || CloudTrailCategory(c) && CloudTrailCategory(first) {
			continue
		}
		return fail("AdvancedEventSelectors["+strconv.Itoa(i+1)+"]",
			"An event data store holds one type of event: eventCategory %s cannot be combined with %s. Only %s, %s and %s combine; create a separate event data store for each other category.",
			c, first, CategoryManagement, CategoryData, CategoryNetwork)
	}
	return nil
}

// validateAll checks every selector of sel for tg and the value quota, and
// returns each selector's eventCategory.
func (l Limits) validateAll(sel []AdvancedEventSelector, tg *target) ([]string, error) {
	total := 0
	cats := make([]string, len(sel))
	for i := range sel {
		n, cat, err := validateAdvancedOne(&sel[i], "AdvancedEventSelectors["+strconv.Itoa(i)+"]", i, tg)
		if err != nil {
			return nil, err
		}
		total += n
		cats[i] = cat
	}
	if total > l.MaxAdvancedValues {
		return nil, fail("AdvancedEventSelectors", "Advanced event selectors can have at most %d values for all conditions on %s; the request has %d.",
			l.MaxAdvancedValues, article(tg.noun), total)
	}
	return cats, nil
}

// article returns noun with "a" or "an".
func article(noun string) string {
	if strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}

// validateAdvancedOne checks one selector for tg and returns its number
// of values and its eventCategory.
func validateAdvancedOne(s *AdvancedEventSelector, p string, i int, tg *target) (int, string, error) {
	label := "advanced event selector " + strconv.Itoa(i+1)
	if s.Name != "" {
		label = "advanced event selector " + strconv.Quote(s.Name)
	}
	if n := utf8.RuneCountInString(s.Name); n > maxSelectorName {
		return 0, "", fail(p+".Name", "The name of advanced event selector %d is %d characters long; the maximum is %d.", i+1, n, maxSelectorName)
	}
	if len(s.FieldSelectors) == 0 {
		return 0, "", fail(p+".FieldSelectors", "The %s must have at least one field selector.", label)
	}
	byField := make(map[string]*FieldSelector, len(s.FieldSelectors))
	count := 0
	for j := range s.FieldSelectors {
		f := &s.FieldSelectors[j]
		fp := p + ".FieldSelectors[" + strconv.Itoa(j) + "]"
		if err := validateFieldName(f.Field, fp+".Field"); err != nil {
			return 0, "", err
		}
		if byField[f.Field] != nil {
			return 0, "", fail(fp+".Field", "The field %s appears more than once in %s; put all its conditions in one field selector.", f.Field, label)
		}
		byField[f.Field] = f
		n, err := validateOperators(f, fp)
		if err != nil {
			return 0, "", err
		}
		count += n
	}

	cat := byField[FieldEventCategory]
	if cat == nil {
		return 0, "", fail(p+".FieldSelectors", "The %s must include an eventCategory field selector (Equals %s).", label, orList(tg.categories))
	}
	if len(cat.Equals) != 1 {
		return 0, "", fail(p+".FieldSelectors", "The eventCategory field selector in %s must have exactly one Equals value.", label)
	}
	category := cat.Equals[0]
	allowed, ok := tg.fields[category]
	if !ok {
		return 0, "", fail(p+".FieldSelectors", "Invalid value for eventCategory: %s. Valid values for %ss are %s.", category, tg.noun, strings.Join(tg.categories, ", "))
	}
	for j := range s.FieldSelectors {
		f := &s.FieldSelectors[j]
		if !slices.Contains(allowed, f.Field) {
			return 0, "", fail(p+".FieldSelectors["+strconv.Itoa(j)+"].Field", "The field %s is not supported for %s events on %ss. Supported fields are %s.",
				f.Field, category, tg.noun, strings.Join(allowed, ", "))
		}
	}
	if ro := byField[FieldReadOnly]; ro != nil {
		for _, v := range ro.Equals {
			if v != "true" && v != "false" {
				return 0, "", fail(p+".FieldSelectors", "Invalid value for readOnly: %s. Valid values are true, false.", v)
			}
		}
	}

	switch category {
	case CategoryManagement:
		if src := byField[FieldEventSource]; src != nil && tg.trailMgmtSource {
			if src.Equals != nil || src.StartsWith != nil || src.EndsWith != nil || src.NotStartsWith != nil || src.NotEndsWith != nil {
				return 0, "", fail(p+".FieldSelectors", "For management events, eventSource supports only the NotEquals operator, with %s or %s.", SourceKMS, SourceRDSData)
			}
			for _, v := range src.NotEquals {
				if v != SourceKMS && v != SourceRDSData {
					return 0, "", fail(p+".FieldSelectors", "Invalid value for eventSource on management events: %s. Only NotEquals %s or %s is supported.", v, SourceKMS, SourceRDSData)
				}
			}
		}
	case CategoryData:
		rt := byField[FieldResourcesType]
		if rt == nil {
			return 0, "", fail(p+".FieldSelectors", "The %s selects data events and must include a resources.type field selector, e.g. Equals AWS::S3::Object.", label)
		}
		if len(rt.Equals) != 1 {
			return 0, "", fail(p+".FieldSelectors", "The resources.type field selector in %s must have exactly one Equals value.", label)
		}
		typ := rt.Equals[0]
		if !validResourceType(typ) {
			return 0, "", fail(p+".FieldSelectors", "Invalid value for resources.type: %s. Resource types have the form AWS::Service::Type, e.g. AWS::S3::Object.", typ)
		}
		if ra := byField[FieldResourcesARN]; ra != nil {
			for _, list := range [...]struct {
				op   string
				vals []string
			}{{"Equals", ra.Equals}, {"NotEquals", ra.NotEquals}} {
				for _, v := range list.vals {
					if !validResourceARN(typ, v) {
						return 0, "", fail(p+".FieldSelectors", "Value %s for resources.ARN with %s is not a full ARN of a resource of type %s. Equals and NotEquals need a full ARN; use StartsWith to match a prefix, e.g. arn:aws:s3:::bucket/ for every object in a bucket.",
							v, list.op, typ)
					}
				}
			}
		}
	case CategoryNetwork:
		if byField[FieldEventSource] == nil {
			return 0, "", fail(p+".FieldSelectors", "The %s selects network activity events and must include an eventSource field selector, e.g. Equals ec2.amazonaws.com.", label)
		}
		if ec := byField[FieldErrorCode]; ec != nil {
			for _, op := range ec.operators() {
				for _, v := range op.vals {
					if v != "VpceAccessDenied" {
						return 0, "", fail(p+".FieldSelectors", "Invalid value for errorCode: %s. The only valid value is VpceAccessDenied.", v)
					}
				}
			}
		}
	}
	return count, category, nil
}

// orList joins values as "a, b or c".
func orList(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

func validateFieldName(name, path string) error {
	if name == "" {
		return fail(path, "Field is required in every field selector.")
	}
	if len(name) > maxFieldName {
		return fail(path, "Field names are at most %d characters long.", maxFieldName)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '|') {
			return fail(path, "Invalid field name: %s. Field names contain only letters, digits, '.' and '_'.", name)
		}
	}
	if !slices.Contains(knownFields, name) {
		return fail(path, "Unsupported field %s in an advanced event selector. Supported fields are %s.", name, strings.Join(knownFields, ", "))
	}
	return nil
}

// validateOperators checks the operator lists of f and counts their values.
func validateOperators(f *FieldSelector, fp string) (int, error) {
	n, present := 0, 0
	equalsOnly := f.Field == FieldReadOnly || f.Field == FieldEventCategory || f.Field == FieldResourcesType
	for _, op := range f.operators() {
		if op.vals == nil {
			continue
		}
		present++
		if equalsOnly && op.name != "Equals" {
			return 0, fail(fp+"."+op.name, "The field %s supports only the Equals operator.", f.Field)
		}
		if len(op.vals) == 0 {
			return 0, fail(fp+"."+op.name, "The %s operator of field %s must have at least one value.", op.name, f.Field)
		}
		for k, v := range op.vals {
			if l := utf8.RuneCountInString(v); l < 1 || l > maxValueLen {
				return 0, fail(fp+"."+op.name+"["+strconv.Itoa(k)+"]", "Values of field %s (%s) must be 1 to %d characters long; one is %d.", f.Field, op.name, maxValueLen, l)
			}
		}
		n += len(op.vals)
	}
	if present == 0 {
		return 0, fail(fp, "The field selector for %s must have at least one operator: Equals, StartsWith, EndsWith, NotEquals, NotStartsWith or NotEndsWith.", f.Field)
	}
	return n, nil
}

// validResourceType accepts AWS::Service::Type names.
func validResourceType(t string) bool {
	parts := strings.Split(t, "::")
	if len(parts) != 3 || parts[0] != "AWS" {
		return false
	}
	return validName(parts[1], 1, 64, "") && validName(parts[2], 1, 64, "")
}

// validResourceARN checks a resources.ARN Equals/NotEquals value: a full
// ARN, checked closely for the three basic resource types and by shape for
// the others.
func validResourceARN(typ, v string) bool {
	a, ok := parseARN(v)
	if !ok {
		return false
	}
	switch typ {
	case TypeS3Object:
		return a.service == "s3" && a.region == "" && a.account == "" && validS3Object(a.resource)
	case TypeLambdaFunction:
		return a.service == "lambda" && validLambdaResource(a)
	case TypeDynamoDBTable:
		return a.service == "dynamodb" && validDynamoDBResource(a)
	}
	return true
}
