package history

import (
	"errors"
	"time"

	"github.com/opentrail/opentrail/internal/event"
)

// AttrKey names a LookupEvents lookup attribute. The zero value means no
// attribute: every event in the time range matches.
type AttrKey uint8

// The eight LookupEvents attributes. Their numbers are the index's
// attribute numbers (docs/format/index.md).
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

// Errors callers branch on.
var (
	// ErrBadCursor means Query.Cursor was not produced by this store.
	ErrBadCursor = errors.New("history: malformed cursor")
	// ErrClosed means the history was closed.
	ErrClosed = errors.New("history: closed")
)
