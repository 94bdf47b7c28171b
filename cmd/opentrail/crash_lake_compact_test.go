package main

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/testenv"
)

// The stages a compaction of a day goes through on disk
// (docs/format/lake.md, "Writing a batch"), as readCompaction names them
// from what a store's directory shows.
const (
	stageNone     = "no compaction in progress"
	stageWriting  = "writing the output (.c-….parquet.tmp), nothing on disk yet"
	stageWritten  = "writing the output (.c-….parquet.tmp), part of it on disk"
	stageRenamed  = "output renamed to c-….parquet, no eventid filter, not listed"
	stageFiltered = "output and its eventid filter written, not listed"
	stageManifest = "MANIFEST listing the output written, not renamed yet"
	stageInputs   = "output listed, its inputs not deleted yet"
)

// compactDisk is what a store's directory shows of a compaction of one of
// the days in days: read while the server runs (to decide when to kill
// it) and after it is killed (to say where the kill landed).
type compactDisk struct {
	stage  string
	out    string // the compaction output (path under the store)
	bytes  int64  // the output's size, so far
	inputs int    // import parts on disk the MANIFEST no longer lists
	listed map[string]bool
	rows   map[string]int // events the MANIFEST lists, by day
	parts  map[string]int // import parts the MANIFEST lists, by day
}

var compactTmpRE = regexp.MustCompile(`^\.(c-\d+-\d+-\d+\.parquet)\.tmp$`)

// readCompaction reads the store directory sdir. The day directories are
// read before the MANIFEST: a file seen there that the MANIFEST read after
// does not list was unlisted when the MANIFEST was read.
func readCompaction(t *testing.T, sdir string, days []string) compactDisk {
	t.Helper()
	type entry struct {
		name string
		size int64
	}
	ents := map[string][]entry{}
	for _, d := range days {
		des, err := os.ReadDir(filepath.Join(sdir, "day="+d))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, de := range des {
			var size int64
			if info, err := de.Info(); err == nil {
				size = info.Size()
			}
			ents[d] = append(ents[d], entry{de.Name(), size})
		}
	}
	top, err := os.ReadDir(sdir)
	if err != nil {
		t.Fatal(err)
	}
	var manTmps []string
	for _, de := range top {
		if strings.HasPrefix(de.Name(), ".MANIFEST.json.tmp") {
			manTmps = append(manTmps, filepath.Join(sdir, de.Name()))
		}
	}
	b, err := os.ReadFile(filepath.Join(sdir, "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man lakeManifest
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatalf("MANIFEST.json: %v\n%s", err, b)
	}
	c := compactDisk{stage: stageNone, listed: map[string]bool{}, rows: map[string]int{}, parts: map[string]int{}}
	for _, f := range man.Files {
		c.listed[f.Name] = true
		day := strings.TrimPrefix(filepath.Dir(f.Name), "day=")
		c.rows[day] += f.Rows
		if strings.HasPrefix(filepath.Base(f.Name), "i-") {
			c.parts[day]++
		}
	}
	for _, d := range days {
		names := map[string]int64{}
		for _, e := range ents[d] {
			names[e.name] = e.size
		}
		for _, e := range ents[d] {
			rel := filepath.Join("day="+d, e.name)
			switch m := compactTmpRE.FindStringSubmatch(e.name); {
			case m != nil:
				c.out, c.bytes = filepath.Join("day="+d, m[1]), e.size
				// DuckDB writes the file as it encodes each row group
				// (20,000 rows): nothing at first.
				c.stage = stageWriting
				if e.size > 64<<10 {
					c.stage = stageWritten
				}
			case strings.HasPrefix(e.name, "c-") && strings.HasSuffix(e.name, ".parquet") && !c.listed[rel]:
				c.out, c.bytes = rel, e.size
				c.stage = stageRenamed
				if _, ok := names[e.name+".bloom"]; ok {
					c.stage = stageFiltered
				}
				for _, p := range manTmps {
					// A kill leaves the bytes written: the temporary
					// MANIFEST says which commit was under way.
					if mb, err := os.ReadFile(p); err == nil && strings.Contains(string(mb), `"`+rel+`"`) {
						c.stage = stageManifest
					}
				}
			case strings.HasPrefix(e.name, "i-") && strings.HasSuffix(e.name, ".parquet") && !c.listed[rel]:
				c.inputs++
			}
		}
	}
	if c.stage == stageNone && c.inputs > 0 {
		c.stage = stageInputs
	}
	return c
}

// writeDayLogs writes files log files of n events each, all of day, to
// dir; the eventIDs are imp-DAY-NNNNNNN.
func writeDayLogs(t *testing.T, dir, day string, files, n int) {
	t.Helper()
	start, err := time.Parse(time.DateOnly, day)
	if err != nil {
		t.Fatal(err)
	}
	users := []string{"alice", "bob", "carol", "dave", "erin"}
	names := []string{"DescribeInstances", "RunInstances", "StopInstances"}
	for f := range files {
		recs := make([]map[string]any, n)
		for i := range n {
			k := f*n + i
			recs[i] = map[string]any{
				"eventVersion": "1.11",
				"userIdentity": map[string]any{"type": "IAMUser", "accountId": trailAccount, "userName": users[k%len(users)],
					"arn": "arn:aws:iam::" + trailAccount + ":user/" + users[k%len(users)]},
				"eventTime":         start.Add(time.Duration(k) * time.Second).Format(time.RFC3339),
				"eventSource":       "ec2.amazonaws.com",
				"eventName":         names[k%len(names)],
				"awsRegion":         "us-east-1",
				"sourceIPAddress":   fmt.Sprintf("10.0.%d.%d", k%256, k/256%256),
				"userAgent":         "aws-cli/2.15.0",
				"requestParameters": map[string]any{"instanceId": fmt.Sprintf("i-%012x", k)},
				"eventID":           fmt.Sprintf("imp-%s-%07d", day, k),
				"requestID":         fmt.Sprintf("req-%s-%07d", day, k),
				"readOnly":          k%3 == 0, "eventType": "AwsApiCall", "managementEvent": true,
				"recipientAccountId": trailAccount, "eventCategory": "Management",
			}
		}
		fh, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.json.gz", day, f)))
		if err != nil {
			t.Fatal(err)
		}
		zw := gzip.NewWriter(fh)
		if err := json.NewEncoder(zw).Encode(map[string]any{"Records": recs}); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := fh.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrashDuringLakeCompaction kills the server with SIGKILL at chosen
// points of a compaction, found by watching the store's directory, while
// clients call it (so the kill also lands during ingestion): while DuckDB
// writes the output's temporary file (before any of it is on disk, and
// once part of it is), once the output has its name but no eventid
// filter, once it has its filter but no MANIFEST lists it, while the
// MANIFEST that lists it is written but not renamed (a window of
// milliseconds, given up after two misses), and after that MANIFEST but
// before the inputs are deleted (a long query holds them). After each
// kill the directory says where the kill landed (a kill elsewhere, or a
// compaction that ends before the kill, is a miss; three misses of a
// point fail the test), `opentrail fsck` finds no problem, and the
// MANIFEST lists every imported event once; the next start removes what
// the kill left and compacts again. At the end every day is compacted and
// a query finds every imported event and every acknowledged call exactly
// once.
//
// The compactions are of past days filled by `opentrail import`: a quiet
// past day has all its files merged into one (lake.Options.CompactFiles
// counts only for today), so each day's import parts are one compaction,
// of the same code as today's, whose output DuckDB writes for about a
// second, long enough to watch.
func TestCrashDuringLakeCompaction(t *testing.T) {
	testenv.SkipShort(t, "crash test")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	addr := freeAddr(t)
	cfgFile := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgFile, []byte(`{"lake":{"flushInterval":"200ms","maintainInterval":"1s"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--account-id", trailAccount, "--config", cfgFile}
	creds := credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	client := func() *cloudtrail.Client {
		return cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
			Credentials: creds, RetryMaxAttempts: 1, HTTPClient: sdktest.HTTPClient(http.DefaultTransport)})
	}
	ctx := context.Background()

	// Past days of 40,000 events each, in four import parts (one per
	// 10,000 events, lake.Options.ImportChunk), imported with the server
	// stopped: each day is one compaction of four files into one of two
	// row groups. Three days first; two more whenever a miss (below) has
	// used them up.
	const perDay, filesPerDay = 40_000, 4
	var days []string
	var id, sdir string
	importDays := func(n int) {
		t.Helper()
		if len(days)+n > 10 {
			t.Fatalf("%d days compacted without the kills landing where aimed", len(days))
		}
		logs := t.TempDir()
		for range n {
			day := time.Now().UTC().AddDate(0, 0, -12+len(days)).Format(time.DateOnly)
			days = append(days, day)
			writeDayLogs(t, logs, day, filesPerDay, perDay/filesPerDay)
		}
		out := string(runOK(t, nil, opentrailBin, "import", "--data-dir", dir, "--event-data-store", "compact", "--account", trailAccount, logs))
		m := regexp.MustCompile(`Imported (\d+) events .*\(([0-9a-f-]{36})\)`).FindStringSubmatch(out)
		if m == nil || m[1] != fmt.Sprint(perDay*n) || id != "" && m[2] != id {
			t.Fatalf("import:\n%s", out)
		}
		id, sdir = m[2], filepath.Join(dir, "lake", trailAccount, m[2])
		c := readCompaction(t, sdir, days)
		for _, d := range days[len(days)-n:] {
			if c.rows[d] != perDay || c.parts[d] != filesPerDay {
				t.Fatalf("day %s: the import listed %d events in %d parts, want %d in %d", d, c.rows[d], c.parts[d], perDay, filesPerDay)
			}
		}
	}
	importDays(3)

	// Each target kills the server once the directory shows ready, and
	// wants the kill to have landed there (out is the output being
	// written, once seen). A kill that lands elsewhere, or a compaction
	// that ends before the kill, is a miss; a target is tried until it
	// has missed three times (then the test fails), an optional one (a
	// window of a few milliseconds) twice (then it is given up).
	type target struct {
		name     string
		ready    func(c compactDisk, out string) bool
		landed   func(c compactDisk, out string) bool
		query    bool // hold the inputs with a long query
		optional bool
	}
	at := func(stages ...string) func(compactDisk, string) bool {
		return func(c compactDisk, _ string) bool { return slices.Contains(stages, c.stage) }
	}
	inputsLeft := func(c compactDisk, out string) bool { return c.listed[out] && c.inputs > 0 }
	targets := []target{
		{stageWriting, at(stageWriting), at(stageWriting), false, false},
		{stageWritten, at(stageWritten), at(stageWritten), false, false},
		{stageRenamed, at(stageRenamed), at(stageRenamed), false, false},
		{stageFiltered, at(stageFiltered), at(stageFiltered, stageManifest), false, false},
		{stageManifest, at(stageManifest), at(stageManifest), false, true},
		{stageInputs, inputsLeft, inputsLeft, true, false},
	}

	var mu sync.Mutex
	acked := map[string]bool{}
	var killed []string
	misses := 0
	for _, tg := range targets {
		missed := 0
		miss := func(format string, args ...any) (giveUp bool) {
			misses++
			missed++
			t.Logf("aimed at %q: "+format, append([]any{tg.name}, args...)...)
			if tg.optional && missed == 2 {
				t.Logf("gave up on %q", tg.name)
				return true
			}
			if missed == 3 {
				t.Fatalf("aimed at %q, missed three times", tg.name)
			}
			return false
		}
	attempts:
		for {
			srv := startServer(t, dir, addr, args...)
			// The start removed what the last kill left (the store is
			// opened before the server listens; maintenance, and so a new
			// compaction, starts a second later): an output not listed,
			// its filter and the MANIFEST's temporary file, inputs no
			// longer listed.
			if c := readCompaction(t, sdir, days); c.inputs > 0 || c.stage == stageRenamed || c.stage == stageFiltered || c.stage == stageManifest {
				t.Fatalf("the start did not remove what the kill left: %s (%s), %d inputs unlisted", c.stage, c.out, c.inputs)
			} else if c.stage != stageNone {
				t.Logf("on start: %s (%s)", c.stage, c.out)
			}
			stop := callUntil(t, ctx, 2, func(int) *cloudtrail.Client { return client() }, &mu, acked)
			kill := func() {
				srv.kill()
				stop()
			}
			var out string // the output being written, once seen
			queried, giveUp := false, false
			deadline := time.Now().Add(20 * time.Second)
			for {
				c := readCompaction(t, sdir, days)
				if out == "" && (c.stage == stageWriting || c.stage == stageWritten) {
					out = c.out
				}
				if tg.query && out != "" && !queried {
					startLongQuery(t, client(), id)
					queried = true
				}
				if (!tg.query || queried) && tg.ready(c, out) {
					break
				}
				if out != "" && c.listed[out] {
					if giveUp = miss("the compaction into %s ended before the kill", out); giveUp {
						break
					}
					out, queried = "", false
					continue
				}
				if c.out == "" && c.inputs == 0 && allCompacted(c, days) {
					kill()
					importDays(2)
					continue attempts
				}
				if time.Now().After(deadline) {
					kill()
					t.Fatalf("%s: not seen in 20s (last seen: %s, %s)", tg.name, c.stage, c.out)
				}
				if c.stage != stageRenamed && c.stage != stageFiltered { // the next stages last milliseconds
					time.Sleep(500 * time.Microsecond)
				}
			}
			kill()

			// Where did the kill land? The process is gone: the directory
			// is what the next start finds.
			c := readCompaction(t, sdir, days)
			for _, d := range days {
				if c.rows[d] != perDay {
					t.Errorf("after a kill at %q: the MANIFEST lists %d events of day %s, want %d", c.stage, c.rows[d], d, perDay)
				}
			}
			fsck, code := runBin(t, "fsck", "--data-dir", dir)
			if code != 0 || strings.Contains(fsck, "PROBLEM") {
				t.Fatalf("fsck after a kill at %q: exit %d\n%s", c.stage, code, fsck)
			}
			if giveUp {
				break
			}
			where := fmt.Sprintf("%s (%s, %d bytes; %d inputs unlisted, not deleted)", c.stage, c.out, c.bytes, c.inputs)
			if tg.query {
				where = fmt.Sprintf("%s (%s listed, %d inputs unlisted, not deleted)", stageInputs, out, c.inputs)
			}
			if tg.landed(c, out) {
				killed = append(killed, where)
				t.Logf("killed at %s", where)
				break
			}
			if miss("the kill landed at %s", where) {
				break
			}
		}
	}

	// A last run: every day is compacted, the lake catches up with the log.
	srv := startServer(t, dir, addr, args...)
	defer func() {
		if srv != nil {
			srv.kill()
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := readCompaction(t, sdir, days)
		if allCompacted(c, days) && c.inputs == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("days not compacted in 30s: %+v", c)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cl := client()
	for _, d := range days {
		rows := lakeQuery(t, cl, fmt.Sprintf("SELECT count(*) AS n, count(DISTINCT eventid) AS ids FROM %s WHERE eventid LIKE 'imp-%s-%%'", id, d))
		if len(rows) != 1 || rows[0][0]["n"] != fmt.Sprint(perDay) || rows[0][1]["ids"] != fmt.Sprint(perDay) {
			t.Errorf("day %s: %v, want %d events, %d distinct eventids", d, rows, perDay, perDay)
		}
	}
	if dups := lakeQuery(t, cl, "SELECT eventid, count(*) AS n FROM "+id+" GROUP BY eventid HAVING count(*) > 1"); len(dups) > 0 {
		t.Errorf("%d eventids are in the store more than once, e.g. %v", len(dups), dups[0])
	}
	var inLake map[string]bool
	deadline = time.Now().Add(time.Minute)
	for {
		inLake = map[string]bool{}
		for _, r := range lakeQuery(t, cl, "SELECT requestid, count(*) AS n FROM "+id+" WHERE eventname = 'LookupEvents' GROUP BY requestid") {
			if r[1]["n"] != "1" {
				t.Errorf("request %s is in the store %s times", r[0]["requestid"], r[1]["n"])
			}
			inLake[r[0]["requestid"]] = true
		}
		missing := 0
		for rid := range acked {
			if !inLake[rid] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged calls are not in the event data store", missing, len(acked))
		}
		time.Sleep(200 * time.Millisecond)
	}
	srv.stop(t)
	srv = nil
	if fsck, code := runBin(t, "fsck", "--data-dir", dir); code != 0 || strings.Contains(fsck, "PROBLEM") {
		t.Fatalf("fsck after the last run: exit %d\n%s", code, fsck)
	}
	if len(acked) < 50 {
		t.Errorf("only %d calls succeeded; the kills did not land during ingestion", len(acked))
	}
	t.Logf("%d kills landed where aimed (%d misses: a kill elsewhere, or a compaction that ended first); %d imported events and %d acknowledged calls in the store once each:\n  %s",
		len(killed), misses, perDay*len(days), len(acked), strings.Join(killed, "\n  "))
}

// allCompacted reports whether every day in days is one compaction output.
func allCompacted(c compactDisk, days []string) bool {
	for _, d := range days {
		if c.parts[d] != 0 {
			return false
		}
	}
	return true
}

// startLongQuery starts a query of the store that runs for seconds (a
// self-join), and waits until it runs: it then holds the store's files
// (docs/format/lake.md: a query reads the snapshot it started with).
func startLongQuery(t *testing.T, c *cloudtrail.Client, id string) {
	t.Helper()
	stmt := "SELECT count(*) FROM " + id + " a JOIN " + id + " b ON a.eventname = b.eventname"
	q, err := c.StartQuery(context.Background(), &cloudtrail.StartQueryInput{QueryStatement: aws.String(stmt)})
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, err := c.DescribeQuery(context.Background(), &cloudtrail.DescribeQueryInput{QueryId: q.QueryId})
		if err != nil {
			t.Fatal(err)
		}
		switch r.QueryStatus {
		case types.QueryStatusQueued:
			time.Sleep(time.Millisecond)
			continue
		case types.QueryStatusRunning:
			return
		}
		t.Fatalf("the long query is %s before the compaction ended (%s)", r.QueryStatus, aws.ToString(r.ErrorMessage))
	}
}
