package daemon_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/sdktest"
)

// PutAuditEvents in the daemon, signed with aws-sdk-go-v2's v4 signer
// (the cloudtrail-data Go SDK cannot be fetched here, decision 127).

const channelPartner = "444455556666"

// putAudit sends PutAuditEvents as account's root key, signed for
// cloudtrail-data in us-east-1, and returns the status and the body.
func putAudit(t *testing.T, d *daemon.Daemon, account string, query url.Values, body string) (int, http.Header, []byte) {
	t.Helper()
	k, err := d.Identities().RootKey(account)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, d.URL()+"/PutAuditEvents?"+query.Encode(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := sdktest.Sign(req, []byte(body), k.AccessKeyID, k.SecretAccessKey, "cloudtrail-data", "us-east-1"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// auditBody is a PutAuditEvents body of events with these UIDs, for
// recipient.
func auditBody(recipient string, uids ...string) string {
	var evs []map[string]string
	for i, uid := range uids {
		data, _ := json.Marshal(map[string]any{
			"version": "1.0", "UID": uid, "eventTime": "2026-12-06T10:00:00Z", "eventName": "Login", "eventSource": "myapp.example.com",
			"userIdentity":       map[string]any{"type": "CustomUserIdentity", "principalId": "alice"},
			"recipientAccountId": recipient,
		})
		evs = append(evs, map[string]string{"id": fmt.Sprint("e", i), "eventData": string(data)})
	}
	b, _ := json.Marshal(map[string]any{"auditEvents": evs})
	return string(b)
}

type auditOut struct {
	Successful []struct{ ID, EventID string }
	Failed     []struct{ ID, ErrorCode, ErrorMessage string }
}

// TestChannelsAndPutAuditEvents: a channel into a store of events from
// outside AWS; events from the owner and, through the channel's policy
// with its external id, from another account; every accepted event
// queryable by SQL in the store, none twice; the channel, its policy and
// its ingestion status survive a restart; a store a channel delivers to
// cannot be deleted.
func TestChannelsAndPutAuditEvents(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, nil)
	ctx := t.Context()
	if _, err := d.Identities().EnsureAccount(ctx, channelPartner); err != nil {
		t.Fatal(err)
	}
	ct := rootClient(t, d, testAccount, "us-east-1")
	st, err := ct.CreateEventDataStore(ctx, &cloudtrail.CreateEventDataStoreInput{Name: aws.String("app-events"), MultiRegionEnabled: aws.Bool(false),
		TerminationProtectionEnabled: aws.Bool(false), AdvancedEventSelectors: []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{
			{Field: aws.String("eventCategory"), Equals: []string{"ActivityAuditLog"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	storeARN := aws.ToString(st.EventDataStoreArn)
	ch, err := ct.CreateChannel(ctx, &cloudtrail.CreateChannelInput{Name: aws.String("my-app"), Source: aws.String("Custom"),
		Destinations: []cttypes.Destination{{Type: cttypes.DestinationTypeEventDataStore, Location: aws.String(storeARN)}}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(ch.ChannelArn)
	q := url.Values{"channelArn": {arn}}

	status, _, b := putAudit(t, d, testAccount, q, auditBody(testAccount, "o1", "o2", "o3"))
	var out auditOut
	if err := json.Unmarshal(b, &out); status != 200 || err != nil || len(out.Successful) != 3 || len(out.Failed) != 0 {
		t.Fatalf("owner: %d %s", status, b)
	}
	// Another account: refused, then allowed by the policy with its
	// external id; its events are the owner's.
	status, h, b := putAudit(t, d, channelPartner, q, auditBody(testAccount, "p1"))
	if status != 400 || h.Get("X-Amzn-ErrorType") != "ChannelInsufficientPermission" {
		t.Fatalf("partner without a policy: %d %s", status, b)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + channelPartner + `"},` +
		`"Action":"cloudtrail-data:PutAuditEvents","Resource":"` + arn + `","Condition":{"StringEquals":{"cloudtrail:ExternalId":"partner-42"}}}]}`
	if _, err := ct.PutResourcePolicy(ctx, &cloudtrail.PutResourcePolicyInput{ResourceArn: aws.String(arn), ResourcePolicy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	status, h, b = putAudit(t, d, channelPartner, q, auditBody(testAccount, "p1"))
	if status != 400 || h.Get("X-Amzn-ErrorType") != "ChannelInsufficientPermission" || !strings.Contains(string(b), "externalId") {
		t.Fatalf("partner without the external id: %d %s", status, b)
	}
	q2 := url.Values{"channelArn": {arn}, "externalId": {"partner-42"}}
	status, _, b = putAudit(t, d, channelPartner, q2, auditBody(testAccount, "p1", "p2"))
	if err := json.Unmarshal(b, &out); status != 200 || err != nil || len(out.Successful) != 2 {
		t.Fatalf("partner with the external id: %d %s", status, b)
	}
	lastID := out.Successful[1].EventID

	got, err := ct.GetChannel(ctx, &cloudtrail.GetChannelInput{Channel: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if s := got.IngestionStatus; s == nil || aws.ToString(s.LatestIngestionSuccessEventID) != lastID || aws.ToString(s.LatestIngestionAttemptEventID) != lastID ||
		s.LatestIngestionSuccessTime == nil {
		t.Errorf("IngestionStatus = %+v, want the last event %s", got.IngestionStatus, lastID)
	}

	// Every accepted event is in the store once, as the owner's, with
	// the channel in its metadata.
	query := "SELECT eventdata.uid, recipientaccountid, metadata.channelarn, eventcategory FROM " + storeID(storeARN) + " ORDER BY eventdata.uid"
	var rows []map[string]string
	deadline := time.Now().Add(60 * time.Second)
	for {
		rows = queryRows(t, ct, query)
		if len(rows) >= 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var uids []string
	for _, r := range rows {
		uids = append(uids, r["uid"])
		if r["recipientaccountid"] != testAccount || r["channelarn"] != arn || r["eventcategory"] != "ActivityAuditLog" {
			t.Errorf("row %v", r)
		}
	}
	if strings.Join(uids, ",") != "o1,o2,o3,p1,p2" {
		t.Errorf("uids %v, want o1,o2,o3,p1,p2", uids)
	}

	_, err = ct.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(storeARN)})
	if apiCode(err) != "ChannelExistsForEDSException" {
		t.Errorf("deleting the destination: %v", err)
	}

	_ = d.Close()
	d2 := startDaemon(t, dir, nil)
	ct2 := rootClient(t, d2, testAccount, "us-east-1")
	got, err = ct2.GetChannel(ctx, &cloudtrail.GetChannelInput{Channel: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(got.IngestionStatus.LatestIngestionSuccessEventID) != lastID || len(got.Destinations) != 1 {
		t.Errorf("after restart: %+v %+v", got, got.IngestionStatus)
	}
	pol, err := ct2.GetResourcePolicy(ctx, &cloudtrail.GetResourcePolicyInput{ResourceArn: aws.String(arn)})
	if err != nil || aws.ToString(pol.ResourcePolicy) != policy {
		t.Errorf("policy after restart: %v %+v", err, pol)
	}
	if _, err := ct2.DeleteChannel(ctx, &cloudtrail.DeleteChannelInput{Channel: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	status, h, _ = putAudit(t, d2, testAccount, q, auditBody(testAccount, "late"))
	if status != 400 || h.Get("X-Amzn-ErrorType") != "ChannelNotFound" {
		t.Errorf("a deleted channel: %d %s", status, h.Get("X-Amzn-ErrorType"))
	}
	if _, err := ct2.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(storeARN)}); err != nil {
		t.Errorf("deleting the store after its channel: %v", err)
	}
}

// TestChannelCatalogueServed: channels live in DATA-DIR/trails/
// channels.json and survive a restart; a damaged file stops serve, naming
// it, and fsck reports it, as it reports a damaged channelstatus.json.
func TestChannelCatalogueServed(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, nil)
	ctx := t.Context()
	ct := rootClient(t, d, testAccount, "us-east-1")
	st, err := ct.CreateEventDataStore(ctx, &cloudtrail.CreateEventDataStoreInput{Name: aws.String("app-events"), MultiRegionEnabled: aws.Bool(false),
		AdvancedEventSelectors: []cttypes.AdvancedEventSelector{{FieldSelectors: []cttypes.AdvancedFieldSelector{
			{Field: aws.String("eventCategory"), Equals: []string{"ActivityAuditLog"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := ct.CreateChannel(ctx, &cloudtrail.CreateChannelInput{Name: aws.String("my-app"), Source: aws.String("Custom"),
		Destinations: []cttypes.Destination{{Type: cttypes.DestinationTypeEventDataStore, Location: st.EventDataStoreArn}}})
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	d2 := startDaemon(t, dir, nil)
	list, err := rootClient(t, d2, testAccount, "us-east-1").ListChannels(ctx, &cloudtrail.ListChannelsInput{})
	if err != nil || len(list.Channels) != 1 || aws.ToString(list.Channels[0].ChannelArn) != aws.ToString(ch.ChannelArn) {
		t.Fatalf("ListChannels after restart: %v %+v", err, list)
	}
	_ = d2.Close()

	status := filepath.Join(dir, datadir.TrailsDir, catalog.ChannelStatusFileName)
	if err := os.WriteFile(status, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := daemon.Check(dir); !strings.Contains(strings.Join(r.Problems, "\n"), status+" is damaged") {
		t.Errorf("fsck problems %q do not name %s", r.Problems, status)
	}
	path := filepath.Join(dir, datadir.TrailsDir, catalog.ChannelsFileName)
	if err := os.WriteFile(path, []byte(`{"version":1,"channels":[{"id":`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.AccountID = dir, "127.0.0.1:0", testAccount
	if d3, err := daemon.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		d3.Close()
		t.Fatal("serve started on a damaged channel catalogue")
	} else if !strings.Contains(err.Error(), path+" is damaged") {
		t.Errorf("error %q does not name the file", err)
	}
	if r := daemon.Check(dir); !strings.Contains(strings.Join(r.Problems, "\n"), path+" is damaged") {
		t.Errorf("fsck problems %q do not name the file", r.Problems)
	}
}
