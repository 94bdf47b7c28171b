// Package logfile decodes CloudTrail log files into raw records, for
// importing. It reads; it does not walk directories or validate records
// (package event does that).
//
// [NewDecoder] takes a whole file as an io.Reader. Gzip is recognised by its
// magic number, whatever the file is called. The JSON is then sniffed
// (after whitespace and an optional UTF-8 byte order mark) as one of:
//
//   - [FormatRecords]: AWS's delivery format {"Records":[record, ...]}; the
//     Records member may come after other members, which are skipped;
//   - [FormatArray]: a JSON array of records, possibly empty;
//   - [FormatObject]: a single record object;
//   - [FormatLines]: JSON Lines, one record object per line (blank lines
//     allowed). Strictly: record objects separated by any whitespace, so a
//     sequence of pretty-printed objects reads too.
//
// More generally a file is a sequence of top-level values: each array gives
// its elements, each object with a Records array gives that array's
// elements, and any other object is one record. Format names the shape of
// the first value, so concatenated log files (zcat *.json.gz) decode as
// FormatRecords.
//
// [Decoder.Next] returns each record's exact bytes, without copying more
// than once: a small validating scanner (internal/jsonscan) finds where each value
// ends, checking the same grammar as encoding/json, but building nothing.
// A malformed record gives a [*SyntaxError] with its index, line and byte
// offset; JSON Lines resume at the next line, arrays end there.
package logfile
