// Package importer implements `opentrail import`: it reads CloudTrail log
// files from disk and stores their events, so that LookupEvents and the
// other readers see history recorded by AWS (or by another tool).
//
// [Run] takes files and directories. Directories are walked recursively in
// lexical order, so an `aws s3 sync` copy of a trail bucket (AWSLogs/...)
// imports as it is. Every file is sniffed by content with package logfile:
// gzip or not, {"Records":[...]}, a JSON array, a single record or JSON
// Lines, whatever its name (.json, .json.gz, .json.cloudtrail, ...). Files
// without CloudTrail JSON found in a walk (README.md, LICENSE, digest files)
// are skipped with a reason; hidden files and directories are ignored.
//
// Files are decoded and validated ([event.Parse]) by parallel workers;
// valid events are appended in batches through the [Appender] the caller
// passes in (the store), each in the partition of its own account and
// region, with duplicates skipped, so an import can be repeated safely.
// Accounts seen for the first time are created through [Accounts]. Records
// that fail validation, or are older than the event history retention, are
// counted per reason; [Summary.Print] reports them with a few examples.
//
// Progress goes to [Options.Progress]: a redrawn bar on a terminal, a line
// every two seconds elsewhere (progress.go).
package importer
