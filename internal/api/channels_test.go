package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/google/go-cmp/cmp"

	"github.com/opentrail/opentrail/internal/catalog"
)

// System tests of the channel operations, tags on channels and channel
// resource policies, through the aws-sdk-go-v2 client over a real
// catalog.

// auditStore creates a single-Region store of events from outside AWS,
// the kind a channel delivers to, and returns its ARN.
func auditStore(t *testing.T, c *cloudtrail.Client, name string) string {
	t.Helper()
	return aws.ToString(mustCreateStore(t, c, mkStore(name, noProtection, withSelectors(category("ActivityAuditLog")),
		func(in *cloudtrail.CreateEventDataStoreInput) { in.MultiRegionEnabled = aws.Bool(false) })).EventDataStoreArn)
}

func eds(arns ...string) []types.Destination {
	var out []types.Destination
	for _, a := range arns {
		out = append(out, types.Destination{Type: types.DestinationTypeEventDataStore, Location: aws.String(a)})
	}
	return out
}

func mustCreateChannel(t *testing.T, c *cloudtrail.Client, name string, stores ...string) *cloudtrail.CreateChannelOutput {
	t.Helper()
	out, err := c.CreateChannel(t.Context(), &cloudtrail.CreateChannelInput{Name: aws.String(name), Source: aws.String("Custom"), Destinations: eds(stores...)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestChannelLifecycle(t *testing.T) {
	se := newStoreEnv(t, storeEnvOptions{})
	c := se.c1()
	ctx := t.Context()
	a, b := auditStore(t, c, "audit-a"), auditStore(t, c, "audit-b")
	out, err := c.CreateChannel(ctx, &cloudtrail.CreateChannelInput{Name: aws.String("my-app"), Source: aws.String("Custom"), Destinations: eds(a),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("sec")}}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ChannelArn)
	if !uuidARN(arn, "arn:aws:cloudtrail:us-east-1:"+acct1+":channel/") || aws.ToString(out.Name) != "my-app" || aws.ToString(out.Source) != "Custom" ||
		len(out.Tags) != 1 || aws.ToString(out.Tags[0].Key) != "team" {
		t.Fatalf("CreateChannel = %+v", out)
	}
	if diff := cmp.Diff([]string{a}, locations(out.Destinations)); diff != "" {
		t.Errorf("destinations (-want +got):\n%s", diff)
	}
	id := arn[strings.LastIndexByte(arn, '/')+1:]
	for _, ref := range []string{arn, id} {
		got, err := c.GetChannel(ctx, &cloudtrail.GetChannelInput{Channel: aws.String(ref)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(got.ChannelArn) != arn || got.IngestionStatus == nil || got.IngestionStatus.LatestIngestionAttemptTime != nil {
			t.Errorf("GetChannel(%s) = %+v", ref, got)
		}
	}
	// The ingestion status is the catalogue's.
	at := se.clock.Now()
	if err := se.cat.RecordIngestion(arn, catalog.IngestionAttempt{Time: at, EventID: "0a1b2c3d-0000-4000-8000-000000000001", ErrorCode: "InvalidChecksum"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetChannel(ctx, &cloudtrail.GetChannelInput{Channel: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if st := got.IngestionStatus; !aws.ToTime(st.LatestIngestionSuccessTime).Equal(at.Truncate(1e6)) && !aws.ToTime(st.LatestIngestionSuccessTime).Equal(at) ||
		aws.ToString(st.LatestIngestionSuccessEventID) != "0a1b2c3d-0000-4000-8000-000000000001" || aws.ToString(st.LatestIngestionErrorCode) != "InvalidChecksum" {
		t.Errorf("IngestionStatus = %+v", st)
	}

	// Rename and move to b: a stops, b starts.
	up, err := c.UpdateChannel(ctx, &cloudtrail.UpdateChannelInput{Channel: aws.String(arn), Name: aws.String("my-app-2"), Destinations: eds(b)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(up.Name) != "my-app-2" || !cmp.Equal(locations(up.Destinations), []string{b}) {
		t.Errorf("UpdateChannel = %+v", up)
	}
	// Only the name: destinations stay.
	up, err = c.UpdateChannel(ctx, &cloudtrail.UpdateChannelInput{Channel: aws.String(id), Name: aws.String("my-app-3")})
	if err != nil || !cmp.Equal(locations(up.Destinations), []string{b}) {
		t.Errorf("UpdateChannel(Name) = %+v, %v", up, err)
	}

	// Tags.
	if _, err := c.AddTags(ctx, &cloudtrail.AddTagsInput{ResourceId: aws.String(arn), TagsList: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RemoveTags(ctx, &cloudtrail.RemoveTagsInput{ResourceId: aws.String(arn), TagsList: []types.Tag{{Key: aws.String("team")}}}); err != nil {
		t.Fatal(err)
	}
	lt, err := c.ListTags(ctx, &cloudtrail.ListTagsInput{ResourceIdList: []string{arn}})
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.ResourceTagList) != 1 || len(lt.ResourceTagList[0].TagsList) != 1 || aws.ToString(lt.ResourceTagList[0].TagsList[0].Key) != "env" {
		t.Errorf("ListTags = %+v", lt.ResourceTagList)
	}

	// A store a channel delivers to cannot be deleted, nor become
	// multi-Region.
	_, err = c.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(b)})
	checkAPIError(t, err, "ChannelExistsForEDSException", arn)
	_, err = c.UpdateEventDataStore(ctx, &cloudtrail.UpdateEventDataStoreInput{EventDataStore: aws.String(b), MultiRegionEnabled: aws.Bool(true)})
	checkAPIError(t, err, codeInvalidParameter, "cannot become multi-Region while channel "+arn)
	// a no longer has a channel.
	if _, err := c.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(a)}); err != nil {
		t.Errorf("deleting a former destination: %v", err)
	}

	if _, err := c.DeleteChannel(ctx, &cloudtrail.DeleteChannelInput{Channel: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetChannel(ctx, &cloudtrail.GetChannelInput{Channel: aws.String(arn)})
	checkAPIError(t, err, codeChannelNotFound, arn)
	_, err = c.DeleteChannel(ctx, &cloudtrail.DeleteChannelInput{Channel: aws.String(arn)})
	checkAPIError(t, err, codeChannelNotFound, arn)
	if _, err := c.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(b)}); err != nil {
		t.Errorf("deleting the store after its channel: %v", err)
	}
	all := se.cat.AllChannels()
	if len(all) != 1 || !all[0].Deleted() || len(all[0].CurrentDestinations()) != 0 {
		t.Errorf("catalogue after delete: %+v", all)
	}
}

func locations(ds []types.Destination) []string {
	var out []string
	for _, d := range ds {
		if d.Type != types.DestinationTypeEventDataStore {
			return append(out, "type "+string(d.Type))
		}
		out = append(out, aws.ToString(d.Location))
	}
	return out
}

func uuidARN(arn, prefix string) bool {
	id, ok := strings.CutPrefix(arn, prefix)
	return ok && uuidV4.MatchString(id)
}

func TestChannelErrors(t *testing.T) {
	se := newStoreEnv(t, storeEnvOptions{maxChannels: 2})
	c := se.c1()
	ctx := t.Context()
	good := auditStore(t, c, "good")
	mgmt := aws.ToString(mustCreateStore(t, c, mkStore("mgmt", noProtection)).EventDataStoreArn)
	multi := aws.ToString(mustCreateStore(t, c, mkStore("multi", noProtection, withSelectors(category("ActivityAuditLog")))).EventDataStoreArn)
	theirs := auditStore(t, se.c2(), "theirs")
	euStore := auditStore(t, se.c1eu(), "eu-store")
	gone := auditStore(t, c, "gone")
	if _, err := c.DeleteEventDataStore(ctx, &cloudtrail.DeleteEventDataStoreInput{EventDataStore: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}
	in := func(mod func(*cloudtrail.CreateChannelInput)) *cloudtrail.CreateChannelInput {
		in := &cloudtrail.CreateChannelInput{Name: aws.String("app"), Source: aws.String("Custom"), Destinations: eds(good)}
		mod(in)
		return in
	}
	for _, tt := range []struct {
		name      string
		in        *cloudtrail.CreateChannelInput
		code, msg string
	}{
		{"short name", in(func(in *cloudtrail.CreateChannelInput) { in.Name = aws.String("ab") }), codeInvalidParameter, "3 to 128"},
		{"bad name", in(func(in *cloudtrail.CreateChannelInput) { in.Name = aws.String("a b c") }), codeInvalidParameter, "3 to 128 letters"},
		{"partner source", in(func(in *cloudtrail.CreateChannelInput) { in.Source = aws.String("Okta") }), "InvalidSourceException", "OpenTrail supports Custom channels"},
		{"no destinations", in(func(in *cloudtrail.CreateChannelInput) { in.Destinations = []types.Destination{} }), codeInvalidParameter, "Destinations has 0 entries"},
		{"service destination", in(func(in *cloudtrail.CreateChannelInput) {
			in.Destinations = []types.Destination{{Type: types.DestinationTypeAwsService, Location: aws.String("config")}}
		}), codeInvalidParameter, "service-linked"},
		{"bad type", in(func(in *cloudtrail.CreateChannelInput) {
			in.Destinations = []types.Destination{{Type: "S3", Location: aws.String(good)}}
		}), codeInvalidParameter, "use EVENT_DATA_STORE"},
		{"bad location", in(func(in *cloudtrail.CreateChannelInput) { in.Destinations = eds("arn:aws:s3:::bucket") }), codeEDSARNInvalid, "Invalid event data store ARN"},
		{"unknown store", in(func(in *cloudtrail.CreateChannelInput) { in.Destinations = eds(good + "0") }), codeEDSNotFound, "does not exist"},
		{"another account's store", in(func(in *cloudtrail.CreateChannelInput) { in.Destinations = eds(theirs) }), codeEDSNotFound, "does not exist"},
		{"another region's store", in(func(in *cloudtrail.CreateChannelInput) { in.Destinations = eds(euStore) }), codeEDSNotFound, "does not exist"},
		{"store pending deletion", in(func(in *cloudtrail.CreateChannelInput) { in.Destinations = eds(gone) }), codeEDSInactive, "pending deletion"},
		{"management store", in(func(in *cloudtrail.CreateChannelInput) { in.Destinations = eds(mgmt) }), codeEDSCategory, "eventCategory = ActivityAuditLog"},
		{"multi-Region store", in(func(in *cloudtrail.CreateChannelInput) { in.Destinations = eds(multi) }), codeEDSCategory, "single-Region"},
		{"twice the same store", in(func(in *cloudtrail.CreateChannelInput) { in.Destinations = eds(good, good) }), codeInvalidParameter, "more than once"},
		{"bad tag", in(func(in *cloudtrail.CreateChannelInput) { in.Tags = []types.Tag{{Key: aws.String("aws:x")}} }), codeInvalidTag, "reserved prefix"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.CreateChannel(ctx, tt.in)
			checkAPIError(t, err, tt.code, tt.msg)
		})
	}
	ch := mustCreateChannel(t, c, "app", good)
	_, err := c.CreateChannel(ctx, in(func(*cloudtrail.CreateChannelInput) {}))
	checkAPIError(t, err, "ChannelAlreadyExistsException", "A channel named app already exists")
	// Several Custom channels may exist (decision 121).
	mustCreateChannel(t, c, "app2", good)
	_, err = c.CreateChannel(ctx, in(func(in *cloudtrail.CreateChannelInput) { in.Name = aws.String("app3") }))
	checkAPIError(t, err, "ChannelMaxLimitExceededException", "already has 2 channels in us-east-1")
	_, err = c.UpdateChannel(ctx, &cloudtrail.UpdateChannelInput{Channel: ch.ChannelArn, Name: aws.String("app2")})
	checkAPIError(t, err, "ChannelAlreadyExistsException", "app2")
	_, err = c.UpdateChannel(ctx, &cloudtrail.UpdateChannelInput{Channel: ch.ChannelArn, Destinations: eds(mgmt)})
	checkAPIError(t, err, codeEDSCategory, "ActivityAuditLog")

	arn := aws.ToString(ch.ChannelArn)
	for _, tt := range []struct{ name, ref, code, msg string }{
		{"malformed", "not a channel", codeChannelARNInvalid, "not a channel ARN or ID"},
		{"store ARN", good, codeChannelARNInvalid, "not a channel ARN or ID"},
		{"unknown", arn + "0", codeChannelNotFound, "does not exist in account " + acct1},
		{"other region", strings.Replace(arn, "us-east-1", "eu-west-1", 1), codeChannelNotFound, "does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.GetChannel(ctx, &cloudtrail.GetChannelInput{Channel: aws.String(tt.ref)})
			checkAPIError(t, err, tt.code, tt.msg)
			_, err = c.UpdateChannel(ctx, &cloudtrail.UpdateChannelInput{Channel: aws.String(tt.ref), Name: aws.String("zzz")})
			checkAPIError(t, err, tt.code, tt.msg)
			_, err = c.DeleteChannel(ctx, &cloudtrail.DeleteChannelInput{Channel: aws.String(tt.ref)})
			checkAPIError(t, err, tt.code, tt.msg)
		})
	}
	// Another account does not see it; the id alone in the home region
	// only.
	_, err = se.c2().GetChannel(ctx, &cloudtrail.GetChannelInput{Channel: ch.ChannelArn})
	checkAPIError(t, err, codeChannelNotFound, "does not exist")
	_, err = se.c1eu().GetChannel(ctx, &cloudtrail.GetChannelInput{Channel: aws.String(arn[strings.LastIndexByte(arn, '/')+1:])})
	checkAPIError(t, err, codeChannelNotFound, "does not exist")
}

func TestListChannels(t *testing.T) {
	se := newStoreEnv(t, storeEnvOptions{})
	c := se.c1()
	ctx := t.Context()
	st := auditStore(t, c, "store")
	var want []string
	for i := range 3 {
		want = append(want, aws.ToString(mustCreateChannel(t, c, fmt.Sprintf("ch-%d", i), st).ChannelArn))
	}
	mustCreateChannel(t, se.c2(), "theirs", auditStore(t, se.c2(), "theirs"))
	var got []string
	var token *string
	for pages := 0; ; pages++ {
		out, err := c.ListChannels(ctx, &cloudtrail.ListChannelsInput{MaxResults: aws.Int32(2), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range out.Channels {
			got = append(got, aws.ToString(ch.ChannelArn))
		}
		if token = out.NextToken; token == nil {
			break
		}
		if pages > 3 {
			t.Fatal("no end")
		}
	}
	if !cmp.Equal(sortedCopy(got), sortedCopy(want)) {
		t.Errorf("ListChannels = %v, want %v", got, want)
	}
	_, err := c.ListChannels(ctx, &cloudtrail.ListChannelsInput{MaxResults: aws.Int32(1001)})
	checkAPIError(t, err, codeValidation, "between 1 and 1000")
	_, err = c.ListChannels(ctx, &cloudtrail.ListChannelsInput{NextToken: aws.String("bogus-token")})
	checkAPIError(t, err, codeInvalidNextToken, "")
}

func sortedCopy(xs []string) []string {
	out := append([]string(nil), xs...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestChannelResourcePolicy(t *testing.T) {
	se := newStoreEnv(t, storeEnvOptions{})
	c := se.c1()
	ctx := t.Context()
	st := auditStore(t, c, "store")
	arn := aws.ToString(mustCreateChannel(t, c, "app", st).ChannelArn)
	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"ChannelPolicy","Effect":"Allow","Principal":{"AWS":["` + acct2 + `"]},` +
		`"Action":"cloudtrail-data:PutAuditEvents","Resource":"` + arn + `","Condition":{"StringEquals":{"cloudtrail:ExternalId":"ext-123"}}}]}`

	_, err := c.GetResourcePolicy(ctx, &cloudtrail.GetResourcePolicyInput{ResourceArn: aws.String(arn)})
	checkAPIError(t, err, codePolicyNotFound, "has no resource policy")
	_, err = c.DeleteResourcePolicy(ctx, &cloudtrail.DeleteResourcePolicyInput{ResourceArn: aws.String(arn)})
	checkAPIError(t, err, codePolicyNotFound, "has no resource policy")

	put, err := c.PutResourcePolicy(ctx, &cloudtrail.PutResourcePolicyInput{ResourceArn: aws.String(arn), ResourcePolicy: aws.String(policy)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(put.ResourceArn) != arn || aws.ToString(put.ResourcePolicy) != policy {
		t.Errorf("PutResourcePolicy = %+v", put)
	}
	get, err := c.GetResourcePolicy(ctx, &cloudtrail.GetResourcePolicyInput{ResourceArn: aws.String(arn)})
	if err != nil || aws.ToString(get.ResourcePolicy) != policy || aws.ToString(get.ResourceArn) != arn {
		t.Errorf("GetResourcePolicy = %+v, %v", get, err)
	}
	if ch, _ := se.cat.GetChannel(acct1, arn); ch.ResourcePolicy != policy {
		t.Errorf("catalogue holds %q", ch.ResourcePolicy)
	}

	for _, tt := range []struct{ name, resource, policy, code, msg string }{
		{"two actions", arn, strings.Replace(policy, `"cloudtrail-data:PutAuditEvents"`, `["cloudtrail-data:PutAuditEvents","cloudtrail:*"]`, 1), codePolicyNotValid, "Action must be exactly"},
		{"other resource", arn, strings.Replace(policy, `"Resource":"`+arn, `"Resource":"`+st, 1), codePolicyNotValid, "Resource must be the channel's ARN"},
		{"not JSON", arn, "{", codePolicyNotValid, "not a JSON object"},
		{"too long", arn, strings.Repeat(" ", 8193), codePolicyNotValid, "1 to 8192"},
		{"event data store", st, policy, codeResourceUnsupported, "resource-based policies on channels only"},
		{"dashboard", "arn:aws:cloudtrail:us-east-1:" + acct1 + ":dashboard/d", policy, codeResourceUnsupported, "channels only"},
		{"trail", "arn:aws:cloudtrail:us-east-1:" + acct1 + ":trail/t", policy, codeResourceUnsupported, "give the ARN of a channel"},
		{"not an ARN", "channel", policy, codeResourceARNInvalid, "not an ARN"},
		{"unknown channel", arn + "0", policy, codeResourceNotFound, "does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutResourcePolicy(ctx, &cloudtrail.PutResourcePolicyInput{ResourceArn: aws.String(tt.resource), ResourcePolicy: aws.String(tt.policy)})
			checkAPIError(t, err, tt.code, tt.msg)
		})
	}
	// The owner only: another account cannot read or change the policy.
	_, err = se.c2().GetResourcePolicy(ctx, &cloudtrail.GetResourcePolicyInput{ResourceArn: aws.String(arn)})
	checkAPIError(t, err, codeResourceNotFound, "does not exist")

	if _, err := c.DeleteResourcePolicy(ctx, &cloudtrail.DeleteResourcePolicyInput{ResourceArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetResourcePolicy(ctx, &cloudtrail.GetResourcePolicyInput{ResourceArn: aws.String(arn)})
	checkAPIError(t, err, codePolicyNotFound, "")
}
