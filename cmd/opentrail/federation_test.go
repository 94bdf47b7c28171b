package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opentrail/opentrail/internal/testenv"
)

// TestFederationAWSCLI: enable-federation and disable-federation with the
// aws CLI against the server binary: the statuses get-event-data-store
// reports, the published copy listed and read through the S3 front end
// with aws s3, delete-event-data-store refused while federated, and the
// copy gone after disable.
func TestFederationAWSCLI(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", trailAccount)
	defer srv.kill()
	env := awsEnv(key, addr, "http://"+addr)

	var created struct{ EventDataStoreArn string }
	cliJSON(t, env, &created, "cloudtrail", "create-event-data-store", "--name", "federated", "--no-termination-protection-enabled")
	arn := created.EventDataStoreArn
	id := arn[strings.LastIndex(arn, "/")+1:]
	role := "arn:aws:iam::" + trailAccount + ":role/LakeFederation"

	errOut := cliError(t, env, "cloudtrail", "enable-federation", "--event-data-store", id, "--federation-role-arn", "arn:aws:iam::"+trailAccount+":user/alice")
	if !strings.Contains(errOut, "InvalidParameterException") || !strings.Contains(errOut, "not an IAM role ARN") {
		t.Errorf("enable-federation with a user ARN: %s", errOut)
	}
	var en struct{ EventDataStoreArn, FederationStatus, FederationRoleArn string }
	cliJSON(t, env, &en, "cloudtrail", "enable-federation", "--event-data-store", id, "--federation-role-arn", role)
	if en.EventDataStoreArn != arn || en.FederationStatus != "ENABLING" || en.FederationRoleArn != role {
		t.Fatalf("enable-federation: %+v", en)
	}
	errOut = cliError(t, env, "cloudtrail", "delete-event-data-store", "--event-data-store", id)
	if !strings.Contains(errOut, "EventDataStoreFederationEnabledException") {
		t.Errorf("delete-event-data-store while federated: %s", errOut)
	}
	waitFederation(t, env, id, "ENABLED", role)

	// The store's events (these calls among them) follow as the Lake
	// writes them.
	prefix := "s3://opentrail-federation/cloudtrail-lake/" + trailAccount + "/" + id + "/"
	var ls string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ls = cliOK(t, env, "s3", "ls", "--recursive", prefix)
		if strings.Contains(ls, "/data/day=") || time.Now().After(deadline) {
			break
		}
	}
	for _, name := range []string{"_manifest.json", "duckdb.sql", "trino.sql", "spark.sql", "/data/day="} {
		if !strings.Contains(ls, name) {
			t.Errorf("aws s3 ls of the published copy lacks %s:\n%s", name, ls)
		}
	}
	trino := cliOK(t, env, "s3", "cp", prefix+"trino.sql", "-")
	if !strings.Contains(trino, "external_location = '"+prefix+"data/'") {
		t.Errorf("trino.sql does not name the published location:\n%s", trino)
	}

	var dis struct{ EventDataStoreArn, FederationStatus string }
	cliJSON(t, env, &dis, "cloudtrail", "disable-federation", "--event-data-store", arn)
	if dis.EventDataStoreArn != arn || dis.FederationStatus != "DISABLING" {
		t.Fatalf("disable-federation: %+v", dis)
	}
	waitFederation(t, env, id, "DISABLED", "")
	if ls, _, _ := cli(t, env, "s3", "ls", "--recursive", prefix); strings.TrimSpace(ls) != "" {
		t.Errorf("the published copy is still there after disable:\n%s", ls)
	}
	cliOK(t, env, "cloudtrail", "delete-event-data-store", "--event-data-store", id)
}

// waitFederation polls get-event-data-store until the store's
// FederationStatus is want (the publisher runs beside the server).
func waitFederation(t *testing.T, env []string, id, want, role string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var got struct{ FederationStatus, FederationRoleArn string }
		cliJSON(t, env, &got, "cloudtrail", "get-event-data-store", "--event-data-store", id)
		if got.FederationStatus == want {
			if got.FederationRoleArn != role {
				t.Fatalf("FederationRoleArn %q, want %q", got.FederationRoleArn, role)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("FederationStatus is %s after 60s, want %s", got.FederationStatus, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBoto3Federation: enable_federation and disable_federation with
// boto3, their responses and errors as botocore parses them, and the
// statuses get_event_data_store reports.
func TestBoto3Federation(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.Boto3, "python3", "-c", "import boto3")
	dir := t.TempDir()
	addr := freeAddr(t)
	srv := startServer(t, dir, addr)
	defer srv.kill()
	script := `
import boto3, sys, time
ct = boto3.client("cloudtrail", endpoint_url=sys.argv[1], region_name="us-east-1")
arn = ct.create_event_data_store(Name="boto-fed", TerminationProtectionEnabled=False)["EventDataStoreArn"]
account = arn.split(":")[4]
role = "arn:aws:iam::%s:role/LakeFederation" % account
def status():
    d = ct.get_event_data_store(EventDataStore=arn)
    return d["FederationStatus"], d.get("FederationRoleArn")
assert status() == ("DISABLED", None), status()
try:
    ct.enable_federation(EventDataStore=arn, FederationRoleArn="arn:aws:iam::999988887777:role/x")
    raise SystemExit("another account's role was accepted")
except ct.exceptions.InvalidParameterException:
    pass
r = ct.enable_federation(EventDataStore=arn, FederationRoleArn=role)
assert (r["EventDataStoreArn"], r["FederationStatus"], r["FederationRoleArn"]) == (arn, "ENABLING", role), r
try:
    ct.delete_event_data_store(EventDataStore=arn)
    raise SystemExit("a federated store was deleted")
except ct.exceptions.EventDataStoreFederationEnabledException:
    pass
def wait(want):
    deadline = time.time() + 60
    while status()[0] != want:
        assert time.time() < deadline, "FederationStatus is %s after 60s, want %s" % (status(), want)
        time.sleep(0.2)
wait("ENABLED")
assert status() == ("ENABLED", role), status()
try:
    ct.enable_federation(EventDataStore=arn, FederationRoleArn=role)
    raise SystemExit("enabled twice")
except ct.exceptions.EventDataStoreFederationEnabledException:
    pass
r = ct.disable_federation(EventDataStore=arn)
assert (r["EventDataStoreArn"], r["FederationStatus"]) == (arn, "DISABLING"), r
wait("DISABLED")
assert status() == ("DISABLED", None), status()
ct.delete_event_data_store(EventDataStore=arn)
print("ok")
`
	out := runOK(t, []string{"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"), "AWS_CONFIG_FILE=/dev/null"},
		"python3", "-c", script, "http://"+addr)
	if !strings.HasPrefix(string(out), "ok") {
		t.Fatalf("boto3: %s", out)
	}
}
