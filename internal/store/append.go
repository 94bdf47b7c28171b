package store

import "errors"

// AppendOptions tune one Append call.
type AppendOptions struct {
	// SkipDuplicates drops events whose eventID, with the same eventTime,
	// the partition already holds (imports are idempotent); they are reported in AppendResult.Duplicates.
	// It needs Options.Dedupe.
	SkipDuplicates bool
}

// AppendResult reports what one Append call stored.
type AppendResult struct {
	Appended   int   // events made durable
	Duplicates []int // indexes into the input of events skipped as duplicates
	LastSeq    uint64
}

// Errors callers branch on.
var (
	// ErrBackpressure means the followers are too far behind; the caller
	// should retry later (the API maps it to ThrottlingException).
	ErrBackpressure = errors.New("store: followers are behind, retry later")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrUnavailable means the event log cannot be written now (a full
	// disk, an I/O error): nothing of the append was acknowledged. The
	// store retries on the next append and recovers by itself once the
	// disk does; callers retry later (the API answers 503).
	ErrUnavailable = errors.New("store: the event log cannot be written now (disk full or failing)")
)
