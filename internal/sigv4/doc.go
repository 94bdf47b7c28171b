// Package sigv4 verifies AWS Signature Version 4 (AWS4-HMAC-SHA256) on
// incoming requests, as AWS services do (protocol spec, §5), with the
// standard library only. Its tests sign with the AWS SDK's signer, so the
// verifier is checked against the real client.
//
// A [Verifier] is built from a [KeyLookup], which the package declares and
// the identity layer implements, and [Options] (server clock, allowed
// skew). [Verifier.Verify] takes the request and its already-read body and
// returns a [Result] naming the access key, Region and service of the
// credential scope. The caller checks that the service matches the route
// and the Region is served; this package does not know either.
//
// # What is verified
//
// Verify rebuilds the canonical request exactly as the client did:
//
//   - Canonical URI: the path as sent. For service s3 it is used unchanged
//     (encoded once, not normalised); for other services each segment is
//     encoded a second time. A strict re-encoding of the decoded path is
//     also accepted, for clients whose wire encoding is looser than the one
//     they sign.
//   - Canonical query: parameters decoded, re-encoded with the RFC 3986
//     unreserved set (uppercase hex, space as %20), sorted by name then
//     value. X-Amz-Signature is left out for presigned requests.
//   - Canonical headers: the SignedHeaders, lowercased and sorted, values
//     trimmed with inner runs of spaces collapsed, repeated values joined
//     with ','. host comes from [net/http.Request.Host].
//   - Payload hash: SHA-256 of the body, or the X-Amz-Content-Sha256 value
//     when present, which must then match the body. S3 requires that header
//     and may send UNSIGNED-PAYLOAD or, for an aws-chunked upload with
//     unsigned chunks and a trailing checksum,
//     STREAMING-UNSIGNED-PAYLOAD-TRAILER (the caller decodes the chunks
//     and checks the checksum); other services may send neither.
//
// It also enforces: the credential scope date equals the date of
// X-Amz-Date (or, when that is absent, of the RFC 1123 Date header); the
// date is within [Options.MaxSkew] (15 minutes) of the server clock either
// way; host and every X-Amz-* header present are signed; signatures are
// compared in constant time.
//
// Query-string presigned requests (X-Amz-Algorithm, X-Amz-Credential,
// X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature) are
// accepted for service s3 only. Their payload is UNSIGNED-PAYLOAD; one
// dated more than MaxSkew in the future fails with [ErrNotYetValid], and
// they fail with [ErrExpired] once X-Amz-Expires (at most a week) has
// passed.
//
// # Errors
//
// Every authentication failure is an [*Error]: its Message reads like the
// message AWS sends, and it wraps one sentinel that callers branch on with
// [errors.Is]: [ErrMissingAuth], [ErrIncomplete], [ErrUnknownKey],
// [ErrSignatureMismatch], [ErrExpired]. Two refinements wrap one of those
// in turn, for callers that answer them differently: [ErrNotYetValid]
// (an [ErrExpired]) and [ErrSignatureV2] (an [ErrIncomplete]). Each
// sentinel's documentation names the AWS error code it corresponds to;
// the edges (api, s3api) own the mapping to the wire.
//
// # Not supported
//
//   - Session credentials: OpenTrail issues none yet, so a request carrying
//     X-Amz-Security-Token fails with [ErrUnknownKey] ("The security token
//     included in the request is invalid.") once its signed-ness and date
//     have been checked.
//   - Signed aws-chunked uploads (X-Amz-Content-Sha256
//     STREAMING-AWS4-HMAC-SHA256-PAYLOAD and the other signed STREAMING-*
//     modes, whose chunks carry their own signatures) and SigV4A
//     (AWS4-ECDSA-P256-SHA256) fail with [ErrIncomplete]; Signature
//     Version 2, in the Authorization header or the query string, with
//     [ErrSignatureV2].
//   - Path normalisation for non-S3 services (removing "." and ".."
//     segments): the CloudTrail paths are "/" and "/PutAuditEvents".
package sigv4
