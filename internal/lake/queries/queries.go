// Package queries is the model of CloudTrail Lake queries that the engine
// (package lake) keeps and the API reports: statuses, a query's state and
// statistics, and the errors of the query operations. It has no cgo, so the
// API builds without DuckDB.
package queries

import (
	"errors"
	"time"
)

// Statuses (the model's QueryStatus).
const (
	Queued    = "QUEUED"
	Running   = "RUNNING"
	Finished  = "FINISHED"
	Failed    = "FAILED"
	Cancelled = "CANCELLED"
	TimedOut  = "TIMED_OUT"
)

// Delivery statuses (the model's DeliveryStatus): where the results of a
// query started with a DeliveryS3Uri are (docs/format/query-results.md).
const (
	// DeliveryPending: the query has not finished, or its results are
	// being written.
	DeliveryPending = "PENDING"
	// DeliverySuccess: the result files and the sign file are in the
	// bucket.
	DeliverySuccess = "SUCCESS"
	// DeliveryFailed: a result file could not be written.
	DeliveryFailed = "FAILED"
	// DeliveryFailedSigningFile: the result files were written but the
	// sign file could not be signed or written.
	DeliveryFailedSigningFile = "FAILED_SIGNING_FILE"
	// DeliveryResourceNotFound: the bucket does not exist.
	DeliveryResourceNotFound = "RESOURCE_NOT_FOUND"
	// DeliveryAccessDenied: the store refused a result file.
	DeliveryAccessDenied = "ACCESS_DENIED"
	// DeliveryAccessDeniedSigningFile: the store refused the sign file.
	DeliveryAccessDeniedSigningFile = "ACCESS_DENIED_SIGNING_FILE"
	// DeliveryCancelled: the query did not finish, so nothing is
	// delivered.
	DeliveryCancelled = "CANCELLED"
	// DeliveryUnknown is in the model; OpenTrail never reports it.
	DeliveryUnknown = "UNKNOWN"
)

// Errors of the query operations; the API maps each to its exception.
var (
	// ErrInvalidQuery: the statement is not a valid Lake SELECT
	// (InvalidQueryStatementException); the error's text says why.
	ErrInvalidQuery = errors.New("lake: invalid query statement")
	// ErrStoreNotFound: no event data store of the caller's account has
	// this id (EventDataStoreNotFoundException).
	ErrStoreNotFound = errors.New("lake: event data store not found")
	// ErrStoreInactive: the store is PENDING_DELETION
	// (InactiveEventDataStoreException).
	ErrStoreInactive = errors.New("lake: event data store is not active")
	// ErrTooManyQueries: the account has QueryOptions.MaxConcurrent
	// queries queued or running (MaxConcurrentQueriesException).
	ErrTooManyQueries = errors.New("lake: too many concurrent queries")
	// ErrQueryNotFound: no query of the caller's account has this id in
	// the last 7 days (QueryIdNotFoundException).
	ErrQueryNotFound = errors.New("lake: query not found")
	// ErrQueryInactive: the query is no longer queued or running
	// (InactiveQueryException).
	ErrQueryInactive = errors.New("lake: query is not running")
)

// Info is a query's state: what DescribeQuery reports.
type Info struct {
	ID             string    `json:"id"`
	Account        string    `json:"account"`
	Region         string    `json:"region"`
	Statement      string    `json:"statement"`
	Stores         []string  `json:"stores"`
	Status         string    `json:"status"`
	ErrorMessage   string    `json:"errorMessage,omitempty"`
	Created        time.Time `json:"created"`
	Ended          time.Time `json:"ended,omitzero"`
	EventsMatched  int64     `json:"eventsMatched"`
	EventsScanned  int64     `json:"eventsScanned"`
	BytesScanned   int64     `json:"bytesScanned"`
	ExecutionMilli int64     `json:"executionTimeInMillis"`
	Columns        []string  `json:"columns,omitempty"`
	Results        int64     `json:"results"`
	DeliveryS3URI  string    `json:"deliveryS3Uri,omitempty"`
	DeliveryStatus string    `json:"deliveryStatus,omitempty"`
	// Alias is the QueryAlias the query was started for (a dashboard
	// widget's); RefreshID the dashboard refresh that started it.
	Alias     string `json:"queryAlias,omitempty"`
	RefreshID string `json:"refreshId,omitempty"`
	// Prompt is the prompt a generated query's statement came from
	// (GenerateQuery); "" for a statement given as is.
	Prompt string `json:"prompt,omitempty"`
}

// Active reports whether the query is queued or running.
func (q *Info) Active() bool { return q.Status == Queued || q.Status == Running }

// StartOptions are StartQuery's optional members.
type StartOptions struct {
	DeliveryS3URI string
	// Alias and RefreshID are recorded with the query, so DescribeQuery
	// finds it by QueryAlias (and RefreshId).
	Alias, RefreshID string
	// Prompt, for a statement GenerateQuery generated, is its prompt,
	// which DescribeQuery reports.
	Prompt string
}
