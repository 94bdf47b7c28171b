// Package archtest checks the import graph: imports point down the layers
// of STYLE.md, and only the listed edges exist. A new package or edge must
// be added to the table on purpose.
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/opentrail/opentrail/"

// allowed lists, for every package, the internal packages it may import.
var allowed = map[string][]string{
	// L0 spec: pure, standard library and other L0 only.
	"internal/jsonscan": {},
	"internal/event":    {"internal/jsonscan"},
	"internal/awsjson":  {},
	"internal/awsquery": {},
	"internal/sigv4":    {},
	"internal/logfile":  {"internal/jsonscan"},
	"internal/layout":   {},
	"internal/digest":   {},
	"internal/selector": {"internal/event"},
	// EventBridge event patterns, InputPath and InputTransformer.
	"internal/eventpattern": {},
	"internal/lake/queries": {},
	"internal/lake/imports": {},
	// The sample-query catalogue and its search (embedded, pure).
	"internal/lake/samples": {},
	// GenerateQuery's client of an OpenAI-compatible chat endpoint, and
	// its stub server for tests.
	"internal/lake/querygen":              {"internal/store/fileutil"},
	"internal/lake/querygen/querygentest": {},
	// CloudWatch Logs filter patterns, metric transformations, CIS filters.
	"internal/logfilter": {},
	// CloudWatch alarms: validation, statistics, evaluation, notifications.
	"internal/alarm": {},
	// A refused request's error (kind and client message), shared by the
	// SNS, EventBridge and CloudWatch Logs engines.
	"internal/reqerr": {},
	// A channel's resource policy: its rules and who it lets call
	// PutAuditEvents.
	"internal/channelpolicy": {"internal/event"},
	// A token bucket per key (API rate limits).
	"internal/ratelimit": {},
	// CloudTrail Lake SQL to DuckDB: pure Go over DuckDB's parse tree
	// (its tests use DuckDB; the package itself imports only the standard
	// library).
	"internal/lake/dialect": {},
	// L1 adapters.
	"internal/store/fileutil":        {},
	"internal/datadir":               {"internal/store/fileutil"},
	"internal/store/wal":             {"internal/store/fileutil"},
	"internal/store/index":           {"internal/event", "internal/store/fileutil"},
	"internal/store":                 {"internal/event", "internal/store/wal", "internal/store/fileutil"},
	"internal/identity":              {"internal/event", "internal/sigv4", "internal/store/fileutil"},
	"internal/objstore":              {},
	"internal/objstore/fsbucket":     {"internal/objstore", "internal/store/fileutil"},
	"internal/objstore/s3":           {"internal/objstore"},
	"internal/objstore/s3/s3test":    {"internal/testenv"},
	"internal/objstore/objstoretest": {"internal/objstore"},
	"internal/keyring":               {"internal/digest", "internal/store/fileutil"},
	"internal/catalog":               {"internal/event", "internal/selector", "internal/store/fileutil"},
	"internal/audit":                 {"internal/event", "internal/identity"},
	// The one package that talks to DuckDB (cgo).
	"internal/lake/duck": {"internal/event"},
	// Query results delivered to S3: pure Go, writes through the object
	// store interface it declares.
	"internal/lake/resultfile": {"internal/digest", "internal/layout", "internal/objstore", "internal/lake/queries"},
	// L2 engines.
	"internal/history":  {"internal/event", "internal/store", "internal/store/index"},
	"internal/importer": {"internal/event", "internal/logfile", "internal/store"},
	"internal/insights": {"internal/event", "internal/store", "internal/store/fileutil"},
	"internal/delivery": {"internal/event", "internal/selector", "internal/layout", "internal/digest", "internal/objstore",
		"internal/store", "internal/store/fileutil", "internal/catalog", "internal/keyring"},
	"internal/notify": {},
	// CloudWatch metrics and alarms.
	"internal/cwmetrics": {"internal/alarm", "internal/store/fileutil"},
	// SNS: topics, subscriptions, signing and the durable delivery queue.
	"internal/sns":         {"internal/event", "internal/reqerr", "internal/store/fileutil"},
	"internal/sns/snstest": {},
	// EventBridge's default bus: a follower of the event log that
	// delivers to SNS topics (through the interface it declares) and
	// API destinations.
	"internal/eventbus": {"internal/event", "internal/eventpattern", "internal/reqerr", "internal/store", "internal/store/fileutil"},
	// CloudWatch Logs: log groups, trail delivery (a follower) and metric
	// filters, whose values go to the metric store it declares.
	"internal/cwlogs": {"internal/event", "internal/logfilter", "internal/reqerr", "internal/store", "internal/store/fileutil"},
	"internal/lake": {"internal/event", "internal/selector", "internal/store", "internal/store/fileutil", "internal/lake/duck", "internal/lake/dialect", "internal/lake/queries",
		"internal/lake/imports", "internal/layout", "internal/logfile", "internal/objstore", "internal/lake/resultfile"},
	// Federated event data stores: the publisher of their open copies.
	"internal/lake/federation": {"internal/lake/duck", "internal/objstore", "internal/store/fileutil"},
	// CloudTrail Lake dashboards: definitions, refreshes through the query
	// engine it declares, the refresh scheduler.
	"internal/lake/dashboards": {"internal/catalog", "internal/lake/queries", "internal/store/fileutil"},
	"internal/validate":        {"internal/layout", "internal/digest"},
	// L3 edges.
	// The JSON-protocol front end the alerting services share, and
	// EventBridge's operations on it.
	"internal/jsonsvc":   {"internal/audit", "internal/awsjson", "internal/event", "internal/identity", "internal/sigv4", "internal/store"},
	"internal/eventsapi": {"internal/awsjson", "internal/eventbus", "internal/eventpattern", "internal/identity", "internal/jsonsvc"},
	"internal/logsapi":   {"internal/audit", "internal/cwlogs", "internal/identity", "internal/jsonsvc"},
	// cloudtrail-data: PutAuditEvents into channels (rest-json).
	"internal/auditapi": {"internal/audit", "internal/awsjson", "internal/catalog", "internal/channelpolicy", "internal/event", "internal/identity", "internal/jsonscan",
		"internal/jsonsvc", "internal/ratelimit", "internal/store"},
	"internal/s3api": {"internal/audit", "internal/event", "internal/objstore", "internal/sigv4", "internal/identity",
		"internal/awsjson", "internal/store"},
	"internal/cwapi":  {"internal/alarm", "internal/audit", "internal/awsjson", "internal/cwmetrics", "internal/identity", "internal/jsonsvc"},
	"internal/snsapi": {"internal/audit", "internal/awsquery", "internal/event", "internal/identity", "internal/sigv4", "internal/sns", "internal/store"},
	"internal/api": {"internal/audit", "internal/channelpolicy", "internal/ratelimit", "internal/event", "internal/awsjson", "internal/sigv4", "internal/identity", "internal/store", "internal/history",
		"internal/catalog", "internal/selector", "internal/objstore", "internal/layout", "internal/keyring", "internal/lake/queries", "internal/lake/imports",
		"internal/lake/resultfile", "internal/lake/dashboards", "internal/lake/querygen", "internal/lake/samples"},
	// L4 wiring.
	"internal/config": {"internal/event", "internal/datadir"},
	"internal/daemon": {"internal/api", "internal/config", "internal/datadir", "internal/identity", "internal/sigv4", "internal/store", "internal/history", "internal/store/fileutil",
		"internal/event", "internal/store/index", "internal/store/wal",
		"internal/catalog", "internal/delivery", "internal/keyring", "internal/notify", "internal/objstore",
		"internal/objstore/fsbucket", "internal/objstore/s3", "internal/s3api", "internal/sns", "internal/snsapi", "internal/importer", "internal/lake", "internal/lake/imports", "internal/lake/queries", "internal/lake/resultfile", "internal/lake/dashboards", "internal/lake/querygen", "internal/insights",
		"internal/lake/federation", "internal/eventbus", "internal/eventsapi", "internal/jsonsvc", "internal/selector", "internal/cwlogs", "internal/logsapi",
		"internal/cwmetrics", "internal/cwapi", "internal/auditapi"},
	"cmd/opentrail": {"internal/config", "internal/datadir", "internal/daemon", "internal/insights", "internal/event", "internal/identity", "internal/importer", "internal/history",
		"internal/logfile", "internal/store", "internal/store/fileutil", "internal/store/index", "internal/store/wal",
		"internal/validate", "internal/layout", "internal/logfilter"},
	// The benchmark harness, a command apart from the product binary: it
	// drives the daemon and the event store directly, and runs plain
	// DuckDB (through lake/duck) as the Lake benchmark's baseline, and
	// builds PutAuditEvents' records (auditapi.Record) for its baseline.
	"cmd/opentrail-bench": {"internal/config", "internal/daemon", "internal/datadir", "internal/event", "internal/history",
		"internal/identity", "internal/logfile", "internal/sdktest", "internal/store", "internal/lake/duck", "internal/auditapi"},
	// Test support and tools, below or beside the layers.
	"internal/archtest": {},
	"internal/sdktest":  {},
	"internal/testenv":  {},
	"scripts/skipcheck": {"internal/testenv"},
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestImportGraph(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "../../...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, mod)
		allow, ok := allowed[name]
		if !ok {
			t.Errorf("package %s is not in the layer table of internal/archtest; add it with the imports it may use", name)
			continue
		}
		seen++
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, mod) {
				if strings.Contains(imp, "duckdb") && name != "internal/lake/duck" {
					t.Errorf("%s imports DuckDB (%s); only internal/lake/duck may", name, imp)
				}
				continue
			}
			dep := strings.TrimPrefix(imp, mod)
			if !slices.Contains(allow, dep) {
				t.Errorf("%s imports %s, which the layer table does not allow", name, dep)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("only %d packages checked; go list output looks wrong", seen)
	}
}
