package lake

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/opentrail/opentrail/internal/lake/queries"
	"github.com/opentrail/opentrail/internal/lake/resultfile"
)

// ResultOptions configure the delivery of query results to S3
// (StartQuery's DeliveryS3Uri; docs/format/query-results.md). The
// interfaces are package resultfile's, which calls them.
type ResultOptions struct {
	// Objects is the bucket store results are written to (the one trails
	// deliver to). Without it, a query started with a DeliveryS3Uri ends
	// with DeliveryStatus FAILED.
	Objects resultfile.Objects
	// Signer hands out the key that signs result_sign.json (the key that
	// signs digests, so ListPublicKeys serves it).
	Signer resultfile.Signer
	// MaxFileBytes is the uncompressed size past which results go on in
	// a new file.
	MaxFileBytes int
	// Attempts is how many times a delivery is tried while the store does
	// not answer (objstore.ErrUnavailable); RetryDelay is the first wait
	// between attempts, doubled after each.
	Attempts   int
	RetryDelay time.Duration
	// Timeout bounds one attempt.
	Timeout time.Duration
}

// DefaultResultOptions returns 64 MiB files, 5 attempts 2 s, 4 s, 8 s and
// 16 s apart, 15 minutes for an attempt.
func DefaultResultOptions() ResultOptions {
	return ResultOptions{MaxFileBytes: resultfile.DefaultMaxFileBytes, Attempts: 5, RetryDelay: 2 * time.Second, Timeout: 15 * time.Minute}
}

func (o *ResultOptions) fill() {
	def := DefaultResultOptions()
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = def.MaxFileBytes
	}
	if o.Attempts <= 0 {
		o.Attempts = def.Attempts
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = def.RetryDelay
	}
	if o.Timeout <= 0 {
		o.Timeout = def.Timeout
	}
}

// deliver writes a finished query's results to its DeliveryS3Uri and
// records the DeliveryStatus. It does nothing unless the query FINISHED
// with its delivery PENDING. When the engine closes meanwhile, the status
// stays PENDING and the next Open delivers again (writes are conditional,
// so a repeat is safe).
func (qs *runner) deliver(q *query) {
	qs.mu.Lock()
	if q.info.Status != queries.Finished || q.info.DeliveryStatus != queries.DeliveryPending {
		qs.mu.Unlock()
		return
	}
	info := q.info
	qs.mu.Unlock()
	rows, lost := qs.rows(q, 0, -1)

	o := qs.e.opts.Results
	log := qs.e.log.With("query", info.ID, "account", info.Account, "delivery_s3_uri", info.DeliveryS3URI)
	status, err := queries.DeliveryFailed, error(nil)
	switch {
	case o.Objects == nil || o.Signer == nil:
		err = errors.New("this server has no object store to deliver query results to")
	case lost != nil:
		err = lost
	case int64(len(rows)) != info.Results:
		err = errors.New("the query's results were not kept on disk (" + strconv.Itoa(len(rows)) + " of " + strconv.FormatInt(info.Results, 10) + " rows); run the query again")
	default:
		req := resultfile.Request{QueryID: info.ID, Account: info.Account, Region: info.Region, Completed: info.Ended,
			Columns: columnNames(info.Columns, rows), Rows: rows, URI: info.DeliveryS3URI, MaxFileBytes: o.MaxFileBytes}
		delay := o.RetryDelay
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(qs.ctx, o.Timeout)
			status, err = resultfile.Deliver(ctx, o.Objects, o.Signer, req)
			cancel()
			if qs.ctx.Err() != nil {
				log.Info("lake: delivery of query results interrupted by shutdown; it is done again at the next start")
				return
			}
			if err == nil || !resultfile.Temporary(err) || attempt >= o.Attempts {
				break
			}
			log.Warn("lake: the object store did not take the query results; retrying", "attempt", attempt, "err", err)
			select {
			case <-time.After(delay):
			case <-qs.ctx.Done():
				log.Info("lake: delivery of query results interrupted by shutdown; it is done again at the next start")
				return
			}
			delay *= 2
		}
	}
	if err != nil {
		log.Error("lake: could not deliver query results", "delivery_status", status, "err", err)
	} else {
		log.Info("lake: delivered query results")
	}
	qs.mu.Lock()
	q.info.DeliveryStatus = status
	qs.mu.Unlock()
	if err := qs.save(q); err != nil {
		qs.e.log.Error("lake: could not save a query's state", "query", info.ID, "err", err)
	}
}

// columnNames are the result's column names as GetQueryResults keys them:
// the engine's, or _col<N> where it has none.
func columnNames(cols []string, rows [][]*string) []string {
	n := len(cols)
	if len(rows) > 0 {
		n = max(n, len(rows[0]))
	}
	out := make([]string, n)
	for i := range out {
		if i < len(cols) {
			out[i] = cols[i]
		} else {
			out[i] = "_col" + strconv.Itoa(i)
		}
	}
	return out
}
