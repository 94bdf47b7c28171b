// Package selector owns event selectors: their types (as
// PutEventSelectors and GetEventSelectors carry them, and the advanced
// selectors of event data stores), their validation, and the matcher that
// decides which events a trail logs or an event data store ingests.
//
// A trail holds a [Set]: basic selectors ([EventSelector]) or advanced ones
// ([AdvancedEventSelector]), never both. The zero Set means the trail never
// had selectors and behaves like [Default]: all management events, no data
// events. [ValidateBasic], [ValidateAdvanced] and [Set.Validate] enforce
// operations.md §3.3 and §3.4 and return an *[Error] (errors.Is
// [ErrInvalid]) whose message the API returns in an
// InvalidEventSelectorsException; [Limits] makes the quotas configurable.
//
// An event data store holds advanced selectors only. [ValidateDataStore]
// checks them with the rules for stores, which differ from the trail rules
// [ValidateAdvanced] enforces: at most five selectors; management
// selectors may also compare eventName, eventType,
// sessionCredentialFromConsole and userIdentity.arn, and compare
// eventSource with any operator; network activity selectors may not
// compare userIdentity.arn; and eventCategory may also be Insight,
// ConfigurationItem, Evidence or ActivityAuditLog, each alone in its
// store with no other field ([StoreCategory], [CloudTrailCategory]). A
// store created without selectors gets [DefaultDataStore].
//
// # Matching
//
// [Compile] turns a Set into a [Matcher]. An event is logged when it matches
// any selector. Insights events never match: they are delivered separately.
//
// A basic selector matches
//   - a management event when IncludeManagementEvents is true, ReadWriteType
//     admits the event, and its eventSource is not in
//     ExcludeManagementEventSources;
//   - a data event when ReadWriteType admits it and one of its resources has
//     the Type of a DataResource and an ARN that one of its Values selects.
//     S3 values are prefixes (arn:aws:s3 selects every object,
//     arn:aws:s3:::bucket/ every object in a bucket). Lambda and DynamoDB
//     values are arn:aws:lambda / arn:aws:dynamodb (everything) or exact
//     ARNs; a Lambda function ARN also selects its :version and :alias
//     qualified forms.
//
// Network activity events never match basic selectors (AWS logs them only
// through advanced selectors).
//
// An advanced selector matches when every field selector holds. A field
// selector holds when the field's value matches some value of a positive
// operator (Equals, StartsWith, EndsWith), or there is no positive operator,
// and matches no value of a negative one (NotEquals, NotStartsWith,
// NotEndsWith). Comparisons are exact and case-sensitive; '*' is literal.
//
// Decisions where AWS documents nothing:
//   - An event without readOnly counts as a write event: ReadWriteType
//     WriteOnly admits it, ReadOnly does not, and the advanced field readOnly
//     compares as "false". Records without the member are mostly service
//     events, sign-ins and imported old records; OpenTrail's own records
//     always carry it.
//   - resources.type and resources.ARN are evaluated together, per resource:
//     the event matches when one of its resources satisfies both, so
//     resources.ARN conditions only see resources of the selected type (an
//     S3 GetObject record also lists the bucket, whose ARN must not satisfy
//     a NotStartsWith meant for object ARNs). A resource's ARN is its ARN
//     member, else its ARNPrefix. An event without resources is one resource
//     with empty type and ARN.
//   - Any other absent member compares as the empty string: positive
//     operators fail on it, negative ones hold.
//   - A trail has no cap on the number of advanced selectors other than the
//     500-value quota, which bounds it.
//
// # Cost
//
// Matching runs for every event on the delivery path. Build one [Fields] per
// event with [FieldsOf]; it reads the [event.Summary] and reads the stored
// record (through [event.Path], a scan rather than an unmarshal) only when
// an advanced selector compares userIdentity.arn, vpcEndpointId or
// sessionCredentialFromConsole. Basic selectors never read the record.
//
// The package is pure: no I/O.
package selector
