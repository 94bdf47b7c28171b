// Package imports is the model of CloudTrail Lake imports (StartImport and
// its kin) that the engine (package lake) runs and the API reports:
// statuses, an import's state, statistics and failures, and the errors of
// the import operations. It has no cgo, so the API builds without DuckDB.
package imports

import (
	"errors"
	"slices"
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

// Statuses of a Failure (the model's ImportFailureStatus): a file failed,
// is waiting to be read again by a retry, or was imported by one.
const (
	FailureFailed    = "FAILED"
	FailureRetry     = "RETRY"
	FailureSucceeded = "SUCCEEDED"
)

// FileError is the ErrorType of a Failure that names one source file;
// only those are read again by a retry.
const FileError = "FileError"

// Failure is one file that could not be imported.
type Failure struct {
	Location     string    `json:"location"`
	Status       string    `json:"status"` // FailureFailed, FailureRetry or FailureSucceeded
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
	// Round counts the import's retries (StartImport with its ImportId);
	// Retry lists, sorted, the source files that had failed when the
	// latest one began, which it reads again after the others.
	Round int      `json:"round,omitempty"`
	Retry []string `json:"retry,omitempty"`
}

// Tally sets FailedEntries and FilesCompleted from the failures, given
// that the import has processed the first processed source files of its
// sorted list: a file is completed unless its failure is FAILED or still
// waiting for a retry.
func (i *Info) Tally(processed int) {
	failed, notDone := int64(0), int64(0)
	for _, f := range i.Failures {
		if f.Status == FailureFailed {
			failed++
		}
		if f.ErrorType == FileError && f.Status != FailureSucceeded {
			notDone++
		}
	}
	i.Stats.FailedEntries = failed
	i.Stats.FilesCompleted = max(int64(processed)-notDone, 0)
}

// Retrying prepares a retry: failures of source files that are not
// SUCCEEDED become RETRY and make up the retry list, failures that name no
// file are dropped, and the round goes up.
func (i *Info) Retrying() {
	kept := i.Failures[:0:0]
	i.Retry = nil
	for _, f := range i.Failures {
		if f.ErrorType != FileError {
			continue
		}
		if f.Status != FailureSucceeded {
			f.Status = FailureRetry
			i.Retry = append(i.Retry, f.Location)
		}
		kept = append(kept, f)
	}
	i.Failures = kept
	slices.Sort(i.Retry)
	i.Retry = slices.Compact(i.Retry)
	i.Round++
}

// Settle records the outcome of a file of the retry list.
func (i *Info) Settle(location string, err error, now time.Time) {
	for n := range i.Failures {
		f := &i.Failures[n]
		if f.Location != location || f.ErrorType != FileError {
			continue
		}
		f.LastUpdated = now
		if err != nil {
			f.Status, f.ErrorMessage = FailureFailed, err.Error()
		} else {
			f.Status = FailureSucceeded
		}
		return
	}
}

// Active reports whether the import is running.
func (i *Info) Active() bool { return i.Status == Initializing || i.Status == InProgress }
