package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/sdktest"
	"github.com/opentrail/opentrail/internal/testenv"
)

// corpusDir builds, once per test binary, a data directory as a busy
// server leaves it when killed: a trail delivering with log file
// validation, event history with flushed index segments (an earlier clean
// stop) and a WAL tail it had not flushed, delivery's state and spool,
// signing keys, accounts and settings. It returns the directory and the
// request ids of the calls that were acknowledged.
func corpusDir(t *testing.T) (string, []string) {
	t.Helper()
	dir, acked, err := buildCorpus(t)
	if err != nil {
		t.Fatal(err)
	}
	return dir, acked
}

func buildCorpus(t *testing.T) (string, []string, error) {
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	addr := freeAddr(t)
	args := []string{"--account-id", trailAccount, "--delivery-interval", "200ms", "--digest-interval", "1s"}
	creds := credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")
	hc := sdktest.HTTPClient(http.DefaultTransport)
	ct := cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1})
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), Credentials: creds, HTTPClient: hc, UsePathStyle: true})
	ctx := context.Background()
	var acked []string
	calls := func(n int) error {
		for range n {
			out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(1)})
			if err != nil {
				return err
			}
			id, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
			acked = append(acked, id)
		}
		return nil
	}
	// Phase 1, stopped cleanly: its events end in index segments.
	srv := startServer(t, dir, addr, args...)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("corpus")}); err != nil {
		return "", nil, err
	}
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("corpus"),
		EnableLogFileValidation: aws.Bool(true)}); err != nil {
		return "", nil, err
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("main")}); err != nil {
		return "", nil, err
	}
	// The trail also delivers to a CloudWatch Logs log group, and an
	// EventBridge rule sends every call to an API destination that is
	// down, so the outbox holds pending deliveries.
	cwl := cloudwatchlogs.New(cloudwatchlogs.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1})
	if _, err := cwl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("corpus")}); err != nil {
		return "", nil, err
	}
	if _, err := ct.UpdateTrail(ctx, &cloudtrail.UpdateTrailInput{Name: aws.String("main"),
		CloudWatchLogsLogGroupArn: aws.String("arn:aws:logs:us-east-1:" + trailAccount + ":log-group:corpus:*"),
		CloudWatchLogsRoleArn:     aws.String("arn:aws:iam::" + trailAccount + ":role/cw")}); err != nil {
		return "", nil, err
	}
	eb := eventbridge.New(eventbridge.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1})
	conn, err := eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("down"), AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{
			ApiKeyName: aws.String("k"), ApiKeyValue: aws.String("v")}}})
	if err != nil {
		return "", nil, err
	}
	dest, err := eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("down"), ConnectionArn: conn.ConnectionArn,
		InvocationEndpoint: aws.String("http://127.0.0.1:1/down"), HttpMethod: ebtypes.ApiDestinationHttpMethodPost})
	if err != nil {
		return "", nil, err
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("all"), State: ebtypes.RuleStateEnabledWithAllCloudtrailManagementEvents,
		EventPattern: aws.String(`{"source":["aws.cloudtrail"]}`)}); err != nil {
		return "", nil, err
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("all"), Targets: []ebtypes.Target{{Id: aws.String("down"), Arn: dest.ApiDestinationArn}}}); err != nil {
		return "", nil, err
	}
	// CloudWatch metrics, and an alarm in ALARM whose notification waits
	// in its outbox (no SNS publisher).
	cw := cloudwatch.New(cloudwatch.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), Credentials: creds, HTTPClient: hc, RetryMaxAttempts: 1})
	if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Corpus"), MetricData: []cwtypes.MetricDatum{
		{MetricName: aws.String("Calls"), Value: aws.Float64(1)}, {MetricName: aws.String("Calls"), Values: []float64{2, 3}}}}); err != nil {
		return "", nil, err
	}
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("calls"), Namespace: aws.String("Corpus"), MetricName: aws.String("Calls"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, AlarmActions: []string{"arn:aws:sns:us-east-1:" + trailAccount + ":corpus"}}); err != nil {
		return "", nil, err
	}
	if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("calls"), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("corpus")}); err != nil {
		return "", nil, err
	}
	// A Lake event data store that ingests every call, with a query's
	// state and results kept.
	eds, err := ct.CreateEventDataStore(ctx, &cloudtrail.CreateEventDataStoreInput{Name: aws.String("corpus")})
	if err != nil {
		return "", nil, err
	}
	if err := calls(150); err != nil {
		return "", nil, err
	}
	time.Sleep(1500 * time.Millisecond) // files and a digest delivered, Lake batches written
	storeID := aws.ToString(eds.EventDataStoreArn)
	storeID = storeID[len(storeID)-36:]
	lakeQuery(t, ct, "SELECT eventname, count(*) FROM "+storeID+" GROUP BY eventname")
	srv.stop(t)
	// Phase 2, killed: its events are only in the WAL (and delivery's
	// buffers and spool).
	srv = startServer(t, dir, addr, args...)
	if err := calls(150); err != nil {
		return "", nil, err
	}
	time.Sleep(300 * time.Millisecond)
	if err := calls(50); err != nil {
		return "", nil, err
	}
	srv.kill()
	return dir, acked, nil
}

// snapshot maps every file under dir to a hash of its content.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if filepath.Base(rel) == "LOCK" {
			return nil // rewritten with the holder's pid at every lock
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(dst, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// damage is one way to damage a file.
type damage struct {
	name  string
	apply func(path string, rnd *rand.Rand) error
}

var damages = []damage{
	{"flip", func(p string, rnd *rand.Rand) error {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			return err
		}
		b[rnd.IntN(len(b))] ^= byte(1 + rnd.IntN(255))
		return os.WriteFile(p, b, 0o644)
	}},
	{"truncate", func(p string, rnd *rand.Rand) error {
		st, err := os.Stat(p)
		if err != nil || st.Size() == 0 {
			return err
		}
		return os.Truncate(p, rnd.Int64N(st.Size()))
	}},
	{"delete", func(p string, _ *rand.Rand) error { return os.Remove(p) }},
}

// fileKind names the kind of a file of the data directory, for the matrix.
func fileKind(rel string) string {
	switch {
	case strings.HasPrefix(rel, "events/wal/"):
		if strings.HasSuffix(rel, ".wal") {
			return "wal segment"
		}
		return "wal " + filepath.Base(rel)
	case strings.HasPrefix(rel, "events/index/"):
		if strings.HasSuffix(rel, ".seg") {
			return "index segment"
		}
		return "index " + filepath.Base(rel)
	case strings.HasPrefix(rel, "delivery/spool/"):
		return "spool file"
	case strings.HasPrefix(rel, "keys/"):
		return "signing key"
	case strings.HasPrefix(rel, "buckets/"):
		return "" // delivered objects: validate-logs' business, not the store's
	case strings.HasPrefix(rel, "lake/queries/"):
		return "lake query " + filepath.Ext(rel)
	case strings.HasPrefix(rel, "lake/") && strings.HasSuffix(rel, ".parquet"):
		return "lake parquet file"
	case strings.HasPrefix(rel, "lake/") && strings.HasSuffix(rel, ".bloom"):
		return "lake eventid filter"
	case strings.HasPrefix(rel, "lake/") && strings.HasSuffix(rel, "MANIFEST.json"):
		return "lake MANIFEST.json"
	case strings.HasPrefix(rel, "logs/groups/"):
		return "logs segment"
	case strings.HasPrefix(rel, "cloudwatch/metrics/"):
		return "cloudwatch metric file"
	case rel == "LOCK":
		return ""
	}
	return rel
}

// TestCorruptionMatrix damages each kind of file of a data directory in
// each way (flip a byte, truncate, delete) at random offsets, many seeds,
// and checks the promise of docs/design/durability.md:
//   - fsck reports a problem whenever the server refuses to start, and the
//     refused start changes nothing;
//   - a server that starts has every acknowledged event in event history,
//     unless the event's own bytes were damaged, and then the loss was
//     reported (by fsck or in the server's log);
//   - nothing is deleted without being reported.
func TestCorruptionMatrix(t *testing.T) {
	testenv.SkipShort(t, "corruption matrix")
	pristine, acked := corpusDir(t)
	files := snapshot(t, pristine)
	byKind := map[string][]string{}
	for rel := range files {
		if k := fileKind(rel); k != "" {
			byKind[k] = append(byKind[k], rel)
		}
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
		slices.Sort(byKind[k])
	}
	slices.Sort(kinds)
	t.Logf("%d acknowledged calls; file kinds: %v", len(acked), kinds)
	seeds := 5
	for _, kind := range kinds {
		for _, dmg := range damages {
			for seed := range seeds {
				rnd := rand.New(rand.NewPCG(uint64(seed), uint64(len(kind))))
				rel := byKind[kind][rnd.IntN(len(byKind[kind]))]
				t.Run(fmt.Sprintf("%s/%s/%d", kind, dmg.name, seed), func(t *testing.T) {
					checkDamage(t, pristine, rel, dmg, rnd, acked)
				})
				if dmg.name == "delete" {
					break // one deletion per kind is enough
				}
			}
		}
	}
}

func checkDamage(t *testing.T, pristine, rel string, dmg damage, rnd *rand.Rand, acked []string) {
	dir := t.TempDir()
	copyTree(t, pristine, dir)
	if err := dmg.apply(filepath.Join(dir, rel), rnd); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	rep := daemon.Check(dir)
	if !mapsEqual(before, snapshot(t, dir)) {
		t.Fatalf("fsck changed the data directory")
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := config.Default()
	cfg.DataDir, cfg.Listen = dir, "127.0.0.1:0"
	cfg.Lake.FlushInterval = config.Duration(50 * time.Millisecond)
	d, err := daemon.New(cfg, log)
	var repaired string // what fsck --repair printed, when it ran
	if err != nil {
		if len(rep.Problems) == 0 {
			t.Fatalf("serve refused (%v) but fsck found no problem:\n%s", err, strings.Join(rep.Lines, "\n"))
		}
		// A refused start changes nothing but what crash recovery settles
		// before the refusal: the temporary files of interrupted writes,
		// and the embedded store's journal of a put the kill interrupted
		// (never acknowledged; rolled back or forward).
		after := snapshot(t, dir)
		unlisted := unlistedSpool(t, pristine)
		for p, h := range before {
			if isTemp(p) || strings.HasPrefix(p, "buckets/.tmp/") || unlisted[p] {
				continue
			}
			if h2, ok := after[p]; !ok {
				t.Errorf("the refused start removed %s", p)
			} else if h2 != h {
				t.Errorf("the refused start changed %s", p)
			}
		}
		t.Logf("refused: %v", err)
		if !lakeStoreFile(rel) {
			return
		}
		// A damaged Lake store: fsck --repair, then serve starts, but
		// for a MANIFEST that is missing or does not parse, which it
		// refuses to guess about.
		if repaired = repairLake(t, dir, err); repaired == "" {
			return
		}
		if d, err = daemon.New(cfg, log); err != nil {
			t.Fatalf("serve refused after fsck --repair: %v\nfsck --repair said:\n%s", err, repaired)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Logf("server stopped with %v", err)
		}
	}()
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := d.History().WaitCaughtUp(wctx); err != nil {
		t.Fatalf("history did not catch up: %v\n%s", err, logs.String())
	}
	missing := missingCalls(t, d, acked)
	// A loss is reported by fsck, by an error in the server's log, or, for
	// a cut WAL tail (damage indistinguishable from a torn write), by the
	// warning that names the cut and its quarantine file.
	reported := len(rep.Problems) > 0 || strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "cutting torn tail")
	if len(missing) > 0 && !reported {
		t.Errorf("%d acknowledged calls are missing from event history and nothing reported a loss (fsck: %q)\n%s", len(missing), rep.Problems, logs.String())
	}
	if len(missing) > 0 && !ownBytes(rel) {
		t.Errorf("%d acknowledged calls are missing after damage to %s, which holds no event", len(missing), rel)
	}
	// The same for the Lake's event data store, which ingested every
	// acknowledged call: one missing there was lost with the WAL (as
	// above) or with a damaged Lake file, and reported.
	wait := 10 * time.Second
	if reported {
		wait = 3 * time.Second // some may be lost; the Lake catches up within a flush interval
	}
	lakeMissing := missingFromLake(t, d, acked, wait)
	if len(lakeMissing) > 0 && !reported {
		t.Errorf("%d acknowledged calls are missing from the event data store and nothing reported a loss (fsck: %q)\n%s", len(lakeMissing), rep.Problems, logs.String())
	}
	if len(lakeMissing) > 0 && !ownBytes(rel) && !strings.HasSuffix(rel, ".parquet") && repaired == "" {
		t.Errorf("%d acknowledged calls are missing from the event data store after damage to %s, which holds no event", len(lakeMissing), rel)
	}
	if repaired != "" {
		// The store answered with the remaining events: no more are
		// missing than the repair said it lost.
		lost := 0
		for _, m := range lostEvents.FindAllStringSubmatch(repaired, -1) {
			n, _ := strconv.Atoi(m[1])
			lost += n
		}
		if len(lakeMissing) > lost {
			t.Errorf("after fsck --repair %d acknowledged calls are missing from the event data store, but the repair reported %d events lost:\n%s", len(lakeMissing), lost, repaired)
		}
		t.Logf("after fsck --repair the store holds %d of %d acknowledged calls (the repair reported %d events lost)", len(acked)-len(lakeMissing), len(acked), lost)
	}
	// Wait for delivery to upload what was staged before the kill, then
	// account for every file that is gone.
	time.Sleep(500 * time.Millisecond)
	after := snapshot(t, dir)
	inBuckets := map[[32]byte]bool{}
	for p, h := range after {
		if strings.HasPrefix(p, "buckets/") {
			inBuckets[h] = true
		}
	}
	for p, h := range before {
		if _, ok := after[p]; ok {
			continue
		}
		switch {
		case strings.HasPrefix(p, "buckets/.tmp/"):
			// The embedded store's journal: rolled forward into the
			// object it was writing.
		case strings.HasSuffix(p, ".bloom") && !has(after, strings.TrimSuffix(p, ".bloom")):
			// A Lake file's eventid filter, derived from the file: gone
			// with it (whose removal is checked on its own).
		case strings.HasPrefix(p, "delivery/spool/") && inBuckets[h]:
			// A staged log file, uploaded: the same bytes are in the
			// trail's bucket.
		case !mentioned(p, &logs, strings.Join(append(rep.Lines, rep.Problems...), "\n")+repaired):
			t.Errorf("serve removed %s without saying so (and its bytes are nowhere else)", p)
		}
	}
}

// unlistedSpool returns the staged files of the pristine directory that
// delivery's state does not list: a kill left them half made, and crash
// recovery removes them when delivery opens, which comes before the
// refusal of a later component (their events are still in the WAL).
func unlistedSpool(t *testing.T, pristine string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pristine, "delivery", "state.json"))
	if err != nil {
		return nil
	}
	var st struct {
		Spool []struct {
			ID string `json:"id"`
		} `json:"spool"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil
	}
	listed := map[string]bool{}
	for _, f := range st.Spool {
		listed["delivery/spool/"+f.ID+".json.gz"] = true
	}
	out := map[string]bool{}
	ents, _ := os.ReadDir(filepath.Join(pristine, "delivery", "spool"))
	for _, e := range ents {
		if p := "delivery/spool/" + e.Name(); !listed[p] {
			out[p] = true
		}
	}
	return out
}

// lakeStoreFile reports whether rel is a file of a Lake event data store.
func lakeStoreFile(rel string) bool {
	switch fileKind(rel) {
	case "lake parquet file", "lake eventid filter", "lake MANIFEST.json":
		return true
	}
	return false
}

// lostEvents finds the events fsck --repair reports lost from a store.
var lostEvents = regexp.MustCompile(`its (\d+) events are lost`)

// repairLake runs fsck --repair on dir, whose Lake serve refused with
// refusal, and returns what it printed; "" when it rightly refused too (a
// missing or unparsable MANIFEST), having changed nothing in the store.
func repairLake(t *testing.T, dir string, refusal error) string {
	t.Helper()
	before := snapshot(t, filepath.Join(dir, "lake"))
	var out bytes.Buffer
	err := (&fsckCmd{stdout: &out, stderr: &out}).Run(t.Context(), []string{"--data-dir", dir, "--repair"})
	if strings.Contains(refusal.Error(), "MANIFEST.json is missing but") || strings.Contains(refusal.Error(), "MANIFEST.json does not parse") {
		if !errors.Is(err, errFsckProblems) || !strings.Contains(out.String(), "NOT REPAIRED: lake: ") || !strings.Contains(out.String(), "move the store's directory away") {
			t.Fatalf("fsck --repair on a missing or unparsable MANIFEST: %v, want a refusal that says what to do:\n%s", err, out.String())
		}
		if !mapsEqual(before, snapshot(t, filepath.Join(dir, "lake"))) {
			t.Fatalf("fsck --repair refused but changed the Lake:\n%s", out.String())
		}
		return ""
	}
	if err != nil || !strings.Contains(out.String(), "REPAIRED: lake: ") || strings.Contains(out.String(), "PROBLEM: ") {
		t.Fatalf("fsck --repair: %v, want Lake repairs and no problem left:\n%s", err, out.String())
	}
	return out.String()
}

// ownBytes reports whether the file holds events (so damage to it may lose
// them): WAL and index segments.
func ownBytes(rel string) bool {
	return strings.HasSuffix(rel, ".wal") || strings.HasSuffix(rel, ".seg")
}

func isTemp(rel string) bool {
	b := filepath.Base(rel)
	return strings.HasPrefix(b, ".") && strings.Contains(b, ".tmp")
}

func mentioned(rel string, logs *bytes.Buffer, text string) bool {
	base := filepath.Base(rel)
	return strings.Contains(logs.String(), base) || strings.Contains(text, base)
}

func has(m map[string][32]byte, k string) bool {
	_, ok := m[k]
	return ok
}

func mapsEqual(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// missingCalls returns the acknowledged request ids event history does not
// hold.
func missingCalls(t *testing.T, d *daemon.Daemon, acked []string) []string {
	t.Helper()
	ct := rootClient(t, d.URL(), trailAccount, d)
	have := map[string]bool{}
	p := cloudtrail.NewLookupEventsPaginator(ct, &cloudtrail.LookupEventsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("LookupEvents: %v", err)
		}
		for _, e := range out.Events {
			have[requestIDOf(t, aws.ToString(e.CloudTrailEvent))] = true
		}
	}
	var missing []string
	for _, id := range acked {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing
}

// missingFromLake returns the acknowledged request ids the corpus's event
// data store does not hold, once it has caught up with the log.
func missingFromLake(t *testing.T, d *daemon.Daemon, acked []string, wait time.Duration) []string {
	t.Helper()
	ct := rootClient(t, d.URL(), trailAccount, d)
	out, err := ct.ListEventDataStores(context.Background(), &cloudtrail.ListEventDataStoresInput{})
	if err != nil || len(out.EventDataStores) != 1 {
		t.Fatalf("ListEventDataStores: %v (%d stores)", err, len(out.EventDataStores))
	}
	arn := aws.ToString(out.EventDataStores[0].EventDataStoreArn)
	var missing []string
	deadline := time.Now().Add(wait)
	for {
		have := map[string]bool{}
		for _, r := range lakeQuery(t, ct, "SELECT requestid FROM "+arn[len(arn)-36:]+" WHERE eventname = 'LookupEvents'") {
			have[r[0]["requestid"]] = true
		}
		missing = missing[:0]
		for _, id := range acked {
			if !have[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			return missing
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func rootClient(t *testing.T, url, account string, d *daemon.Daemon) *cloudtrail.Client {
	t.Helper()
	k, err := d.Identities().RootKey(account)
	if err != nil {
		t.Fatal(err)
	}
	return cloudtrail.New(cloudtrail.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, ""), RetryMaxAttempts: 1,
		HTTPClient: sdktest.HTTPClient(http.DefaultTransport)})
}
