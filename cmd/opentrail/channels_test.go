package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/testenv"
)

// appEvent is an eventData of the test application, for recipient.
func appEvent(uid, recipient string) string {
	b, _ := json.Marshal(map[string]any{
		"version": "1.0", "UID": uid, "eventTime": "2026-12-06T10:00:00Z", "eventName": "Login", "eventSource": "myapp.example.com",
		"userIdentity":       map[string]any{"type": "CustomUserIdentity", "principalId": "alice", "details": map[string]any{"team": "ops"}},
		"sourceIPAddress":    "198.51.100.7",
		"recipientAccountId": recipient,
	})
	return string(b)
}

func writeJSON(t *testing.T, path string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return "file://" + path
}

// TestChannelsAWSCLI drives channels and PutAuditEvents with the real aws
// CLI: create-event-data-store (events from outside AWS), create-channel,
// get-channel, list-channels, update-channel, put-resource-policy and
// get-resource-policy, `aws cloudtrail-data put-audit-events` with
// --audit-events file://... (a checksum, a per-event failure beside the
// successes; duplicate ids and an unknown channel refused), the channel's
// ingestion status, and delete-channel.
func TestChannelsAWSCLI(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", trailAccount)
	defer srv.kill()
	env := append(awsEnv(key, addr, "http://"+addr), "AWS_ENDPOINT_URL_CLOUDTRAIL_DATA=http://"+addr)

	var st struct{ EventDataStoreArn string }
	cliJSON(t, env, &st, "cloudtrail", "create-event-data-store", "--name", "app-events", "--no-multi-region-enabled",
		"--no-termination-protection-enabled", "--advanced-event-selectors",
		`[{"Name":"Events from my apps","FieldSelectors":[{"Field":"eventCategory","Equals":["ActivityAuditLog"]}]}]`)
	var ch struct {
		ChannelArn, Name, Source string
		Destinations             []struct{ Type, Location string }
	}
	cliJSON(t, env, &ch, "cloudtrail", "create-channel", "--name", "my-app", "--source", "Custom",
		"--destinations", "Type=EVENT_DATA_STORE,Location="+st.EventDataStoreArn, "--tags", "Key=team,Value=sec")
	if !strings.HasPrefix(ch.ChannelArn, "arn:aws:cloudtrail:us-east-1:"+trailAccount+":channel/") || ch.Source != "Custom" ||
		len(ch.Destinations) != 1 || ch.Destinations[0].Location != st.EventDataStoreArn {
		t.Fatalf("create-channel: %+v", ch)
	}
	if e := cliError(t, env, "cloudtrail", "create-channel", "--name", "okta", "--source", "Okta",
		"--destinations", "Type=EVENT_DATA_STORE,Location="+st.EventDataStoreArn); !strings.Contains(e, "InvalidSourceException") || !strings.Contains(e, "Custom") {
		t.Errorf("partner source: %s", e)
	}
	var list struct {
		Channels []struct{ ChannelArn, Name string }
	}
	cliJSON(t, env, &list, "cloudtrail", "list-channels")
	if len(list.Channels) != 1 || list.Channels[0].ChannelArn != ch.ChannelArn {
		t.Errorf("list-channels: %+v", list)
	}
	cliJSON(t, env, &ch, "cloudtrail", "update-channel", "--channel", ch.ChannelArn, "--name", "my-app-prod")
	if ch.Name != "my-app-prod" {
		t.Errorf("update-channel: %+v", ch)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"Partner","Effect":"Allow","Principal":{"AWS":["210987654321"]},` +
		`"Action":"cloudtrail-data:PutAuditEvents","Resource":"` + ch.ChannelArn + `","Condition":{"StringEquals":{"cloudtrail:ExternalId":"partner-42"}}}]}`
	cliOK(t, env, "cloudtrail", "put-resource-policy", "--resource-arn", ch.ChannelArn, "--resource-policy", policy)
	var pol struct{ ResourceArn, ResourcePolicy string }
	cliJSON(t, env, &pol, "cloudtrail", "get-resource-policy", "--resource-arn", ch.ChannelArn)
	if pol.ResourcePolicy != policy {
		t.Errorf("get-resource-policy: %+v", pol)
	}
	if e := cliError(t, env, "cloudtrail", "put-resource-policy", "--resource-arn", ch.ChannelArn, "--resource-policy",
		strings.Replace(policy, "cloudtrail-data:PutAuditEvents", "cloudtrail:*", 1)); !strings.Contains(e, "ResourcePolicyNotValidException") || !strings.Contains(e, "Action must be exactly") {
		t.Errorf("bad policy: %s", e)
	}

	good := appEvent("req-1", trailAccount)
	sum := sha256.Sum256([]byte(good))
	events := writeJSON(t, filepath.Join(t.TempDir(), "events.json"), []map[string]string{
		{"id": "one", "eventData": good, "eventDataChecksum": base64.StdEncoding.EncodeToString(sum[:])},
		{"id": "two", "eventData": appEvent("req-2", "999999999999")},
		{"id": "three", "eventData": appEvent("req-3", trailAccount)},
	})
	var out struct {
		Successful []struct{ ID, EventID string }
		Failed     []struct{ ID, ErrorCode, ErrorMessage string }
	}
	cliJSON(t, env, &out, "cloudtrail-data", "put-audit-events", "--channel-arn", ch.ChannelArn, "--audit-events", events)
	if len(out.Failed) != 1 || out.Failed[0].ID != "two" || out.Failed[0].ErrorCode != "InvalidRecipient" || !strings.Contains(out.Failed[0].ErrorMessage, trailAccount) {
		t.Errorf("put-audit-events failures: %+v", out.Failed)
	}
	if len(out.Successful) != 2 || out.Successful[0].ID != "one" || out.Successful[1].ID != "three" {
		t.Errorf("put-audit-events: %+v", out)
	}
	var got struct {
		IngestionStatus struct{ LatestIngestionSuccessEventID, LatestIngestionErrorCode string }
	}
	cliJSON(t, env, &got, "cloudtrail", "get-channel", "--channel", ch.ChannelArn)
	if got.IngestionStatus.LatestIngestionSuccessEventID != out.Successful[1].EventID || got.IngestionStatus.LatestIngestionErrorCode != "InvalidRecipient" {
		t.Errorf("get-channel: %+v", got)
	}
	dup := writeJSON(t, filepath.Join(t.TempDir(), "dup.json"), []map[string]string{{"id": "a", "eventData": good}, {"id": "a", "eventData": good}})
	if e := cliError(t, env, "cloudtrail-data", "put-audit-events", "--channel-arn", ch.ChannelArn, "--audit-events", dup); !strings.Contains(e, "DuplicatedAuditEventId") {
		t.Errorf("duplicate ids: %s", e)
	}
	if e := cliError(t, env, "cloudtrail-data", "put-audit-events", "--channel-arn", ch.ChannelArn+"0", "--audit-events", events); !strings.Contains(e, "ChannelNotFound") {
		t.Errorf("unknown channel: %s", e)
	}
	if e := cliError(t, env, "cloudtrail", "delete-event-data-store", "--event-data-store", st.EventDataStoreArn); !strings.Contains(e, "ChannelExistsForEDSException") {
		t.Errorf("deleting the destination: %s", e)
	}
	cliOK(t, env, "cloudtrail", "delete-channel", "--channel", ch.ChannelArn)
	if e := cliError(t, env, "cloudtrail", "get-channel", "--channel", ch.ChannelArn); !strings.Contains(e, "ChannelNotFoundException") {
		t.Errorf("get-channel after delete: %s", e)
	}
}

// TestBoto3PutAuditEvents sends events with boto3's cloudtrail-data
// client and checks what botocore makes of the answers: the per-event
// lists, the modelled exceptions (ChannelNotFound,
// DuplicatedAuditEventId, InvalidChannelARN), which botocore finds by the
// X-Amzn-ErrorType header, and the channel's rate limit, whose
// ThrottlingException botocore retries until the request fits.
func TestBoto3PutAuditEvents(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.Boto3, "python3", "-c", "import boto3")
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", trailAccount, "--put-audit-events-rate-limit", "100")
	defer srv.kill()
	script := `
import boto3, json, sys, time
url, account = sys.argv[1], sys.argv[2]
ct = boto3.client("cloudtrail", endpoint_url=url, region_name="us-east-1")
data = boto3.client("cloudtrail-data", endpoint_url=url, region_name="us-east-1")
store = ct.create_event_data_store(Name="boto-app", MultiRegionEnabled=False, TerminationProtectionEnabled=False,
    AdvancedEventSelectors=[{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["ActivityAuditLog"]}]}])["EventDataStoreArn"]
arn = ct.create_channel(Name="boto-app", Source="Custom", Destinations=[{"Type": "EVENT_DATA_STORE", "Location": store}])["ChannelArn"]
def ev(uid, recipient=account):
    return json.dumps({"version": "1.0", "UID": uid, "eventTime": "2026-12-06T10:00:00Z", "eventName": "Login",
        "eventSource": "boto.example.com", "userIdentity": {"type": "CustomUserIdentity", "principalId": "bob"},
        "recipientAccountId": recipient})
res = data.put_audit_events(channelArn=arn, auditEvents=[{"id": "a", "eventData": ev("u1")}, {"id": "b", "eventData": "{"},
    {"id": "c", "eventData": ev("u3")}])
assert res["failed"] == [{"id": "b", "errorCode": "InvalidData", "errorMessage": "eventData is not valid JSON: it must be a JSON object, as a string."}], res
assert [s["id"] for s in res["successful"]] == ["a", "c"], res
st = ct.get_channel(Channel=arn)["IngestionStatus"]
assert st["LatestIngestionSuccessEventID"] == res["successful"][1]["eventID"], st
for kwargs, exc in [
    (dict(channelArn=arn + "0", auditEvents=[{"id": "a", "eventData": ev("u")}]), data.exceptions.ChannelNotFound),
    (dict(channelArn=arn, auditEvents=[{"id": "a", "eventData": ev("u")}, {"id": "a", "eventData": ev("v")}]), data.exceptions.DuplicatedAuditEventId),
    (dict(channelArn="arn:aws:cloudtrail:us-east-1:" + account + ":trail/x", auditEvents=[{"id": "a", "eventData": ev("u")}]), data.exceptions.InvalidChannelARN),
]:
    try:
        data.put_audit_events(**kwargs)
        raise SystemExit("accepted: %r" % kwargs)
    except exc as e:
        assert e.response["Error"]["Message"], e.response
# 100 events a second, a burst of 100: three calls of 100 events in a row
# take two seconds at least. Unless the machine is that slow anyway, some
# are throttled, and botocore retries them until they fit.
retried, start = 0, time.monotonic()
for i in range(3):
    res = data.put_audit_events(channelArn=arn, auditEvents=[{"id": "e%d" % j, "eventData": ev("r%d-%d" % (i, j))} for j in range(100)])
    assert len(res["successful"]) == 100, res
    retried += res["ResponseMetadata"]["RetryAttempts"]
elapsed = time.monotonic() - start
assert elapsed >= 1.9, "300 events at 100 a second took %.2fs" % elapsed
assert retried >= 1 or elapsed >= 2, (retried, elapsed)
print("ok")
`
	out := runOK(t, []string{"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"), "AWS_CONFIG_FILE=/dev/null"},
		"python3", "-c", script, "http://"+addr, trailAccount)
	if !strings.HasPrefix(string(out), "ok") {
		t.Fatalf("boto3: %s", out)
	}
}
