package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/opentrail/opentrail/internal/testenv"
)

// eventDataStore is what the aws CLI prints for an event data store.
type eventDataStore struct {
	EventDataStoreArn            string
	Name                         string
	Status                       string
	RetentionPeriod              int
	TerminationProtectionEnabled bool
	MultiRegionEnabled           bool
	BillingMode                  string
	FederationStatus             string
	AdvancedEventSelectors       []struct {
		Name           string
		FieldSelectors []struct {
			Field  string
			Equals []string
		}
	}
}

// cliJSON runs the aws CLI with JSON output and decodes what it prints
// into v.
func cliJSON(t *testing.T, env []string, v any, args ...string) {
	t.Helper()
	out := cliOK(t, env, append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("aws %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// TestEventDataStoresAWSCLI drives the event data store operations with
// the real aws CLI against a running server: create, get, list, update,
// tags (add, list, remove, and remove refused for an unknown store and one
// pending deletion), stop and start ingestion, delete (refused while
// termination protection is on), restore, and delete again.
func TestEventDataStoresAWSCLI(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", trailAccount)
	defer srv.kill()
	env := awsEnv(key, addr, "http://"+addr)

	var created eventDataStore
	cliJSON(t, env, &created, "cloudtrail", "create-event-data-store", "--name", "audit")
	arn := created.EventDataStoreArn
	id := arn[strings.LastIndexByte(arn, '/')+1:]
	if !strings.HasPrefix(arn, "arn:aws:cloudtrail:us-east-1:"+trailAccount+":eventdatastore/") || created.Status != "CREATED" ||
		created.RetentionPeriod != 366 || !created.TerminationProtectionEnabled || !created.MultiRegionEnabled ||
		created.BillingMode != "EXTENDABLE_RETENTION_PRICING" || len(created.AdvancedEventSelectors) != 1 ||
		created.AdvancedEventSelectors[0].Name != "Default management events" {
		t.Fatalf("create-event-data-store: %+v", created)
	}

	get := func() eventDataStore {
		t.Helper()
		var d eventDataStore
		cliJSON(t, env, &d, "cloudtrail", "get-event-data-store", "--event-data-store", id)
		return d
	}
	if d := get(); d.Status != "ENABLED" || d.FederationStatus != "DISABLED" || d.EventDataStoreArn != arn {
		t.Fatalf("get-event-data-store: %+v", d)
	}

	var list struct {
		EventDataStores []map[string]any
	}
	cliJSON(t, env, &list, "cloudtrail", "list-event-data-stores")
	if len(list.EventDataStores) != 1 || list.EventDataStores[0]["EventDataStoreArn"] != arn || list.EventDataStores[0]["Name"] != "audit" ||
		len(list.EventDataStores[0]) != 2 {
		t.Fatalf("list-event-data-stores: %+v", list)
	}

	var updated eventDataStore
	cliJSON(t, env, &updated, "cloudtrail", "update-event-data-store", "--event-data-store", arn, "--name", "audit-2", "--retention-period", "90")
	if updated.Name != "audit-2" || updated.RetentionPeriod != 90 || updated.Status != "ENABLED" {
		t.Fatalf("update-event-data-store: %+v", updated)
	}

	cliOK(t, env, "cloudtrail", "add-tags", "--resource-id", arn, "--tags-list", "Key=team,Value=sec", "Key=flag")
	var tags struct {
		ResourceTagList []struct {
			ResourceId string
			TagsList   []map[string]string
		}
	}
	cliJSON(t, env, &tags, "cloudtrail", "list-tags", "--resource-id-list", arn)
	if len(tags.ResourceTagList) != 1 || tags.ResourceTagList[0].ResourceId != arn || len(tags.ResourceTagList[0].TagsList) != 2 ||
		tags.ResourceTagList[0].TagsList[0]["Value"] != "sec" {
		t.Fatalf("list-tags: %+v", tags)
	}
	if out := cliOK(t, env, "cloudtrail", "remove-tags", "--resource-id", arn, "--tags-list", "Key=flag", "--output", "json"); strings.TrimSpace(out) != "" {
		t.Errorf("remove-tags printed %q, want nothing (its response has no members)", out)
	}
	cliJSON(t, env, &tags, "cloudtrail", "list-tags", "--resource-id-list", arn)
	if len(tags.ResourceTagList) != 1 || tags.ResourceTagList[0].ResourceId != arn ||
		!reflect.DeepEqual(tags.ResourceTagList[0].TagsList, []map[string]string{{"Key": "team", "Value": "sec"}}) {
		t.Fatalf("list-tags after remove-tags Key=flag: %+v", tags)
	}
	// A key the store does not have is no error; a store that does not
	// exist is.
	cliOK(t, env, "cloudtrail", "remove-tags", "--resource-id", arn, "--tags-list", "Key=absent")
	unknown := arn[:strings.LastIndexByte(arn, '/')+1] + "00000000-0000-4000-8000-000000000000"
	if errOut := cliError(t, env, "cloudtrail", "remove-tags", "--resource-id", unknown, "--tags-list", "Key=team"); !strings.Contains(errOut, "EventDataStoreNotFoundException") {
		t.Errorf("remove-tags on an unknown store: %s", errOut)
	}

	cliOK(t, env, "cloudtrail", "stop-event-data-store-ingestion", "--event-data-store", arn)
	if d := get(); d.Status != "STOPPED_INGESTION" {
		t.Fatalf("after stop-event-data-store-ingestion: %s", d.Status)
	}
	cliOK(t, env, "cloudtrail", "start-event-data-store-ingestion", "--event-data-store", id)
	if d := get(); d.Status != "ENABLED" {
		t.Fatalf("after start-event-data-store-ingestion: %s", d.Status)
	}

	// Termination protection is on by default.
	_, errOut, code := cli(t, env, "cloudtrail", "delete-event-data-store", "--event-data-store", arn)
	if code == 0 || !strings.Contains(errOut, "EventDataStoreTerminationProtectedException") {
		t.Fatalf("delete with termination protection: exit %d\n%s", code, errOut)
	}
	cliOK(t, env, "cloudtrail", "update-event-data-store", "--event-data-store", arn, "--no-termination-protection-enabled")
	cliOK(t, env, "cloudtrail", "delete-event-data-store", "--event-data-store", arn)
	if d := get(); d.Status != "PENDING_DELETION" {
		t.Fatalf("after delete-event-data-store: %s", d.Status)
	}
	if errOut := cliError(t, env, "cloudtrail", "remove-tags", "--resource-id", arn, "--tags-list", "Key=team"); !strings.Contains(errOut, "InactiveEventDataStoreException") {
		t.Errorf("remove-tags on a store pending deletion: %s", errOut)
	}
	var restored eventDataStore
	cliJSON(t, env, &restored, "cloudtrail", "restore-event-data-store", "--event-data-store", arn)
	if restored.Status != "ENABLED" || restored.Name != "audit-2" {
		t.Fatalf("restore-event-data-store: %+v", restored)
	}
	cliOK(t, env, "cloudtrail", "delete-event-data-store", "--event-data-store", arn)
	_, errOut, code = cli(t, env, "cloudtrail", "delete-event-data-store", "--event-data-store", arn)
	if code == 0 || !strings.Contains(errOut, "InactiveEventDataStoreException") {
		t.Fatalf("second delete: exit %d\n%s", code, errOut)
	}
	if d := get(); d.Status != "PENDING_DELETION" {
		t.Fatalf("after the second delete: %s", d.Status)
	}
}

// TestEventConfigurationAWSCLI: put-event-configuration and
// get-event-configuration with the real aws CLI, and a refusal as the CLI
// prints it.
func TestEventConfigurationAWSCLI(t *testing.T) {
	testenv.SkipShort(t, "real-client test")
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	dir := t.TempDir()
	key := trailAccountKey(t, dir)
	addr := freeAddr(t)
	srv := startServer(t, dir, addr, "--account-id", trailAccount)
	defer srv.kill()
	env := awsEnv(key, addr, "http://"+addr)

	var created eventDataStore
	cliJSON(t, env, &created, "cloudtrail", "create-event-data-store", "--name", "enriched", "--no-termination-protection-enabled")
	type config struct {
		EventDataStoreArn   string
		MaxEventSize        string
		ContextKeySelectors []struct {
			Type   string
			Equals []string
		}
	}
	var put, got config
	cliJSON(t, env, &put, "cloudtrail", "put-event-configuration", "--event-data-store", created.EventDataStoreArn,
		"--max-event-size", "Large", "--context-key-selectors", "Type=RequestContext,Equals=aws:sourceip,aws:PrincipalTag/team")
	cliJSON(t, env, &got, "cloudtrail", "get-event-configuration", "--event-data-store", created.EventDataStoreArn)
	want := config{EventDataStoreArn: created.EventDataStoreArn, MaxEventSize: "Large"}
	want.ContextKeySelectors = append(want.ContextKeySelectors, struct {
		Type   string
		Equals []string
	}{"RequestContext", []string{"aws:SourceIp", "aws:PrincipalTag/team"}})
	if !reflect.DeepEqual(put, want) || !reflect.DeepEqual(got, want) {
		t.Errorf("put-event-configuration printed %+v, get-event-configuration %+v; want %+v", put, got, want)
	}
	if msg := cliError(t, env, "cloudtrail", "put-event-configuration", "--event-data-store", created.EventDataStoreArn,
		"--max-event-size", "Standard", "--context-key-selectors", "Type=RequestContext,Equals=aws:SourceIp"); !strings.Contains(msg, "InvalidParameterException") || !strings.Contains(msg, "MaxEventSize Large") {
		t.Errorf("selectors without Large: %s", msg)
	}
}
