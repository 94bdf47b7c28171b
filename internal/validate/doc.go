// Package validate checks a trail's digest files and log files the way
// aws-cli 1.45's `aws cloudtrail validate-logs` does, and reports in its
// words (spec delivery-and-integrity.md §7).
//
// [Run] is the engine. It holds no network code: it reads objects through
// an [ObjectSource] (ListObjects and GetObject of an S3-style store) and
// public keys through a [KeySource] (ListPublicKeys), both declared here and
// implemented by the caller (cmd/opentrail wraps aws-sdk-go-v2 clients;
// tests use maps).
//
// The algorithm is the CLI's:
//
//  1. List the digest keys of the trail's source Region with the prefix
//     [layout.DigestListPrefix], starting after the key a digest ending at
//     StartTime − 1 minute would have, keeping the keys whose name matches
//     the trail, skipping those earlier than StartTime and stopping at the
//     first one later than EndTime + 1 hour. Backfill keys
//     (_backfill.json.gz) form a second list.
//  2. Load the public keys valid in [StartTime, EndTime + 2 hours] once,
//     indexed by fingerprint; none at all is an error ([ErrNoPublicKeys]).
//  3. Walk the chain backwards from the newest listed digest. For each one:
//     get it, gunzip and parse it, require the signature metadata, check it
//     was read from where it says it was written, look up its key by
//     fingerprint, verify the signature over the signing string
//     ([digest.SigningString]), then get, gunzip and hash every log file it
//     lists. Follow previousDigestS3Bucket/Object (listing again when the
//     bucket changes). A digest with no previous pointer while older keys
//     remain is a gap ("No log files were delivered by CloudTrail
//     between …"); a missing or invalid digest is reported and the walk goes
//     on with the next older listed key. Stop once a digest starts before
//     StartTime.
//  4. Walk the backfill list the same way, with "(backfill) " before every
//     line, then print the summary.
//
// Valid lines go to Options.Stdout when Options.Verbose is set; INVALID
// lines and gaps always go to Options.Stderr, each followed by a blank line,
// exactly as the CLI spaces them. [Result] carries the counts; the caller
// exits 1 unless [Result.OK].
//
// Deliberate differences from the CLI: the key prefix is normalised with
// [layout.NormalizePrefix] (the CLI would list "p//AWSLogs" for "p/");
// digest documents are read with [digest.Parse], which also requires
// logFiles (the CLI crashes without it) and times exactly in
// [digest.TimeFormat] (otherwise "invalid format"); signatures are checked
// with SHA-256 only.
package validate
