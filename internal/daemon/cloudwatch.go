package daemon

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/cwapi"
	"github.com/opentrail/opentrail/internal/cwlogs"
	"github.com/opentrail/opentrail/internal/cwmetrics"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/jsonsvc"
	"github.com/opentrail/opentrail/internal/sns"
)

// cloudWatch is the CloudWatch engine and its evaluation loop.
type cloudWatch struct {
	e      *cwmetrics.Engine
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// openCloudWatch opens the metric store and alarms and registers their
// Prometheus collector. Alarm notifications go to cloudWatchNotifier
// (SNS topics, once SNS is served); until then they wait, durably, in the
// engine's outbox.
func (d *Daemon) openCloudWatch(reg prometheus.Registerer) error {
	o := cwmetrics.DefaultOptions()
	o.Logger = d.log
	o.Notifier = d.cloudWatchNotifier()
	if v := d.cfg.CloudWatch.EvaluationDelay; v > 0 {
		o.EvaluationDelay = time.Duration(v)
	}
	if v := d.cfg.CloudWatch.RecheckDelay; v > 0 {
		o.RecheckDelay = time.Duration(v)
	}
	e, err := cwmetrics.Open(d.dir.Path(datadir.CloudWatchDir), o)
	if err != nil {
		return err
	}
	d.cw = &cloudWatch{e: e}
	d.metricSink = metricSink{e}
	return reg.Register(e.Collector())
}

// metricSink adapts the metric store to CloudWatch Logs' metric filters.
type metricSink struct{ e *cwmetrics.Engine }

func (m metricSink) PutStatistics(account, region string, pts []cwlogs.MetricPoint) error {
	out := make([]cwmetrics.Point, len(pts))
	for i, p := range pts {
		out[i] = cwmetrics.Point(p)
	}
	return m.e.PutStatistics(account, region, out)
}

// cloudWatchNotifier is the alarm actions' publisher: SNS topics of the
// alarm's account, durable when Publish returns.
func (d *Daemon) cloudWatchNotifier() cwmetrics.Notifier {
	if d.sns == nil {
		return nil
	}
	return alarmTopics{d.sns}
}

// alarmTopics adapts SNS to the alarms' Notifier.
type alarmTopics struct{ sns *sns.Service }

func (a alarmTopics) Publish(ctx context.Context, account, topicARN, subject, message string) error {
	_, err := a.sns.PublishAs(ctx, account, sns.PublishInput{TopicARN: topicARN, Subject: subject, Message: message})
	return err
}

// CloudWatch gives tests access to the CloudWatch engine.
func (d *Daemon) CloudWatch() *cwmetrics.Engine { return d.cw.e }

func (c *cloudWatch) start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Go(func() { _ = c.e.Run(ctx) })
}

func (c *cloudWatch) close() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	return c.e.Close()
}

// cloudWatchHandler is the CloudWatch API in its three wire forms
// (alerts.md §1.1), which the router's classify tells apart.
func (d *Daemon) cloudWatchHandler(auth *identity.Authenticator) (http.Handler, error) {
	o := jsonsvc.Options{Auth: auth, Events: d.store, Regions: d.cfg.Regions, Logger: d.log}
	if d.cfg.MaxRequestBytes > 0 {
		o.MaxBodyBytes = d.cfg.MaxRequestBytes
	}
	return cwapi.New(d.cw.e, o)
}

// checkCloudWatch adds the CloudWatch store's state to an fsck report.
func checkCloudWatch(root string, r *Report) {
	dir := filepath.Join(root, datadir.CloudWatchDir)
	rep, err := cwmetrics.Check(dir)
	if err != nil {
		r.problem("CloudWatch: %v", err)
		return
	}
	r.line("CloudWatch: %d files, %d records", rep.Files, rep.Records)
	for f, n := range rep.Torn {
		r.line("CloudWatch: %s ends in a torn record of %d bytes, never acknowledged; the next start cuts it", f, n)
	}
}
