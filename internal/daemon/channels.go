package daemon

import (
	"net/http"

	"github.com/opentrail/opentrail/internal/auditapi"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/identity"
	"github.com/opentrail/opentrail/internal/lake"
)

// auditHandler builds the cloudtrail-data API (PutAuditEvents into the
// catalogue's channels), served on the API port.
func (d *Daemon) auditHandler(auth *identity.Authenticator) (http.Handler, error) {
	return auditapi.New(auditapi.Options{
		Auth:         auth,
		Channels:     d.trails,
		Events:       d.store,
		RateLimit:    d.cfg.PutAuditEventsRateLimit,
		Regions:      d.cfg.Regions,
		MaxBodyBytes: min(d.cfg.MaxRequestBytes, auditapi.DefaultMaxBody),
		Logger:       d.log,
	})
}

// channelSources returns, by destination store ARN, the channels each
// store takes records of, with the ranges of the log in which it does:
// every channel, deleted ones included (their closed ranges may still
// hold events the Lake has not taken yet).
func channelSources(chs []catalog.Channel) map[string][]lake.ChannelSource {
	out := map[string][]lake.ChannelSource{}
	for _, ch := range chs {
		for _, dst := range ch.Destinations {
			src := lake.ChannelSource{ARN: ch.ARN()}
			for _, r := range dst.Ingest {
				src.Ingest = append(src.Ingest, lake.Range{From: r.From, To: r.To})
			}
			out[dst.Location] = append(out[dst.Location], src)
		}
	}
	return out
}

// anyChannelDelivering reports whether a live channel delivers to some
// store: the Lake must then follow the event log.
func anyChannelDelivering(c *catalog.Catalog) bool {
	for _, ch := range c.AllChannels() {
		if !ch.Deleted() && len(ch.CurrentDestinations()) > 0 {
			return true
		}
	}
	return false
}
