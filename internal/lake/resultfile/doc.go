// Package resultfile writes the results of a CloudTrail Lake query into an
// S3 bucket as AWS does for StartQuery's DeliveryS3Uri, and checks such a
// delivery: gzipped CSV files and a signed sign file under
//
//	[<prefix>/]AWSLogs/<account>/CloudTrail-Lake/Query/<YYYY>/<MM>/<DD>/<query-id>/
//
// (docs/format/query-results.md; spec lake.md §8).
//
// [Deliver] is the producer. It encodes the rows ([EncodeFiles]: RFC 4180
// CSV with a header row, NULL as an empty unquoted field, split past
// [DefaultMaxFileBytes]), writes the result files with PutIfAbsent, builds
// the sign file ([NewSignFile]), signs the space-joined SHA-256 hashes of
// the compressed files with the key its [Signer] hands out (SHA256withRSA,
// the key pairs that sign digest files), writes it last, and returns the
// query's DeliveryStatus (queries.Delivery*) with the error to log.
//
// [Verify] is the checker, for tests and for a command that validates
// delivered results: it reads the sign file and every file it lists through
// a [Reader], compares the hashes, and verifies the signature with the
// public key a [KeySource] (ListPublicKeys) returns for the sign file's
// fingerprint, as `aws cloudtrail verify-query-results` does.
//
// The package holds no network code and no DuckDB: it reads and writes
// objects through the interfaces it declares, which an objstore.Store
// satisfies.
package resultfile
