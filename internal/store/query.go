package store

import (
	"errors"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// AttrKey names a LookupEvents lookup attribute. The zero value means no
// attribute: every event in the time range matches.
type AttrKey uint8

// The eight LookupEvents attributes.
const (
	AttrNone AttrKey = iota
	AttrEventID
	AttrEventName
	AttrReadOnly
	AttrUsername
	AttrResourceType
	AttrResourceName
	AttrEventSource
	AttrAccessKeyID
)

// Query selects events of one partition (account and region) for
// LookupEvents. Start and End are inclusive, at second precision; a zero
// Start means "as old as retention allows", a zero End means "now".
type Query struct {
	Account string
	Region  string
	Key     AttrKey
	Value   string
	Start   time.Time
	End     time.Time
	Insight bool // Insights events instead of management events
	Limit   int  // 1..50
	Cursor  []byte
}

// Page is one page of a lookup, newest first. Next is nil on the last page;
// otherwise pass it back as Query.Cursor with an otherwise identical query.
type Page struct {
	Events []event.Event
	Next   []byte
}

// AppendOptions tune one Append call.
type AppendOptions struct {
	// SkipDuplicates drops events whose eventID the partition already holds
	// (imports are idempotent); they are reported in AppendResult.Duplicates.
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
	// ErrBadCursor means Query.Cursor was not produced by this store.
	ErrBadCursor = errors.New("store: malformed cursor")
)
