// Package digest owns CloudTrail digest files: the [Document] and its exact
// JSON form, the SHA-256 hashes of digest and log files, the signing string,
// RSA signatures and public-key fingerprints, and the chain that links each
// digest to the one before it. The format is
// /work/shared/spec/delivery-and-integrity.md §6, summarised in
// docs/format/digest.md.
//
// Producing a digest:
//
//	doc := &digest.Document{…}       // fields of §6.2
//	doc.AddLogFile(entry)            // once per delivered log file
//	doc.SetPrevious(prev)            // unless this is a starting digest
//	s, err := digest.Seal(doc, key)  // serialise once, hash, gzip, sign
//	// PutObject s.Gzip with s.Metadata(); keep s.Link for the next digest.
//
// [Encode] serialises once and hashes and compresses those same bytes
// (pitfall P5); [EncodeLogFile] does the same for a log file's
// {"Records":[…]} bytes. All hex is lowercase (P4); the five previousDigest*
// keys and "logFiles" are always written (P3).
//
// Verifying a digest read back: [Parse] the gunzipped bytes, look the
// fingerprint up, then [Verify] the key, [Document.SigningString] of [Hash]
// of those bytes, and the object's signature metadata.
//
// The package is pure: no I/O, no clock. Errors wrap [ErrInvalid],
// [ErrBadSignature] or [ErrBadKey].
package digest
