package logfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/opentrail/opentrail/internal/testenv"
)

// loadInvictus returns the invictus log files, gzipped in memory, and their
// total decompressed size.
func loadInvictus(b *testing.B) ([][]byte, int64) {
	dir := filepath.Join(testenv.CloudTrailData(b), "invictus-ir-aws-dataset")
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("no invictus files in %s: %v", dir, err)
	}
	var files [][]byte
	var size int64
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		size += int64(len(raw))
		files = append(files, gzipBytes(b, raw))
	}
	return files, size
}

func benchDecode(b *testing.B, files [][]byte, size int64) {
	b.SetBytes(size)
	b.ReportAllocs()
	var d Decoder
	records := 0
	for b.Loop() {
		for _, f := range files {
			if err := d.Reset(bytes.NewReader(f)); err != nil {
				b.Fatal(err)
			}
			for {
				_, err := d.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				records++
			}
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecode decodes the 55 invictus files (2,900 records), gzipped as
// AWS delivers them. MB/s counts decompressed JSON.
func BenchmarkDecode(b *testing.B) {
	files, size := loadInvictus(b)
	benchDecode(b, files, size)
}

// BenchmarkDecodePlain is BenchmarkDecode without gzip: the scanner alone.
func BenchmarkDecodePlain(b *testing.B) {
	dir := filepath.Join(testenv.CloudTrailData(b), "invictus-ir-aws-dataset")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var files [][]byte
	var size int64
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		size += int64(len(raw))
		files = append(files, raw)
	}
	benchDecode(b, files, size)
}
