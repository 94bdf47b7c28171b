package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/testenv"
)

// TestDashboardsAWSCLI drives the dashboard operations with the real aws
// CLI against a running server: create-dashboard (custom and Highlights),
// get-dashboard, list-dashboards, update-dashboard, start-dashboard-refresh
// and each widget's run through describe-query --query-alias --refresh-id
// and get-query-results, start-query --query-alias --query-parameters,
// tags on the dashboard, delete-dashboard (refused while termination
// protection is on).
func TestDashboardsAWSCLI(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", trailAccount)
	defer srv.kill()
	env := awsEnv(key, addr, "http://"+addr)

	var store struct{ EventDataStoreArn string }
	cliJSON(t, env, &store, "cloudtrail", "create-event-data-store", "--name", "dash-store")
	storeID := store.EventDataStoreArn[strings.LastIndex(store.EventDataStoreArn, "/")+1:]

	widgets := `[{"QueryStatement":"SELECT eventName, COUNT(*) AS n FROM ` + storeID + ` WHERE eventTime > '?' AND eventTime < '?' GROUP BY eventName",` +
		`"QueryParameters":["$StartTime$","$EndTime$"],"ViewProperties":{"View":"Table","Title":"Calls"}}]`
	type widget struct {
		QueryAlias, QueryStatement string
		QueryParameters            []string
		ViewProperties             map[string]string
	}
	var created struct {
		DashboardArn, Name, Type string
		Widgets                  []widget
		TagsList                 []struct{ Key, Value string }
		RefreshSchedule          struct {
			Frequency struct {
				Unit  string
				Value int
			}
			Status, TimeOfDay string
		}
		TerminationProtectionEnabled bool
	}
	cliJSON(t, env, &created, "cloudtrail", "create-dashboard", "--name", "cli-dash", "--widgets", widgets,
		"--refresh-schedule", `{"Frequency":{"Unit":"HOURS","Value":6},"Status":"ENABLED","TimeOfDay":"00:15"}`,
		"--tags-list", "Key=team,Value=sec", "--termination-protection-enabled")
	arn := "arn:aws:cloudtrail:us-east-1:" + trailAccount + ":dashboard/cli-dash"
	if created.DashboardArn != arn || created.Type != "CUSTOM" || len(created.Widgets) != 1 || created.Widgets[0].QueryAlias == "" ||
		created.RefreshSchedule.Frequency.Value != 6 || created.RefreshSchedule.TimeOfDay != "00:15" || !created.TerminationProtectionEnabled ||
		len(created.TagsList) != 1 {
		t.Fatalf("create-dashboard: %+v", created)
	}
	alias := created.Widgets[0].QueryAlias

	var got struct {
		DashboardArn, Type, Status string
		Widgets                    []widget
		CreatedTimestamp           float64
		LastRefreshId              string
	}
	cliJSON(t, env, &got, "cloudtrail", "get-dashboard", "--dashboard-id", "cli-dash")
	if got.DashboardArn != arn || got.Status != "CREATED" || got.Widgets[0].QueryAlias != alias || got.Widgets[0].ViewProperties["Title"] != "Calls" || got.CreatedTimestamp == 0 {
		t.Fatalf("get-dashboard: %+v", got)
	}

	if out := cliError(t, env, "cloudtrail", "delete-dashboard", "--dashboard-id", "cli-dash"); !strings.Contains(out, "ConflictException") {
		t.Errorf("delete-dashboard with termination protection: %s", out)
	}
	if out := cliError(t, env, "cloudtrail", "create-dashboard", "--name", "bad-sql", "--widgets", `[{"QueryStatement":"SELEC 1","ViewProperties":{"View":"Table"}}]`); !strings.Contains(out, "InvalidQueryStatementException") {
		t.Errorf("create-dashboard with bad SQL: %s", out)
	}

	var hl struct{ Type string }
	cliJSON(t, env, &hl, "cloudtrail", "create-dashboard", "--name", "AWSCloudTrail-Highlights",
		"--refresh-schedule", `{"Frequency":{"Unit":"HOURS","Value":6},"Status":"ENABLED"}`)
	if hl.Type != "MANAGED" {
		t.Errorf("Highlights: %+v", hl)
	}
	var list struct {
		Dashboards []struct{ DashboardArn, Type string }
	}
	cliJSON(t, env, &list, "cloudtrail", "list-dashboards", "--name-prefix", "cli")
	if len(list.Dashboards) != 1 || list.Dashboards[0].DashboardArn != arn {
		t.Errorf("list-dashboards --name-prefix cli: %+v", list)
	}
	cliJSON(t, env, &list, "cloudtrail", "list-dashboards", "--type", "MANAGED", "--max-results", "1")
	if len(list.Dashboards) != 1 || list.Dashboards[0].Type != "MANAGED" {
		t.Errorf("list-dashboards --type MANAGED: %+v", list)
	}

	var upd struct {
		Widgets                      []widget
		TerminationProtectionEnabled bool
	}
	cliJSON(t, env, &upd, "cloudtrail", "update-dashboard", "--dashboard-id", arn, "--no-termination-protection-enabled", "--widgets", widgets)
	if upd.TerminationProtectionEnabled || len(upd.Widgets) != 1 {
		t.Errorf("update-dashboard: %+v", upd)
	}

	// A refresh, and its widget's run by alias and refresh id.
	var ref struct{ RefreshId string }
	cliJSON(t, env, &ref, "cloudtrail", "start-dashboard-refresh", "--dashboard-id", "cli-dash",
		"--query-parameter-values", `{"$StartTime$":"2020-01-01T00:00:00Z"}`)
	if !regexp.MustCompile(`^\d{10,20}$`).MatchString(ref.RefreshId) {
		t.Fatalf("RefreshId %q", ref.RefreshId)
	}
	var q struct{ QueryId, QueryStatus, QueryString string }
	deadline := time.Now().Add(60 * time.Second)
	for {
		cliJSON(t, env, &q, "cloudtrail", "describe-query", "--query-alias", alias, "--refresh-id", ref.RefreshId)
		if q.QueryStatus != "QUEUED" && q.QueryStatus != "RUNNING" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if q.QueryStatus != "FINISHED" || !strings.Contains(q.QueryString, "eventTime > '2020-01-01 00:00:00'") {
		t.Fatalf("describe-query --query-alias --refresh-id: %+v", q)
	}
	var res struct{ QueryStatus string }
	cliJSON(t, env, &res, "cloudtrail", "get-query-results", "--query-id", q.QueryId)
	if res.QueryStatus != "FINISHED" {
		t.Errorf("get-query-results: %+v", res)
	}
	var hlRef struct{ RefreshId string }
	cliJSON(t, env, &hlRef, "cloudtrail", "start-dashboard-refresh", "--dashboard-id", "AWSCloudTrail-Highlights",
		"--query-parameter-values", `{"$EventDataStoreId$":"`+storeID+`"}`)
	if hlRef.RefreshId == "" {
		t.Error("the Highlights refresh has no RefreshId")
	}

	// start-query with the alias and values for its placeholders.
	var sq struct{ QueryId string }
	cliJSON(t, env, &sq, "cloudtrail", "start-query", "--query-alias", alias, "--query-parameters", "2021-01-01 00:00:00", "2021-01-02 00:00:00")
	cliJSON(t, env, &q, "cloudtrail", "describe-query", "--query-id", sq.QueryId)
	if !strings.Contains(q.QueryString, "eventTime > '2021-01-01 00:00:00' AND eventTime < '2021-01-02 00:00:00'") {
		t.Errorf("start-query --query-alias ran %q", q.QueryString)
	}

	cliOK(t, env, "cloudtrail", "add-tags", "--resource-id", arn, "--tags-list", "Key=env,Value=prod")
	var tags struct {
		ResourceTagList []struct {
			ResourceId string
			TagsList   []struct{ Key, Value string }
		}
	}
	cliJSON(t, env, &tags, "cloudtrail", "list-tags", "--resource-id-list", arn)
	if len(tags.ResourceTagList) != 1 || len(tags.ResourceTagList[0].TagsList) != 2 {
		t.Errorf("list-tags: %+v", tags)
	}
	cliOK(t, env, "cloudtrail", "remove-tags", "--resource-id", arn, "--tags-list", "Key=env")

	cliOK(t, env, "cloudtrail", "delete-dashboard", "--dashboard-id", "cli-dash")
	if out := cliError(t, env, "cloudtrail", "get-dashboard", "--dashboard-id", "cli-dash"); !strings.Contains(out, "ResourceNotFoundException") {
		t.Errorf("get-dashboard after delete: %s", out)
	}
}

// TestBoto3Dashboards drives the dashboard operations with boto3: its
// modeled exceptions (ConflictException, ResourceNotFoundException,
// InvalidQueryStatementException, ValidationException) and a refresh
// whose widget run is found by QueryAlias and RefreshId.
func TestBoto3Dashboards(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.Boto3, "python3", "-c", "import boto3")
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startServer(t, dir, addr)
	defer srv.kill()
	script := `
import boto3, sys, time
ct = boto3.client("cloudtrail", endpoint_url=sys.argv[1], region_name="us-east-1")
store = ct.create_event_data_store(Name="boto-dash", TerminationProtectionEnabled=False)["EventDataStoreArn"].split("/")[-1]
w = [{"QueryStatement": "SELECT eventName FROM " + store + " WHERE eventTime > '?' AND eventTime < '?'",
      "QueryParameters": ["$StartTime$", "$EndTime$"], "ViewProperties": {"View": "Table"}}]
d = ct.create_dashboard(Name="boto-dash", Widgets=w, TerminationProtectionEnabled=True,
                        RefreshSchedule={"Frequency": {"Unit": "DAYS", "Value": 1}, "Status": "ENABLED", "TimeOfDay": "12:00"})
alias = d["Widgets"][0]["QueryAlias"]
assert d["Type"] == "CUSTOM" and d["RefreshSchedule"]["Frequency"] == {"Unit": "DAYS", "Value": 1}, d
for call, exc in [
    (lambda: ct.create_dashboard(Name="boto-dash"), ct.exceptions.ConflictException),
    (lambda: ct.delete_dashboard(DashboardId="boto-dash"), ct.exceptions.ConflictException),
    (lambda: ct.get_dashboard(DashboardId="nope-dash"), ct.exceptions.ResourceNotFoundException),
    (lambda: ct.create_dashboard(Name="bad-dash", Widgets=[{"QueryStatement": "SELECT x FROM nowhere-store", "ViewProperties": {"View": "Table"}}]),
     ct.exceptions.EventDataStoreNotFoundException),
    (lambda: ct.create_dashboard(Name="bad-dash", Widgets=[{"QueryStatement": "SELEC 1", "ViewProperties": {"View": "Table"}}]),
     ct.exceptions.InvalidQueryStatementException),
    (lambda: ct.start_dashboard_refresh(DashboardId="boto-dash", QueryParameterValues={"$Period$": "fortnight"}), ct.exceptions.ClientError),
]:
    try:
        call()
        raise SystemExit("accepted: %r" % call)
    except exc:
        pass
rid = ct.start_dashboard_refresh(DashboardId="boto-dash", QueryParameterValues={"$StartTime$": "2020-01-01"})["RefreshId"]
assert rid.isdigit() and 10 <= len(rid) <= 20, rid
while True:
    q = ct.describe_query(QueryAlias=alias, RefreshId=rid)
    if q["QueryStatus"] not in ("QUEUED", "RUNNING"):
        break
    time.sleep(0.05)
assert q["QueryStatus"] == "FINISHED" and "'2020-01-01 00:00:00'" in q["QueryString"], q
res = ct.get_query_results(QueryId=q["QueryId"])
assert res["QueryStatus"] == "FINISHED", res
g = ct.get_dashboard(DashboardId="boto-dash")
assert g["LastRefreshId"] == rid and g["Status"] == "CREATED", g
assert [x["DashboardArn"].split("/")[-1] for x in ct.list_dashboards()["Dashboards"]] == ["boto-dash"]
ct.update_dashboard(DashboardId="boto-dash", TerminationProtectionEnabled=False)
ct.delete_dashboard(DashboardId="boto-dash")
print("ok")
`
	out := runOK(t, []string{"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"), "AWS_CONFIG_FILE=/dev/null"},
		"python3", "-c", script, "http://"+addr)
	if !strings.HasPrefix(string(out), "ok") {
		t.Fatalf("boto3: %s", out)
	}
}
