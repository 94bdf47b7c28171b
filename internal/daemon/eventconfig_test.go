package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/identity"
)

// TestEventConfigurationEnrichesStore: a store with RequestContext keys
// (PutEventConfiguration through the Go SDK) holds its management events
// with an eventContext of those keys, principal tags taken from the
// identity configuration; a store without them, and the event log, hold
// the records as they were (decisions 160–163).
func TestEventConfigurationEnrichesStore(t *testing.T) {
	dir := t.TempDir()
	const aliceKey, aliceSecret = "AKIAALICEENRICHED001", "alice-secret"
	accounts := `{"accounts":[{"accountId":"` + testAccount + `","keys":[
		{"accessKeyId":"AKIAROOTENRICHED0001","secretAccessKey":"root-secret","type":"Root"},
		{"accessKeyId":"` + aliceKey + `","secretAccessKey":"` + aliceSecret + `","type":"IAMUser","userName":"alice","tags":{"team":"sec"}}]}]}`
	if err := os.WriteFile(filepath.Join(dir, identity.AccountsFile), []byte(accounts), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, dir, func(c *config.Config) { c.Lake.Threads = 1 })
	ctx := t.Context()
	root := rootClient(t, d, testAccount, "us-east-1")
	alice := client(t, d, aliceKey, aliceSecret, "us-east-1")
	enriched, plain := edsIn(t, root, "enriched", true), edsIn(t, root, "plain", true)
	if _, err := root.PutEventConfiguration(ctx, &cloudtrail.PutEventConfigurationInput{
		EventDataStore: aws.String(enriched), MaxEventSize: cttypes.MaxEventSizeLarge,
		ContextKeySelectors: []cttypes.ContextKeySelector{{Type: cttypes.TypeRequestContext,
			Equals: []string{"aws:PrincipalTag/team", "aws:username", "aws:PrincipalType", "aws:SourceVpce"}}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.ListTrails(ctx, &cloudtrail.ListTrailsInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.ListTrails(ctx, &cloudtrail.ListTrailsInput{}); err != nil {
		t.Fatal(err)
	}
	const q = `SELECT useridentity.type AS who, json_extract_scalar(eventjson, '$.eventContext.requestContext["aws:PrincipalTag/team"]') AS team,
		json_extract_scalar(eventjson, '$.eventContext.requestContext["aws:username"]') AS username,
		json_extract_scalar(eventjson, '$.eventContext.requestContext["aws:PrincipalType"]') AS ptype,
		json_extract(eventjson, '$.eventContext') AS ctx
		FROM `
	var rows []map[string]string
	for deadline := time.Now().Add(30 * time.Second); ; {
		rows = queryRows(t, root, q+enriched+` WHERE eventname = 'ListTrails' ORDER BY who`)
		if len(rows) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(rows) != 2 {
		t.Fatalf("the enriched store holds %d ListTrails calls, want 2: %v", len(rows), rows)
	}
	if r := rows[0]; r["who"] != "IAMUser" || r["team"] != "sec" || r["username"] != "alice" || r["ptype"] != "User" {
		t.Errorf("alice's call: %v", r)
	}
	if r := rows[1]; r["who"] != "Root" || r["team"] != "" || r["username"] != "" || r["ptype"] != "Account" {
		t.Errorf("root's call: %v", r)
	}
	for _, r := range queryRows(t, root, q+plain+` WHERE eventname = 'ListTrails'`) {
		if r["ctx"] != "" {
			t.Errorf("a store without context keys holds an eventContext: %v", r)
		}
	}
	out, err := root.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("ListTrails")}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range out.Events {
		if strings.Contains(aws.ToString(e.CloudTrailEvent), "eventContext") {
			t.Errorf("event history holds an enriched record: %s", aws.ToString(e.CloudTrailEvent))
		}
	}
}
