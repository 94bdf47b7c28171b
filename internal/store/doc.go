// Package store is OpenTrail's durable event store.
//
// Events enter through [Store.Append], which returns only after they are in
// the write-ahead log and fsynced (package wal; concurrent calls share one
// fsync, group commit). Everything else follows the log, each follower with
// its own checkpoint: today the event-history index (package index), which
// LookupEvents reads through [Store.Lookup]. Trail delivery, Lake segments,
// Insights and rules will follow the same log.
//
// The store is partitioned by account and region: every event belongs to the
// partition of its recipient account and awsRegion, and every query names
// one partition.
//
// Open replays only the part of the log the index has not applied yet, so
// start-up time does not grow with the amount of data. Open starts the
// writer, indexer and retention goroutines; Close stops them after the index
// has caught up with everything acknowledged.
package store
