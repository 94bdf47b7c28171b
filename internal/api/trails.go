package api

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/layout"
	"github.com/opentrail/opentrail/internal/objstore"
)

// Trail operations (operations.md §2.1–§2.3, §3.1).

// TrailStore is the trail catalogue (a *catalog.Catalog).
type TrailStore interface {
	Get(arn string) (catalog.Trail, bool)
	List(account, region string) []catalog.Trail
	Create(t catalog.Trail) (catalog.Trail, error)
	Update(arn string, fn func(*catalog.Trail) error) (catalog.Trail, error)
	Delete(arn string) error
}

// LogGroups checks a trail's CloudWatch Logs log group and reports its
// delivery (a cwlogs engine, adapted by the daemon).
type LogGroups interface {
	// LogGroupExists reports whether arn names a log group of the
	// account in the region.
	LogGroupExists(account, region, arn string) bool
	// Status returns the trail's latest delivery to its log group and
	// the latest error ("" when the latest delivery worked).
	Status(trailARN string) (delivered time.Time, lastError string)
}

// BucketChecker tells whether a trail's bucket exists (an objstore.Store).
type BucketChecker interface {
	HeadBucket(ctx context.Context, bucket string) (objstore.Bucket, error)
}

// TopicChecker says whether a trail's SNS topic exists in the caller's
// account (operations.md §2.2: OpenTrail SHOULD check it).
type TopicChecker interface {
	TopicExists(account, topicARN string) bool
}

const listTrailsPageSize = 50

// trailOut is the Trail shape (DescribeTrails, GetTrail) and, without the
// Has*/HomeRegion members, the CreateTrail/UpdateTrail response.
type trailOut struct {
	Name                       string `json:"Name"`
	S3BucketName               string `json:"S3BucketName,omitempty"`
	S3KeyPrefix                string `json:"S3KeyPrefix,omitempty"`
	SnsTopicName               string `json:"SnsTopicName,omitempty"`
	SnsTopicARN                string `json:"SnsTopicARN,omitempty"`
	IncludeGlobalServiceEvents bool   `json:"IncludeGlobalServiceEvents"`
	IsMultiRegionTrail         bool   `json:"IsMultiRegionTrail"`
	HomeRegion                 string `json:"HomeRegion,omitempty"`
	TrailARN                   string `json:"TrailARN"`
	LogFileValidationEnabled   bool   `json:"LogFileValidationEnabled"`
	CloudWatchLogsLogGroupArn  string `json:"CloudWatchLogsLogGroupArn,omitempty"`
	CloudWatchLogsRoleArn      string `json:"CloudWatchLogsRoleArn,omitempty"`
	KmsKeyID                   string `json:"KmsKeyId,omitempty"`
	HasCustomEventSelectors    *bool  `json:"HasCustomEventSelectors,omitempty"`
	HasInsightSelectors        *bool  `json:"HasInsightSelectors,omitempty"`
	IsOrganizationTrail        bool   `json:"IsOrganizationTrail"`
}

func topicName(arn string) string {
	if i := strings.LastIndexByte(arn, ':'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// describe renders t as a Trail; full adds the members only
// DescribeTrails and GetTrail return.
func describe(t *catalog.Trail, full bool) trailOut {
	o := trailOut{
		Name: t.Name, S3BucketName: t.S3BucketName, S3KeyPrefix: t.S3KeyPrefix,
		SnsTopicARN: t.SnsTopicARN, IncludeGlobalServiceEvents: t.IncludeGlobalServiceEvents,
		IsMultiRegionTrail: t.IsMultiRegionTrail, TrailARN: t.ARN(),
		LogFileValidationEnabled:  t.LogFileValidationEnabled,
		CloudWatchLogsLogGroupArn: t.CloudWatchLogsLogGroupArn, CloudWatchLogsRoleArn: t.CloudWatchLogsRoleArn,
		KmsKeyID: t.KmsKeyID, IsOrganizationTrail: t.IsOrganizationTrail,
	}
	if t.SnsTopicARN != "" {
		o.SnsTopicName = topicName(t.SnsTopicARN)
	}
	if full {
		o.HomeRegion = t.HomeRegion
		custom := !t.Selectors.IsZero() && !isDefaultSelectors(t.Selectors)
		insights := len(t.InsightSelectors) > 0
		o.HasCustomEventSelectors, o.HasInsightSelectors = &custom, &insights
	}
	return o
}

// --- names and ARNs ---

// checkTrailName enforces the trail naming rules (operations.md §3.1) with
// AWS's messages.
func checkTrailName(name string) error {
	n := len(name)
	switch {
	case n < 3:
		return invalid(codeInvalidTrailName, "Trail name too short. Minimum allowed length: 3 characters. Specified name length: %d characters.", n)
	case n > 128:
		return invalid(codeInvalidTrailName, "Trail name too long. Maximum allowed length: 128 characters. Specified name length: %d characters.", n)
	}
	for i := 0; i < n; i++ {
		if !isNameByte(name[i]) {
			return invalid(codeInvalidTrailName, "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens (-), and underscores (_).")
		}
	}
	switch {
	case !isAlnumByte(name[0]):
		return invalid(codeInvalidTrailName, "Trail name must starts with a letter or number.")
	case !isAlnumByte(name[n-1]):
		return invalid(codeInvalidTrailName, "Trail name must ends with a letter or number.")
	}
	for i := 1; i < n; i++ {
		if !isAlnumByte(name[i]) && !isAlnumByte(name[i-1]) {
			return invalid(codeInvalidTrailName, "Trail name cannot contain adjacent periods, hyphens or underscores (%q).", name[i-1:i+1])
		}
	}
	if ip := net.ParseIP(name); ip != nil && ip.To4() != nil {
		return invalid(codeInvalidTrailName, "Trail name cannot be formatted as an IP address (%s).", name)
	}
	return nil
}

func isAlnumByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
func isNameByte(c byte) bool { return isAlnumByte(c) || c == '.' || c == '-' || c == '_' }

// trailRef is a parsed name-or-ARN input.
type trailRef struct {
	input string
	arn   string
	isARN bool
}

// parseTrailRef accepts a trail name (resolved in the caller's account and
// region) or a trail ARN.
func parseTrailRef(caller identity.Caller, in string) (trailRef, error) {
	if strings.HasPrefix(in, "arn:") {
		p := strings.SplitN(in, ":", 6)
		if len(p) != 6 || p[1] == "" || p[2] != "cloudtrail" || !event.ValidRegion(p[3]) || !event.ValidAccountID(p[4]) ||
			!strings.HasPrefix(p[5], "trail/") {
			return trailRef{}, invalid(codeARNInvalid, "Invalid trail ARN: %s. Expected arn:<partition>:cloudtrail:<region>:<12-digit account>:trail/<name>.", in)
		}
		name := strings.TrimPrefix(p[5], "trail/")
		if err := checkTrailName(name); err != nil {
			return trailRef{}, err
		}
		if p[1] != "aws" {
			// OpenTrail's trails are all in the aws partition: a trail of
			// another partition is well formed but cannot exist here.
			return trailRef{input: in, arn: in, isARN: true}, nil
		}
		return trailRef{input: in, arn: catalog.ARN(p[3], p[4], name), isARN: true}, nil
	}
	if err := checkTrailName(in); err != nil {
		return trailRef{}, err
	}
	return trailRef{input: in, arn: catalog.ARN(caller.Region, caller.AccountID, in)}, nil
}

// findTrail resolves a name-or-ARN to a trail the caller can see in its
// region. homeOnly additionally requires the caller to be in the trail's
// home region (the operations that change a trail).
func (h *Handler) findTrail(caller identity.Caller, in *string, member string, homeOnly bool) (catalog.Trail, error) {
	if in == nil || *in == "" {
		return catalog.Trail{}, invalid(codeInvalidTrailName, "%s is required: give a trail name or ARN.", member)
	}
	ref, err := parseTrailRef(caller, *in)
	if err != nil {
		return catalog.Trail{}, err
	}
	t, ok := h.opts.Trails.Get(ref.arn)
	if !ok || t.Account != caller.AccountID || !t.VisibleIn(caller.Region) {
		return catalog.Trail{}, h.trailErr(caller, in, catalog.ErrNotFound)
	}
	if homeOnly && t.HomeRegion != caller.Region {
		return catalog.Trail{}, invalid(codeInvalidHomeRegion, "This operation must be called from the trail's home region, %s; it was called in %s.", t.HomeRegion, caller.Region)
	}
	return t, nil
}

// --- settings shared by CreateTrail and UpdateTrail ---

// checkPrefix validates an S3KeyPrefix and returns it without trailing
// slashes. Besides AWS's 200-character limit it refuses prefixes whose
// keys no bucket store can be trusted to hold (docs/design/decisions.md
// §29): empty path segments, "." and ".." segments (clients and the
// embedded store resolve them as relative paths) and control characters
// (XML listings cannot carry them).
func checkPrefix(in string) (string, error) { return checkKeyPrefix("S3KeyPrefix", in) }

// checkKeyPrefix is checkPrefix for the key prefix a request names member
// (S3KeyPrefix, or the path of a DeliveryS3Uri).
func checkKeyPrefix(member, in string) (string, error) {
	if n := len(in); n > 200 {
		return "", invalid(codeInvalidPrefix, "%s is %d characters; the maximum is 200.", member, n)
	}
	p := layout.NormalizePrefix(in)
	if p == "" {
		return p, nil
	}
	for i, r := range p {
		if r < 0x20 || r == 0x7f {
			return "", invalid(codeInvalidPrefix, "%s %q has a control character (0x%02X) at byte %d; use letters, digits and ! - _ . * ' ( ) /.", member, in, r, i)
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return "", invalid(codeInvalidPrefix, "%s %q would make object keys with empty path segments.", member, in)
		case ".", "..":
			return "", invalid(codeInvalidPrefix, "%s %q has a %q path segment; object keys with relative path segments cannot be stored or read back reliably.", member, in, seg)
		}
	}
	return p, nil
}

// trailSettings are the members CreateTrail and UpdateTrail share.
type trailSettings struct {
	S3BucketName               *string `json:"S3BucketName,omitempty"`
	S3KeyPrefix                *string `json:"S3KeyPrefix,omitempty"`
	SnsTopicName               *string `json:"SnsTopicName,omitempty"`
	IncludeGlobalServiceEvents *bool   `json:"IncludeGlobalServiceEvents,omitempty"`
	IsMultiRegionTrail         *bool   `json:"IsMultiRegionTrail,omitempty"`
	EnableLogFileValidation    *bool   `json:"EnableLogFileValidation,omitempty"`
	CloudWatchLogsLogGroupArn  *string `json:"CloudWatchLogsLogGroupArn,omitempty"`
	CloudWatchLogsRoleArn      *string `json:"CloudWatchLogsRoleArn,omitempty"`
	KmsKeyID                   *string `json:"KmsKeyId,omitempty"`
	IsOrganizationTrail        *bool   `json:"IsOrganizationTrail,omitempty"`
}

// apply checks the supplied settings and writes them into t. As AWS does,
// it checks everything the request says, parameter combinations included,
// before it asks the object store whether the bucket exists and is the
// caller's.
func (h *Handler) apply(ctx context.Context, caller identity.Caller, s *trailSettings, t *catalog.Trail) error {
	if s.S3BucketName != nil {
		if err := checkBucketName(*s.S3BucketName); err != nil {
			return err
		}
		t.S3BucketName = *s.S3BucketName
	}
	if s.S3KeyPrefix != nil {
		p, err := checkPrefix(*s.S3KeyPrefix)
		if err != nil {
			return err
		}
		t.S3KeyPrefix = p
	}
	if s.SnsTopicName != nil {
		arn, err := topicARN(caller, *s.SnsTopicName)
		if err != nil {
			return err
		}
		if arn != "" && h.opts.Topics != nil && !h.opts.Topics.TopicExists(caller.AccountID, arn) {
			// AWS answers a missing topic as it answers a topic whose
			// policy keeps CloudTrail out.
			return invalid(codeInsufficientSnsPolicy, "SNS Topic does not exist or the topic policy is incorrect!")
		}
		t.SnsTopicARN = arn
	}
	if s.IncludeGlobalServiceEvents != nil {
		t.IncludeGlobalServiceEvents = *s.IncludeGlobalServiceEvents
	}
	if s.IsMultiRegionTrail != nil {
		t.IsMultiRegionTrail = *s.IsMultiRegionTrail
	}
	if s.EnableLogFileValidation != nil {
		if *s.EnableLogFileValidation && !t.LogFileValidationEnabled {
			t.ValidationSince = h.now().UTC()
		}
		t.LogFileValidationEnabled = *s.EnableLogFileValidation
	}
	if s.IsOrganizationTrail != nil && *s.IsOrganizationTrail {
		return invalid("OrganizationsNotInUseException", "This account is not a member of an organization: OpenTrail does not support organization trails yet.")
	}
	if s.KmsKeyID != nil && *s.KmsKeyID != "" {
		if !validKMSKeyID(*s.KmsKeyID) {
			return invalid(codeInvalidKmsKey, "KmsKeyId %q is not a key id, key ARN, alias name or alias ARN.", *s.KmsKeyID)
		}
		return invalid("KmsKeyNotFoundException", "KMS key %s was not found: OpenTrail has no KMS, so it cannot encrypt log files with a KMS key. Leave KmsKeyId out to use the bucket's default encryption.", *s.KmsKeyID)
	} else if s.KmsKeyID != nil {
		t.KmsKeyID = ""
	}
	if s.CloudWatchLogsLogGroupArn != nil || s.CloudWatchLogsRoleArn != nil {
		group, role := deref(s.CloudWatchLogsLogGroupArn), deref(s.CloudWatchLogsRoleArn)
		switch {
		case group == "" && role == "":
			t.CloudWatchLogsLogGroupArn, t.CloudWatchLogsRoleArn = "", ""
		case role == "":
			return invalid("InvalidCloudWatchLogsRoleArnException", "CloudWatchLogsRoleArn is required with CloudWatchLogsLogGroupArn.")
		case group == "":
			return invalid("InvalidCloudWatchLogsLogGroupArnException", "CloudWatchLogsLogGroupArn is required with CloudWatchLogsRoleArn.")
		case !strings.HasPrefix(group, "arn:") || !strings.Contains(group, ":logs:"):
			return invalid("InvalidCloudWatchLogsLogGroupArnException", "CloudWatchLogsLogGroupArn %q is not a CloudWatch Logs log group ARN.", group)
		case !strings.HasPrefix(role, "arn:") || !strings.Contains(role, ":iam::"):
			return invalid("InvalidCloudWatchLogsRoleArnException", "CloudWatchLogsRoleArn %q is not an IAM role ARN.", role)
		case h.opts.LogGroups == nil:
			return invalid("CloudWatchLogsDeliveryUnavailableException", "This OpenTrail server does not deliver events to CloudWatch Logs; leave CloudWatchLogsLogGroupArn and CloudWatchLogsRoleArn out.")
		case !h.opts.LogGroups.LogGroupExists(caller.AccountID, t.HomeRegion, group):
			return invalid("InvalidCloudWatchLogsLogGroupArnException",
				"CloudWatchLogsLogGroupArn %q does not name a log group of account %s in %s; create it first (aws logs create-log-group) and give its ARN, arn:aws:logs:%s:%s:log-group:NAME:*.",
				group, caller.AccountID, t.HomeRegion, t.HomeRegion, caller.AccountID)
		default:
			t.CloudWatchLogsLogGroupArn, t.CloudWatchLogsRoleArn = group, role
		}
	}
	if t.IsMultiRegionTrail && !t.IncludeGlobalServiceEvents {
		return invalid(codeInvalidParamCombo, "Multi-Region trail must include global service events.")
	}
	if s.S3BucketName != nil {
		return h.checkBucket(ctx, caller, *s.S3BucketName)
	}
	return nil
}

// checkBucketName enforces the S3 bucket naming rules
// (objstore.ErrInvalidBucketName).
func checkBucketName(b string) error {
	return objstore.CheckBucketName(b)
}

// checkBucket requires the bucket to exist and be the caller's.
func (h *Handler) checkBucket(ctx context.Context, caller identity.Caller, bucket string) error {
	if h.opts.Buckets == nil {
		return nil
	}
	b, err := h.opts.Buckets.HeadBucket(ctx, bucket)
	switch {
	case err != nil:
		return &bucketError{Bucket: bucket, Err: err}
	case b.Owner != "" && b.Owner != caller.AccountID:
		return &bucketError{Bucket: bucket, Reason: "it belongs to another account", Err: objstore.ErrAccessDenied}
	}
	return nil
}

// topicARN resolves an SnsTopicName (a name or an ARN) to an ARN; "" clears.
func topicARN(caller identity.Caller, in string) (string, error) {
	if in == "" {
		return "", nil
	}
	if len(in) > 256 {
		return "", invalid(codeInvalidSnsTopic, "SnsTopicName is %d characters; the maximum is 256.", len(in))
	}
	name := in
	arn := ""
	if strings.HasPrefix(in, "arn:") {
		p := strings.SplitN(in, ":", 6)
		if len(p) != 6 || p[2] != "sns" || !event.ValidRegion(p[3]) || !event.ValidAccountID(p[4]) {
			return "", invalid(codeInvalidSnsTopic, "SnsTopicName %q is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>).", in)
		}
		name, arn = p[5], in
	}
	if name == "" || len(name) > 256 {
		return "", invalid(codeInvalidSnsTopic, "SNS topic name %q must be 1 to 256 characters.", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnumByte(c) && c != '-' && c != '_' {
			return "", invalid(codeInvalidSnsTopic, "SNS topic name %q may contain only letters, numbers, hyphens and underscores.", name)
		}
	}
	if arn == "" {
		arn = "arn:aws:sns:" + caller.Region + ":" + caller.AccountID + ":" + name
	}
	return arn, nil
}

func validKMSKeyID(s string) bool {
	switch {
	case strings.HasPrefix(s, "alias/"):
		return len(s) > len("alias/")
	case strings.HasPrefix(s, "arn:"):
		p := strings.SplitN(s, ":", 6)
		return len(p) == 6 && p[2] == "kms" && (strings.HasPrefix(p[5], "key/") || strings.HasPrefix(p[5], "alias/"))
	}
	// A key id is a UUID or an mrk- multi-region key id.
	if strings.HasPrefix(s, "mrk-") {
		return len(s) > 4
	}
	return len(s) == 36 && strings.Count(s, "-") == 4
}

// --- CreateTrail ---

type createTrailInput struct {
	Name *string `json:"Name,omitempty"`
	trailSettings
	TagsList []tagIn `json:"TagsList,omitempty"`
}

func (h *Handler) createTrail(ctx context.Context, caller identity.Caller, in *createTrailInput) (*trailOut, error) {
	if in.Name == nil {
		return nil, invalid(codeInvalidTrailName, "Name is required.")
	}
	if err := checkTrailName(*in.Name); err != nil {
		return nil, err
	}
	if in.S3BucketName == nil || *in.S3BucketName == "" {
		return nil, invalid(codeInvalidBucketName, "S3BucketName is required.")
	}
	tags, err := checkTags(in.TagsList, true)
	if err != nil {
		return nil, err
	}
	if len(tags) > maxTagsPerResource {
		return nil, invalid(codeTagsLimit, "A trail can have at most %d tags; the request has %d.", maxTagsPerResource, len(tags))
	}
	t := catalog.Trail{
		Name: *in.Name, Account: caller.AccountID, HomeRegion: caller.Region,
		IncludeGlobalServiceEvents: true, CreatedTime: h.now().UTC(), Tags: tags,
	}
	if _, exists := h.opts.Trails.Get(t.ARN()); exists {
		return nil, h.trailErr(caller, in.Name, catalog.ErrExists)
	}
	if err := h.apply(ctx, caller, &in.trailSettings, &t); err != nil {
		return nil, err
	}
	created, err := h.opts.Trails.Create(t)
	if err != nil {
		return nil, h.trailErr(caller, in.Name, err)
	}
	out := describe(&created, false)
	return &out, nil
}

// --- UpdateTrail ---

type updateTrailInput struct {
	Name *string `json:"Name,omitempty"`
	trailSettings
}

func (h *Handler) updateTrail(ctx context.Context, caller identity.Caller, in *updateTrailInput) (*trailOut, error) {
	t, err := h.findTrail(caller, in.Name, "Name", true)
	if err != nil {
		return nil, err
	}
	next := t.Clone()
	if err := h.apply(ctx, caller, &in.trailSettings, &next); err != nil {
		return nil, err
	}
	if err := h.flushDelivery(ctx); err != nil {
		return nil, err
	}
	updated, err := h.opts.Trails.Update(t.ARN(), func(cur *catalog.Trail) error {
		logging, start, stop := cur.Logging, cur.StartLoggingTime, cur.StopLoggingTime
		sel, ins, tags := cur.Selectors, cur.InsightSelectors, cur.Tags
		*cur = next.Clone()
		cur.Logging, cur.StartLoggingTime, cur.StopLoggingTime = logging, start, stop
		cur.Selectors, cur.InsightSelectors, cur.Tags = sel, ins, tags
		return nil
	})
	if err != nil {
		return nil, h.trailErr(caller, in.Name, err)
	}
	out := describe(&updated, false)
	return &out, nil
}

// trailErr gives err, a catalog error about the trail the request named
// by in, the context the catalogue words its message with; nil stays nil.
func (h *Handler) trailErr(caller identity.Caller, in *string, err error) error {
	if err == nil {
		return nil
	}
	return &trailError{Trail: deref(in), Account: caller.AccountID, Region: caller.Region, Err: err}
}

// --- DeleteTrail ---

type nameInput struct {
	Name *string `json:"Name,omitempty"`
}

type empty struct{}

func (h *Handler) deleteTrail(ctx context.Context, caller identity.Caller, in *nameInput) (*empty, error) {
	t, err := h.findTrail(caller, in.Name, "Name", true)
	if err != nil {
		return nil, err
	}
	if err := h.flushDelivery(ctx); err != nil {
		return nil, err
	}
	if err := h.opts.Trails.Delete(t.ARN()); err != nil {
		return nil, h.trailErr(caller, in.Name, err)
	}
	return nil, nil
}

// --- GetTrail, DescribeTrails, ListTrails ---

type getTrailOutput struct {
	Trail trailOut `json:"Trail"`
}

func (h *Handler) getTrail(_ context.Context, caller identity.Caller, in *nameInput) (*getTrailOutput, error) {
	t, err := h.findTrail(caller, in.Name, "Name", false)
	if err != nil {
		return nil, err
	}
	return &getTrailOutput{Trail: describe(&t, true)}, nil
}

type describeTrailsInput struct {
	TrailNameList       []string `json:"trailNameList,omitempty"`
	IncludeShadowTrails *bool    `json:"includeShadowTrails,omitempty"`
}

type describeTrailsOutput struct {
	TrailList []trailOut `json:"trailList"`
}

func (h *Handler) describeTrails(_ context.Context, caller identity.Caller, in *describeTrailsInput) (*describeTrailsOutput, error) {
	shadow := in.IncludeShadowTrails == nil || *in.IncludeShadowTrails
	out := &describeTrailsOutput{TrailList: []trailOut{}}
	visible := h.opts.Trails.List(caller.AccountID, caller.Region)
	if len(in.TrailNameList) == 0 {
		for i := range visible {
			if shadow || visible[i].HomeRegion == caller.Region {
				out.TrailList = append(out.TrailList, describe(&visible[i], true))
			}
		}
		return out, nil
	}
	seen := map[string]bool{}
	for _, n := range in.TrailNameList {
		ref, err := parseTrailRef(caller, n)
		if err != nil {
			return nil, err
		}
		for i := range visible {
			t := &visible[i]
			if t.ARN() != ref.arn || seen[ref.arn] || (!shadow && t.HomeRegion != caller.Region) {
				continue
			}
			seen[ref.arn] = true
			out.TrailList = append(out.TrailList, describe(t, true))
		}
	}
	return out, nil
}

type listTrailsInput struct {
	NextToken *string `json:"NextToken,omitempty"`
}

type trailInfo struct {
	TrailARN   string `json:"TrailARN"`
	Name       string `json:"Name"`
	HomeRegion string `json:"HomeRegion"`
}

type listTrailsOutput struct {
	Trails    []trailInfo `json:"Trails"`
	NextToken string      `json:"NextToken,omitempty"`
}

func (h *Handler) listTrails(_ context.Context, caller identity.Caller, in *listTrailsInput) (*listTrailsOutput, error) {
	scope := tokenScope{op: "ListTrails", account: caller.AccountID, region: caller.Region}
	after := ""
	if in.NextToken != nil && *in.NextToken != "" {
		cur, err := h.tokens.open(scope, *in.NextToken)
		if err != nil {
			return nil, invalid(codeInvalidNextToken, msgBadToken)
		}
		after = string(cur)
	}
	out := &listTrailsOutput{Trails: []trailInfo{}}
	for _, t := range h.opts.Trails.List(caller.AccountID, caller.Region) {
		arn := t.ARN()
		if arn <= after {
			continue
		}
		if len(out.Trails) == listTrailsPageSize {
			out.NextToken = h.tokens.seal(scope, []byte(out.Trails[len(out.Trails)-1].TrailARN))
			break
		}
		out.Trails = append(out.Trails, trailInfo{TrailARN: arn, Name: t.Name, HomeRegion: t.HomeRegion})
	}
	return out, nil
}
