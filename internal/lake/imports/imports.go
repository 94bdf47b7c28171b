// Package imports is the model of CloudTrail Lake imports (StartImport and
// its kin) that the engine (package lake) runs and the API reports:
// statuses, an import's state, statistics and failures, and the errors of
// the import operations. It has no cgo, so the API builds without DuckDB.
package imports

import (
	"errors"
	"time"
)

// Statuses (the model's ImportStatus).
const (
	Initializing = "INITIALIZING"
	InProgress   = "IN_PROGRESS"
	Failed       = "FAILED"
	Stopped      = "STOPPED"
	Completed    = "COMPLETED"
)

// Errors of the import operations; the API maps each to its exception.
var (
	// ErrNotFound: no import of the caller's account has this id
	// (ImportNotFoundException).
	ErrNotFound = errors.New("lake: import not found")
	// ErrOngoing: the account already has an import running
	// (AccountHasOngoingImportException).
	ErrOngoing = errors.New("lake: the account has an import in progress")
	// ErrInvalidSource: the source cannot be read or is not an S3 URI
	// (InvalidImportSourceException).
	ErrInvalidSource = errors.New("lake: invalid import source")
	// ErrWrongStore: the destination does not hold CloudTrail events
	// (InvalidEventDataStoreCategoryException).
	ErrWrongStore = errors.New("lake: the event data store does not take imported trail events")
)

// Statistics are an import's counters (the model's ImportStatistics).
type Statistics struct {
	PrefixesFound     int64 `json:"prefixesFound"`
	PrefixesCompleted int64 `json:"prefixesCompleted"`
	FilesCompleted    int64 `json:"filesCompleted"`
	EventsCompleted   int64 `json:"eventsCompleted"`
	FailedEntries     int64 `json:"failedEntries"`
	// EventsSkipped counts events outside the store's retention or the
	// import's time range (not in the model; logged and kept).
	EventsSkipped int64 `json:"eventsSkipped"`
}

// Failure is one file that could not be imported.
type Failure struct {
	Location     string    `json:"location"`
	Status       string    `json:"status"` // FAILED, RETRY or SUCCEEDED
	ErrorType    string    `json:"errorType"`
	ErrorMessage string    `json:"errorMessage"`
	LastUpdated  time.Time `json:"lastUpdated"`
}

// Info is an import's state.
type Info struct {
	ID             string     `json:"id"`
	Account        string     `json:"account"`
	Region         string     `json:"region"`
	Store          string     `json:"store"` // the destination's id
	StoreARN       string     `json:"storeArn"`
	S3LocationURI  string     `json:"s3LocationUri"`
	S3BucketRegion string     `json:"s3BucketRegion"`
	S3RoleARN      string     `json:"s3BucketAccessRoleArn"`
	StartEventTime time.Time  `json:"startEventTime,omitzero"`
	EndEventTime   time.Time  `json:"endEventTime,omitzero"`
	Status         string     `json:"status"`
	Created        time.Time  `json:"created"`
	Updated        time.Time  `json:"updated"`
	Stats          Statistics `json:"statistics"`
	Failures       []Failure  `json:"failures,omitempty"`
}

// Active reports whether the import is running.
func (i *Info) Active() bool { return i.Status == Initializing || i.Status == InProgress }
