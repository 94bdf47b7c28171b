package importer

import (
	"path/filepath"
	"testing"

	"github.com/opentrail/opentrail/internal/testenv"
)

// BenchmarkRun imports the invictus files (2,900 events) into a fresh fake
// store: decoding, validation (event.Parse) and batching, without disk
// writes.
func BenchmarkRun(b *testing.B) {
	dir := filepath.Join(testenv.CloudTrailData(b), "invictus-ir-aws-dataset")
	events := 0
	for b.Loop() {
		s, err := Run(b.Context(), []string{dir}, Options{Appender: &fakeStore{}})
		if err != nil {
			b.Fatal(err)
		}
		events += s.Imported
		b.SetBytes(s.Bytes)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
