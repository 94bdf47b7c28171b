package lake_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/opentrail/opentrail/internal/event"
	"github.com/opentrail/opentrail/internal/lake"
	"github.com/opentrail/opentrail/internal/lake/imports"
	"github.com/opentrail/opentrail/internal/lake/queries"
	"github.com/opentrail/opentrail/internal/store"
	"github.com/opentrail/opentrail/internal/testenv"
)

const (
	acct   = "123456789012"
	other  = "210987654321"
	region = "us-east-1"
)

var base = time.Date(2026, 11, 1, 23, 59, 0, 0, time.UTC)

func mkEvent(t testing.TB, i int, account string) event.Event {
	t.Helper()
	m := map[string]any{
		"eventVersion": "1.11",
		"userIdentity": map[string]any{"type": "IAMUser", "userName": fmt.Sprintf("user%d", i%3),
			"accountId": account, "arn": fmt.Sprintf("arn:aws:iam::%s:user/u%d", account, i%3)},
		"eventTime":          event.FormatTime(base.Add(time.Duration(i) * time.Second)),
		"eventSource":        "ec2.amazonaws.com",
		"eventName":          fmt.Sprintf("Op%d", i%5),
		"awsRegion":          region,
		"eventID":            fmt.Sprintf("%s-%06d", account, i),
		"readOnly":           i%2 == 0,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": account,
		"eventCategory":      "Management",
		"requestParameters":  map[string]any{"bucketName": fmt.Sprintf("b%d", i%7), "n": i, "nested": map[string]any{"x": 1}},
	}
	b, _ := json.Marshal(m)
	ev, err := event.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// fakeStores is a catalogue of stores.
type fakeStores struct {
	mu     sync.Mutex
	specs  []lake.StoreSpec
	purged []string
}

func (f *fakeStores) DataStores() []lake.StoreSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]lake.StoreSpec(nil), f.specs...)
}

func (f *fakeStores) Purge(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range f.specs {
		if s.ID == id {
			f.specs = append(f.specs[:i], f.specs[i+1:]...)
			f.purged = append(f.purged, id)
			return nil
		}
	}
	return fmt.Errorf("no store %s", id)
}

// rig is an event log with the lake following it.
type rig struct {
	mu     sync.Mutex
	now    time.Time
	t      *testing.T
	dir    string
	log    *store.Store
	stores *fakeStores
	eng    *lake.Engine
	stop   func()
	// results are the engine's ResultOptions, and queryTimeout its
	// query timeout when not 0 (set before start).
	results      lake.ResultOptions
	queryTimeout time.Duration
	// compactMaxRows is the engine's CompactMaxRows when not 0 (else 12).
	compactMaxRows int
	// wal hands the engine the event log to rebuild damaged files from.
	wal bool
}

func newRig(t *testing.T, dir string, stores *fakeStores) *rig {
	t.Helper()
	return newRigWith(t, &rig{t: t, dir: dir, stores: stores})
}

// newRigWith opens the event log of r (t, dir and stores set) and starts
// the lake.
func newRigWith(t *testing.T, r *rig) *rig {
	t.Helper()
	so := store.DefaultOptions()
	so.Followers = []string{"lake"}
	log, err := store.Open(r.dir+"/wal", so)
	if err != nil {
		t.Fatal(err)
	}
	r.log = log
	r.start()
	t.Cleanup(func() {
		r.stop()
		log.Close()
	})
	return r
}

func (r *rig) start() {
	t := r.t
	o := lake.DefaultOptions()
	o.Stores = r.stores
	o.FlushInterval = 50 * time.Millisecond
	o.MaintainInterval = time.Hour
	o.ImportChunk = 50
	o.CompactMaxRows = 12
	r.mu.Lock()
	if r.compactMaxRows > 0 {
		o.CompactMaxRows = r.compactMaxRows
	}
	o.Results = r.results
	if r.wal {
		o.WAL = r.log
	}
	if r.queryTimeout > 0 {
		o.Queries.Timeout = r.queryTimeout
	}
	r.mu.Unlock()
	o.Now = func() time.Time {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.now.IsZero() {
			return time.Now()
		}
		return r.now
	}
	eng, err := lake.Open(t.Context(), r.dir+"/lake", o)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := eng.Init(r.log.Head())
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.log.Follow("lake", ck, store.FollowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx, f) }()
	r.eng = eng
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("lake run: %v", err)
			}
			f.Close()
			eng.Close()
		})
	}
}

func (r *rig) setNow(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = t
}

func (r *rig) restart() {
	r.stop()
	r.start()
}

func (r *rig) append(evs ...event.Event) {
	r.t.Helper()
	if _, err := r.log.Append(context.Background(), evs, store.AppendOptions{}); err != nil {
		r.t.Fatal(err)
	}
}

// query runs a statement to its end and returns its rows.
func (r *rig) query(account, stmt string) (queries.Info, [][]*string) {
	r.t.Helper()
	id, err := r.eng.StartQuery(context.Background(), account, region, stmt, queries.StartOptions{})
	if err != nil {
		r.t.Fatalf("%s: %v", stmt, err)
	}
	if err := r.eng.WaitQuery(r.t.Context(), account, id); err != nil {
		r.t.Fatal(err)
	}
	info, rows, err := r.eng.QueryResults(account, region, id, 0, 1<<30)
	if err != nil {
		r.t.Fatal(err)
	}
	if info.Status != queries.Finished {
		r.t.Fatalf("%s: %s %s", stmt, info.Status, info.ErrorMessage)
	}
	return info, rows
}

// count waits until the store holds want rows (ingestion is asynchronous)
// and fails if it ever holds more.
func (r *rig) count(id string, want int) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, rows := r.query(acct, "SELECT count(*), count(DISTINCT eventid) FROM "+id)
		n, d := *rows[0][0], *rows[0][1]
		if n != d {
			r.t.Fatalf("store %s holds %s events but %s distinct ids: an event landed twice", id, n, d)
		}
		if n == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("store %s holds %s events, want %d", id, n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func spec(id string, from uint64) lake.StoreSpec {
	return lake.StoreSpec{ID: id, Account: acct, HomeRegion: region, Ingest: []lake.Range{{From: from}}, Generation: 1}
}

func TestIngestExactlyOnceAcrossRestarts(t *testing.T) {
	stores := &fakeStores{}
	r := newRig(t, t.TempDir(), stores)
	// Events before the store exists are not in it.
	r.append(mkEvent(t, 0, acct))
	stores.mu.Lock()
	stores.specs = append(stores.specs, spec("0b3f0000-0000-4000-8000-000000000001", r.log.Head()+1))
	stores.mu.Unlock()
	const id = "0b3f0000-0000-4000-8000-000000000001"
	n := 0
	for i := 1; i <= 300; i++ {
		r.append(mkEvent(t, i, acct), mkEvent(t, i, other)) // the other account's never land
		n++
		if i%100 == 0 {
			r.stop()
			if i == 200 {
				// A lost state.json: the lake resumes from the stores'
				// own checkpoints.
				if err := os.Remove(filepath.Join(r.dir, "lake", "state.json")); err != nil {
					t.Fatal(err)
				}
			}
			r.start()
		}
	}
	r.count(id, n)
	// Values come through typed: maps, structs, timestamps.
	_, rows := r.query(acct, "SELECT eventid, eventtime, element_at(requestparameters, 'bucketName'), requestparameters['nested'], useridentity.arn FROM "+id+" ORDER BY eventtime LIMIT 1")
	got := []string{*rows[0][0], *rows[0][1], *rows[0][2], *rows[0][3], *rows[0][4]}
	want := []string{acct + "-000001", "2026-11-01 23:59:01.000", "b1", `{"x":1}`, "arn:aws:iam::" + acct + ":user/u1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first row %q, want %q", got, want)
	}
	// The other account cannot name the store.
	if _, err := r.eng.StartQuery(context.Background(), other, region, "SELECT count(*) FROM "+id, queries.StartOptions{}); err == nil {
		t.Fatal("another account queried the store")
	}
}

func TestCompactionRetentionAndPurge(t *testing.T) {
	stores := &fakeStores{}
	const id = "0b3f0000-0000-4000-8000-000000000002"
	stores.specs = []lake.StoreSpec{spec(id, 1)}
	dir := t.TempDir()
	r := newRig(t, dir, stores)
	// Many small batches: restarts flush each.
	for i := 1; i <= 20; i++ {
		r.append(mkEvent(t, i*10, acct), mkEvent(t, i*10+1, acct))
		r.restart()
	}
	r.count(id, 40)
	if err := r.eng.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Both days are over (the clock is the real one). The second had 15
	// batches of 2 events: compacted, in log order, into files of at most
	// CompactMaxRows (12) rows: 6, 6 and 3 batches. The first had 5: one
	// file.
	files := lakeFiles(t, dir, id)
	var compacted1, compacted2, batches2 int
	for _, f := range files {
		switch {
		case strings.Contains(f, "day=2026-11-01/c-"):
			compacted1++
		case strings.Contains(f, "day=2026-11-02/c-"):
			compacted2++
		case strings.Contains(f, "day=2026-11-02/b-"):
			batches2++
		}
	}
	if compacted1 != 1 || compacted2 != 3 || batches2 != 0 {
		t.Fatalf("after compaction the store has files %v, want 1 compacted file of 2026-11-01 and 3 of 2026-11-02", files)
	}
	r.count(id, 40)
	// The files are plain Parquet, compressed with zstd: DuckDB without
	// OpenTrail reads the same rows as a Lake query, every column.
	glob := filepath.Join(dir, "lake", acct, id, "*", "*.parquet")
	r.plainIsLake(glob, id, 30, 40)
	if codecs := plainCodecs(t, glob); !slices.Equal(codecs, []string{"ZSTD"}) {
		t.Fatalf("the store's column chunks are compressed with %v, want ZSTD only", codecs)
	}
	// A restart finds only listed files.
	r.restart()
	r.count(id, 40)

	r.expireFirstDay(stores, id)

	// A deleted store cannot be queried, and is purged after its 7 days.
	stores.mu.Lock()
	stores.specs[0].Deleted, stores.specs[0].DeletedAt = true, time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	stores.specs[0].Generation++
	stores.mu.Unlock()
	if _, err := r.eng.StartQuery(context.Background(), acct, region, "SELECT count(*) FROM "+id, queries.StartOptions{}); !errors.Is(err, queries.ErrStoreInactive) {
		t.Fatalf("query of a deleted store: %v, want ErrStoreInactive", err)
	}
	r.setNow(time.Date(2026, 11, 10, 0, 0, 1, 0, time.UTC))
	if err := r.eng.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(stores.purged) != 1 {
		t.Fatalf("purged %v", stores.purged)
	}
	if _, err := os.Stat(filepath.Join(dir, "lake", acct, id)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the purged store's directory remains: %v", err)
	}
}

// TestCompactionByTierToday checks that today's files are merged by size
// tier: eight small batches become one file, which then waits for seven
// more of its size instead of taking in each new batch.
func TestCompactionByTierToday(t *testing.T) {
	const id = "0b3f0000-0000-4000-8000-000000000003"
	stores := &fakeStores{specs: []lake.StoreSpec{spec(id, 1)}}
	r := newRigWith(t, &rig{t: t, dir: t.TempDir(), stores: stores, now: base, compactMaxRows: 1000})
	n := 0
	batches := func(k int) {
		for range k {
			r.append(mkEvent(t, n, acct), mkEvent(t, n+1, acct))
			n += 2
			r.restart() // each batch its own file
		}
		r.count(id, n)
		if err := r.eng.Maintain(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	kinds := func() (b, c int) {
		for _, f := range lakeFiles(t, r.dir, id) {
			switch filepath.Base(f)[0] {
			case 'b':
				b++
			case 'c':
				c++
			}
		}
		return b, c
	}
	for _, step := range []struct{ add, batches, compacted int }{
		{8, 0, 1}, // eight of the smallest tier: merged
		{7, 7, 1}, // seven more: wait; the merged file is of a larger tier
		{1, 0, 2}, // the eighth: merged into a second file of that tier
	} {
		batches(step.add)
		if b, c := kinds(); b != step.batches || c != step.compacted {
			t.Fatalf("after %d more batches: %d batch files and %d compacted, want %d and %d", step.add, b, c, step.batches, step.compacted)
		}
	}
	r.count(id, n)
	// The day is over but still busy (a batch was added within
	// MaintainInterval): still by tier. Once quiet (here: a new process,
	// which has added nothing), its files merge into one.
	r.append(mkEvent(t, n, acct), mkEvent(t, n+1, acct))
	n += 2
	r.count(id, n) // written by this process
	r.setNow(base.Add(24 * time.Hour))
	if err := r.eng.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if b, c := kinds(); b != 1 || c != 2 {
		t.Fatalf("a busy past day: %d batch files and %d compacted, want 1 and 2", b, c)
	}
	r.restart()
	if err := r.eng.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if b, c := kinds(); b != 0 || c != 1 {
		t.Fatalf("a quiet past day: %d batch files and %d compacted, want 0 and 1", b, c)
	}
	r.count(id, n)
}

// lakeFiles lists a store's Parquet files.
func lakeFiles(t *testing.T, dir, id string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "lake", acct, id, "day=*", "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// plainIsLake checks that DuckDB without OpenTrail reads from the files
// glob names the same n rows as a Lake query of the store id, every column
// (at least minCols).
func (r *rig) plainIsLake(glob, id string, minCols, n int) {
	r.t.Helper()
	cols, plain := plainRows(r.t, glob, minCols)
	_, viaLake := r.query(acct, "SELECT "+strings.Join(cols, ", ")+" FROM "+id+" ORDER BY eventid")
	if len(plain) != n || len(viaLake) != n {
		r.t.Fatalf("plain DuckDB reads %d rows, the Lake %d; want %d", len(plain), len(viaLake), n)
	}
	for i := range plain {
		for j := range plain[i] {
			if plain[i][j] != deref(viaLake[i][j]) {
				r.t.Fatalf("row %d column %s: plain DuckDB reads %q, the Lake %q", i, cols[j], plain[i][j], deref(viaLake[i][j]))
			}
		}
	}
}

// expireFirstDay gives the store id (the first of stores) a retention of
// one day at 2026-11-03 00:00:30 and runs maintenance: retention drops
// whole days, and the first day's events (2026-11-01) are all older than
// that, the second's are not.
func (r *rig) expireFirstDay(stores *fakeStores, id string) {
	r.t.Helper()
	stores.mu.Lock()
	stores.specs[0].Retention = 24 * time.Hour
	stores.specs[0].Generation++
	stores.mu.Unlock()
	r.setNow(time.Date(2026, 11, 3, 0, 0, 30, 0, time.UTC))
	if err := r.eng.Maintain(r.t.Context()); err != nil {
		r.t.Fatal(err)
	}
	_, rows := r.query(acct, "SELECT count(*) FROM "+id+" WHERE eventtime < '2026-11-02'")
	if *rows[0][0] != "0" {
		r.t.Fatalf("%s events of the expired day remain", *rows[0][0])
	}
	_, rows = r.query(acct, "SELECT count(*) FROM "+id)
	if *rows[0][0] == "0" {
		r.t.Fatal("retention removed the day still inside it")
	}
}

// plainRows reads the Parquet files glob names with a DuckDB of its own (no
// OpenTrail code) and returns their columns (at least minCols), as the
// files name them, and their rows by eventid, each cell as GetQueryResults
// writes it (spec §4): timestamps with milliseconds, nested values as
// JSON, NULL as "".
func plainRows(t *testing.T, glob string, minCols int) ([]string, [][]string) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	src := "read_parquet('" + glob + "', hive_partitioning = false)"
	desc, err := db.Query("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM " + src + ")")
	if err != nil {
		t.Fatal(err)
	}
	var cols, sel []string
	for desc.Next() {
		var name, typ string
		if err := desc.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, name)
		q := `"` + name + `"`
		switch {
		case typ == "TIMESTAMP" || typ == "TIMESTAMP WITH TIME ZONE":
			sel = append(sel, "strftime("+q+", '%Y-%m-%d %H:%M:%S.%g')")
		case strings.HasPrefix(typ, "STRUCT") || strings.HasPrefix(typ, "MAP") || strings.HasSuffix(typ, "[]"):
			sel = append(sel, "to_json("+q+")::VARCHAR")
		default:
			sel = append(sel, q+"::VARCHAR")
		}
	}
	desc.Close()
	if len(cols) < minCols {
		t.Fatalf("the files have columns %v: fewer than the Lake schema's", cols)
	}
	rows, err := db.Query("SELECT " + strings.Join(sel, ", ") + " FROM " + src + " ORDER BY eventid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		r := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(r))
		for i := range r {
			ptrs[i] = &r[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(r))
		for i, v := range r {
			row[i] = v.String
		}
		out = append(out, row)
	}
	return cols, out
}

// plainCodecs returns the compression codecs of the column chunks of the
// Parquet files glob names, read with a DuckDB of its own.
func plainCodecs(t *testing.T, glob string) []string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT DISTINCT compression FROM parquet_metadata('" + glob + "') ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestImportLocalLogsExactlyOnce(t *testing.T) {
	stores := &fakeStores{}
	const id = "0b3f0000-0000-4000-8000-000000000003"
	stores.specs = []lake.StoreSpec{spec(id, 1)}
	dir := t.TempDir()
	r := newRig(t, dir, stores)
	logs := filepath.Join(testenv.CloudTrailData(t), "invictus-ir-aws-dataset")
	info := imports.Info{Account: acct, Region: region, Store: id, S3LocationURI: logs}
	got, err := r.eng.ImportNow(t.Context(), info, lake.DirSource(logs), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != imports.Completed || got.Stats.EventsCompleted == 0 || got.Stats.FilesCompleted == 0 {
		t.Fatalf("import: %+v", got)
	}
	r.count(id, int(got.Stats.EventsCompleted))
	// The same files into a second store, stopped after a restart in the
	// middle, resume and land once: the store's MANIFEST records how far
	// the import got.
	const id2 = "0b3f0000-0000-4000-8000-000000000004"
	stores.mu.Lock()
	stores.specs = append(stores.specs, spec(id2, 1))
	stores.mu.Unlock()
	gate := &gatedSource{Source: lake.DirSource(logs), after: 5, reached: make(chan struct{})}
	started, err := r.eng.StartImport(imports.Info{Account: acct, Region: region, Store: id2, S3LocationURI: logs}, "", gate)
	if err != nil {
		t.Fatal(err)
	}
	<-gate.reached
	// Files are read ahead of the parts written: wait for a part of the
	// first five, written while the sixth is blocked.
	for {
		st, err := r.eng.GetImport(acct, started.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Stats.FilesCompleted > 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.restart() // stops the import where it is; it stays IN_PROGRESS
	st, err := r.eng.GetImport(acct, started.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != imports.InProgress || st.Stats.FilesCompleted == 0 {
		t.Fatalf("import interrupted by a restart: %+v", st)
	}
	r.eng.ResumeImports(func(imports.Info) (lake.Source, error) { return lake.DirSource(logs), nil })
	if err := r.eng.WaitImport(t.Context(), acct, started.ID); err != nil {
		t.Fatal(err)
	}
	st, _ = r.eng.GetImport(acct, started.ID)
	if st.Status != imports.Completed {
		t.Fatalf("resumed import: %+v", st)
	}
	_, rows := r.query(acct, "SELECT count(*), count(DISTINCT eventid) FROM "+id2)
	if *rows[0][0] != fmt.Sprint(got.Stats.EventsCompleted) || *rows[0][1] != *rows[0][0] {
		t.Fatalf("second store holds %s events (%s distinct), want %d", *rows[0][0], *rows[0][1], got.Stats.EventsCompleted)
	}
}

// gatedSource blocks opening files after the first few until its context
// ends, as a server stopping in the middle of an import.
type gatedSource struct {
	lake.Source
	after   int
	mu      sync.Mutex
	opened  int
	reached chan struct{}
	once    sync.Once
}

func (g *gatedSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	g.mu.Lock()
	g.opened++
	n := g.opened
	g.mu.Unlock()
	if n > g.after {
		g.once.Do(func() { close(g.reached) })
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return g.Source.Open(ctx, name)
}

// twoBatches starts a rig in dir whose store id holds events 1 and 2 in
// one file (b-1-2.parquet) and event 3 in another.
func twoBatches(t *testing.T, dir string, stores *fakeStores, id string) *rig {
	t.Helper()
	return twoBatchesOf(t, &rig{t: t, dir: dir, stores: stores}, id)
}

// twoBatchesOf is twoBatches for a rig set up by the caller (t, dir and
// stores set).
func twoBatchesOf(t *testing.T, r *rig, id string) *rig {
	t.Helper()
	newRigWith(t, r)
	r.append(mkEvent(t, 1, acct), mkEvent(t, 2, acct))
	r.restart()
	r.append(mkEvent(t, 3, acct))
	r.restart()
	r.count(id, 3)
	return r
}

// flipMiddle damages the file at p: the byte in its middle inverted.
func flipMiddle(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A damaged Parquet file is found by the scrub, moved to quarantine and
// reported; the rest of the store stays queryable.
func TestScrubQuarantinesDamagedFile(t *testing.T) {
	stores := &fakeStores{}
	const id = "0b3f0000-0000-4000-8000-000000000005"
	stores.specs = []lake.StoreSpec{spec(id, 1)}
	dir := t.TempDir()
	r := twoBatches(t, dir, stores, id)
	files := lakeFiles(t, dir, id)
	if len(files) != 2 {
		t.Fatalf("files %v", files)
	}
	flipMiddle(t, files[0])
	rep := lake.Check(filepath.Join(dir, "lake"), stores.DataStores())
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "damaged") {
		t.Fatalf("fsck problems %q, want the damaged file", rep.Problems)
	}
	if err := r.eng.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.count(id, 1)
	q, err := filepath.Glob(filepath.Join(dir, "lake", "quarantine", id, "*.parquet"))
	if err != nil || len(q) != 1 {
		t.Fatalf("quarantine holds %v (%v)", q, err)
	}
	if rep := lake.Check(filepath.Join(dir, "lake"), stores.DataStores()); len(rep.Problems) != 0 {
		t.Fatalf("fsck after the quarantine: %q", rep.Problems)
	}
}

// With the event log at hand, the scrub rebuilds a damaged file from it:
// the store keeps every event, once, and the damaged file goes to
// quarantine.
func TestScrubRebuildsDamagedFileFromTheLog(t *testing.T) {
	stores := &fakeStores{}
	const id = "0b3f0000-0000-4000-8000-000000000015"
	stores.specs = []lake.StoreSpec{spec(id, 1)}
	dir := t.TempDir()
	r := twoBatchesOf(t, &rig{t: t, dir: dir, stores: stores, wal: true}, id)
	files := lakeFiles(t, dir, id)
	if len(files) != 2 {
		t.Fatalf("files %v", files)
	}
	flipMiddle(t, files[0])
	if err := r.eng.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, rows := r.query(acct, "SELECT eventid FROM "+id+" ORDER BY eventid")
	var got []string
	for _, row := range rows {
		got = append(got, *row[0])
	}
	if want := []string{acct + "-000001", acct + "-000002", acct + "-000003"}; !slices.Equal(got, want) {
		t.Fatalf("after the rebuild the store holds %v, want %v", got, want)
	}
	q, err := filepath.Glob(filepath.Join(dir, "lake", "quarantine", id, "*.parquet"))
	if err != nil || len(q) != 1 || !strings.HasSuffix(q[0], filepath.Base(files[0])) {
		t.Fatalf("quarantine holds %v (%v), want %s", q, err, filepath.Base(files[0]))
	}
	if rep := lake.Check(filepath.Join(dir, "lake"), stores.DataStores()); len(rep.Problems) != 0 {
		t.Fatalf("fsck after the rebuild: %q", rep.Problems)
	}
	// A restart finds the rebuilt file listed and whole.
	r.restart()
	r.count(id, 3)

	// A deleted file (here the compaction of the rebuilt one with the
	// other) is rebuilt too, while the server runs.
	files = lakeFiles(t, dir, id)
	if len(files) != 1 {
		t.Fatalf("files %v, want the day compacted into one", files)
	}
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	if err := r.eng.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.count(id, 3)
	if rep := lake.Check(filepath.Join(dir, "lake"), stores.DataStores()); len(rep.Problems) != 0 {
		t.Fatalf("fsck after the second rebuild: %q", rep.Problems)
	}
}

// SELECT * gives the Lake schema's columns and no other: not the `day`
// DuckDB derives from the files' day=... directories.
func TestSelectStarIsTheSchema(t *testing.T) {
	stores := &fakeStores{}
	const id = "0b3f0000-0000-4000-8000-000000000016"
	stores.specs = []lake.StoreSpec{spec(id, 1)}
	r := twoBatches(t, t.TempDir(), stores, id)
	if err := r.eng.Maintain(t.Context()); err != nil { // a compaction output too
		t.Fatal(err)
	}
	info, rows := r.query(acct, "SELECT * FROM "+id)
	if len(rows) != 3 || slices.Contains(info.Columns, "day") || len(info.Columns) != len(rows[0]) ||
		info.Columns[0] != "eventversion" || info.Columns[len(info.Columns)-1] != "eventjsonchecksum" {
		t.Fatalf("SELECT * gives %d rows of columns %v", len(rows), info.Columns)
	}
}

// A query reads only the files its WHERE can need: the days of its
// eventtime range, the files whose eventid filter may hold its ids.
func TestQueryPrunesFiles(t *testing.T) {
	stores := &fakeStores{}
	const id = "0b3f0000-0000-4000-8000-000000000006"
	stores.specs = []lake.StoreSpec{spec(id, 1)}
	r := newRig(t, t.TempDir(), stores)
	for i := 1; i <= 10; i++ { // ten files, the last nine on 2026-11-02
		r.append(mkEvent(t, i*30, acct), mkEvent(t, i*30+1, acct))
		r.restart()
	}
	r.count(id, 20)
	all, _ := r.query(acct, "SELECT count(*) FROM "+id)
	if all.EventsScanned != 20 || all.EventsMatched != 20 {
		t.Fatalf("whole store: scanned %d, matched %d; want 20, 20", all.EventsScanned, all.EventsMatched)
	}
	one, rows := r.query(acct, "SELECT eventname FROM "+id+" WHERE eventid = '"+acct+"-000120'")
	if len(rows) != 1 || one.EventsScanned != 2 {
		t.Fatalf("by eventid: %d rows, scanned %d events; want 1 row from the one file (2 events)", len(rows), one.EventsScanned)
	}
	day, rows := r.query(acct, "SELECT count(*) FROM "+id+" WHERE eventtime >= '2026-11-02 00:00:00'")
	if *rows[0][0] != "18" || day.EventsScanned != 18 {
		t.Fatalf("by day: %s rows, scanned %d events; want 18 and 18", *rows[0][0], day.EventsScanned)
	}
	if day.EventsMatched != 18 {
		t.Fatalf("by day: matched %d, want 18", day.EventsMatched)
	}
}

// Statements that try to reach beyond the caller's stores are refused
// before they run; the instance itself can read nothing else either.
func TestQuerySecurity(t *testing.T) {
	stores := &fakeStores{}
	const mine, theirs = "0b3f0000-0000-4000-8000-000000000007", "0b3f0000-0000-4000-8000-000000000008"
	stores.specs = []lake.StoreSpec{spec(mine, 1), {ID: theirs, Account: other, HomeRegion: region, Ingest: []lake.Range{{From: 1}}, Generation: 1}}
	r := newRig(t, t.TempDir(), stores)
	r.append(mkEvent(t, 1, acct), mkEvent(t, 2, other))
	r.count(mine, 1)
	for _, stmt := range []string{
		"SELECT * FROM " + theirs,
		"SELECT count(*) FROM " + mine + " UNION ALL SELECT count(*) FROM " + theirs,
		"SELECT * FROM read_csv('/etc/passwd')",
		"SELECT * FROM read_parquet('" + r.dir + "/lake/" + other + "/" + theirs + "/*/*.parquet')",
		"COPY (SELECT 1) TO '/tmp/x.csv'",
		"SELECT * FROM read_blob('" + r.dir + "/lake/tmp/writer/*')", // the writer's spill files
		"SELECT * FROM '" + r.dir + "/lake/tmp/writer/duckdb_temp_storage_S256K-0.tmp'",
		"SELECT 1 FROM " + mine + "; SELECT 2 FROM " + mine,
		"ATTACH '/tmp/x.db'",
		"SET enable_external_access = true",
		"SELECT current_setting('allowed_directories') FROM " + mine,
		"SELECT nosuchcolumn FROM " + mine,                    // unknown column: refused at StartQuery, not FAILED later
		"SELECT useridentity.nosuchmember FROM " + mine,       // unknown struct member
		"SELECT eventname FROM " + mine + " GROUP BY eventid", // not grouped
	} {
		if _, err := r.eng.StartQuery(context.Background(), acct, region, stmt, queries.StartOptions{}); err == nil {
			t.Errorf("%s: accepted", stmt)
		} else if !errors.Is(err, queries.ErrInvalidQuery) && !errors.Is(err, queries.ErrStoreNotFound) {
			t.Errorf("%s: %v, want an invalid statement or an unknown store", stmt, err)
		}
		// CheckQuery (GenerateQuery's check) gives StartQuery's verdict.
		if err := r.eng.CheckQuery(context.Background(), acct, region, stmt); !errors.Is(err, queries.ErrInvalidQuery) && !errors.Is(err, queries.ErrStoreNotFound) {
			t.Errorf("CheckQuery %s: %v, want an invalid statement or an unknown store", stmt, err)
		}
	}
	before := len(r.eng.ListQueries(acct, mine, time.Time{}, time.Time{}, ""))
	if err := r.eng.CheckQuery(context.Background(), acct, region, "SELECT eventname, useridentity.arn FROM "+mine); err != nil {
		t.Errorf("CheckQuery of a valid statement: %v", err)
	}
	if n := len(r.eng.ListQueries(acct, mine, time.Time{}, time.Time{}, "")); n != before {
		t.Errorf("CheckQuery queued a query (%d, then %d)", before, n)
	}
	if s, err := r.eng.StoreSchema(acct, region, mine); err != nil || !strings.Contains(s, "eventtime TIMESTAMP\n") || !strings.Contains(s, "useridentity STRUCT(") {
		t.Errorf("StoreSchema = %q, %v", s, err)
	}
	if _, err := r.eng.StoreSchema(acct, region, theirs); !errors.Is(err, queries.ErrStoreNotFound) {
		t.Errorf("StoreSchema of another account's store: %v", err)
	}
}

// Queries and their results are kept for 7 days, across restarts.
func TestQueriesKeptSevenDays(t *testing.T) {
	stores := &fakeStores{}
	const id = "0b3f0000-0000-4000-8000-000000000009"
	stores.specs = []lake.StoreSpec{spec(id, 1)}
	r := newRig(t, t.TempDir(), stores)
	r.append(mkEvent(t, 1, acct))
	r.count(id, 1)
	now := time.Now()
	r.setNow(now)
	info, _ := r.query(acct, "SELECT eventname, useridentity FROM "+id)
	r.restart()
	got, rows, err := r.eng.QueryResults(acct, region, info.ID, 0, 10)
	if err != nil || got.Status != queries.Finished || len(rows) != 1 || *rows[0][0] != "Op1" {
		t.Fatalf("after a restart: %+v %v %v", got, rows, err)
	}
	if l := r.eng.ListQueries(acct, id, time.Time{}, time.Time{}, ""); len(l) < 2 {
		t.Fatalf("ListQueries lists %d queries", len(l))
	}
	r.setNow(now.Add(7*24*time.Hour + time.Minute))
	if _, err := r.eng.DescribeQuery(acct, region, info.ID); !errors.Is(err, queries.ErrQueryNotFound) {
		t.Fatalf("a query 7 days old: %v, want ErrQueryNotFound", err)
	}
	if l := r.eng.ListQueries(acct, id, time.Time{}, time.Time{}, ""); len(l) != 0 {
		t.Fatalf("ListQueries still lists %d queries after 7 days", len(l))
	}
}

// Results are paged from disk: every page of a result bigger than one
// chunk of the results file comes back in order.
func TestResultPaging(t *testing.T) {
	stores := &fakeStores{}
	const id = "0b3f0000-0000-4000-8000-00000000000a"
	stores.specs = []lake.StoreSpec{spec(id, 1)}
	r := newRig(t, t.TempDir(), stores)
	var evs []event.Event
	for i := range 2500 {
		evs = append(evs, mkEvent(t, i, acct))
	}
	r.append(evs...)
	r.count(id, 2500)
	info, all := r.query(acct, "SELECT eventid FROM "+id+" ORDER BY eventid")
	if info.Results != 2500 || len(all) != 2500 {
		t.Fatalf("%d results, %d rows", info.Results, len(all))
	}
	for _, page := range []struct{ offset, limit int }{{0, 1}, {999, 3}, {1000, 1000}, {1999, 1000}, {2499, 10}, {2500, 10}} {
		_, rows, err := r.eng.QueryResults(acct, region, info.ID, page.offset, page.limit)
		if err != nil {
			t.Fatal(err)
		}
		want := all[page.offset:min(len(all), page.offset+page.limit)]
		if len(rows) != len(want) {
			t.Fatalf("page %+v: %d rows, want %d", page, len(rows), len(want))
		}
		for i := range rows {
			if *rows[i][0] != *want[i][0] {
				t.Fatalf("page %+v row %d: %s, want %s", page, i, *rows[i][0], *want[i][0])
			}
		}
	}
}

// UNION and JOIN read several of the caller's stores, each from its own
// snapshot.
func TestQueryAcrossStores(t *testing.T) {
	stores := &fakeStores{}
	const a, b = "0b3f0000-0000-4000-8000-00000000000b", "0b3f0000-0000-4000-8000-00000000000c"
	stores.specs = []lake.StoreSpec{spec(a, 1), spec(b, 3)} // b ingests from the third event on
	r := newRig(t, t.TempDir(), stores)
	r.append(mkEvent(t, 1, acct), mkEvent(t, 2, acct), mkEvent(t, 3, acct), mkEvent(t, 4, acct))
	r.count(a, 4)
	r.count(b, 2)
	_, rows := r.query(acct, "SELECT count(*) FROM (SELECT eventid FROM "+a+" UNION ALL SELECT eventid FROM "+b+")")
	if *rows[0][0] != "6" {
		t.Fatalf("UNION ALL counts %s, want 6", *rows[0][0])
	}
	_, rows = r.query(acct, "SELECT x.eventname, y.eventname FROM "+a+" AS x LEFT JOIN "+b+" AS y ON x.eventid = y.eventid ORDER BY x.eventid")
	var got []string
	for _, row := range rows {
		got = append(got, deref(row[0])+"/"+deref(row[1]))
	}
	if want := "[Op1/ Op2/ Op3/Op3 Op4/Op4]"; fmt.Sprint(got) != want {
		t.Fatalf("LEFT JOIN gives %v, want %s", got, want)
	}
}

// One account's slow queries never take every worker: another account's
// query runs meanwhile.
func TestQueryWorkersShared(t *testing.T) {
	stores := &fakeStores{}
	const mine, theirs = "0b3f0000-0000-4000-8000-00000000000d", "0b3f0000-0000-4000-8000-00000000000e"
	stores.specs = []lake.StoreSpec{spec(mine, 1), {ID: theirs, Account: other, HomeRegion: region, Ingest: []lake.Range{{From: 1}}, Generation: 1}}
	r := newRig(t, t.TempDir(), stores)
	var evs []event.Event
	for i := range 500 {
		evs = append(evs, mkEvent(t, i, acct))
	}
	r.append(append(evs, mkEvent(t, 1, other))...)
	r.count(mine, 500)
	slow := "SELECT count(*) FROM " + mine + " a, " + mine + " b, " + mine + " c, " + mine + " d, " + mine + " e"
	var ids []string
	for range 3 { // more than the workers (2)
		id, err := r.eng.StartQuery(context.Background(), acct, region, slow, queries.StartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	_, rows := r.query(other, "SELECT count(*) FROM "+theirs) // finishes while the slow ones run
	if *rows[0][0] != "1" {
		t.Fatalf("the other account's query counts %s", *rows[0][0])
	}
	for _, id := range ids {
		if info, err := r.eng.DescribeQuery(acct, region, id); err != nil || info.Status == queries.Finished {
			t.Fatalf("slow query %s: %+v %v; want it still queued or running", id, info.Status, err)
		}
		if _, err := r.eng.CancelQuery(acct, region, id); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIngestWaitsOutFailedWrites blocks a store's day directory so that
// writing its batch fails, then unblocks it: ingestion retries, and every
// event lands exactly once, also across a restart.
func TestIngestWaitsOutFailedWrites(t *testing.T) {
	stores := &fakeStores{specs: []lake.StoreSpec{spec("0b3f0000-0000-4000-8000-000000000009", 1)}}
	const id = "0b3f0000-0000-4000-8000-000000000009"
	r := newRig(t, t.TempDir(), stores)
	// A file where the day's directory goes: every write of the day fails.
	blocker := filepath.Join(r.dir, "lake", acct, id, "day="+base.Format(time.DateOnly))
	if err := os.WriteFile(blocker, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 40; i++ {
		r.append(mkEvent(t, i, acct))
	}
	// The first write fails; until one succeeds, nothing lands.
	time.Sleep(300 * time.Millisecond)
	r.count(id, 0)
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	r.count(id, 40)
	for i := 41; i <= 60; i++ {
		r.append(mkEvent(t, i, acct))
	}
	r.restart()
	r.count(id, 60)
}

// TestHoldFilesOutlivesCompaction: the files HoldFiles returns (what the
// federation publisher copies) stay on disk through a compaction that
// replaces them, until Release; the next hold sees the new generation.
func TestHoldFilesOutlivesCompaction(t *testing.T) {
	const id = "0b3f0000-0000-4000-8000-000000000009"
	stores := &fakeStores{specs: []lake.StoreSpec{spec(id, 1)}}
	r := newRigWith(t, &rig{t: t, dir: t.TempDir(), stores: stores, now: base, compactMaxRows: 1000})
	n := 0
	for range 8 {
		r.append(mkEvent(t, n, acct), mkEvent(t, n+1, acct))
		n += 2
		r.restart() // each batch its own file
	}
	r.count(id, n)
	h, err := r.eng.HoldFiles(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Files) != 8 {
		t.Fatalf("held %d files, want the 8 batches", len(h.Files))
	}
	if err := r.eng.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, f := range h.Files {
		if _, err := os.Stat(filepath.Join(h.Dir, f.Name)); err != nil {
			t.Fatalf("a held file is gone after the compaction: %v", err)
		}
	}
	h2, err := r.eng.HoldFiles(id)
	if err != nil {
		t.Fatal(err)
	}
	if h2.Generation <= h.Generation || len(h2.Files) != 1 || !strings.HasPrefix(filepath.Base(h2.Files[0].Name), "c-") {
		t.Fatalf("after the compaction: generation %d (was %d), files %+v; want one compaction output", h2.Generation, h.Generation, h2.Files)
	}
	h2.Release()
	h.Release()
	for _, f := range h.Files {
		if _, err := os.Stat(filepath.Join(h.Dir, f.Name)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a replaced file stays after Release: %v", err)
		}
	}
	if _, err := r.eng.HoldFiles("0b3f0000-0000-4000-8000-00000000ffff"); !errors.Is(err, queries.ErrStoreInactive) {
		t.Fatalf("HoldFiles of an unknown store = %v, want ErrStoreInactive", err)
	}
}
