package auditapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/auditapi"
	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/selector"
	"github.com/opentrail/opentrail/internal/store"
)

// discardLog takes every Append and keeps nothing.
type discardLog struct{}

func (discardLog) Append(_ context.Context, evs []event.Event, _ store.AppendOptions) (store.AppendResult, error) {
	return store.AppendResult{Appended: len(evs)}, nil
}

// BenchmarkPutAuditEvents is the handler's own cost of a request of 100
// events (decode, checks, records, parse), without SigV4 and the log:
// events/s = 100 / (ns/op) * 1e9.
func BenchmarkPutAuditEvents(b *testing.B) {
	cat, err := catalog.Open(filepath.Join(b.TempDir(), "catalog"), catalog.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	head := func() uint64 { return 0 }
	st, err := cat.CreateDataStore(catalog.DataStore{Name: "audit", Account: owner, HomeRegion: "us-east-1", Status: catalog.StatusEnabled,
		AdvancedEventSelectors: []selector.AdvancedEventSelector{{FieldSelectors: []selector.FieldSelector{{Field: "eventCategory", Equals: []string{"ActivityAuditLog"}}}}}}, head)
	if err != nil {
		b.Fatal(err)
	}
	ch, err := cat.CreateChannel(catalog.Channel{Name: "app", Account: owner, HomeRegion: "us-east-1", Source: catalog.SourceCustom}, []string{st.ARN()}, head)
	if err != nil {
		b.Fatal(err)
	}
	h, err := auditapi.New(auditapi.Options{Auth: trustAuth{}, Channels: cat, Events: discardLog{}})
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]auditEvent, 100)
	for i := range evs {
		d := eventData(func(m map[string]any) { m["UID"] = fmt.Sprint("req-", i) })
		evs[i] = auditEvent{ID: fmt.Sprint(i), EventData: d, EventDataChecksum: checksum(d)}
	}
	reqBody := body(evs...)
	b.SetBytes(int64(len(reqBody)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/PutAuditEvents?channelArn="+ch.ARN(), strings.NewReader(reqBody))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "errorCode") {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "events/s")
}
