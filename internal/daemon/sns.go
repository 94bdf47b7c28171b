package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/notify"
	"github.com/opentrail/opentrail/internal/sns"
	"github.com/opentrail/opentrail/internal/snsapi"
)

// openSNS opens the SNS engine under DATA-DIR/sns. Its delivery loop runs
// from Run to Close (startSNS, stopSNS).
func (d *Daemon) openSNS(reg prometheus.Registerer) error {
	o := sns.DefaultOptions()
	o.Logger = d.log
	o.Registerer = reg
	o.PublicURL = d.publicURL
	var err error
	d.sns, err = sns.Open(d.dir.Path(datadir.SNSDir), o)
	return err
}

// publicURL is where SNS subscribers reach this server.
func (d *Daemon) publicURL() string {
	if d.cfg.PublicURL != "" {
		return d.cfg.PublicURL
	}
	return d.URL()
}

// SNS gives tests and other engines (EventBridge targets, CloudWatch
// alarms) the SNS engine; publish with its Publish method.
func (d *Daemon) SNS() *sns.Service { return d.sns }

func (d *Daemon) startSNS() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d.snsStop = func() {
		cancel()
		<-done
	}
	go func() {
		defer close(done)
		if err := d.sns.Run(ctx); err != nil {
			d.log.Error("sns delivery stopped", "err", err)
		}
	}()
}

func (d *Daemon) stopSNS() {
	if d.snsStop != nil {
		d.snsStop()
		d.snsStop = nil
	}
}

func (d *Daemon) snsHandler(auth *identity.Authenticator) (*snsapi.Handler, error) {
	o := snsapi.DefaultOptions()
	o.Auth, o.Engine, o.Events, o.Logger, o.Regions = auth, d.sns, d.store, d.log, d.cfg.Regions
	return snsapi.New(o)
}

// trailTopics is what CreateTrail and trail delivery see of SNS: a topic
// created through the SNS API, or, as a shortcut, one the config file maps
// to a webhook (notifications.topics, or any topic when
// notifications.webhook is set).
type trailTopics struct {
	sns   *sns.Service
	hooks *notify.Targets
}

// TopicExists implements api.TopicChecker.
func (t trailTopics) TopicExists(account, arn string) bool {
	return t.sns.TopicExists(account, arn) || t.hooks.URL(arn) != ""
}

// Publish implements delivery.Publisher: the SNS topic's confirmed
// subscribers receive the notification, signed, through the durable
// queue; a topic that only the config file names goes to its webhook.
func (t trailTopics) Publish(ctx context.Context, topic, message string) error {
	if _, account, _, ok := sns.ParseTopicARN(topic); ok && t.sns.TopicExists(account, topic) {
		_, err := t.sns.Publish(ctx, topic, "", message, nil)
		var se *sns.Error
		if errors.As(err, &se) {
			code := "InternalError"
			switch {
			case errors.Is(err, sns.ErrNotFound):
				code = "NotFound"
			case errors.Is(err, sns.ErrThrottled):
				code = "Throttled"
			case errors.Is(err, sns.ErrInvalidParameter):
				code = "InvalidParameter"
			}
			return &notify.Error{ErrCode: code, Msg: se.Msg}
		}
		return err
	}
	if t.hooks.URL(topic) == "" {
		return &notify.Error{ErrCode: "NotFound", Msg: "SNS topic " + topic + " does not exist; create it (aws sns create-topic) or map it to a webhook in the config file's notifications.topics"}
	}
	return t.hooks.Publish(ctx, topic, message)
}

// busTopics is SNS as EventBridge targets (and other engines that notify)
// use it: the rule's account must own the topic.
type busTopics struct{ sns *sns.Service }

// TopicExists implements eventbus.Topics.
func (b busTopics) TopicExists(account, arn string) bool { return b.sns.TopicExists(account, arn) }

// Publish implements eventbus.Topics: it returns once the topic's
// deliveries are on disk.
func (b busTopics) Publish(ctx context.Context, account, arn, message string) error {
	if !b.sns.TopicExists(account, arn) {
		return fmt.Errorf("publish to %s: %w", arn, sns.ErrNotFound)
	}
	_, err := b.sns.Publish(ctx, arn, "", message, nil)
	return err
}
