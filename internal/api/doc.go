// Package api serves the cloudtrail JSON 1.1 API (protocol.md §2) as an
// [http.Handler], so the aws CLI, boto3 and aws-sdk-go-v2 work against
// OpenTrail unchanged.
//
// # Operations
//
// The operation table (ops_gen.go), generated from botocore's model, lists
// all 60 operations. [Handler] implements the following and answers every
// other one with UnsupportedOperationException:
//
//   - event history: LookupEvents (operations.md §2.7), always;
//   - public keys: ListPublicKeys (§2.8), always, from [Options.Keys];
//   - with [Options.Trails] set, trails: CreateTrail, UpdateTrail,
//     DeleteTrail, GetTrail, DescribeTrails, ListTrails (§2.1–§2.3);
//     logging: GetTrailStatus, StartLogging, StopLogging; selectors:
//     PutEventSelectors, GetEventSelectors, PutInsightSelectors,
//     GetInsightSelectors (§2.4, §2.5); tags: AddTags, RemoveTags,
//     ListTags (§2.6);
//   - with [Options.DataStores] set, CloudTrail Lake event data stores
//     (lake.md §2, operations.md §3.6): CreateEventDataStore,
//     GetEventDataStore, UpdateEventDataStore, DeleteEventDataStore,
//     RestoreEventDataStore, ListEventDataStores,
//     StartEventDataStoreIngestion, StopEventDataStoreIngestion, and tags
//     on event data store ARNs. [Options.LogHead] tells the catalogue
//     where in the event log a store starts or stops ingesting.
//
// With [Options.Lake] and [Options.Dashboards] set, CloudTrail Lake
// dashboards (lake.md §9): CreateDashboard, GetDashboard, ListDashboards,
// UpdateDashboard, DeleteDashboard, StartDashboardRefresh, and tags on
// dashboard ARNs; StartQuery resolves a QueryAlias through
// [Options.QueryAliases]. Channels are not implemented yet; they get a
// file of their own when they are (see Files).
//
// # Request path
//
// [Handler.ServeHTTP] handles every request the same way:
//
//  1. give it an x-amzn-RequestId (a random UUID), sent on every response;
//  2. accept only POST, and resolve X-Amz-Target (both the botocore and the
//     Smithy form) against the operation table; unknown targets get
//     UnknownOperationException;
//  3. read the body under [Options.MaxBodyBytes];
//  4. authenticate with [Authenticator] (SigV4), then check that the
//     credential scope names the cloudtrail service and a served region;
//  5. run the operation through the one generic adapter (adapter.go): it
//     decodes the body into the operation's typed input with
//     awsjson.Decode (bounded; an empty body is {}, null members are
//     absent, unknown members ignored, a null list element refused), calls
//     the typed operation function (ctx, caller, input) to (output, error),
//     and encodes the output;
//  6. record the call as a management event in the [EventStore] (see
//     below), and only then write the response.
//
// Each operation declares, next to it, the small interface it needs from
// the rest of OpenTrail: [TrailStore] (the trail catalog),
// [DataStoreCatalog] (the event data store catalog), [BucketChecker]
// (the object store), [Delivery] (trail delivery's flush and status) and
// [PublicKeys] (the digest-signing keyring); only the daemon knows their
// concrete types.
//
// # Errors
//
// errors.go is the single wire-error catalogue (protocol.md §2.5, §5.6).
// What the API itself finds wrong with a request is an error that names
// its code directly (a bad trail name, a missing member). Every error of
// another package (the sentinels and typed errors of sigv4, awsjson,
// store, history, catalog, selector, objstore and context) goes through
// one table, matched with errors.Is / errors.As: handlers return it as is,
// or wrapped with the trail, account, region or bucket its message names,
// and never map it themselves. A row may be limited to some operations,
// where the model gives one condition different codes (a missing trail is
// TrailNotFoundException in the trail operations and
// ResourceNotFoundException in the tag operations). Anything the table
// does not know is a 500 InternalFailure, logged with the request id. A
// test checks the table against the botocore model and the other packages'
// source: every sentinel is listed, every code is a declared error shape
// or one of AWS's common errors.
//
// # Self-recording
//
// Every call that passed authentication is recorded, successful or not
// (validation failures, throttling and unsupported operations included),
// following event-record.md §7.1: eventSource cloudtrail.amazonaws.com,
// eventName the operation, awsRegion the signing region, requestID the
// x-amzn-RequestId, lower-camel-cased requestParameters, and
// responseElements for successful mutating calls. The record is durable
// before the client sees the response: if the append fails, the client
// gets ThrottlingException (store back-pressure), ServiceUnavailable or
// InternalFailure instead of the operation's result.
//
// Requests that fail authentication, name another service or an unserved
// region, name an unknown operation, or exceed the body limit are not
// recorded: there is no verified account (or operation) to record them
// under.
//
// # Files
//
// Handlers are split by resource, each file holding its operations, their
// wire shapes and the interfaces they consume:
//
//   - api.go: [Handler], [Options], routing and authentication;
//   - adapter.go: the generic adapter and the unsupported stub;
//   - ops_gen.go: the operation table generated from the model;
//   - errors.go: the wire-error catalogue;
//   - trails.go: CreateTrail, UpdateTrail, DeleteTrail, GetTrail,
//     DescribeTrails, ListTrails, and the name-or-ARN trail lookup the
//     other trail files share;
//   - logging.go: GetTrailStatus, StartLogging, StopLogging;
//   - selectors.go: Put/GetEventSelectors, Put/GetInsightSelectors;
//   - tags.go: AddTags, RemoveTags, ListTags, on trails, event data
//     stores and dashboards;
//   - dashboards.go: the dashboard operations and the name-or-ARN
//     dashboard lookup;
//   - datastores.go: the event data store operations and the ARN-or-ID
//     event data store lookup;
//   - keys.go: ListPublicKeys;
//   - lookup.go: LookupEvents; throttle.go its rate limit;
//   - token.go: pagination tokens bound to their request;
//   - record.go: self-recording; metrics.go: Prometheus metrics.
package api
