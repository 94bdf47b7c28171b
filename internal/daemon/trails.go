package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opentrail/opentrail/internal/api"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/delivery"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/keyring"
	"github.com/opentrail/opentrail/internal/notify"
	"github.com/opentrail/opentrail/internal/objstore/fsbucket"
	"github.com/opentrail/opentrail/internal/objstore/s3"
	"github.com/opentrail/opentrail/internal/s3api"
	"github.com/opentrail/opentrail/internal/store"
)

// openTrails opens the trail catalogue, the signing keys, the bucket store
// and trail delivery, and registers delivery as a store follower.
func (d *Daemon) openTrails(reg prometheus.Registerer) error {
	var err error
	if d.trails, err = catalog.Open(d.dir.Path(datadir.TrailsDir), catalog.DefaultOptions()); err != nil {
		return err
	}
	for _, p := range d.trails.Problems() {
		d.log.Warn("catalogue: " + p)
	}
	if d.keys, err = keyring.Open(d.dir.Path(datadir.KeysDir), keyring.DefaultOptions()); err != nil {
		return err
	}
	// A signing key exists from the start (and is rotated from here on),
	// so ListPublicKeys always has the current one, as at AWS.
	if _, err := d.keys.Current(delivery.SigningKeySet); err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	if b := d.cfg.Buckets; b.Endpoint != "" {
		so := s3.DefaultOptions()
		so.Endpoint, so.Region, so.AccessKeyID, so.SecretAccessKey = b.Endpoint, b.Region, b.AccessKeyID, b.SecretAccessKey
		if so.Region == "" {
			so.Region = "us-east-1"
		}
		if d.objects, err = s3.New(so); err != nil {
			return fmt.Errorf("buckets: %w", err)
		}
	} else {
		if d.objects, err = fsbucket.Open(d.dir.Path(datadir.BucketsDir), fsbucket.DefaultOptions()); err != nil {
			return fmt.Errorf("buckets: %w", err)
		}
	}
	do := delivery.DefaultOptions()
	if v := d.cfg.Delivery.Interval; v > 0 {
		do.Interval = time.Duration(v)
	}
	if v := d.cfg.Delivery.DigestInterval; v > 0 {
		do.DigestInterval = time.Duration(v)
	}
	if v := d.cfg.Delivery.MaxFileBytes; v > 0 {
		do.MaxFileBytes = v
	}
	do.Logger = d.log
	do.Registerer = reg
	if d.delivery, err = delivery.Open(d.dir.Path(datadir.DeliveryDir), do); err != nil {
		return err
	}
	n := d.cfg.Notifications
	if err := d.openSNS(reg); err != nil {
		return err
	}
	pub := trailTopics{sns: d.sns, hooks: &notify.Targets{Topics: n.Topics, Default: n.Webhook}}
	d.trailTopics = pub
	d.topics = busTopics{d.sns}
	d.follow.list = append(d.follow.list, follower{
		name:       datadir.DeliveryFollower,
		checkpoint: resumeFrom(d.delivery),
		behind: func(head uint64) (uint64, error) {
			if anyLogging(d.trails) {
				return 0, fmt.Errorf("trail delivery: %w", store.ErrFollowerBehind)
			}
			// The WAL moved on without delivery (an import with no
			// trail logging): nothing in between was for a trail, so
			// skip it.
			d.log.Info("trail delivery: starting at the newest event; no trail was logging while the log moved on", "to", head)
			return head, d.delivery.Init(head)
		},
		run: func(ctx context.Context, f *store.Follower) error {
			deps := delivery.Deps{Log: f, Trails: d.trails, Objects: d.objects, Signer: d.keys, Publisher: pub}
			return d.delivery.Run(ctx, deps)
		},
	})
	return d.follow.register()
}

func anyLogging(c *catalog.Catalog) bool {
	for _, t := range c.All() {
		if t.Logging {
			return true
		}
	}
	return false
}

// StoreFollowers returns the store followers that must hold the WAL of the
// data directory dir for a process that opens the store without serving
// (import): trail delivery, when some trail is logging, the Lake, when
// some event data store ingests, and the Insights detector, when some
// logging trail has Insights on, so the events it adds are delivered,
// ingested and analysed when the server next starts.
func StoreFollowers(dir string) ([]string, error) {
	c, err := catalog.Open(filepath.Join(dir, datadir.TrailsDir), catalog.DefaultOptions())
	if err != nil {
		return nil, err
	}
	var held []string
	if anyLogging(c) {
		held = append(held, datadir.DeliveryFollower)
	}
	if anyIngesting(c) {
		held = append(held, datadir.LakeFollower)
	}
	if anyInsights(c) {
		held = append(held, datadir.InsightsFollower)
	}
	return held, nil
}

// Delivery gives tests access to trail delivery.
func (d *Daemon) Delivery() *delivery.Engine { return d.delivery }

// router sends each request to the service classify names: ct (the
// cloudtrail API behind EventBridge and CloudWatch Logs, see
// alertServices), SNS, CloudWatch (its three wire forms), and, with the
// embedded bucket store, the S3 front end (without it, what would go to S3
// goes to the cloudtrail API, which answers with its error).
func (d *Daemon) router(ct http.Handler, auth *identity.Authenticator) http.Handler {
	var s3h http.Handler = ct
	if fs, embedded := d.objects.(*fsbucket.Store); embedded {
		so := s3api.DefaultOptions()
		so.Store = fs
		so.Auth = auth
		so.Events = d.store
		so.Logger = d.log
		if h, err := s3api.New(so); err != nil {
			d.log.Error("s3 front end disabled", "err", err)
		} else {
			s3h = h
		}
	}
	var snsh http.Handler
	if h, err := d.snsHandler(auth); err != nil {
		d.log.Error("sns api disabled", "err", err)
	} else {
		snsh = h
	}
	cwh, err := d.cloudWatchHandler(auth)
	if err != nil {
		d.log.Error("CloudWatch API disabled", "err", err)
	}
	auditH, err := d.auditHandler(auth)
	if err != nil {
		d.log.Error("cloudtrail-data API disabled", "err", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch classify(r) {
		case svcCloudTrail, svcEvents, svcLogs:
			// ct is the cloudtrail API behind the JSON alerting services
			// (alertServices), which take their X-Amz-Targets.
			ct.ServeHTTP(w, r)
		case svcCloudTrailData:
			if auditH == nil {
				notServed(w, "cloudtrail-data")
				return
			}
			auditH.ServeHTTP(w, r)
		case svcSNS:
			if snsh == nil {
				notServed(w, "SNS")
				return
			}
			snsh.ServeHTTP(w, r)
		case svcS3:
			s3h.ServeHTTP(w, r)
		case svcMonitoringJSON, svcMonitoringCBOR, svcMonitoringQuery:
			if cwh == nil {
				notServed(w, "CloudWatch")
				return
			}
			cwh.ServeHTTP(w, r)
		default:
			notServed(w, "this service")
		}
	})
}

// publicKeys serves ListPublicKeys; it makes the keyring rotate first, so
// the current key is listed even when no digest has been signed lately.
type publicKeys struct{ k *keyring.Keyring }

func (p publicKeys) Public(set string, start, end time.Time) []keyring.PublicKey {
	if _, err := p.k.Current(set); err != nil {
		slog.Default().Error("signing key rotation failed", "err", err)
	}
	return p.k.Public(set, start, end)
}

// deliveryStatus adapts the engine to the API's Delivery interface.
type deliveryStatus struct{ e *delivery.Engine }

func (s deliveryStatus) Flush(ctx context.Context) error { return s.e.Flush(ctx) }

func (s deliveryStatus) Status(arn, region string) api.TrailStatus {
	st := s.e.Status(arn, region)
	return api.TrailStatus{
		LatestDeliveryTime: st.LatestDeliveryTime, LatestDeliveryAttemptTime: st.LatestDeliveryAttemptTime,
		LatestDeliveryAttemptSucceeded: st.LatestDeliveryAttemptSucceed,
		LatestNotificationTime:         st.LatestNotificationTime, LatestNotificationAttemptTime: st.LatestNotificationAttempt,
		LatestNotificationAttemptSucceeded: st.LatestNotificationSucceed,
		LatestDigestDeliveryTime:           st.LatestDigestDeliveryTime,
		LatestDeliveryError:                st.LatestDeliveryError, LatestNotificationError: st.LatestNotificationError,
		LatestDigestDeliveryError: st.LatestDigestDeliveryError,
	}
}
