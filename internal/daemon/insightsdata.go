package daemon

import (
	"github.com/opentrail/opentrail/internal/api"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/insights"
)

// insightsData adapts the detector's index of Insights records raised on
// data events to the API's InsightsRecords (ListInsightsData).
type insightsData struct{ e *insights.Engine }

var _ api.InsightsRecords = insightsData{}

func (d insightsData) InsightsData(q api.InsightsDataQuery) ([]event.Event, error) {
	return d.e.DataRecords(insights.DataQuery{Account: q.Account, Regions: q.Regions, Types: q.Types, Key: q.Key, Value: q.Value,
		Start: q.Start, End: q.End, AfterTime: q.AfterTime, AfterID: q.AfterID, Limit: q.Limit})
}
