package daemon

import (
	"net/http"

	"github.com/opentrail/opentrail/internal/auditapi"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/identity"
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

// channelSource is a channel a store of events from outside AWS takes
// records of: the channel's ARN and the ranges of the event log in which
// it does.
type channelSource struct {
	ARN    string
	Ingest []catalog.SeqRange
}

// channelSources returns, by destination store ARN, the channels each
// store takes records of: every channel, deleted ones included (their
// closed ranges still hold events the Lake may not have taken yet).
func channelSources(chs []catalog.Channel) map[string][]channelSource {
	out := map[string][]channelSource{}
	for _, ch := range chs {
		for _, dst := range ch.Destinations {
			out[dst.Location] = append(out[dst.Location], channelSource{ARN: ch.ARN(), Ingest: dst.Ingest})
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
