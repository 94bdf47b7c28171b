// Package api serves the cloudtrail JSON 1.1 API (protocol.md §2) as an
// [http.Handler], so the aws CLI, boto3 and aws-sdk-go-v2 work against
// OpenTrail unchanged.
//
// # Request path
//
// [Handler.ServeHTTP] handles every request the same way:
//
//  1. give it an x-amzn-RequestId (a random UUID), sent on every response;
//  2. accept only POST, and resolve X-Amz-Target (both the botocore and the
//     Smithy form) against the operation table generated from the model
//     (ops_gen.go); unknown targets get UnknownOperationException;
//  3. read the body under [Options.MaxBodyBytes];
//  4. authenticate with [Authenticator] (SigV4), then check that the
//     credential scope names the cloudtrail service and a served region;
//  5. run the operation through the one generic adapter: bounded decode of
//     its typed input, the typed operation function, output encoding;
//  6. record the call as a management event in the [EventStore] (see
//     below), and only then write the response.
//
// Operations without an implementation share one stub that answers
// UnsupportedOperationException. Today only LookupEvents is implemented.
//
// # Errors
//
// errors.go is the single wire-error catalogue: a table from conditions
// (sentinels of sigv4, store and awsjson, and the package's own typed
// errors) to the __type code, HTTP status and message. Anything the table
// does not know is a 500 InternalFailure, logged with the request id.
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
// gets ThrottlingException (store back-pressure) or InternalFailure instead
// of the operation's result.
//
// Requests that fail authentication, name another service or an unserved
// region, name an unknown operation, or exceed the body limit are not
// recorded: there is no verified account (or operation) to record them
// under.
package api
