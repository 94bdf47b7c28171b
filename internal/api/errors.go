package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/history"
	"github.com/opentrail/opentrail/internal/lake/dashboards"
	"github.com/opentrail/opentrail/internal/lake/imports"
	"github.com/opentrail/opentrail/internal/lake/queries"
	"github.com/opentrail/opentrail/internal/lake/querygen"
	"github.com/opentrail/opentrail/internal/lake/samples"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/selector"
	"github.com/opentrail/opentrail/internal/sigv4"
	"github.com/opentrail/opentrail/internal/store"
)

// This file is the API's one wire-error catalogue (protocol.md §2.5, §5.6).
//
// Operations return one of two kinds of error:
//   - an *apiError, for what the API itself finds wrong with a request (a
//     bad trail name, a missing member, an unknown Insights type), which
//     names its code and message directly (invalid, newError);
//   - an error of another package (catalog.ErrNotFound, selector.ErrInvalid,
//     objstore.ErrNoSuchBucket, store.ErrBackpressure, ...), returned as is
//     or wrapped in a context error of this file (trailError, bucketError)
//     when its message needs the trail, account, region or bucket. The
//     catalogue table maps these with errors.Is / errors.As, in one place:
//     handlers never turn another package's error into a wire error.
//
// Everything else is a 500 InternalFailure whose details are logged with
// the request id and never sent.

// wireError is an error as the client sees it.
type wireError struct {
	Status  int
	Code    string // the __type, a bare exception shape name
	Message string
}

// apiError is an error that carries its wire form. Operations build them
// with the constructors below; the message is sent to the client, so it
// names the offending member and the limit.
type apiError struct{ wireError }

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, format string, args ...any) error {
	return &apiError{wireError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}}
}

// invalid returns a 400 error with an operation-specific exception name.
func invalid(code, format string, args ...any) error {
	return newError(http.StatusBadRequest, code, format, args...)
}

// Error codes used in more than one place.
const (
	codeInternal           = "InternalFailure"
	codeServiceUnavailable = "ServiceUnavailable"
	codeThrottling         = "ThrottlingException"
	codeUnsupported        = "UnsupportedOperationException"
	codeUnknownOperation   = "UnknownOperationException"
	codeInvalidSignature   = "InvalidSignatureException"
	codeInvalidNextToken   = "InvalidNextTokenException"

	codeTrailNotFound       = "TrailNotFoundException"
	codeInvalidTrailName    = "InvalidTrailNameException"
	codeARNInvalid          = "CloudTrailARNInvalidException"
	codeInvalidHomeRegion   = "InvalidHomeRegionException"
	codeInvalidParamCombo   = "InvalidParameterCombinationException"
	codeInvalidParameter    = "InvalidParameterException"
	codeInvalidBucketName   = "InvalidS3BucketNameException"
	codeInvalidPrefix       = "InvalidS3PrefixException"
	codeInvalidSnsTopic     = "InvalidSnsTopicNameException"
	codeInvalidKmsKey       = "InvalidKmsKeyIdException"
	codeInvalidTag          = "InvalidTagParameterException"
	codeTagsLimit           = "TagsLimitExceededException"
	codeInvalidSelectors    = "InvalidEventSelectorsException"
	codeInvalidInsights     = "InvalidInsightSelectorsException"
	codeResourceNotFound    = "ResourceNotFoundException"
	codeResourceUnsupported = "ResourceTypeNotSupportedException"
	codeValidation          = "ValidationException"
)

// codeInsufficientSnsPolicy is CreateTrail's and UpdateTrail's answer to
// a missing SNS topic, as AWS's.
const codeInsufficientSnsPolicy = "InsufficientSnsTopicPolicyException"

func errUnsupported(op string) error {
	return invalid(codeUnsupported, "OpenTrail does not support %s yet.", op)
}

func errUnknownOperation(op string) error {
	return invalid(codeUnknownOperation, "The operation %s is not part of the CloudTrail API (version 2013-11-01).", op)
}

// errMethod answers anything but POST. There is no AWS shape for this;
// 405 with Allow: POST tells a browser or curl user what is expected.
func errMethod(method string) error {
	return newError(http.StatusMethodNotAllowed, "MethodNotAllowedException",
		"The CloudTrail API accepts only POST requests with an X-Amz-Target header, not %s.", method)
}

// errWrongService is a credential scope naming another service. AWS
// answers this with InvalidSignatureException and this message.
func errWrongService(service string) error {
	return invalid(codeInvalidSignature, "Credential should be scoped to correct service: '%s'. (The request was signed for '%s'.)", signingService, service)
}

// errRegionNotServed is a credential scope naming a region this server
// does not serve. AWS would say InvalidSignatureException ("Credential
// should be scoped to a valid region"), which SDKs may take for clock skew,
// and UnrecognizedClientException, which blames the key. We answer
// AccessDeniedException, a shape the cloudtrail model declares, with a
// message listing the served regions, so the fix is obvious.
func errRegionNotServed(region string, served []string) error {
	if len(served) == 0 {
		return invalid("AccessDeniedException", "'%s' is not a valid region name for this OpenTrail server.", region)
	}
	return invalid("AccessDeniedException", "This OpenTrail server does not serve region '%s'. Served regions: %s. Configure the client for one of them.",
		region, strings.Join(served, ", "))
}

// errThrottled is an exceeded per-caller rate.
func errThrottled(op string) error {
	return invalid(codeThrottling, "Rate exceeded for %s.", op)
}

// catalogue maps the conditions of other packages to wire errors. The
// first row that matches wins: a row with ops applies only in those
// operations, so the same condition can take the code each operation's
// model declares (a missing trail is TrailNotFoundException in the trail
// operations and ResourceNotFoundException in the tag operations). A row's
// text renders the message from the context the error carries (a
// trailError, a bucketError, the domain error's own words); when it has
// none, or the error carries none, message is sent. status 0 means 400.
//
// Every code here is an error shape of the cloudtrail model or one of
// commonCodes, and every exported sentinel and error type of the packages
// whose errors reach the API is listed in conditions below;
// TestCatalogue checks both against the botocore model and the packages'
// source.
var catalogue = []wireRule{
	// SigV4 (protocol.md §5.6). AWS JSON services answer all of them with
	// 400; the Common Errors page gives 403 for a missing token, but the
	// SDKs key on the code, not the status, and 400 is what they observe.
	{match: is(sigv4.ErrMissingAuth), code: "MissingAuthenticationTokenException", message: "Missing Authentication Token", text: sigv4Text},
	{match: is(sigv4.ErrIncomplete), code: "IncompleteSignatureException", message: "The Authorization header is incomplete or malformed.", text: sigv4Text},
	{match: is(sigv4.ErrUnknownKey), code: "UnrecognizedClientException", message: "The security token included in the request is invalid.", text: sigv4Text},
	{match: is(sigv4.ErrSignatureMismatch), code: codeInvalidSignature,
		message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.", text: sigv4Text},
	// An expired signature is InvalidSignatureException too, with the
	// "Signature expired: ..." message that sigv4 puts in its *Error.
	{match: is(sigv4.ErrExpired), code: codeInvalidSignature, message: "Signature expired: the request's X-Amz-Date is more than 15 minutes away from the server's time.", text: sigv4Text},

	// Framing.
	{match: is(awsjson.ErrBadTarget), code: codeUnknownOperation, text: ownText},
	{match: as[*awsjson.TooLargeError], status: http.StatusRequestEntityTooLarge, code: "RequestEntityTooLargeException", text: ownText},
	// A null list element or map value is a validation error in the words
	// of the operation that has the list (protocol.md §2.5), not a
	// SerializationException: the body is well-formed JSON.
	{match: nullIn("EventSelectors", "AdvancedEventSelectors"), ops: []string{"PutEventSelectors", "CreateEventDataStore", "UpdateEventDataStore"}, code: codeInvalidSelectors, text: nullText},
	{match: nullIn("InsightSelectors"), ops: []string{"PutInsightSelectors"}, code: codeInvalidInsights, text: nullText},
	{match: nullIn("TagsList"), ops: []string{"CreateTrail", "CreateEventDataStore", "AddTags", "RemoveTags"}, code: codeInvalidTag, text: nullText},
	{match: nullIn("LookupAttributes"), ops: []string{"LookupEvents"}, code: codeInvalidLookupAttributes, text: nullText},
	{match: nullIn("trailNameList"), ops: []string{"DescribeTrails"}, code: codeInvalidTrailName, text: nullText},
	{match: is(awsjson.ErrNullElement), code: codeValidation, message: "A list or map in the request holds a null element.", text: nullText},
	{match: as[*awsjson.DecodeError], code: "SerializationException", text: ownText},

	// Store and event history.
	{match: is(store.ErrBackpressure), code: codeThrottling, message: "Rate exceeded: OpenTrail is catching up on recorded events; retry shortly."},
	{match: is(history.ErrBadCursor), code: codeInvalidNextToken, message: msgBadToken},
	{match: is(store.ErrClosed), status: http.StatusServiceUnavailable, code: codeServiceUnavailable, message: msgShuttingDown},
	{match: is(store.ErrUnavailable), status: http.StatusServiceUnavailable, code: codeServiceUnavailable,
		message: "OpenTrail cannot write its event log right now (its disk is full or failing), so the call was not recorded or carried out; retry later."},
	{match: is(history.ErrClosed), status: http.StatusServiceUnavailable, code: codeServiceUnavailable, message: msgShuttingDown},

	// Trails (catalog), worded from the trailError the handler wraps
	// them in. The tag operations declare ResourceNotFoundException, not
	// TrailNotFoundException (operations.md §2.6).
	{match: is(catalog.ErrNotFound), ops: tagOps, code: codeResourceNotFound, message: "The resource was not found.", text: trailNotFoundText},
	{match: is(catalog.ErrNotFound), code: codeTrailNotFound, message: "The trail was not found.", text: trailNotFoundText},
	{match: is(catalog.ErrExists), code: "TrailAlreadyExistsException", message: "A trail with this name already exists in this region.", text: trailExistsText},
	{match: is(catalog.ErrLimit), code: "MaximumNumberOfTrailsExceededException", message: "This account already has the maximum number of trails in the region.", text: trailLimitText},

	// Event data stores (catalog), worded from the storeError the handler
	// wraps them in. A missing store is EventDataStoreNotFoundException in
	// every operation, the tag operations included.
	{match: is(catalog.ErrDataStoreNotFound), code: codeEDSNotFound, message: "The specified event data store was not found.", text: storeNotFoundText},
	{match: is(catalog.ErrDataStoreExists), ops: []string{"CreateEventDataStore", "UpdateEventDataStore"}, code: "EventDataStoreAlreadyExistsException",
		message: "An event data store with that name already exists.", text: storeExistsText},
	{match: is(catalog.ErrDataStoreLimit), ops: []string{"CreateEventDataStore", "RestoreEventDataStore"}, code: "EventDataStoreMaxLimitExceededException",
		message: "Your account has used the maximum number of event data stores.", text: storeLimitText},

	// Channels (catalog), worded from the channelError the handler wraps
	// them in. ListTags and the resource policy operations declare
	// ResourceNotFoundException, not ChannelNotFoundException.
	{match: is(catalog.ErrChannelNotFound), ops: append([]string{"ListTags"}, policyOps...), code: codeResourceNotFound, message: "The resource was not found.", text: channelNotFoundText},
	{match: is(catalog.ErrChannelNotFound), code: codeChannelNotFound, message: "The channel was not found.", text: channelNotFoundText},
	{match: is(catalog.ErrChannelExists), code: "ChannelAlreadyExistsException", message: "A channel with this name already exists.", text: channelExistsText},
	{match: is(catalog.ErrChannelLimit), code: "ChannelMaxLimitExceededException", message: "The account has the maximum number of channels in the region.", text: channelLimitText},
	{match: is(catalog.ErrStoreHasChannel), code: "ChannelExistsForEDSException", message: "The event data store cannot be deleted while a channel delivers to it; delete the channel or change its destinations first.",
		text: func(err error) string {
			if _, list, ok := strings.Cut(err.Error(), catalog.ErrStoreHasChannel.Error()+": "); ok {
				return "The event data store cannot be deleted while channel " + list + " delivers to it; delete the channel (DeleteChannel) or remove the store from its destinations (UpdateChannel) first."
			}
			return ""
		}},

	// Event selectors: the selector package words its messages for the
	// client.
	{match: is(selector.ErrBothKinds), code: codeInvalidParamCombo, message: selector.ErrBothKinds.Error()},
	{match: is(selector.ErrInvalid), code: codeInvalidSelectors, message: "The event selectors are not valid.", text: selectorText},

	// An import's source bucket: StartImport declares none of the bucket
	// exceptions below, only InvalidImportSourceException.
	{match: isAny(objstore.ErrInvalidBucketName, objstore.ErrNoSuchBucket, objstore.ErrAccessDenied), ops: []string{"StartImport"},
		code: "InvalidImportSourceException", message: "The S3 bucket of the import source cannot be read.", text: importBucketText},

	// Buckets (objstore), worded from the bucketError the handler wraps
	// them in.
	{match: is(objstore.ErrInvalidBucketName), code: codeInvalidBucketName, message: "The S3 bucket name is not valid.", text: bucketNameText},
	{match: is(objstore.ErrNoSuchBucket), code: "S3BucketDoesNotExistException", message: "The S3 bucket does not exist.", text: noBucketText},
	{match: is(objstore.ErrAccessDenied), code: "InsufficientS3BucketPolicyException", message: "Incorrect S3 bucket policy is detected for the bucket.", text: bucketPolicyText},
	{match: is(objstore.ErrUnavailable), status: http.StatusServiceUnavailable, code: codeServiceUnavailable,
		message: "The S3-compatible store did not answer; retry shortly.", text: bucketUnavailableText},

	// Lake dashboards, before the Lake queries: a refresh over the query
	// quota wraps both ErrLimit and queries.ErrTooManyQueries.
	{match: is(dashboards.ErrNotFound), code: codeResourceNotFound, message: "The dashboard was not found.", text: lakeText(dashboards.ErrNotFound, "Dashboard %s was not found in this account and region.")},
	{match: is(dashboards.ErrExists), code: "ConflictException", message: "A dashboard with this name already exists.", text: lakeText(dashboards.ErrExists, "Dashboard %s already exists; pick another name, or change it with UpdateDashboard.")},
	{match: is(dashboards.ErrProtected), code: "ConflictException", message: "The dashboard has termination protection enabled.", text: lakeText(dashboards.ErrProtected, "")},
	{match: is(dashboards.ErrLimit), code: "ServiceQuotaExceededException", message: "A dashboard quota was exceeded.", text: lakeText(dashboards.ErrLimit, "")},
	{match: is(dashboards.ErrInvalidParameter), ops: []string{"StartQuery"}, code: codeInvalidParameter, message: "The query parameters are not valid.", text: lakeText(dashboards.ErrInvalidParameter, "")},
	{match: is(dashboards.ErrInvalidParameter), code: codeValidation, message: "The query parameters are not valid.", text: lakeText(dashboards.ErrInvalidParameter, "")},
	// GenerateQuery: a generated statement the Lake refused, and the
	// generator's own failures, all GenerateResponseException, the one
	// error the model has for a query that could not be generated.
	{match: as[*generatedError], code: codeGenerateResponse, message: "The generated query is not valid; rephrase the prompt.", text: generatedText},
	{match: is(querygen.ErrUnavailable), code: codeGenerateResponse, message: "The query generator did not answer; check that its server is running, then retry.",
		text: withHint(detailAfter(querygen.ErrUnavailable, "The query generator did not answer: %s."), "Check that the model server configured with --query-generator-url is running and serves the model given with --query-generator-model, then retry.")},
	{match: is(querygen.ErrNoQuery), code: codeGenerateResponse, message: "The model answered without a SQL query; rephrase the prompt.",
		text: withHint(detailAfter(querygen.ErrNoQuery, "The model answered without a SQL query. Its answer: %s."), "Rephrase the prompt as a question about the events, such as \"Which users had the most access denied errors?\".")},

	// Lake queries: the engine words the detail after the sentinel.
	{match: is(queries.ErrInvalidQuery), code: codeInvalidQuery, message: "The query statement is not valid.", text: lakeText(queries.ErrInvalidQuery, "")},
	{match: is(queries.ErrStoreNotFound), code: codeEDSNotFound, message: "The event data store was not found.", text: lakeText(queries.ErrStoreNotFound, "Event data store %s does not exist in this account and region.")},
	{match: is(queries.ErrStoreInactive), code: codeEDSInactive, message: "The event data store is not active.", text: lakeText(queries.ErrStoreInactive, "Event data store %s is pending deletion; restore it (RestoreEventDataStore) to use it again.")},
	{match: is(queries.ErrTooManyQueries), code: "MaxConcurrentQueriesException", message: "The account has too many queries queued or running.", text: lakeText(queries.ErrTooManyQueries, "")},
	{match: is(queries.ErrQueryNotFound), code: codeQueryNotFound, message: "The query was not found.", text: lakeText(queries.ErrQueryNotFound, "Query %s does not exist in this account (queries are kept for 7 days).")},
	{match: is(queries.ErrQueryInactive), code: "InactiveQueryException", message: "The query is not queued or running.", text: func(err error) string {
		if t := lakeText(queries.ErrQueryInactive, "")(err); t != "" {
			return t + " Only a QUEUED or RUNNING query can be cancelled."
		}
		return ""
	}},

	// Lake imports.
	{match: is(imports.ErrNotFound), code: "ImportNotFoundException", message: "The import was not found.", text: lakeText(imports.ErrNotFound, "Import %s does not exist in this account.")},
	{match: is(imports.ErrOngoing), code: "AccountHasOngoingImportException", message: "The account already has an import in progress.", text: lakeText(imports.ErrOngoing, "")},
	{match: is(imports.ErrInvalidSource), code: "InvalidImportSourceException", message: "The import source is not valid.", text: lakeText(imports.ErrInvalidSource, "")},
	{match: is(imports.ErrWrongStore), code: "InvalidEventDataStoreCategoryException", message: "The event data store does not take imported trail events.", text: lakeText(imports.ErrWrongStore, "")},

	// Contexts.
	{match: is(context.DeadlineExceeded), status: http.StatusServiceUnavailable, code: codeServiceUnavailable, message: "The request timed out inside OpenTrail; retry shortly."},
	{match: is(context.Canceled), status: http.StatusServiceUnavailable, code: codeServiceUnavailable,
		message: "The request was canceled before OpenTrail finished it (the client went away or the server is shutting down); retry."},
}

// tagOps are the operations that name resources by ARN and declare
// ResourceNotFoundException.
var tagOps = []string{"AddTags", "RemoveTags", "ListTags"}

const msgShuttingDown = "OpenTrail is shutting down; retry shortly."

// commonCodes are the codes the API sends that are not error shapes of
// the cloudtrail model: AWS's common errors for every service, and the
// framing errors of the JSON protocol (protocol.md §2.1, §2.5, §5.6).
var commonCodes = map[string]string{
	codeInternal:                          "Common Errors: a server fault (500)",
	codeServiceUnavailable:                "Common Errors: temporarily unavailable (503)",
	codeValidation:                        "Common Errors: a constraint violation no declared exception fits (protocol.md §2.5, rule 4)",
	"SerializationException":              "JSON protocol: a body that does not decode into the operation's input",
	"MissingAuthenticationTokenException": "SigV4 (protocol.md §5.6)",
	"IncompleteSignatureException":        "SigV4 (protocol.md §5.6)",
	"UnrecognizedClientException":         "SigV4 (protocol.md §5.6)",
	codeInvalidSignature:                  "SigV4 (protocol.md §5.6)",
	codeUnknownOperation:                  "JSON protocol: an unknown X-Amz-Target (protocol.md §2.1)",
	"RequestEntityTooLargeException":      "a body over Options.MaxBodyBytes (413)",
	"MethodNotAllowedException":           "a method other than POST (405), see errMethod",
}

// conditions lists every exported sentinel and error type of the packages
// whose errors reach the API, with the code the catalogue gives it in an
// operation it can arrive in. TestCatalogue checks the list against the
// packages' source, so a new sentinel there fails the test until it is
// mapped here. A condition no operation can return is listed with the
// reason: it resolves to InternalFailure and is logged, as a bug would be.
var conditions = []struct {
	name        string // as Go code names it
	err         error
	op          string
	code        string
	unreachable string // why the API never sees it; code is then InternalFailure
}{
	{"sigv4.ErrMissingAuth", sigv4.ErrMissingAuth, "LookupEvents", "MissingAuthenticationTokenException", ""},
	{"sigv4.ErrIncomplete", sigv4.ErrIncomplete, "LookupEvents", "IncompleteSignatureException", ""},
	{"sigv4.ErrUnknownKey", sigv4.ErrUnknownKey, "LookupEvents", "UnrecognizedClientException", ""},
	{"sigv4.ErrSignatureMismatch", sigv4.ErrSignatureMismatch, "LookupEvents", codeInvalidSignature, ""},
	{"sigv4.ErrExpired", sigv4.ErrExpired, "LookupEvents", codeInvalidSignature, ""},
	{"sigv4.ErrNotYetValid", sigv4.ErrNotYetValid, "LookupEvents", codeInvalidSignature, ""},
	{"sigv4.ErrSignatureV2", sigv4.ErrSignatureV2, "LookupEvents", "IncompleteSignatureException", ""},
	{"*sigv4.Error", &sigv4.Error{Err: sigv4.ErrExpired, Message: "Signature expired: 20240101T000000Z is now earlier than 20240301T114500Z (20240301T120000Z - 15 min.)"}, "LookupEvents", codeInvalidSignature, ""},

	{"awsjson.ErrBadTarget", awsjson.ErrBadTarget, "Unknown", codeUnknownOperation, ""},
	{"*awsjson.TooLargeError", &awsjson.TooLargeError{Limit: 1 << 20}, "PutEventSelectors", "RequestEntityTooLargeException", ""},
	{"*awsjson.DecodeError", &awsjson.DecodeError{Member: "MaxResults", Reason: "expected an integer, got a string"}, "LookupEvents", "SerializationException", ""},
	{"awsjson.ErrNullElement", awsjson.ErrNullElement, "ListTags", codeValidation, ""},
	{"awsjson.ErrNullElement", &awsjson.DecodeError{Member: "EventSelectors[1]", Reason: "a list cannot hold null elements", Err: awsjson.ErrNullElement}, "PutEventSelectors", codeInvalidSelectors, ""},
	{"awsjson.ErrNullElement", &awsjson.DecodeError{Member: "InsightSelectors[0].EventCategories[0]", Reason: "a list cannot hold null elements", Err: awsjson.ErrNullElement}, "PutInsightSelectors", codeInvalidInsights, ""},
	{"awsjson.ErrNullElement", &awsjson.DecodeError{Member: "TagsList[0]", Reason: "a list cannot hold null elements", Err: awsjson.ErrNullElement}, "AddTags", codeInvalidTag, ""},
	{"awsjson.ErrNullElement", &awsjson.DecodeError{Member: "LookupAttributes[0]", Reason: "a list cannot hold null elements", Err: awsjson.ErrNullElement}, "LookupEvents", codeInvalidLookupAttributes, ""},
	{"awsjson.ErrNullElement", &awsjson.DecodeError{Member: "trailNameList[0]", Reason: "a list cannot hold null elements", Err: awsjson.ErrNullElement}, "DescribeTrails", codeInvalidTrailName, ""},

	{"store.ErrBackpressure", store.ErrBackpressure, "CreateTrail", codeThrottling, ""},
	{"store.ErrClosed", store.ErrClosed, "CreateTrail", codeServiceUnavailable, ""},
	{"store.ErrUnavailable", store.ErrUnavailable, "CreateTrail", codeServiceUnavailable, ""},
	{"store.ErrFollowerBehind", store.ErrFollowerBehind, "LookupEvents", codeInternal,
		"only the store's followers read the log; the API appends to it and looks up through history"},
	{"store.ErrNotRetained", store.ErrNotRetained, "LookupEvents", codeInternal,
		"only event history reads a past range of the log (to rebuild a damaged index segment); the API never does"},
	{"history.ErrBadCursor", history.ErrBadCursor, "LookupEvents", codeInvalidNextToken, ""},
	{"history.ErrClosed", history.ErrClosed, "LookupEvents", codeServiceUnavailable, ""},

	{"catalog.ErrNotFound", catalog.ErrNotFound, "GetTrail", codeTrailNotFound, ""},
	{"catalog.ErrNotFound", catalog.ErrNotFound, "AddTags", codeResourceNotFound, ""},
	{"catalog.ErrNotFound", catalog.ErrNotFound, "RemoveTags", codeResourceNotFound, ""},
	{"catalog.ErrNotFound", catalog.ErrNotFound, "ListTags", codeResourceNotFound, ""},
	{"catalog.ErrExists", catalog.ErrExists, "CreateTrail", "TrailAlreadyExistsException", ""},
	{"catalog.ErrLimit", catalog.ErrLimit, "CreateTrail", "MaximumNumberOfTrailsExceededException", ""},
	{"catalog.ErrDataStoreNotFound", catalog.ErrDataStoreNotFound, "GetEventDataStore", codeEDSNotFound, ""},
	{"catalog.ErrDataStoreNotFound", catalog.ErrDataStoreNotFound, "AddTags", codeEDSNotFound, ""},
	{"catalog.ErrDataStoreNotFound", catalog.ErrDataStoreNotFound, "RestoreEventDataStore", codeEDSNotFound, ""},
	{"catalog.ErrDataStoreExists", catalog.ErrDataStoreExists, "CreateEventDataStore", "EventDataStoreAlreadyExistsException", ""},
	{"catalog.ErrDataStoreExists", catalog.ErrDataStoreExists, "UpdateEventDataStore", "EventDataStoreAlreadyExistsException", ""},
	{"catalog.ErrDataStoreLimit", catalog.ErrDataStoreLimit, "CreateEventDataStore", "EventDataStoreMaxLimitExceededException", ""},
	{"*catalog.LimitError", &catalog.LimitError{Region: "us-east-1", Max: 10, Stores: true}, "RestoreEventDataStore", "EventDataStoreMaxLimitExceededException", ""},
	{"*catalog.LimitError", &catalog.LimitError{Region: "us-east-1", Max: 5}, "CreateTrail", "MaximumNumberOfTrailsExceededException", ""},

	{"catalog.ErrChannelNotFound", catalog.ErrChannelNotFound, "GetChannel", codeChannelNotFound, ""},
	{"catalog.ErrChannelNotFound", catalog.ErrChannelNotFound, "AddTags", codeChannelNotFound, ""},
	{"catalog.ErrChannelNotFound", catalog.ErrChannelNotFound, "ListTags", codeResourceNotFound, ""},
	{"catalog.ErrChannelNotFound", catalog.ErrChannelNotFound, "PutResourcePolicy", codeResourceNotFound, ""},
	{"catalog.ErrChannelExists", catalog.ErrChannelExists, "CreateChannel", "ChannelAlreadyExistsException", ""},
	{"catalog.ErrChannelLimit", catalog.ErrChannelLimit, "CreateChannel", "ChannelMaxLimitExceededException", ""},
	{"*catalog.LimitError", &catalog.LimitError{Region: "us-east-1", Max: 25, Channels: true}, "CreateChannel", "ChannelMaxLimitExceededException", ""},
	{"catalog.ErrStoreHasChannel", catalog.ErrStoreHasChannel, "DeleteEventDataStore", "ChannelExistsForEDSException", ""},

	{"selector.ErrBothKinds", selector.ErrBothKinds, "PutEventSelectors", codeInvalidParamCombo, ""},
	{"selector.ErrInvalid", selector.ErrInvalid, "PutEventSelectors", codeInvalidSelectors, ""},
	{"*selector.Error", &selector.Error{Path: "EventSelectors[0].ReadWriteType", Message: "ReadWriteType 'read-only' is not valid."}, "PutEventSelectors", codeInvalidSelectors, ""},
	{"*selector.Error", &selector.Error{Path: "AdvancedEventSelectors", Message: "An event data store must have between 1 and 5 advanced event selectors; the request has 6."}, "CreateEventDataStore", codeInvalidSelectors, ""},

	{"objstore.ErrNoSuchBucket", objstore.ErrNoSuchBucket, "CreateTrail", "S3BucketDoesNotExistException", ""},
	{"objstore.ErrNoSuchBucket", objstore.ErrNoSuchBucket, "StartImport", "InvalidImportSourceException", ""},
	{"objstore.ErrAccessDenied", objstore.ErrAccessDenied, "StartImport", "InvalidImportSourceException", ""},
	{"objstore.ErrInvalidBucketName", objstore.ErrInvalidBucketName, "StartImport", "InvalidImportSourceException", ""},
	{"objstore.ErrUnavailable", objstore.ErrUnavailable, "StartImport", codeServiceUnavailable, ""},
	{"objstore.ErrAccessDenied", objstore.ErrAccessDenied, "CreateTrail", "InsufficientS3BucketPolicyException", ""},
	{"objstore.ErrInvalidBucketName", objstore.ErrInvalidBucketName, "CreateTrail", codeInvalidBucketName, ""},
	{"objstore.ErrUnavailable", objstore.ErrUnavailable, "UpdateTrail", codeServiceUnavailable, ""},
	{"objstore.ErrNoSuchKey", objstore.ErrNoSuchKey, "CreateTrail", codeInternal,
		"the API asks the object store only about buckets (BucketChecker.HeadBucket); it reads no objects"},
	{"objstore.ErrBucketExists", objstore.ErrBucketExists, "CreateTrail", codeInternal,
		"only CreateBucket returns it, and the API creates no buckets"},
	{"objstore.ErrInvalidKey", objstore.ErrInvalidKey, "CreateTrail", codeInternal,
		"the API writes no objects; S3KeyPrefix is checked before delivery ever makes a key"},
	{"objstore.ErrExists", objstore.ErrExists, "CreateTrail", codeInternal,
		"only PutIfAbsent returns it, and the API writes no objects"},

	{"queries.ErrInvalidQuery", queries.ErrInvalidQuery, "StartQuery", codeInvalidQuery, ""},
	{"queries.ErrStoreNotFound", queries.ErrStoreNotFound, "StartQuery", codeEDSNotFound, ""},
	{"queries.ErrStoreInactive", queries.ErrStoreInactive, "StartQuery", codeEDSInactive, ""},
	{"queries.ErrTooManyQueries", queries.ErrTooManyQueries, "StartQuery", "MaxConcurrentQueriesException", ""},
	{"queries.ErrQueryNotFound", queries.ErrQueryNotFound, "DescribeQuery", codeQueryNotFound, ""},
	{"queries.ErrQueryInactive", queries.ErrQueryInactive, "CancelQuery", "InactiveQueryException", ""},

	{"dashboards.ErrNotFound", dashboards.ErrNotFound, "GetDashboard", codeResourceNotFound, ""},
	{"dashboards.ErrNotFound", dashboards.ErrNotFound, "AddTags", codeResourceNotFound, ""},
	{"dashboards.ErrExists", dashboards.ErrExists, "CreateDashboard", "ConflictException", ""},
	{"dashboards.ErrProtected", dashboards.ErrProtected, "DeleteDashboard", "ConflictException", ""},
	{"dashboards.ErrLimit", dashboards.ErrLimit, "StartDashboardRefresh", "ServiceQuotaExceededException", ""},
	{"dashboards.ErrLimit", fmt.Errorf("%w: over (%w)", dashboards.ErrLimit, queries.ErrTooManyQueries), "StartDashboardRefresh", "ServiceQuotaExceededException", ""},
	{"dashboards.ErrInvalidParameter", dashboards.ErrInvalidParameter, "StartDashboardRefresh", codeValidation, ""},
	{"dashboards.ErrInvalidParameter", dashboards.ErrInvalidParameter, "StartQuery", codeInvalidParameter, ""},

	{"imports.ErrNotFound", imports.ErrNotFound, "GetImport", "ImportNotFoundException", ""},
	{"imports.ErrOngoing", imports.ErrOngoing, "StartImport", "AccountHasOngoingImportException", ""},
	{"imports.ErrInvalidSource", imports.ErrInvalidSource, "StartImport", "InvalidImportSourceException", ""},
	{"imports.ErrWrongStore", imports.ErrWrongStore, "StartImport", "InvalidEventDataStoreCategoryException", ""},

	{"querygen.ErrUnavailable", querygen.ErrUnavailable, "GenerateQuery", codeGenerateResponse, ""},
	{"querygen.ErrNoQuery", querygen.ErrNoQuery, "GenerateQuery", codeGenerateResponse, ""},
	{"*querygen.CorruptError", &querygen.CorruptError{Path: "generated-queries.jsonl", Line: 1, Msg: "damaged"}, "GenerateQuery", codeInternal,
		"only opening the aliases file (at start-up) and fsck read it; GenerateQuery only appends"},
	{"*samples.ParseError", &samples.ParseError{Line: 1, Msg: "no queries"}, "SearchSampleQueries", codeInternal,
		"only a broken embedded catalogue gives it, which samples' tests refuse"},

	{"context.Canceled", context.Canceled, "LookupEvents", codeServiceUnavailable, ""},
	{"context.DeadlineExceeded", context.DeadlineExceeded, "LookupEvents", codeServiceUnavailable, ""},
}

// wireRule is one row of the catalogue.
type wireRule struct {
	match   func(error) bool
	ops     []string // the operations the row applies to; nil means all
	status  int      // 0 means 400
	code    string
	message string             // the message when text is nil or returns ""
	text    func(error) string // the message, from the error's context
}

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func isAny(targets ...error) func(error) bool {
	return func(err error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
}

func as[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// nullIn matches an awsjson.ErrNullElement inside one of the top-level
// input members.
func nullIn(members ...string) func(error) bool {
	return func(err error) bool {
		var de *awsjson.DecodeError
		if !errors.Is(err, awsjson.ErrNullElement) || !errors.As(err, &de) {
			return false
		}
		top, _, _ := strings.Cut(de.Member, "[")
		top, _, _ = strings.Cut(top, ".")
		return slices.Contains(members, top)
	}
}

// wireFor returns err's wire form in operation op, or nil when neither err
// nor the catalogue names one.
func wireFor(op string, err error) *wireError {
	var ae *apiError
	if errors.As(err, &ae) {
		return &ae.wireError
	}
	for _, row := range catalogue {
		if !row.match(err) || row.ops != nil && !slices.Contains(row.ops, op) {
			continue
		}
		msg := row.message
		if row.text != nil {
			if t := row.text(err); t != "" {
				msg = t
			}
		}
		status := row.status
		if status == 0 {
			status = http.StatusBadRequest
		}
		return &wireError{Status: status, Code: row.code, Message: msg}
	}
	return nil
}

// --- context errors: what handlers wrap domain errors in ---

// trailError is a catalog condition (catalog.ErrNotFound, ErrExists,
// ErrLimit) about the trail a request named, with what the message names:
// the trail as the client gave it, and the caller's account and region.
type trailError struct {
	Trail   string // the name or ARN as given
	Account string
	Region  string
	Err     error
}

func (e *trailError) Error() string { return "trail " + e.Trail + ": " + e.Err.Error() }
func (e *trailError) Unwrap() error { return e.Err }

// storeError is a catalog condition (catalog.ErrDataStoreNotFound,
// ErrDataStoreExists, ErrDataStoreLimit) about the event data store a
// request named: the store (its ARN, ID or, for a new store, its name) as
// the client gave it, and the caller's account and region.
type storeError struct {
	Store   string
	Account string
	Region  string
	Err     error
}

func (e *storeError) Error() string { return "event data store " + e.Store + ": " + e.Err.Error() }
func (e *storeError) Unwrap() error { return e.Err }

// bucketError is an object-store condition (objstore.ErrNoSuchBucket,
// ErrAccessDenied, ErrUnavailable) about a trail's bucket.
type bucketError struct {
	Bucket string
	Reason string // why access is denied when the store did not say; "" otherwise
	Err    error
}

func (e *bucketError) Error() string {
	if e.Reason != "" {
		return "bucket " + e.Bucket + ": " + e.Reason + ": " + e.Err.Error()
	}
	return "bucket " + e.Bucket + ": " + e.Err.Error()
}
func (e *bucketError) Unwrap() error { return e.Err }

// --- message texts ---

// textOf renders a message from the error of type T in err's chain (the
// context a handler wrapped it in, or the domain error's own words); ""
// when there is none, and the row's message is sent.
func textOf[T error](render func(T) string) func(error) string {
	return func(err error) string {
		var e T
		if !errors.As(err, &e) {
			return ""
		}
		return render(e)
	}
}

func ownText(err error) string { return err.Error() }

// detailAfter puts the detail an error wraps sentinel with (its text
// after "sentinel: ") into format, as is; "" when there is none.
func detailAfter(sentinel error, format string) func(error) string {
	return func(err error) string {
		msg := err.Error()
		i := strings.Index(msg, sentinel.Error()+": ")
		if i < 0 {
			return ""
		}
		return fmt.Sprintf(format, strings.TrimSuffix(msg[i+len(sentinel.Error())+2:], "."))
	}
}

// withHint adds a sentence saying what to do to what text renders; when
// text renders nothing, the row's message is sent.
func withHint(text func(error) string, hint string) func(error) string {
	return func(err error) string {
		if t := text(err); t != "" {
			return t + " " + hint
		}
		return ""
	}
}

var (
	// sigv4Text is the AWS-worded Message of a *sigv4.Error.
	sigv4Text = textOf(func(e *sigv4.Error) string { return e.Message })

	// nullText names the null element: "EventSelectors[1] is null: a list
	// cannot hold null elements."
	nullText = textOf(func(e *awsjson.DecodeError) string {
		if e.Member == "" {
			return ""
		}
		return e.Member + " is null: " + e.Reason + "."
	})

	trailNotFoundText = textOf(func(e *trailError) string {
		return fmt.Sprintf("Unknown trail: %s for the user: %s", e.Trail, e.Account)
	})
	trailExistsText = textOf(func(e *trailError) string {
		return fmt.Sprintf("Trail %s already exists for customer: %s", e.Trail, e.Account)
	})
	// trailLimitText names the region that is full and the quota, as the
	// catalog's *LimitError gives them.
	trailLimitText = textOf(func(e *trailError) string {
		var le *catalog.LimitError
		if errors.As(e.Err, &le) {
			return fmt.Sprintf("User: %s already has %d trails in %s.", e.Account, le.Max, le.Region)
		}
		return fmt.Sprintf("User: %s already has the maximum number of trails in %s.", e.Account, e.Region)
	})

	storeNotFoundText = textOf(func(e *storeError) string {
		return fmt.Sprintf("Event data store %s does not exist in account %s in %s (an event data store is found only in its home region).", clip(e.Store), e.Account, e.Region)
	})
	storeExistsText = textOf(func(e *storeError) string {
		return fmt.Sprintf("An event data store named %s already exists in account %s in %s.", e.Store, e.Account, e.Region)
	})
	// storeLimitText names the region that is full and the quota, as the
	// catalog's *LimitError gives them.
	storeLimitText = textOf(func(e *storeError) string {
		var le *catalog.LimitError
		if errors.As(e.Err, &le) {
			return fmt.Sprintf("Account %s already has %d event data stores in %s, the most allowed (stores pending deletion do not count).", e.Account, le.Max, le.Region)
		}
		return fmt.Sprintf("Account %s already has the maximum number of event data stores in %s.", e.Account, e.Region)
	})

	channelNotFoundText = textOf(func(e *channelError) string {
		return fmt.Sprintf("Channel %s does not exist in account %s in %s (a channel is found only in its home region).", clip(e.Channel), e.Account, e.Region)
	})
	channelExistsText = textOf(func(e *channelError) string {
		return fmt.Sprintf("A channel named %s already exists in account %s in %s.", e.Channel, e.Account, e.Region)
	})
	channelLimitText = textOf(func(e *channelError) string {
		var le *catalog.LimitError
		if errors.As(e.Err, &le) {
			return fmt.Sprintf("Account %s already has %d channels in %s, the most allowed (delete one with DeleteChannel first).", e.Account, le.Max, le.Region)
		}
		return ""
	})

	// selectorText is the message of a *selector.Error, written for
	// clients.
	selectorText = textOf(func(e *selector.Error) string { return e.Message })

	noBucketText = textOf(func(e *bucketError) string {
		return fmt.Sprintf("S3 bucket %s does not exist. Create it first (aws s3 mb s3://%s).", e.Bucket, e.Bucket)
	})
	bucketPolicyText = textOf(func(e *bucketError) string {
		reason := e.Reason
		if reason == "" {
			reason = "access denied"
		}
		return fmt.Sprintf("Incorrect S3 bucket policy is detected for bucket: %s (%s).", e.Bucket, reason)
	})
	bucketUnavailableText = textOf(func(e *bucketError) string {
		return fmt.Sprintf("The S3-compatible store did not answer about bucket %s; retry shortly.", e.Bucket)
	})
)

// importBucketText words a StartImport source bucket that cannot be read:
// as the bucket rows do, or as the engine did.
func importBucketText(err error) string {
	var t string
	switch {
	case errors.Is(err, objstore.ErrInvalidBucketName):
		t = bucketNameText(err)
	case errors.Is(err, objstore.ErrNoSuchBucket):
		t = noBucketText(err)
	case errors.Is(err, objstore.ErrAccessDenied):
		t = bucketPolicyText(err)
	}
	if t == "" {
		t = lakeText(imports.ErrInvalidSource, "")(err)
	}
	return t
}

// bucketNameText is objstore.CheckBucketName's reason, e.g. `bucket name
// "ab" must be 3 to 63 characters long.`
func bucketNameText(err error) string {
	if t := textAbove(err, objstore.ErrInvalidBucketName); t != "" {
		return t + "."
	}
	return ""
}

// textAbove returns the text of the error in err's chain that wraps
// sentinel directly, without the ": sentinel" suffix fmt.Errorf's %w
// gave it; "" when there is none.
func textAbove(err, sentinel error) string {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if errors.Unwrap(e) == sentinel { //nolint:errorlint // the direct wrapper is wanted, not any match
			return strings.TrimSuffix(e.Error(), ": "+sentinel.Error())
		}
	}
	return ""
}

// resolve maps err to its wire form, logging it when it is unexpected.
func (h *Handler) resolve(ctx context.Context, c *call, err error) *wireError {
	if w := wireFor(c.opName, err); w != nil {
		return w
	}
	h.log.ErrorContext(ctx, "api: internal error",
		slog.String(logKeyRequestID, c.requestID), slog.String(logKeyOperation, c.opName), slog.Any(logKeyErr, err))
	return &wireError{
		Status:  http.StatusInternalServerError,
		Code:    codeInternal,
		Message: "OpenTrail encountered an internal error (request id " + c.requestID + "); the server log has the details.",
	}
}

// writeError resolves err and writes it as the response.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, c *call, err error) {
	h.writeWire(w, r, c, h.resolve(r.Context(), c, err))
}

func (h *Handler) writeWire(w http.ResponseWriter, r *http.Request, c *call, e *wireError) {
	c.code = e.Code
	if e.Status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	if err := awsjson.WriteError(w, e.Status, e.Code, e.Message); err != nil {
		h.log.DebugContext(r.Context(), "api: writing the error response failed",
			slog.String(logKeyRequestID, c.requestID), slog.Any(logKeyErr, err))
	}
}
