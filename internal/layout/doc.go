// Package layout owns the object keys a trail writes into its bucket: log
// files ([LogKey]), Insights files (LogKey with Insight set) and digest files
// ([DigestKey]), as built and as parsed back, plus the listing prefix
// validate-logs uses ([DigestListPrefix]).
//
// The layouts are those of /work/shared/spec/delivery-and-integrity.md §1
// and §6.1, summarised in docs/format/object-layout.md:
//
//	[prefix/]AWSLogs/[o-orgid/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz
//	[prefix/]AWSLogs/[o-orgid/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOME_YYYYMMDDTHHMMSSZ.json.gz
//
// Builders validate every part, so that any key they return parses back to
// the same parts, and any key that parses builds back to the same string.
// Errors wrap [ErrInvalidPart] (building) or [ErrNotLogKey] /
// [ErrNotDigestKey] (parsing).
//
// The package is pure: no I/O, no clock; [NewUnique] reads crypto/rand.
package layout
