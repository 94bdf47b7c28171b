package cwapi

import (
	"errors"
	"net/url"
	"testing"

	"github.com/aws/smithy-go/encoding/cbor"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/opentrail/opentrail/internal/awsjson"
	"github.com/opentrail/opentrail/internal/jsonsvc"
)

// FuzzDecodeCBOR feeds arbitrary bytes to the CBOR glue for every input
// shape: it never panics, refuses with a *awsjson.DecodeError, and what
// it accepts re-encodes to a value that decodes to the same input.
func FuzzDecodeCBOR(f *testing.F) {
	ts := &cbor.Tag{ID: 1, Value: cbor.Float64(1.7e9)}
	f.Add(indefiniteMap("Namespace", cbor.String("App"), "MetricData", cbor.List{cbor.Map{"MetricName": cbor.String("m"), "Value": cbor.Float64(1), "Timestamp": ts,
		"Dimensions": cbor.List{cbor.Map{"Name": cbor.String("a"), "Value": cbor.String("b")}}, "StatisticValues": cbor.Map{"Sum": cbor.Uint(1)}}}))
	f.Add(indefiniteMap("MetricDataQueries", cbor.List{cbor.Map{"Id": cbor.String("q"), "MetricStat": cbor.Map{"Period": cbor.Uint(60), "Stat": cbor.String("Sum"),
		"Metric": cbor.Map{"Namespace": cbor.String("A")}}}}, "StartTime", ts, "MaxDatapoints", cbor.NegInt(5)))
	f.Add(indefiniteMap("AlarmName", cbor.String("a"), "Threshold", cbor.Float32(1.5), "Metrics", cbor.List{cbor.Map{}}, "ActionsEnabled", cbor.Bool(false)))
	f.Add(cbor.Encode(cbor.Map{"AlarmNames": cbor.List{cbor.String("x"), &cbor.Nil{}}}))
	f.Add([]byte{0x9f, 0xff})
	f.Add([]byte{0xbf, 0x61, 0x41})
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(t *testing.T, in, again any) {
			err := decodeCBOR(data, in)
			if err != nil {
				var de *awsjson.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("error %v (%T) is not a *awsjson.DecodeError", err, err)
				}
				return
			}
			enc := encodeCBOR(in)
			if err := decodeCBOR(enc, again); err != nil {
				t.Fatalf("re-decoding %x: %v", enc, err)
			}
			if d := cmp.Diff(in, again, cmpopts.EquateNaNs(), cmpopts.EquateEmpty(), cmp.AllowUnexported(awsjson.Time{}),
				cmp.Comparer(func(a, b awsjson.Time) bool { return a.Time.UnixMilli() == b.Time.UnixMilli() })); d != "" {
				t.Fatalf("round trip (-first +second):\n%s", d)
			}
		}
		check(t, new(putMetricDataInput), new(putMetricDataInput))
		check(t, new(getMetricDataInput), new(getMetricDataInput))
		check(t, new(getMetricStatisticsInput), new(getMetricStatisticsInput))
		check(t, new(putMetricAlarmInput), new(putMetricAlarmInput))
		check(t, new(describeAlarmHistoryInput), new(describeAlarmHistoryInput))
	})
}

// FuzzDecodeQuery feeds arbitrary forms to the query decoder for every
// input shape: it never panics and refuses with a *wireError.
func FuzzDecodeQuery(f *testing.F) {
	f.Add("Namespace=App&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1&MetricData.member.1.Dimensions.member.1.Name=a")
	f.Add("MetricDataQueries.member.1.Id=q&MetricDataQueries.member.1.MetricStat.Period=60&StartTime=2026-12-05T10:00:00Z&MaxDatapoints=-1")
	f.Add("AlarmName=a&Threshold=1e309&Metrics.member.1.Id=x&ActionsEnabled=maybe")
	f.Add("AlarmNames.member.2=x&AlarmNames.member.1=y&StartDate=1700000000.5")
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, in := range []any{new(putMetricDataInput), new(getMetricDataInput), new(getMetricStatisticsInput), new(putMetricAlarmInput),
			new(describeAlarmHistoryInput), new(alarmNamesInput)} {
			if err := decodeForm(form, in); err != nil {
				var we *jsonsvc.WireError
				if !errors.As(err, &we) {
					t.Fatalf("error %v (%T) is not a *wireError", err, err)
				}
			}
		}
	})
}
