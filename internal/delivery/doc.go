// Package delivery writes trails' log files, digest files and
// notifications. It follows the event log (store.Follower) from its own
// checkpoint: each event that a logging trail's selectors admit is
// buffered per (trail, account, region), and every Options.Interval (or
// when a buffer reaches Options.MaxFileBytes) the buffer is staged as a
// gzipped {"Records":[...]} file in a local spool and committed, then put
// into the trail's bucket under AWS's key layout (package layout).
// Insights records (package insights appends them to the log) go, per
// (trail, account, region), to the trails that have their Insights type
// on, as CloudTrail-Insight files in no digest and with no notification.
//
// Exactly once: a file's key and bytes are fixed when it is staged, and the
// state file (docs/format/delivery-state.md) records what is staged, what
// is delivered and how far the log is handled; a crash repeats at most the
// last PUT of the same bytes at the same key. An unreachable bucket only
// delays delivery: staged files wait, with back-off, and the log is held.
// Uploads go through one queue per trail and bucket, so what fails for one
// trail (its bucket, or a file whose key cannot be stored) holds up no
// other; a file that can never be delivered stays staged and reported,
// and is dropped, logged and counted, only once its trail is deleted. A
// full disk only delays staging too: attempts back off and leave nothing
// behind, and delivery recovers by itself (docs/design/decisions.md
// §30–31). Every state change is copy-on-write (Engine.updateLocked).
//
// For trails with log-file validation, each (trail, region) has a digest
// chain: every Options.DigestInterval a digest listing the files delivered
// in the window, signed with the keyring's current key and chained to the
// previous digest (package digest); empty windows get empty digests, and
// stopping, deleting or turning validation off writes a final digest.
//
// Trails with an SNS topic get AWS's notification message for each file,
// through a Publisher, retried until it succeeds.
package delivery
