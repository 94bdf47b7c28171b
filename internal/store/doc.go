// Package store is OpenTrail's durable event log and the pipeline every
// engine follows it by.
//
// Events enter through [Store.Append], which returns only after they are in
// the write-ahead log and fsynced (package wal; concurrent calls share one
// fsync, group commit). Everything else follows the log: each follower
// registers with [Store.Follow] under its own name at its own durable
// checkpoint, reads entries in log order with [Follower.Read], and releases
// what it has made durable with [Follower.Release]; the log keeps every WAL
// segment some follower has not released. Event history (package history)
// and trail delivery are followers; the Lake, Insights and rules will be.
//
// Followers get parsed events: an [Entry] carries the event's record and
// its [event.Summary]. The store keeps the events it acknowledged recently
// in memory (the tail) exactly as Append received them, parsed once, and
// hands the same values to every follower; a follower that has fallen
// behind the tail (at start-up, or after a stall) reads the WAL back and
// parses what it reads.
//
// A follower registered with FollowOptions.Gate holds appends back: Append
// waits, then fails with [ErrBackpressure], while such a follower has more
// than Options.MaxLag events (or MaxLagBytes) acknowledged but not applied.
// Event history gates, so a lookup sees a caller's own calls within a
// bounded wait.
//
// Open starts the WAL writer; Close stops it, seals the WAL and deletes the
// segments every follower has released. Followers stop first.
package store
