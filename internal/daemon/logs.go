package daemon

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/cwlogs"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/store"
)

// openLogs opens CloudWatch Logs and registers trail delivery to log
// groups as a follower of the event log.
func (d *Daemon) openLogs(reg prometheus.Registerer) error {
	o := cwlogs.DefaultOptions()
	o.Logger = d.log
	o.Registerer = reg
	o.Route = d.gate.logGroups
	if d.metricSink != nil {
		o.Metrics = d.metricSink
	}
	var err error
	if d.logs, err = cwlogs.Open(d.dir.Path(datadir.LogsDir), o); err != nil {
		return err
	}
	d.follow.list = append(d.follow.list, follower{
		name:       datadir.LogsFollower,
		checkpoint: resumeFrom(d.logs),
		behind: func(head uint64) (uint64, error) {
			// The log moved on without it: an import, whose historical
			// events trails do not send to CloudWatch Logs.
			d.log.Info("cwlogs: starting at the newest event; the events in between were imported, not recorded live", "to", head)
			return head, d.logs.Init(head)
		},
		run: func(ctx context.Context, f *store.Follower) error { return d.logs.Run(ctx, f) },
	})
	return nil
}

// logGroups adapts CloudWatch Logs to the API's LogGroups: a trail's log
// group must exist in the trail's account and home Region.
type logGroups struct{ e *cwlogs.Engine }

func (l logGroups) LogGroupExists(account, region, arn string) bool {
	r, a, name, ok := cwlogs.ParseGroupARN(arn)
	return ok && r == region && a == account && l.e.GroupExists(cwlogs.Scope{Account: account, Region: region}, name)
}

func (l logGroups) Status(trailARN string) (delivered time.Time, lastError string) {
	st := l.e.Status(trailARN)
	return st.LatestDeliveryTime, st.LatestError
}

// logsCheckpoint reads the delivery checkpoint.
func logsCheckpoint(root string) uint64 {
	return cwlogs.Check(filepath.Join(root, datadir.LogsDir)).Checkpoint
}

// checkLogs reads CloudWatch Logs' state without changing it.
func checkLogs(root string) followerState {
	r := cwlogs.Check(filepath.Join(root, datadir.LogsDir))
	st := followerState{checkpoint: r.Checkpoint, problems: r.Problems, mayStartOver: true}
	st.lines = append(st.lines, fmt.Sprintf("cloudwatch logs: checkpoint %d, %d log groups, %d events", r.Checkpoint, r.Groups, r.Events))
	return st
}
