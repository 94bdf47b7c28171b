package duck_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/lake/duck"
	"github.com/opentrail/opentrail/internal/logfile"
	"github.com/opentrail/opentrail/internal/testenv"
)

// realEvents reads the invictus test logs as stored events.
func realEvents(t testing.TB) []event.Event {
	t.Helper()
	dir := filepath.Join(testenv.CloudTrailData(t), "invictus-ir-aws-dataset")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test logs in %s: %v", dir, err)
	}
	var out []event.Event
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := logfile.NewDecoder(f)
		if err != nil {
			t.Fatal(err)
		}
		for {
			rec, err := dec.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			ev, err := event.Parse(rec.Raw)
			if err != nil {
				continue
			}
			out = append(out, ev)
		}
		f.Close()
	}
	return out
}

func openDB(t *testing.T, dirs ...string) *duck.DB {
	t.Helper()
	db, err := duck.Open(t.Context(), duck.Options{AllowedDirs: dirs, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestWriteAndReadBack(t *testing.T) {
	evs := realEvents(t)
	dir := t.TempDir()
	db := openDB(t, dir)
	rows := make([]duck.Row, len(evs))
	for i := range evs {
		rows[i] = duck.CloudTrail.RowOf(uint64(i+1), &evs[i])
	}
	duck.SortRows(rows)
	path := filepath.Join(dir, "x.parquet")
	if err := db.WriteParquet(t.Context(), duck.CloudTrail, path, rows); err != nil {
		t.Fatal(err)
	}
	var n, distinct string
	_, err := db.Query(t.Context(), "SELECT count(*), count(DISTINCT eventid) FROM "+duck.ReadParquet([]string{path}), func(c []*string) error {
		n, distinct = *c[0], *c[1]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(evs); n != strconv.Itoa(want) || distinct != strconv.Itoa(want) {
		t.Fatalf("read back %s rows, %s distinct event ids; want %d", n, distinct, want)
	}
	// Every eventjson is the stored record, and the typed columns agree
	// with it.
	byID := map[string]*event.Event{}
	for i := range evs {
		byID[evs[i].EventID] = &evs[i]
	}
	checked := 0
	_, err = db.Query(t.Context(), "SELECT eventid, eventjson, eventname, eventtime, useridentity.arn, eventcategory FROM "+duck.ReadParquet([]string{path}), func(c []*string) error {
		ev := byID[*c[0]]
		if ev == nil {
			t.Fatalf("unknown event id %s", *c[0])
		}
		if *c[1] != string(ev.Raw) {
			t.Fatalf("eventjson of %s differs from the record", *c[0])
		}
		if *c[2] != ev.EventName {
			t.Fatalf("eventname %s, want %s", *c[2], ev.EventName)
		}
		if want := ev.EventTime.UTC().Format(duck.TimeLayout); *c[3] != want {
			t.Fatalf("eventtime %s, want %s", *c[3], want)
		}
		if arn, ok := event.MustPath("userIdentity.arn").Str(ev.Raw); ok && (c[4] == nil || *c[4] != arn) {
			t.Fatalf("useridentity.arn %v, want %s", c[4], arn)
		}
		if *c[5] != ev.Category {
			t.Fatalf("eventcategory %s, want %s", *c[5], ev.Category)
		}
		checked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked != len(evs) {
		t.Fatalf("checked %d rows of %d", checked, len(evs))
	}
}

func TestLockedDown(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	ctx := context.Background()
	for _, q := range []string{
		"SELECT * FROM read_csv('/etc/passwd')",
		"COPY (SELECT 1) TO '/tmp/opentrail-escape.csv'",
		"SET enable_external_access = true",
		"SET allowed_directories = ['/']",
		"INSTALL httpfs",
		"ATTACH '/tmp/x.db'",
	} {
		if _, err := db.Query(ctx, q, func([]*string) error { return nil }); err == nil {
			t.Errorf("%s: ran; want refused", q)
		}
	}
}

// spillLimit is a memory limit under which a batch of 20,000 of the test
// events (the writer's FlushRows) cannot be written without spilling: DuckDB
// 1.5.6 writes it within about 170 MB with a temporary directory and needs
// about 230 without one.
const spillLimit = "192MB"

// TestWriteSpillsToTempDir writes a batch that needs more than the
// instance's memory limit: with a TempDir DuckDB spills there and the
// write succeeds; without one the same write runs out of memory (so it
// does need to spill), and neither writes DuckDB's default `.tmp` in the
// working directory.
func TestWriteSpillsToTempDir(t *testing.T) {
	evs := realEvents(t)
	rows := make([]duck.Row, 20000)
	for i := range rows {
		rows[i] = duck.CloudTrail.RowOf(uint64(i+1), &evs[i%len(evs)])
	}
	duck.SortRows(rows)
	wd := t.TempDir()
	t.Chdir(wd)
	for _, spill := range []bool{true, false} {
		dir := t.TempDir()
		tmp := ""
		if spill {
			// DuckDB creates the directory, not its parents.
			if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o755); err != nil {
				t.Fatal(err)
			}
			tmp = filepath.Join(dir, "tmp", "writer")
		}
		db, err := duck.Open(t.Context(), duck.Options{AllowedDirs: []string{dir}, Threads: 1, MemoryLimit: spillLimit, TempDir: tmp})
		if err != nil {
			t.Fatal(err)
		}
		err = db.WriteParquet(t.Context(), duck.CloudTrail, filepath.Join(dir, "b.parquet"), rows)
		if spill {
			if err != nil {
				t.Errorf("with a temporary directory: %v", err)
			}
			if _, err := os.Stat(tmp); err != nil {
				t.Errorf("the write did not spill to %s: %v", tmp, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), "Out of Memory") {
			t.Errorf("without a temporary directory: %v, want out of memory (the batch must need more than %s)", err, spillLimit)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if spill {
			// DuckDB removes the directory it created when it closes.
			if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s after Close: %v, want it removed", tmp, err)
			}
		}
	}
	if ents, _ := os.ReadDir(wd); len(ents) > 0 {
		t.Errorf("the working directory holds %s, want nothing", ents[0].Name())
	}
}

// TestTempDirReachable shows why an instance that runs users' SQL has no
// TempDir: DuckDB lets statements read and write files in its
// temp_directory whatever allowed_directories says. Without one, no
// statement reaches a file outside AllowedDirs: not a spill directory
// beside them, nor DuckDB's default `.tmp` in the working directory.
func TestTempDirReachable(t *testing.T) {
	lake := t.TempDir()
	t.Chdir(lake)
	account := filepath.Join(lake, "123456789012")
	tmp := filepath.Join(lake, "tmp", "writer")
	for _, d := range []string{account, tmp, filepath.Join(lake, ".tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Spill files as DuckDB names them, and a file the instance may read.
	spill := filepath.Join(tmp, "duckdb_temp_storage_S256K-0.tmp")
	cwdSpill := filepath.Join(lake, ".tmp", "duckdb_temp_storage_S256K-0.tmp")
	for _, p := range []string{spill, cwdSpill, filepath.Join(account, "readable.csv")} {
		if err := os.WriteFile(p, []byte("a\n1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stmts := []string{
		"SELECT * FROM read_csv('%s')",
		"SELECT * FROM read_text('%s')",
		"SELECT * FROM read_blob('%s')",
		"SELECT count(*) FROM glob('%s')",
		"COPY (SELECT 1) TO '%s.copy'",
	}
	for _, withTemp := range []bool{true, false} {
		opts := duck.Options{AllowedDirs: []string{account}, Threads: 1}
		if withTemp {
			opts.TempDir = tmp
		}
		db, err := duck.Open(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		run := func(q string) error {
			_, err := db.Query(t.Context(), q, func([]*string) error { return nil })
			return err
		}
		for _, stmt := range stmts {
			if err := run(fmt.Sprintf(stmt, filepath.Join(account, "readable.csv"))); err != nil {
				t.Fatalf("%s in the allowed directory: %v, want it to run", stmt, err)
			}
			for _, p := range []string{spill, filepath.Join(tmp, "*"), filepath.Join(account, "..", "tmp", "writer", "*"), cwdSpill, ".tmp/*"} {
				q := fmt.Sprintf(stmt, p)
				err := run(q)
				switch {
				case !withTemp && err == nil:
					t.Errorf("without a TempDir, %s: ran; want refused", q)
				case withTemp && err == nil && p == spill:
					// What DuckDB 1.5.6 does: its temporary directory is allowed.
				case withTemp && p == spill:
					t.Logf("with a TempDir, %s: %v (DuckDB no longer allows its temporary directory)", q, err)
				}
			}
		}
		db.Close()
	}
	for _, p := range []string{spill + ".copy", cwdSpill + ".copy"} {
		os.Remove(p) // written by the instance with a TempDir
	}
}

// BenchmarkRowOf converts real events to Lake rows.
func BenchmarkRowOf(b *testing.B) {
	evs := realEvents(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		duck.CloudTrail.RowOf(uint64(i), &evs[i%len(evs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkWriteParquet writes batches of 10,000 real events as a Lake
// file (rows already converted).
func BenchmarkWriteParquet(b *testing.B) {
	evs := realEvents(b)
	dir := b.TempDir()
	db, err := duck.Open(b.Context(), duck.Options{AllowedDirs: []string{dir}, Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rows := make([]duck.Row, 10000)
	for i := range rows {
		rows[i] = duck.CloudTrail.RowOf(uint64(i), &evs[i%len(evs)])
	}
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; b.Loop(); i++ {
		if err := db.WriteParquet(b.Context(), duck.CloudTrail, filepath.Join(dir, strconv.Itoa(i)+".parquet"), rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "events/s")
	// CPU time is steadier than wall time on a shared machine.
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N*len(rows)), "cpu-µs/event")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestSortRows checks the order of rows in a batch: by event source, event
// name and user name, then event time, then sequence number.
func TestSortRows(t *testing.T) {
	mk := func(seq uint64, source, name, user, at string) duck.Row {
		t.Helper()
		ev, err := event.Parse([]byte(`{"eventVersion":"1.09","eventID":"id-` + strconv.FormatUint(seq, 10) +
			`","eventTime":"` + at + `","eventSource":"` + source + `","eventName":"` + name +
			`","awsRegion":"us-east-1","recipientAccountId":"123456789012","eventType":"AwsApiCall",` +
			`"userIdentity":{"type":"IAMUser","userName":"` + user + `","accountId":"123456789012"}}`))
		if err != nil {
			t.Fatal(err)
		}
		return duck.CloudTrail.RowOf(seq, &ev)
	}
	rows := []duck.Row{
		mk(1, "s3.amazonaws.com", "GetObject", "bob", "2026-11-01T10:00:05Z"),
		mk(2, "ec2.amazonaws.com", "RunInstances", "bob", "2026-11-01T10:00:01Z"),
		mk(3, "s3.amazonaws.com", "GetObject", "alice", "2026-11-01T10:00:09Z"),
		mk(4, "s3.amazonaws.com", "GetObject", "bob", "2026-11-01T10:00:02Z"),
		mk(5, "s3.amazonaws.com", "PutObject", "alice", "2026-11-01T10:00:00Z"),
		mk(6, "s3.amazonaws.com", "GetObject", "bob", "2026-11-01T10:00:02Z"),
	}
	duck.SortRows(rows)
	var got []uint64
	for _, r := range rows {
		got = append(got, r.Seq)
	}
	if want := []uint64{2, 3, 4, 6, 1, 5}; !slices.Equal(got, want) {
		t.Fatalf("sorted sequence numbers %v, want %v", got, want)
	}
}

// TestCompactKeepsSchema checks that a compaction output has the columns
// of its inputs, no more (not the day its directory's name carries), and
// that it merges a file of revision 1 (Parquet format 1 pages, as written
// before) with one of revision 2 into revision 2, every record intact.
func TestCompactKeepsSchema(t *testing.T) {
	evs := realEvents(t)
	dir := t.TempDir()
	day := filepath.Join(dir, "day=2026-11-01")
	if err := os.Mkdir(day, 0o755); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, dir)
	var inputs []string
	for i, part := range [][]event.Event{evs[:len(evs)/2], evs[len(evs)/2:]} {
		rows := make([]duck.Row, len(part))
		for j := range part {
			rows[j] = duck.CloudTrail.RowOf(uint64(j+1), &part[j])
		}
		duck.SortRows(rows)
		p := filepath.Join(day, "b-"+strconv.Itoa(i)+".parquet")
		if err := db.WriteParquet(t.Context(), duck.CloudTrail, p, rows); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, p)
	}
	// The first input as revision 1 wrote it.
	rev1 := filepath.Join(day, "b-old.parquet")
	if _, err := db.Query(t.Context(), "COPY (SELECT * FROM read_parquet('"+inputs[0]+"', hive_partitioning = false)) TO '"+rev1+"' (FORMAT parquet, PARQUET_VERSION V1, COMPRESSION zstd, ROW_GROUP_SIZE 20000)", func([]*string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	inputs[0] = rev1
	out := filepath.Join(day, "c.parquet")
	if err := db.Compact(t.Context(), duck.CloudTrail, out, inputs, true); err != nil {
		t.Fatal(err)
	}
	encodings := func(path string) string {
		t.Helper()
		var enc string
		if _, err := db.Query(t.Context(), "SELECT encodings FROM parquet_metadata('"+path+"') WHERE path_in_schema = 'eventjson' LIMIT 1", func(c []*string) error {
			enc = *c[0]
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return enc
	}
	if enc := encodings(rev1); enc != "PLAIN" {
		t.Fatalf("the revision 1 input's eventjson is %s, want PLAIN", enc)
	}
	if enc := encodings(out); enc != "DELTA_LENGTH_BYTE_ARRAY" {
		t.Fatalf("the compaction output's eventjson is %s, want DELTA_LENGTH_BYTE_ARRAY (revision 2)", enc)
	}
	schema := func(path string) []string {
		t.Helper()
		var cols []string
		_, err := db.Query(t.Context(), "SELECT column_name || ' ' || column_type FROM (DESCRIBE SELECT * FROM read_parquet('"+path+"', hive_partitioning = false))", func(c []*string) error {
			cols = append(cols, *c[0])
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return cols
	}
	in, got := schema(inputs[0]), schema(out)
	if diff := cmp.Diff(in, got); diff != "" {
		t.Fatalf("compaction output's columns differ from its inputs' (-in +out):\n%s", diff)
	}
	var n string
	if _, err := db.Query(t.Context(), "SELECT count(*) FROM "+duck.ReadParquet([]string{out}), func(c []*string) error {
		n = *c[0]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != strconv.Itoa(len(evs)) {
		t.Fatalf("compaction output holds %s rows, want %d", n, len(evs))
	}
	// Every record comes out byte for byte, with its checksum.
	want := map[string]bool{}
	for i := range evs {
		want[string(evs[i].Raw)] = true
	}
	if _, err := db.Query(t.Context(), "SELECT eventjson, eventjsonchecksum = sha256(eventjson) FROM "+duck.ReadParquet([]string{out}), func(c []*string) error {
		if !want[*c[0]] {
			t.Fatalf("compaction output holds a record that is not one of the input's: %.200s", *c[0])
		}
		if *c[1] != "true" {
			t.Fatalf("checksum of %.200s does not match", *c[0])
		}
		delete(want, *c[0])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) != 0 {
		t.Fatalf("%d records missing from the compaction output", len(want))
	}
}

// TestQueryCells: Query prints each cell as Trino does, by its column's
// type: doubles and reals as Java prints them, a DATE without a time, a
// timestamp with a time zone with " UTC", NULL as nil.
func TestQueryCells(t *testing.T) {
	db := openDB(t)
	cols := []struct{ expr, want string }{
		{"3.0::DOUBLE", "3.0"},
		{"avg(x)", "2.0"},
		{"1.5e10::DOUBLE", "1.5E10"},
		{"0.0001::DOUBLE", "1.0E-4"},
		{"-0.0::DOUBLE", "-0.0"},
		{"1e7::DOUBLE", "1.0E7"},
		{"9999999.5::DOUBLE", "9999999.5"},
		{"'NaN'::DOUBLE", "NaN"},
		{"0.1::REAL", "0.1"},
		{"DATE '2023-01-01'", "2023-01-01"},
		{"TIMESTAMP '2023-01-22 16:53:53.5'", "2023-01-22 16:53:53.500"},
		{"TIMESTAMPTZ '2023-01-22 16:53:53Z'", "2023-01-22 16:53:53.000 UTC"},
		{"42::BIGINT", "42"},
		{"12.50::DECIMAL(5,2)", "12.50"},
		{"true", "true"},
		{"[1, 2]", "[1,2]"},
		{"'{\"a\": 1}'::JSON", `{"a":1}`},
	}
	var sel []string
	for _, c := range cols {
		sel = append(sel, c.expr)
	}
	q := "SELECT " + strings.Join(sel, ", ") + ", NULL::DOUBLE FROM (VALUES (1), (3)) AS t(x)"
	rows := 0
	_, err := db.Query(t.Context(), q, func(c []*string) error {
		rows++
		for i, col := range cols {
			if c[i] == nil || *c[i] != col.want {
				t.Errorf("%s prints %v, want %q", col.expr, deref(c[i]), col.want)
			}
		}
		if c[len(cols)] != nil {
			t.Errorf("NULL prints %q, want nil", *c[len(cols)])
		}
		return nil
	})
	if err != nil || rows != 1 {
		t.Fatalf("query: %d rows, %v", rows, err)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
