// Package event owns the CloudTrail event record: its Go types, validation,
// canonical JSON, and the values LookupEvents derives from it.
//
// A record is kept as the exact JSON bytes it arrived with (compacted), so a
// real record round-trips without losing any field, unknown ones included.
// [Record] gives typed access for code that builds records (OpenTrail's own
// API calls); [Parse] validates raw bytes and extracts the [Summary] that the
// store indexes.
//
// The package is pure: no I/O, no clocks except those passed in.
package event
