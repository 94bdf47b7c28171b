package s3api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/opentrail/opentrail/internal/audit"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/objstore"
	"github.com/opentrail/opentrail/internal/store"
)

// Recording: every S3 call is a CloudTrail record with eventSource
// s3.amazonaws.com, as AWS records Amazon S3 (s3-events.md). internal/audit
// fills the fields every edge fills alike; this file decides what is
// particular to S3: the operation names and categories (ops.go),
// requestParameters, additionalEventData, resources, and which accounts
// receive a copy.

// EventAppender makes records durable; [store.Store] implements it.
// Append MUST return only once the events are durable, and an error
// wrapping [store.ErrBackpressure] when its followers are behind (the
// client is told to slow down).
type EventAppender interface {
	Append(ctx context.Context, evs []event.Event, opt store.AppendOptions) (store.AppendResult, error)
}

var _ EventAppender = (*store.Store)(nil)

const eventSource = "s3.amazonaws.com"

// Resource types of S3 records.
const (
	typeObject = "AWS::S3::Object"
	typeBucket = "AWS::S3::Bucket"
)

// record appends the records of one call: nothing for a request that is
// not recorded, one record for most calls, one per account for a call on
// another account's bucket. It runs before the reply is sent.
func (h *Handler) record(ctx context.Context, r *http.Request, rc *reqCtx, rp *reply) error {
	calls := h.calls(ctx, r, rc, rp)
	if len(calls) == 0 {
		return nil
	}
	evs := make([]event.Event, 0, len(calls))
	for i := range calls {
		ev, err := audit.Parse(calls[i].Record())
		if err != nil {
			return fmt.Errorf("record %s: %w", rc.op.Name, err)
		}
		evs = append(evs, ev)
	}
	if _, err := h.events.Append(ctx, evs, store.AppendOptions{}); err != nil {
		return fmt.Errorf("record %s: append: %w", rc.op.Name, err)
	}
	return nil
}

// calls describes the call once per account that receives it
// (s3-events.md §3):
//   - an authenticated caller always receives it; when the bucket belongs
//     to another account, that account receives a copy too, with the
//     caller shown as an AWSAccount, and both copies share a
//     sharedEventID;
//   - an anonymous call is recorded only for the owner of an existing
//     bucket;
//   - anything else (authentication failures, requests that name no S3
//     operation) is not recorded.
func (h *Handler) calls(ctx context.Context, r *http.Request, rc *reqCtx, rp *reply) []audit.Call {
	op := rc.op
	if op == nil || !rc.authenticated && !rc.anonymous {
		return nil
	}
	var bucket *objstore.Bucket
	if rc.bucket != "" && op.Name != "CreateBucket" {
		// CreateBucket names no bucket in its record and is the caller's
		// alone, whoever owns the name.
		if b, ok := h.recordedBucket(ctx, r, rc); ok {
			bucket = &b
		}
	}
	if rc.anonymous && (bucket == nil || bucket.Owner == "") {
		return nil
	}
	q := r.URL.Query()
	region := rc.region
	if bucket != nil {
		region = regionOf(*bucket)
	}
	if region == "" {
		region = defaultRegion
	}
	category := event.CategoryMgmt
	if op.Data {
		category = event.CategoryData
	}
	base := audit.Call{
		Request:             r,
		Time:                h.now(),
		Source:              eventSource,
		Name:                op.Name,
		Region:              region,
		UserAgent:           "[" + r.UserAgent() + "]",
		ReadOnly:            op.ReadOnly,
		Category:            category,
		RequestID:           rc.id,
		RequestParameters:   requestParameters(r, q, rc),
		ResponseElements:    responseElements(op, rp),
		AdditionalEventData: additionalEventData(r, q, rc, rp),
		Resources:           resources(op, rc, bucket, q),
	}
	if rc.failure != nil {
		base.ErrorCode, base.ErrorMessage = rc.failure.Code, rc.failure.Message
	}
	if rc.anonymous {
		base.Identity = anonymousIdentity()
		base.Recipient = bucket.Owner
		return []audit.Call{base}
	}
	mine := base
	mine.Identity = audit.UserIdentity(rc.caller.Principal)
	mine.Recipient = rc.caller.AccountID
	if bucket == nil || bucket.Owner == "" || bucket.Owner == rc.caller.AccountID {
		return []audit.Call{mine}
	}
	theirs := base
	theirs.Identity = &event.UserIdentity{Type: "AWSAccount", PrincipalID: rc.caller.PrincipalID(), AccountID: rc.caller.AccountID}
	theirs.Recipient = bucket.Owner
	mine.SharedEventID = audit.NewUUID()
	theirs.SharedEventID = mine.SharedEventID
	return []audit.Call{mine, theirs}
}

// recordedBucket returns the request's bucket if it exists. A failure to
// look it up is logged; the call is then recorded as one on a missing
// bucket (for the caller only).
func (h *Handler) recordedBucket(ctx context.Context, r *http.Request, rc *reqCtx) (objstore.Bucket, bool) {
	b, err := h.lookupBucket(ctx, rc)
	switch {
	case err == nil:
		return b, true
	case !errors.Is(err, objstore.ErrNoSuchBucket) && !errors.Is(err, objstore.ErrInvalidBucketName):
		h.log.WarnContext(ctx, "s3 record: bucket lookup failed; recorded without the bucket's owner and region",
			slog.String(logKeyRequestID, rc.id), slog.String(logKeyPath, r.URL.Path), slog.Any(logKeyErr, err))
	}
	return objstore.Bucket{}, false
}

// anonymousIdentity is the userIdentity of an unsigned request
// (s3-events.md §3).
func anonymousIdentity() *event.UserIdentity {
	return &event.UserIdentity{Type: "AWSAccount", AccountID: "anonymous",
		Extra: map[string]json.RawMessage{"principalId": json.RawMessage(`""`)}}
}

// secretParams are query parameters never recorded: signatures,
// credentials and session tokens.
var secretParams = map[string]bool{
	"X-Amz-Credential": true, "X-Amz-Signature": true, "X-Amz-Security-Token": true,
	"AWSAccessKeyId": true, "Signature": true,
}

// recordedHeader reports whether a request header goes into
// requestParameters (s3-events.md §2.2; lowercase name).
func recordedHeader(name string) bool {
	switch {
	case name == "x-amz-acl", name == "x-amz-copy-source", name == "x-amz-storage-class",
		strings.HasPrefix(name, "x-amz-grant-"):
		return true
	case strings.HasPrefix(name, "x-amz-server-side-encryption"):
		return name != "x-amz-server-side-encryption-customer-key" // the SSE-C key itself
	}
	return false
}

// requestParameters is bucketName, Host and key, then every query
// parameter (first value; sub-resource markers are ""), then the recorded
// headers, then a bucket configuration document as JSON.
func requestParameters(r *http.Request, q url.Values, rc *reqCtx) json.RawMessage {
	var o jsonObject
	if rc.bucket != "" {
		o.str("bucketName", rc.bucket)
	}
	o.str("Host", r.Host)
	if rc.key != "" {
		o.str("key", rc.key)
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !secretParams[name] {
			o.str(name, q[name][0])
		}
	}
	var hdrs []string
	for name := range r.Header {
		if l := strings.ToLower(name); recordedHeader(l) {
			hdrs = append(hdrs, name)
		}
	}
	slices.Sort(hdrs)
	for _, name := range hdrs {
		o.str(strings.ToLower(name), strings.Join(r.Header.Values(name), ","))
	}
	if op := rc.op; !op.Data && !op.ReadOnly && len(bytes.TrimSpace(rc.body)) > 0 {
		if op.Name == "PutBucketPolicy" {
			var buf bytes.Buffer
			if json.Compact(&buf, rc.body) == nil && bytes.HasPrefix(buf.Bytes(), []byte("{")) {
				o.add("bucketPolicy", buf.Bytes())
			}
		} else if name, doc, ok := xmlToJSON(rc.body); ok {
			o.add(name, doc)
		}
	}
	return o.bytes()
}

// responseElements is null except for object writes, which carry S3's
// encryption and version response headers when there are any.
func responseElements(op *s3op, rp *reply) json.RawMessage {
	if !op.Data || op.ReadOnly {
		return audit.Null
	}
	var o jsonObject
	var names []string
	for name := range rp.header {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, "x-amz-server-side-encryption") || l == "x-amz-version-id" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		o.str(strings.ToLower(name), rp.header.Get(name))
	}
	if o.n == 0 {
		return audit.Null
	}
	return o.bytes()
}

// s3AdditionalData is S3's additionalEventData, members in AWS's order.
type s3AdditionalData struct {
	SignatureVersion     string `json:"SignatureVersion,omitempty"`
	CipherSuite          string `json:"CipherSuite,omitempty"`
	BytesTransferredIn   int64  `json:"bytesTransferredIn"`
	AuthenticationMethod string `json:"AuthenticationMethod,omitempty"`
	XAmzID2              string `json:"x-amz-id-2"`
	BytesTransferredOut  int64  `json:"bytesTransferredOut"`
}

func additionalEventData(r *http.Request, q url.Values, rc *reqCtx, rp *reply) json.RawMessage {
	d := s3AdditionalData{
		CipherSuite:         audit.CipherSuite(r.TLS),
		BytesTransferredIn:  rc.bytesIn,
		XAmzID2:             rc.hostID,
		BytesTransferredOut: rp.bytesOut(r),
	}
	if !rc.anonymous {
		d.SignatureVersion, d.AuthenticationMethod = "SigV4", "AuthHeader"
		if presignedQuery(q) {
			d.AuthenticationMethod = "QueryString"
		}
	}
	b, _ := json.Marshal(d) // strings and integers: cannot fail
	return b
}

// resources names the object (or key prefix) and the bucket the call
// touched; none for ListBuckets, CreateBucket and calls on a missing
// bucket. The bucket element carries its owner's account; the object
// element never has one.
func resources(op *s3op, rc *reqCtx, b *objstore.Bucket, q url.Values) []event.Resource {
	if b == nil || op.Scope == scopeNone {
		return nil
	}
	owner := b.Owner
	if owner == "" {
		owner = rc.caller.AccountID
	}
	arn := "arn:aws:s3:::" + rc.bucket
	bucket := event.Resource{AccountID: owner, Type: typeBucket, ARN: arn}
	var obj event.Resource
	switch op.Scope {
	case scopeObject:
		obj = event.Resource{Type: typeObject, ARN: arn + "/" + rc.key}
	case scopePrefix:
		obj = event.Resource{Type: typeObject, ARNPrefix: arn + "/" + q.Get("prefix")}
	case scopeBucketWide:
		obj = event.Resource{Type: typeObject, ARNPrefix: arn + "/"}
	default:
		return []event.Resource{bucket}
	}
	if len(obj.ARN)+len(obj.ARNPrefix) > len(arn)+1+maxKeyBytes {
		// A key or prefix longer than any key names no object.
		return []event.Resource{bucket}
	}
	return []event.Resource{obj, bucket}
}

// jsonObject builds a JSON object member by member, in order; a repeated
// name keeps its first value.
type jsonObject struct {
	buf  bytes.Buffer
	seen map[string]bool
	n    int
}

func (o *jsonObject) add(name string, v json.RawMessage) {
	if o.seen[name] {
		return
	}
	if o.seen == nil {
		o.seen = map[string]bool{}
		o.buf.WriteByte('{')
	}
	o.seen[name] = true
	if o.n > 0 {
		o.buf.WriteByte(',')
	}
	o.n++
	o.buf.Write(jsonString(name))
	o.buf.WriteByte(':')
	o.buf.Write(v)
}

func (o *jsonObject) str(name, v string) { o.add(name, jsonString(v)) }

// bytes returns the object ({} when empty).
func (o *jsonObject) bytes() json.RawMessage {
	if o.n == 0 {
		return json.RawMessage("{}")
	}
	return append(bytes.Clone(o.buf.Bytes()), '}')
}

// jsonString encodes s as a JSON string, without HTML escaping; invalid
// UTF-8 becomes U+FFFD.
func jsonString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string: cannot fail
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
