package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/catalog"
	"github.com/opentrail/opentrail/internal/selector"
)

// System tests of the event data store operations and of tags on event
// data stores, through the real aws-sdk-go-v2 client (and hand-built
// requests where the exact wire JSON matters), over a real catalog whose
// restore window runs on the handler's clock.

// storeEnv is an env whose handler serves event data stores (and trails)
// from a real catalog.
type storeEnv struct {
	*env
	cat *catalog.Catalog
}

type storeEnvOptions struct {
	maxStores   int                 // catalog quota; 0 means AWS's 10
	maxChannels int                 // catalog quota; 0 means AWS's 25
	seed        []catalog.DataStore // written to the catalog file before it opens
}

func newStoreEnv(t *testing.T, o storeEnvOptions) *storeEnv {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "catalog")
	if len(o.seed) > 0 {
		seedFile(t, dir, catalog.DataStoresFileName, map[string]any{"version": 1, "eventDataStores": o.seed})
	}
	var now func() time.Time // the handler's clock, once it exists
	copts := catalog.DefaultOptions()
	copts.Now = func() time.Time { return now() }
	if o.maxStores > 0 {
		copts.MaxDataStoresPerRegion = o.maxStores
	}
	if o.maxChannels > 0 {
		copts.MaxChannelsPerRegion = o.maxChannels
	}
	cat, err := catalog.Open(dir, copts)
	if err != nil {
		t.Fatal(err)
	}
	se := &storeEnv{cat: cat}
	se.env = newEnv(t, func(o *Options) {
		o.Trails = cat
		o.DataStores = cat
		o.Channels = cat
		o.LogHead = o.Events.(*memStore).head
	})
	now = se.clock.Now
	return se
}

// head is the memStore's log head: the seq of its newest event.
func (m *memStore) head() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint64(len(m.events))
}

func (se *storeEnv) c1() *cloudtrail.Client   { return se.client("AKIDALICE", "us-east-1") }
func (se *storeEnv) c1eu() *cloudtrail.Client { return se.client("AKIDALICE", "eu-west-1") }
func (se *storeEnv) c2() *cloudtrail.Client   { return se.client("AKIDOTHER", "us-east-1") }

// mkStore is a CreateEventDataStoreInput changed by mods.
func mkStore(name string, mods ...func(*cloudtrail.CreateEventDataStoreInput)) *cloudtrail.CreateEventDataStoreInput {
	in := &cloudtrail.CreateEventDataStoreInput{Name: aws.String(name)}
	for _, m := range mods {
		m(in)
	}
	return in
}

func noProtection(in *cloudtrail.CreateEventDataStoreInput) {
	in.TerminationProtectionEnabled = aws.Bool(false)
}

func withSelectors(sel ...types.AdvancedEventSelector) func(*cloudtrail.CreateEventDataStoreInput) {
	return func(in *cloudtrail.CreateEventDataStoreInput) { in.AdvancedEventSelectors = sel }
}

// category is an advanced selector of one eventCategory, with more field
// selectors.
func category(c string, more ...types.AdvancedFieldSelector) types.AdvancedEventSelector {
	return types.AdvancedEventSelector{FieldSelectors: append([]types.AdvancedFieldSelector{
		{Field: aws.String("eventCategory"), Equals: []string{c}}}, more...)}
}

func mustCreateStore(t *testing.T, c *cloudtrail.Client, in *cloudtrail.CreateEventDataStoreInput) *cloudtrail.CreateEventDataStoreOutput {
	t.Helper()
	out, err := c.CreateEventDataStore(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateEventDataStore %s: %v", aws.ToString(in.Name), err)
	}
	return out
}

// storeID is the id part of an event data store ARN.
func storeID(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// rawStore sends a hand-built botocore-style request as AKIDALICE in
// us-east-1 and returns the status and body.
func (se *storeEnv) rawStore(t *testing.T, op, body string) rawResponse {
	t.Helper()
	return se.raw(t, http.MethodPost, "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."+op, body, "AKIDALICE", "us-east-1", "cloudtrail", nil)
}

func checkRawError(t *testing.T, r rawResponse, code, msg string) {
	t.Helper()
	if r.Status != http.StatusBadRequest {
		t.Errorf("status %d, want 400: %s", r.Status, r.Body)
	}
	got, m := wireErr(t, r)
	if got != code || !strings.Contains(m, msg) {
		t.Errorf("got %s %q, want %s containing %q", got, m, code, msg)
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// epoch is testNow as the wire writes it.
var epoch = fmt.Sprint(testNow.Unix())

func TestCreateEventDataStoreDefaults(t *testing.T) {
	se := newStoreEnv(t, storeEnvOptions{})
	r := se.rawStore(t, "CreateEventDataStore", `{"Name":"audit"}`)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	var created struct{ EventDataStoreArn string }
	json.Unmarshal(r.Body, &created)
	arn := created.EventDataStoreArn
	if !strings.HasPrefix(arn, "arn:aws:cloudtrail:us-east-1:"+acct1+":eventdatastore/") || !uuidV4.MatchString(storeID(arn)) {
		t.Fatalf("ARN %s", arn)
	}
	// AWS's example response, with the default selector filled in.
	base := `"EventDataStoreArn":"` + arn + `","Name":"audit",
		"AdvancedEventSelectors":[{"Name":"Default management events","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]}],
		"MultiRegionEnabled":true,"OrganizationEnabled":false,"BillingMode":"EXTENDABLE_RETENTION_PRICING","RetentionPeriod":366,
		"TerminationProtectionEnabled":true,"CreatedTimestamp":` + epoch + `,"UpdatedTimestamp":` + epoch
	jsonEqual(t, "CreateEventDataStore", r.Body, `{`+base+`,"Status":"CREATED"}`)
	// Get reports the store ENABLED, with its federation status, by ARN
	// and by id.
	for _, ref := range []string{arn, storeID(arn)} {
		jsonEqual(t, "GetEventDataStore", se.rawOK(t, "GetEventDataStore", `{"EventDataStore":"`+ref+`"}`),
			`{`+base+`,"Status":"ENABLED","FederationStatus":"DISABLED"}`)
	}
	// The store ingests from the event after the log's head at the call
	// (the Create call's own event is the first).
	d, _ := se.cat.GetDataStore(acct1, arn)
	if diff := cmp.Diff([]catalog.SeqRange{{From: 1}}, d.Ingest); diff != "" {
		t.Errorf("ingest (-want +got):\n%s", diff)
	}
	rec := se.store.recorded(t)
	if len(rec) == 0 || rec[0].EventName != "CreateEventDataStore" || !strings.Contains(string(rec[0].ResponseElements), arn) {
		t.Errorf("the call was not recorded with its response: %+v", rec)
	}
}

// rawOK sends a hand-built request as AKIDALICE in us-east-1 and returns
// the 200 response body.
func (se *storeEnv) rawOK(t *testing.T, op, body string) []byte {
	t.Helper()
	r := se.rawStore(t, op, body)
	if r.Status != http.StatusOK {
		t.Fatalf("%s %s: status %d: %s", op, body, r.Status, r.Body)
	}
	return r.Body
}

func TestCreateEventDataStoreSettings(t *testing.T) {
	se := newStoreEnv(t, storeEnvOptions{})
	c := se.c1()
	s3 := category("Data", types.AdvancedFieldSelector{Field: aws.String("resources.type"), Equals: []string{"AWS::S3::Object"}},
		types.AdvancedFieldSelector{Field: aws.String("resources.ARN"), StartsWith: []string{"arn:aws:s3:::bucket/"}})
	s3.Name = aws.String("S3 writes")
	out := mustCreateStore(t, c, mkStore("fixed.store_1", withSelectors(s3, category("Management")), noProtection, func(in *cloudtrail.CreateEventDataStoreInput) {
		in.BillingMode = types.BillingModeFixedRetentionPricing
		in.RetentionPeriod = aws.Int32(2557)
		in.MultiRegionEnabled = aws.Bool(false)
		in.OrganizationEnabled = aws.Bool(false)
		in.StartIngestion = aws.Bool(false)
		in.TagsList = []types.Tag{{Key: aws.String("team"), Value: aws.String("sec")}, {Key: aws.String("flag")}}
	}))
	want := &cloudtrail.CreateEventDataStoreOutput{
		EventDataStoreArn: out.EventDataStoreArn, Name: aws.String("fixed.store_1"), Status: types.EventDataStoreStatusCreated,
		AdvancedEventSelectors: []types.AdvancedEventSelector{s3, category("Management")},
		MultiRegionEnabled:     aws.Bool(false), OrganizationEnabled: aws.Bool(false), RetentionPeriod: aws.Int32(2557),
		TerminationProtectionEnabled: aws.Bool(false), BillingMode: types.BillingModeFixedRetentionPricing,
		TagsList:         []types.Tag{{Key: aws.String("team"), Value: aws.String("sec")}, {Key: aws.String("flag")}},
		CreatedTimestamp: aws.Time(testNow), UpdatedTimestamp: aws.Time(testNow),
	}
	if diff := cmp.Diff(want, out, sdkCmp); diff != "" {
		t.Errorf("CreateEventDataStore (-want +got):\n%s", diff)
	}
	got, err := c.GetEventDataStore(t.Context(), &cloudtrail.GetEventDataStoreInput{EventDataStore: out.EventDataStoreArn})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != types.EventDataStoreStatusStoppedIngestion || got.FederationStatus != types.FederationStatusDisabled ||
		aws.ToInt32(got.RetentionPeriod) != 2557 || len(got.AdvancedEventSelectors) != 2 {
		t.Errorf("GetEventDataStore: %+v", got)
	}
	if d, _ := se.cat.GetDataStore(acct1, aws.ToString(out.EventDataStoreArn)); len(d.Ingest) != 0 {
		t.Errorf("a store created without ingestion ingests %v", d.Ingest)
	}
	// Fixed billing defaults to 2557 days; the edges of both modes.
	for _, tt := range []struct {
		name    string
		billing types.BillingMode
		days    *int32
		want    int32
	}{
		{"fixed default", types.BillingModeFixedRetentionPricing, nil, 2557},
		{"fixed minimum", types.BillingModeFixedRetentionPricing, aws.Int32(7), 7},
		{"extendable maximum", types.BillingModeExtendableRetentionPricing, aws.Int32(3653), 3653},
	} {
		out := mustCreateStore(t, c, mkStore("r-"+strings.ReplaceAll(tt.name, " ", "-"), func(in *cloudtrail.CreateEventDataStoreInput) {
			in.BillingMode, in.RetentionPeriod = tt.billing, tt.days
		}))
		if aws.ToInt32(out.RetentionPeriod) != tt.want || out.BillingMode != tt.billing {
			t.Errorf("%s: %d days, %s", tt.name, aws.ToInt32(out.RetentionPeriod), out.BillingMode)
		}
	}
	// A store of another kind: Config configuration items.
	cfg := mustCreateStore(t, c, mkStore("config", withSelectors(category("ConfigurationItem"))))
	if len(cfg.AdvancedEventSelectors) != 1 || aws.ToString(cfg.AdvancedEventSelectors[0].Name) != "" {
		t.Errorf("config store selectors %+v", cfg.AdvancedEventSelectors)
	}
}

func TestCreateEventDataStoreErrors(t *testing.T) {
	se := newStoreEnv(t, storeEnvOptions{maxStores: 2})
	c := se.c1()
	mustCreateStore(t, c, mkStore("taken"))
	tags := func(n int) func(*cloudtrail.CreateEventDataStoreInput) {
		return func(in *cloudtrail.CreateEventDataStoreInput) {
			for i := range n {
				in.TagsList = append(in.TagsList, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i))})
			}
		}
	}
	billing := func(b types.BillingMode, days int32) func(*cloudtrail.CreateEventDataStoreInput) {
		return func(in *cloudtrail.CreateEventDataStoreInput) {
			in.BillingMode, in.RetentionPeriod = b, aws.Int32(days)
		}
	}
	kms := func(k string) func(*cloudtrail.CreateEventDataStoreInput) {
		return func(in *cloudtrail.CreateEventDataStoreInput) { in.KmsKeyId = aws.String(k) }
	}
	six := make([]types.AdvancedEventSelector, 6)
	for i := range six {
		six[i] = category("Management")
	}
	for _, tt := range []struct {
		name      string
		in        *cloudtrail.CreateEventDataStoreInput
		code, msg string
	}{
		{"short name", mkStore("ab"), codeInvalidParameter, `"ab" is 2 characters long; it must be 3 to 128`},
		{"long name", mkStore(strings.Repeat("n", 129)), codeInvalidParameter, "it must be 3 to 128"},
		{"name characters", mkStore("my store"), codeInvalidParameter, "may contain only letters, digits, periods (.), hyphens (-) and underscores (_)"},
		{"billing mode", mkStore("s", func(in *cloudtrail.CreateEventDataStoreInput) { in.Name = aws.String("sss"); in.BillingMode = "CHEAP" }),
			codeInvalidParameter, `BillingMode "CHEAP" is not valid`},
		{"retention below 7", mkStore("sss", billing(types.BillingModeExtendableRetentionPricing, 6)), codeInvalidParameter, "RetentionPeriod 6 is not valid: with EXTENDABLE_RETENTION_PRICING it must be 7 to 3653 days"},
		{"retention above 3653", mkStore("sss", billing(types.BillingModeExtendableRetentionPricing, 3654)), codeInvalidParameter, "must be 7 to 3653 days"},
		{"fixed retention above 2557", mkStore("sss", billing(types.BillingModeFixedRetentionPricing, 2558)), codeInvalidParameter, "with FIXED_RETENTION_PRICING it must be 7 to 2557 days"},
		{"six selectors", mkStore("sss", withSelectors(six...)), codeInvalidSelectors, "between 1 and 5 advanced event selectors; the request has 6"},
		{"no selectors", mkStore("sss", func(in *cloudtrail.CreateEventDataStoreInput) {
			in.AdvancedEventSelectors = []types.AdvancedEventSelector{}
		}), codeInvalidSelectors, "the request has 0"},
		{"insight with a filter", mkStore("sss", withSelectors(category("Insight", types.AdvancedFieldSelector{Field: aws.String("eventName"), Equals: []string{"x"}}))),
			codeInvalidSelectors, "The field eventName is not supported for Insight events on event data stores"},
		{"two kinds", mkStore("sss", withSelectors(category("Management"), category("Evidence"))), codeInvalidSelectors, "eventCategory Evidence cannot be combined with Management"},
		{"unknown category", mkStore("sss", withSelectors(category("Everything"))), codeInvalidSelectors, "Valid values for event data stores are Management, Data, NetworkActivity, Insight, ConfigurationItem, Evidence, ActivityAuditLog"},
		{"organization", mkStore("sss", func(in *cloudtrail.CreateEventDataStoreInput) { in.OrganizationEnabled = aws.Bool(true) }), "OrganizationsNotInUseException", "not a member of an organization"},
		{"malformed kms key", mkStore("sss", kms("not a key")), codeInvalidKmsKey, `KmsKeyId "not a key" is not a key id`},
		{"kms key", mkStore("sss", kms("arn:aws:kms:us-east-1:111111111111:key/12345678-1234-1234-1234-123456789012")), "KmsKeyNotFoundException", "OpenTrail has no KMS"},
		{"kms alias", mkStore("sss", kms("alias/MyAliasName")), "KmsKeyNotFoundException", "alias/MyAliasName was not found"},
		{"51 tags", mkStore("sss", tags(51)), codeInvalidTag, "at most 50 tags; the request has 51"},
		{"reserved tag", mkStore("sss", func(in *cloudtrail.CreateEventDataStoreInput) { in.TagsList = []types.Tag{{Key: aws.String("aws:x")}} }), codeInvalidTag, "reserved prefix aws:"},
		{"no ingestion for an integration store", mkStore("sss", withSelectors(category("ActivityAuditLog")), func(in *cloudtrail.CreateEventDataStoreInput) { in.StartIngestion = aws.Bool(false) }),
			codeInvalidParameter, "StartIngestion false applies only to event data stores of CloudTrail events or Config configuration items"},
		{"name taken", mkStore("taken"), "EventDataStoreAlreadyExistsException", "An event data store named taken already exists in account 111111111111 in us-east-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateEventDataStore(t.Context(), tt.in)
			checkAPIError(t, err, tt.code, tt.msg)
		})
	}
	if n := len(se.cat.AllDataStores()); n != 1 {
		t.Fatalf("%d stores after refused creates", n)
	}
	// The quota (2 here) per account and region.
	mustCreateStore(t, c, mkStore("second"))
	_, err := c.CreateEventDataStore(t.Context(), mkStore("third"))
	checkAPIError(t, err, "EventDataStoreMaxLimitExceededException", "Account 111111111111 already has 2 event data stores in us-east-1, the most allowed (stores pending deletion do not count)")
	mustCreateStore(t, se.c1eu(), mkStore("third"))
	mustCreateStore(t, se.c2(), mkStore("taken"))
	// A null element is refused in the operation's own words.
	checkRawError(t, se.rawStore(t, "CreateEventDataStore", `{"Name":"nulls","AdvancedEventSelectors":[null]}`), codeInvalidSelectors, "AdvancedEventSelectors[0] is null")
	checkRawError(t, se.rawStore(t, "CreateEventDataStore", `{"Name":"nulls","TagsList":[null]}`), codeInvalidTag, "TagsList[0] is null")
	checkRawError(t, se.rawStore(t, "CreateEventDataStore", `{}`), codeInvalidParameter, "Name is required")
}

func TestEventDataStoreRefs(t *testing.T) {
	se := newStoreEnv(t, storeEnvOptions{})
	arn := aws.ToString(mustCreateStore(t, se.c1(), mkStore("mine")).EventDataStoreArn)
	theirs := aws.ToString(mustCreateStore(t, se.c2(), mkStore("theirs")).EventDataStoreArn)
	eu := aws.ToString(mustCreateStore(t, se.c1eu(), mkStore("eu-store")).EventDataStoreArn)
	id := storeID(arn)
	for _, tt := range []struct {
		name, ref, code, msg string
	}{
		{"another account's ARN", theirs, codeEDSNotFound, "Event data store " + theirs + " does not exist in account 111111111111 in us-east-1"},
		{"another account's id", storeID(theirs), codeEDSNotFound, "does not exist"},
		{"another region's store", eu, codeEDSNotFound, "found only in its home region"},
		{"another region's store by id", storeID(eu), codeEDSNotFound, "does not exist"},
		{"ARN naming another region", strings.Replace(arn, "us-east-1", "eu-west-1", 1), codeEDSNotFound, "does not exist"},
		{"ARN of another partition", strings.Replace(arn, "arn:aws:", "arn:aws-cn:", 1), codeEDSNotFound, "does not exist"},
		{"unknown id", "0f0f0f0f-0000-4000-8000-000000000000", codeEDSNotFound, "does not exist"},
		{"trail ARN", "arn:aws:cloudtrail:us-east-1:111111111111:trail/mine", codeEDSARNInvalid, "Invalid event data store ARN"},
		{"short ARN", "arn:aws:cloudtrail:us-east-1:111111111111:eventdatastore", codeEDSARNInvalid, "Invalid event data store ARN"},
		{"bad account in ARN", "arn:aws:cloudtrail:us-east-1:1111:eventdatastore/" + id, codeEDSARNInvalid, "Invalid event data store ARN"},
		{"too short", "ab", codeEDSARNInvalid, "3 to 256 characters"},
		{"too long", strings.Repeat("a", 257), codeEDSARNInvalid, "3 to 256 characters"},
		{"bad characters", "my store", codeEDSARNInvalid, "only letters, digits and . _ / - :"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ref := aws.String(tt.ref)
			_, err := se.c1().GetEventDataStore(t.Context(), &cloudtrail.GetEventDataStoreInput{EventDataStore: ref})
			checkAPIError(t, err, tt.code, tt.msg)
			_, err = se.c1().UpdateEventDataStore(t.Context(), &cloudtrail.UpdateEventDataStoreInput{EventDataStore: ref, RetentionPeriod: aws.Int32(30)})
			checkAPIError(t, err, tt.code, tt.msg)
			_, err = se.c1().DeleteEventDataStore(t.Context(), &cloudtrail.DeleteEventDataStoreInput{EventDataStore: ref})
			checkAPIError(t, err, tt.code, tt.msg)
			_, err = se.c1().RestoreEventDataStore(t.Context(), &cloudtrail.RestoreEventDataStoreInput{EventDataStore: ref})
			checkAPIError(t, err, tt.code, tt.msg)
			_, err = se.c1().StopEventDataStoreIngestion(t.Context(), &cloudtrail.StopEventDataStoreIngestionInput{EventDataStore: ref})
			checkAPIError(t, err, tt.code, tt.msg)
			_, err = se.c1().StartEventDataStoreIngestion(t.Context(), &cloudtrail.StartEventDataStoreIngestionInput{EventDataStore: ref})
			checkAPIError(t, err, tt.code, tt.msg)
		})
	}
	// The SDK refuses a missing member itself; a hand-built request gets
	// the service's answer.
	for _, op := range []string{"GetEventDataStore", "UpdateEventDataStore", "DeleteEventDataStore", "RestoreEventDataStore",
		"StartEventDataStoreIngestion", "StopEventDataStoreIngestion"} {
		checkRawError(t, se.rawStore(t, op, `{"EventDataStore":""}`), codeInvalidParameter, "EventDataStore is required")
	}
	// Nothing above changed the other account's store.
	if d, ok := se.cat.GetDataStore(acct2, theirs); !ok || d.Status != catalog.StatusEnabled || d.RetentionPeriod != 366 {
		t.Errorf("acct2's store changed: %+v", d)
	}
}

func TestListEventDataStores(t *testing.T) {
	se := newStoreEnv(t, storeEnvOptions{})
	c := se.c1()
	want := map[string]string{}
	for i := range 5 {
		out := mustCreateStore(t, c, mkStore(fmt.Sprintf("store-%d", i), noProtection))
		want[aws.ToString(out.EventDataStoreArn)] = aws.ToString(out.Name)
	}
	mustCreateStore(t, se.c1eu(), mkStore("eu-multi")) // multi-region, listed in eu-west-1 only
	mustCreateStore(t, se.c2(), mkStore("theirs"))
	got := map[string]string{}
	var token *string
	pages := 0
	for {
		out, err := c.ListEventDataStores(t.Context(), &cloudtrail.ListEventDataStoresInput{MaxResults: aws.Int32(2), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(out.EventDataStores) > 2 {
			t.Fatalf("page of %d", len(out.EventDataStores))
		}
		for _, d := range out.EventDataStores {
			got[aws.ToString(d.EventDataStoreArn)] = aws.ToString(d.Name)
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if diff := cmp.Diff(want, got); diff != "" || pages != 3 {
		t.Errorf("%d pages; listed (-want +got):\n%s", pages, diff)
	}
	// Entries carry only EventDataStoreArn and Name.
	var first string
	for arn := range want {
		if first == "" || arn < first {
			first = arn
		}
	}
	body := se.rawOK(t, "ListEventDataStores", `{"MaxResults":1}`)
	var page struct{ NextToken string }
	json.Unmarshal(body, &page)
	jsonEqual(t, "ListEventDataStores", body, `{"EventDataStores":[{"EventDataStoreArn":"`+first+`","Name":"`+want[first]+`"}],"NextToken":"`+page.NextToken+`"}`)

	for _, tt := range []struct {
		name      string
		in        *cloudtrail.ListEventDataStoresInput
		client    *cloudtrail.Client
		code, msg string
	}{
		{"max results 0", &cloudtrail.ListEventDataStoresInput{MaxResults: aws.Int32(0)}, c, codeInvalidMaxResults, "between 1 and 1000; the request has 0"},
		{"max results 1001", &cloudtrail.ListEventDataStoresInput{MaxResults: aws.Int32(1001)}, c, codeInvalidMaxResults, "the request has 1001"},
		{"altered token", &cloudtrail.ListEventDataStoresInput{NextToken: aws.String(page.NextToken + "x")}, c, codeInvalidNextToken, "NextToken is invalid"},
		{"token of another region", &cloudtrail.ListEventDataStoresInput{NextToken: aws.String(page.NextToken)}, se.c1eu(), codeInvalidNextToken, "NextToken is invalid"},
		{"token of another account", &cloudtrail.ListEventDataStoresInput{NextToken: aws.String(page.NextToken)}, se.c2(), codeInvalidNextToken, "NextToken is invalid"},
		{"short token", &cloudtrail.ListEventDataStoresInput{NextToken: aws.String("abc")}, c, codeInvalidNextToken, "NextToken is invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.ListEventDataStores(t.Context(), tt.in)
			checkAPIError(t, err, tt.code, tt.msg)
		})
	}

	// A store pending deletion is listed until its restore window ends.
	if _, err := c.DeleteEventDataStore(t.Context(), &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(first)}); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		out, err := c.ListEventDataStores(t.Context(), &cloudtrail.ListEventDataStoresInput{})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.EventDataStores)
	}
	if n := count(); n != 5 {
		t.Errorf("%d listed after a delete, want 5", n)
	}
	se.clock.Advance(catalog.DataStoreRestoreWindow)
	if n := count(); n != 4 {
		t.Errorf("%d listed after the restore window, want 4", n)
	}
	jsonEqual(t, "ListEventDataStores in a region without stores", se.raw(t, http.MethodPost, "CloudTrail_20131101.ListEventDataStores", `{}`,
		"AKIDALICE", "ap-south-1", "cloudtrail", nil).Body, `{"EventDataStores":[]}`)
}

func TestUpdateEventDataStore(t *testing.T) {
	keyARN := "arn:aws:kms:us-east-1:111111111111:key/12345678-1234-1234-1234-123456789012"
	seeded := catalog.DataStore{ID: "0f0f0f0f-0000-4000-8000-00000000a11e", Name: "keyed", Account: acct1, HomeRegion: "us-east-1",
		KmsKeyID: keyARN, Status: catalog.StatusStoppedIngestion, BillingMode: catalog.BillingExtendable, RetentionPeriod: 366,
		AdvancedEventSelectors: selector.DefaultDataStore(), FederationStatus: catalog.FederationDisabled,
		CreatedTimestamp: testNow.Add(-time.Hour), UpdatedTimestamp: testNow.Add(-time.Hour)}
	se := newStoreEnv(t, storeEnvOptions{seed: []catalog.DataStore{seeded}})
	c := se.c1()
	arn := mustCreateStore(t, c, mkStore("mgmt")).EventDataStoreArn
	fixed := mustCreateStore(t, c, mkStore("fixed", func(in *cloudtrail.CreateEventDataStoreInput) {
		in.BillingMode = types.BillingModeFixedRetentionPricing
	})).EventDataStoreArn
	audit := mustCreateStore(t, c, mkStore("integration", withSelectors(category("ActivityAuditLog")))).EventDataStoreArn
	update := func(ref *string, mod func(*cloudtrail.UpdateEventDataStoreInput)) (*cloudtrail.UpdateEventDataStoreOutput, error) {
		in := &cloudtrail.UpdateEventDataStoreInput{EventDataStore: ref}
		mod(in)
		return c.UpdateEventDataStore(t.Context(), in)
	}

	se.clock.Advance(time.Minute)
	data := category("Data", types.AdvancedFieldSelector{Field: aws.String("resources.type"), Equals: []string{"AWS::DynamoDB::Table"}})
	out, err := update(arn, func(in *cloudtrail.UpdateEventDataStoreInput) {
		in.Name = aws.String("renamed")
		in.RetentionPeriod = aws.Int32(90)
		in.TerminationProtectionEnabled = aws.Bool(false)
		in.MultiRegionEnabled = aws.Bool(false)
		in.OrganizationEnabled = aws.Bool(false)
		in.AdvancedEventSelectors = []types.AdvancedEventSelector{data}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &cloudtrail.UpdateEventDataStoreOutput{
		EventDataStoreArn: arn, Name: aws.String("renamed"), Status: types.EventDataStoreStatusEnabled,
		AdvancedEventSelectors: []types.AdvancedEventSelector{data}, MultiRegionEnabled: aws.Bool(false), OrganizationEnabled: aws.Bool(false),
		RetentionPeriod: aws.Int32(90), TerminationProtectionEnabled: aws.Bool(false), BillingMode: types.BillingModeExtendableRetentionPricing,
		CreatedTimestamp: aws.Time(testNow), UpdatedTimestamp: aws.Time(testNow.Add(time.Minute)), FederationStatus: types.FederationStatusDisabled,
	}
	if diff := cmp.Diff(want, out, sdkCmp); diff != "" {
		t.Errorf("UpdateEventDataStore (-want +got):\n%s", diff)
	}
	// Fixed to extendable billing is allowed, and keeps the retention.
	if out, err := update(fixed, func(in *cloudtrail.UpdateEventDataStoreInput) {
		in.BillingMode = types.BillingModeExtendableRetentionPricing
	}); err != nil ||
		aws.ToInt32(out.RetentionPeriod) != 2557 || out.BillingMode != types.BillingModeExtendableRetentionPricing {
		t.Errorf("fixed to extendable: %v %+v", err, out)
	}
	// The seeded store's key may be given again as it is.
	if _, err := update(aws.String(seeded.ID), func(in *cloudtrail.UpdateEventDataStoreInput) { in.KmsKeyId = aws.String(keyARN) }); err != nil {
		t.Errorf("the same KMS key again: %v", err)
	}

	mustCreateStore(t, c, mkStore("taken"))
	for _, tt := range []struct {
		name      string
		ref       *string
		mod       func(*cloudtrail.UpdateEventDataStoreInput)
		code, msg string
	}{
		{"nothing to change", arn, func(*cloudtrail.UpdateEventDataStoreInput) {}, codeInvalidParameter, "Specify at least one setting to change"},
		{"name taken", arn, func(in *cloudtrail.UpdateEventDataStoreInput) { in.Name = aws.String("taken") }, "EventDataStoreAlreadyExistsException", "named taken already exists"},
		{"bad name", arn, func(in *cloudtrail.UpdateEventDataStoreInput) { in.Name = aws.String("a b c") }, codeInvalidParameter, "may contain only letters"},
		{"extendable to fixed", arn, func(in *cloudtrail.UpdateEventDataStoreInput) {
			in.BillingMode = types.BillingModeFixedRetentionPricing
		},
			codeInvalidParameter, "cannot change from EXTENDABLE_RETENTION_PRICING to FIXED_RETENTION_PRICING"},
		{"bad billing mode", arn, func(in *cloudtrail.UpdateEventDataStoreInput) { in.BillingMode = "x" }, codeInvalidParameter, `BillingMode "x" is not valid`},
		{"retention above 3653", arn, func(in *cloudtrail.UpdateEventDataStoreInput) { in.RetentionPeriod = aws.Int32(3654) }, codeInvalidParameter, "7 to 3653 days"},
		{"retention below 7", arn, func(in *cloudtrail.UpdateEventDataStoreInput) { in.RetentionPeriod = aws.Int32(1) }, codeInvalidParameter, "7 to 3653 days"},
		{"invalid selectors", arn, func(in *cloudtrail.UpdateEventDataStoreInput) {
			in.AdvancedEventSelectors = []types.AdvancedEventSelector{}
		},
			codeInvalidSelectors, "between 1 and 5"},
		{"AWS events to outside events", arn, func(in *cloudtrail.UpdateEventDataStoreInput) {
			in.AdvancedEventSelectors = []types.AdvancedEventSelector{category("ActivityAuditLog")}
		}, codeInvalidSelectors, "An event data store for CloudTrail events (Management, Data, NetworkActivity) cannot be changed into one for events from outside AWS (ActivityAuditLog)"},
		{"outside events to AWS events", audit, func(in *cloudtrail.UpdateEventDataStoreInput) {
			in.AdvancedEventSelectors = []types.AdvancedEventSelector{category("Management")}
		}, codeInvalidSelectors, "An event data store for events from outside AWS (ActivityAuditLog) cannot be changed into one for CloudTrail events"},
		{"CloudTrail events to config items", arn, func(in *cloudtrail.UpdateEventDataStoreInput) {
			in.AdvancedEventSelectors = []types.AdvancedEventSelector{category("ConfigurationItem")}
		}, codeInvalidSelectors, "cannot be changed into one for ConfigurationItem"},
		{"organization", arn, func(in *cloudtrail.UpdateEventDataStoreInput) { in.OrganizationEnabled = aws.Bool(true) }, "OrganizationsNotInUseException", "organization"},
		{"malformed kms key", arn, func(in *cloudtrail.UpdateEventDataStoreInput) { in.KmsKeyId = aws.String("key") }, codeInvalidKmsKey, `KmsKeyId "key"`},
		{"kms key", arn, func(in *cloudtrail.UpdateEventDataStoreInput) {
			in.KmsKeyId = aws.String("12345678-1234-1234-1234-123456789012")
		}, "KmsKeyNotFoundException", "OpenTrail has no KMS"},
		{"changing a set kms key", aws.String(seeded.ID), func(in *cloudtrail.UpdateEventDataStoreInput) { in.KmsKeyId = aws.String("alias/other") },
			codeInvalidParameter, "cannot be changed or removed once set; this store uses " + keyARN},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := update(tt.ref, tt.mod)
			checkAPIError(t, err, tt.code, tt.msg)
		})
	}
	if d, _ := se.cat.GetDataStore(acct1, aws.ToString(arn)); d.Name != "renamed" || d.BillingMode != catalog.BillingExtendable || d.RetentionPeriod != 90 {
		t.Errorf("refused updates changed the store: %+v", d)
	}
	checkRawError(t, se.rawStore(t, "UpdateEventDataStore", `{"EventDataStore":"`+aws.ToString(arn)+`","AdvancedEventSelectors":[null]}`),
		codeInvalidSelectors, "AdvancedEventSelectors[0] is null")
}

func TestDeleteRestoreEventDataStore(t *testing.T) {
	federated := catalog.DataStore{ID: "0f0f0f0f-0000-4000-8000-0000000fed00", Name: "federated", Account: acct1, HomeRegion: "us-east-1",
		Status: catalog.StatusStoppedIngestion, BillingMode: catalog.BillingExtendable, RetentionPeriod: 366,
		AdvancedEventSelectors: selector.DefaultDataStore(), FederationStatus: "ENABLED", FederationRoleArn: "arn:aws:iam::111111111111:role/fed",
		CreatedTimestamp: testNow, UpdatedTimestamp: testNow}
	se := newStoreEnv(t, storeEnvOptions{maxStores: 3, seed: []catalog.DataStore{federated}})
	c := se.c1()
	arn := mustCreateStore(t, c, mkStore("protected")).EventDataStoreArn
	ref := &cloudtrail.DeleteEventDataStoreInput{EventDataStore: arn}

	_, err := c.DeleteEventDataStore(t.Context(), ref)
	checkAPIError(t, err, "EventDataStoreTerminationProtectedException", "termination protection is enabled")
	_, err = c.DeleteEventDataStore(t.Context(), &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(federated.ID)})
	checkAPIError(t, err, "EventDataStoreFederationEnabledException", "federation is ENABLED")
	g, err := c.GetEventDataStore(t.Context(), &cloudtrail.GetEventDataStoreInput{EventDataStore: aws.String(federated.ID)})
	if err != nil || g.FederationStatus != types.FederationStatusEnabled || aws.ToString(g.FederationRoleArn) != federated.FederationRoleArn {
		t.Errorf("federated store: %v %+v", err, g)
	}
	if _, err := c.UpdateEventDataStore(t.Context(), &cloudtrail.UpdateEventDataStoreInput{EventDataStore: arn, TerminationProtectionEnabled: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.RestoreEventDataStore(t.Context(), &cloudtrail.RestoreEventDataStoreInput{EventDataStore: arn})
	checkAPIError(t, err, codeEDSStatus, "is ENABLED: only a store pending deletion can be restored")

	se.clock.Advance(time.Hour)
	jsonEqual(t, "DeleteEventDataStore", se.rawOK(t, "DeleteEventDataStore", `{"EventDataStore":"`+aws.ToString(arn)+`"}`), `{}`)
	d, _ := se.cat.GetDataStore(acct1, aws.ToString(arn))
	if d.Status != catalog.StatusPendingDeletion || !d.DeletedAt.Equal(testNow.Add(time.Hour)) || d.Ingest[0].To == 0 {
		t.Fatalf("deleted store: %+v", d)
	}
	g, err = c.GetEventDataStore(t.Context(), &cloudtrail.GetEventDataStoreInput{EventDataStore: arn})
	if err != nil || g.Status != types.EventDataStoreStatusPendingDeletion {
		t.Fatalf("Get of a deleted store: %v %+v", err, g)
	}
	// A store pending deletion cannot be deleted, changed, started or
	// stopped.
	_, err = c.DeleteEventDataStore(t.Context(), ref)
	checkAPIError(t, err, codeEDSInactive, "already pending deletion")
	_, err = c.UpdateEventDataStore(t.Context(), &cloudtrail.UpdateEventDataStoreInput{EventDataStore: arn, RetentionPeriod: aws.Int32(30)})
	checkAPIError(t, err, codeEDSInactive, "restore it (RestoreEventDataStore) before changing it")
	_, err = c.StartEventDataStoreIngestion(t.Context(), &cloudtrail.StartEventDataStoreIngestionInput{EventDataStore: arn})
	checkAPIError(t, err, codeEDSStatus, "is PENDING_DELETION; it must be STOPPED_INGESTION")
	_, err = c.StopEventDataStoreIngestion(t.Context(), &cloudtrail.StopEventDataStoreIngestionInput{EventDataStore: arn})
	checkAPIError(t, err, codeEDSStatus, "is PENDING_DELETION; it must be ENABLED")

	// Its place in the quota is free meanwhile; restoring needs it back.
	other := mustCreateStore(t, c, mkStore("other", noProtection)).EventDataStoreArn
	other2 := mustCreateStore(t, c, mkStore("other2", noProtection)).EventDataStoreArn
	_, err = c.RestoreEventDataStore(t.Context(), &cloudtrail.RestoreEventDataStoreInput{EventDataStore: arn})
	checkAPIError(t, err, "EventDataStoreMaxLimitExceededException", "already has 3 event data stores in us-east-1")
	if _, err := c.DeleteEventDataStore(t.Context(), &cloudtrail.DeleteEventDataStoreInput{EventDataStore: other}); err != nil {
		t.Fatal(err)
	}

	se.clock.Advance(catalog.DataStoreRestoreWindow - 2*time.Hour)
	r, err := c.RestoreEventDataStore(t.Context(), &cloudtrail.RestoreEventDataStoreInput{EventDataStore: arn})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != types.EventDataStoreStatusEnabled || aws.ToString(r.Name) != "protected" || !r.UpdatedTimestamp.Equal(se.clock.Now()) {
		t.Errorf("restored: %+v", r)
	}
	d, _ = se.cat.GetDataStore(acct1, aws.ToString(arn))
	if len(d.Ingest) != 2 || d.Ingest[1].To != 0 || !d.DeletedAt.IsZero() || d.RestoreStatus != "" {
		t.Errorf("restored store ingest %v, deletedAt %v, restoreStatus %q", d.Ingest, d.DeletedAt, d.RestoreStatus)
	}
	// A store deleted while stopped comes back stopped; past the 7 days it
	// is gone.
	if _, err := c.DeleteEventDataStore(t.Context(), &cloudtrail.DeleteEventDataStoreInput{EventDataStore: other2}); err != nil {
		t.Fatal(err)
	}
	stopped := mustCreateStore(t, c, mkStore("stopped", noProtection, func(in *cloudtrail.CreateEventDataStoreInput) { in.StartIngestion = aws.Bool(false) })).EventDataStoreArn
	// (the quota: protected, federated, stopped)
	if _, err := c.DeleteEventDataStore(t.Context(), &cloudtrail.DeleteEventDataStoreInput{EventDataStore: stopped}); err != nil {
		t.Fatal(err)
	}
	if r, err := c.RestoreEventDataStore(t.Context(), &cloudtrail.RestoreEventDataStoreInput{EventDataStore: stopped}); err != nil || r.Status != types.EventDataStoreStatusStoppedIngestion {
		t.Errorf("restore of a stopped store: %v %+v", err, r)
	}
	se.clock.Advance(2 * time.Hour) // "other" is past its window now
	_, err = c.RestoreEventDataStore(t.Context(), &cloudtrail.RestoreEventDataStoreInput{EventDataStore: other})
	checkAPIError(t, err, codeEDSNotFound, "does not exist")
	_, err = c.GetEventDataStore(t.Context(), &cloudtrail.GetEventDataStoreInput{EventDataStore: other})
	checkAPIError(t, err, codeEDSNotFound, "does not exist")
}

func TestEventDataStoreIngestion(t *testing.T) {
	se := newStoreEnv(t, storeEnvOptions{})
	c := se.c1()
	arn := mustCreateStore(t, c, mkStore("live")).EventDataStoreArn
	start := func(ref *string) error {
		_, err := c.StartEventDataStoreIngestion(t.Context(), &cloudtrail.StartEventDataStoreIngestionInput{EventDataStore: ref})
		return err
	}
	stop := func(ref *string) error {
		_, err := c.StopEventDataStoreIngestion(t.Context(), &cloudtrail.StopEventDataStoreIngestionInput{EventDataStore: ref})
		return err
	}
	checkAPIError(t, start(arn), codeEDSStatus, "is ENABLED; it must be STOPPED_INGESTION to change to ENABLED")
	headAtStop := se.store.head()
	if err := stop(arn); err != nil {
		t.Fatal(err)
	}
	checkAPIError(t, stop(arn), codeEDSStatus, "is STOPPED_INGESTION; it must be ENABLED to change to STOPPED_INGESTION")
	if g, _ := c.GetEventDataStore(t.Context(), &cloudtrail.GetEventDataStoreInput{EventDataStore: arn}); g.Status != types.EventDataStoreStatusStoppedIngestion {
		t.Errorf("after stop: %s", g.Status)
	}
	headAtStart := se.store.head()
	jsonEqual(t, "StartEventDataStoreIngestion", se.rawOK(t, "StartEventDataStoreIngestion", `{"EventDataStore":"`+storeID(aws.ToString(arn))+`"}`), `{}`)
	d, _ := se.cat.GetDataStore(acct1, aws.ToString(arn))
	// The store ingested from the event after Create's head to the head at
	// the stop call, and again from the event after the head at the start
	// call on; the stop call's own event came after it stopped.
	if diff := cmp.Diff([]catalog.SeqRange{{From: 1, To: headAtStop}, {From: headAtStart + 1}}, d.Ingest); diff != "" {
		t.Errorf("ingest (-want +got):\n%s", diff)
	}
	if d.Ingests(headAtStop+1) || !d.Ingests(headAtStop) || !d.Ingests(headAtStart+1) {
		t.Errorf("Ingests around the stop and start calls: %v", d.Ingest)
	}

	// Config stores start and stop; Insights and integration stores do not.
	cfg := mustCreateStore(t, c, mkStore("config", withSelectors(category("ConfigurationItem")))).EventDataStoreArn
	if err := stop(cfg); err != nil {
		t.Errorf("stop of a config store: %v", err)
	}
	for _, cat := range []string{"Insight", "Evidence", "ActivityAuditLog"} {
		ref := mustCreateStore(t, c, mkStore("kind-"+cat, withSelectors(category(cat)))).EventDataStoreArn
		checkAPIError(t, stop(ref), codeEDSCategory, "holds "+cat+" events: only stores of Management, Data, NetworkActivity or ConfigurationItem events")
		checkAPIError(t, start(ref), codeEDSCategory, "holds "+cat+" events")
	}
}

func TestEventDataStoreTags(t *testing.T) {
	se := newStoreEnv(t, storeEnvOptions{})
	c := se.c1()
	arn := aws.ToString(mustCreateStore(t, c, mkStore("tagged", noProtection, func(in *cloudtrail.CreateEventDataStoreInput) {
		in.TagsList = []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}
	})).EventDataStoreArn)
	theirs := aws.ToString(mustCreateStore(t, se.c2(), mkStore("theirs", func(in *cloudtrail.CreateEventDataStoreInput) {
		in.TagsList = []types.Tag{{Key: aws.String("secret"), Value: aws.String("x")}}
	})).EventDataStoreArn)
	tag := func(k string, v *string) types.Tag { return types.Tag{Key: aws.String(k), Value: v} }
	list := func() []types.Tag {
		t.Helper()
		out, err := c.ListTags(t.Context(), &cloudtrail.ListTagsInput{ResourceIdList: []string{arn}})
		if err != nil {
			t.Fatal(err)
		}
		return out.ResourceTagList[0].TagsList
	}
	add := func(id string, tags ...types.Tag) error {
		_, err := c.AddTags(t.Context(), &cloudtrail.AddTagsInput{ResourceId: aws.String(id), TagsList: tags})
		return err
	}
	remove := func(id string, tags ...types.Tag) error {
		_, err := c.RemoveTags(t.Context(), &cloudtrail.RemoveTagsInput{ResourceId: aws.String(id), TagsList: tags})
		return err
	}
	if err := add(arn, tag("a", aws.String("2")), tag("b", nil)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]types.Tag{tag("a", aws.String("2")), tag("b", nil)}, list(), sdkCmp); diff != "" {
		t.Errorf("after AddTags (-want +got):\n%s", diff)
	}
	jsonEqual(t, "ListTags", se.rawOK(t, "ListTags", `{"ResourceIdList":["`+arn+`"]}`),
		`{"ResourceTagList":[{"ResourceId":"`+arn+`","TagsList":[{"Key":"a","Value":"2"},{"Key":"b"}]}]}`)
	if err := remove(arn, tag("a", nil)); err != nil {
		t.Fatal(err)
	}
	var more []types.Tag
	for i := range 49 {
		more = append(more, tag(fmt.Sprintf("k%02d", i), nil))
	}
	if err := add(arn, more...); err != nil {
		t.Fatal(err)
	}
	checkAPIError(t, add(arn, tag("z", nil)), codeTagsLimit, "51 tags; at most 50")
	if n := len(list()); n != 50 {
		t.Errorf("%d tags, want 50", n)
	}
	// Tags of a trail and of a store in one ListTags.
	if _, err := c.CreateTrail(t.Context(), &cloudtrail.CreateTrailInput{Name: aws.String("tr1"), S3BucketName: aws.String("b-1"),
		TagsList: []types.Tag{tag("trail", nil)}}); err != nil {
		t.Fatal(err)
	}
	lt, err := c.ListTags(t.Context(), &cloudtrail.ListTagsInput{ResourceIdList: []string{arnOf("us-east-1", acct1, "tr1"), arn}})
	if err != nil || len(lt.ResourceTagList) != 2 || len(lt.ResourceTagList[0].TagsList) != 1 || len(lt.ResourceTagList[1].TagsList) != 50 {
		t.Errorf("ListTags of a trail and a store: %v %+v", err, lt)
	}

	for _, tt := range []struct {
		name, id, code, msg string
	}{
		{"another account's store", theirs, codeEDSNotFound, "Event data store " + theirs + " does not exist in account 111111111111"},
		{"unknown store", catalog.DataStoreARN("us-east-1", acct1, "0f0f0f0f-0000-4000-8000-000000000000"), codeEDSNotFound, "does not exist"},
		{"store of another region", catalog.DataStoreARN("eu-west-1", acct1, storeID(arn)), codeEDSNotFound, "does not exist"},
		{"malformed store ARN", "arn:aws:cloudtrail:us-east-1:111111111111:eventdatastore/", codeEDSARNInvalid, "Invalid event data store ARN"},
		{"bad account in store ARN", "arn:aws:cloudtrail:us-east-1:xyz:eventdatastore/" + storeID(arn), codeEDSARNInvalid, "Invalid event data store ARN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ListTags(t.Context(), &cloudtrail.ListTagsInput{ResourceIdList: []string{arn, tt.id}})
			checkAPIError(t, err, tt.code, tt.msg)
			checkAPIError(t, add(tt.id, tag("x", nil)), tt.code, tt.msg)
			checkAPIError(t, remove(tt.id, tag("secret", nil)), tt.code, tt.msg)
		})
	}
	if d, _ := se.cat.GetDataStore(acct2, theirs); len(d.Tags) != 1 {
		t.Errorf("acct2's tags changed: %+v", d.Tags)
	}

	// A store pending deletion: InactiveEventDataStoreException.
	if _, err := c.DeleteEventDataStore(t.Context(), &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListTags(t.Context(), &cloudtrail.ListTagsInput{ResourceIdList: []string{arn}})
	checkAPIError(t, err, codeEDSInactive, "pending deletion")
	checkAPIError(t, add(arn, tag("x", nil)), codeEDSInactive, "pending deletion")
	checkAPIError(t, remove(arn, tag("b", nil)), codeEDSInactive, "pending deletion")
}

// TestEventDataStoresOff: without Options.DataStores the operations are
// unsupported, and a store ARN in the tag operations is not found.
func TestEventDataStoresOff(t *testing.T) {
	te := newTrailEnv(t, trailEnvOptions{})
	_, err := te.c1().CreateEventDataStore(t.Context(), mkStore("x"))
	checkAPIError(t, err, codeUnsupported, "CreateEventDataStore")
	_, err = te.c1().ListTags(t.Context(), &cloudtrail.ListTagsInput{ResourceIdList: []string{catalog.DataStoreARN("us-east-1", acct1, "abc")}})
	checkAPIError(t, err, codeEDSNotFound, "does not exist")
	if _, err := New(Options{Auth: fakeAuth{}, Events: &memStore{}, TokenKey: testTokenKey, DataStores: te.cat}); err == nil ||
		!strings.Contains(err.Error(), "LogHead is required") {
		t.Errorf("New without LogHead: %v", err)
	}
}
