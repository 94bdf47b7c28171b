package daemon_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"

	"github.com/opentrail/opentrail/internal/config"
	"github.com/opentrail/opentrail/internal/daemon"
	"github.com/opentrail/opentrail/internal/datadir"
	"github.com/opentrail/opentrail/internal/testenv"
)

func cwClient(t testing.TB, d *daemon.Daemon, account, region string) *cloudwatch.Client {
	t.Helper()
	creds, hc := rootSDK(t, d, account)
	return cloudwatch.New(cloudwatch.Options{Region: region, BaseEndpoint: aws.String(d.URL()), RetryMaxAttempts: 1, Credentials: creds, HTTPClient: hc})
}

// Every CloudWatch operation through the Go SDK (rpc-v2-cbor), a restart
// in between: metrics, alarms and their state survive.
func TestCloudWatchSDK(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, nil)
	ctx := t.Context()
	cw := cwClient(t, d, testAccount, "us-east-1")
	now := time.Now().UTC().Truncate(time.Minute)
	dims := []cwtypes.Dimension{{Name: aws.String("Host"), Value: aws.String("web-1")}}
	_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("App"), MetricData: []cwtypes.MetricDatum{
		{MetricName: aws.String("Latency"), Dimensions: dims, Timestamp: aws.Time(now.Add(-2 * time.Minute)), Value: aws.Float64(10), Unit: cwtypes.StandardUnitMilliseconds},
		{MetricName: aws.String("Latency"), Dimensions: dims, Timestamp: aws.Time(now.Add(-2 * time.Minute)), Values: []float64{20, 30}, Counts: []float64{1, 2}, Unit: cwtypes.StandardUnitMilliseconds},
		{MetricName: aws.String("Errors"), Timestamp: aws.Time(now.Add(-2 * time.Minute)), StatisticValues: &cwtypes.StatisticSet{SampleCount: aws.Float64(2), Sum: aws.Float64(3), Minimum: aws.Float64(1), Maximum: aws.Float64(2)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	lm, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("App")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range lm.Metrics {
		names = append(names, aws.ToString(m.MetricName))
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"Errors", "Latency"}) {
		t.Errorf("ListMetrics = %v", names)
	}
	gms, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("App"), MetricName: aws.String("Latency"), Dimensions: dims,
		StartTime: aws.Time(now.Add(-10 * time.Minute)), EndTime: aws.Time(now), Period: aws.Int32(60),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticSum, cwtypes.StatisticSampleCount, cwtypes.StatisticMaximum}})
	if err != nil {
		t.Fatal(err)
	}
	if len(gms.Datapoints) != 1 {
		t.Fatalf("GetMetricStatistics datapoints = %+v", gms.Datapoints)
	}
	dp := gms.Datapoints[0]
	if aws.ToFloat64(dp.Sum) != 90 || aws.ToFloat64(dp.SampleCount) != 4 || aws.ToFloat64(dp.Maximum) != 30 ||
		!aws.ToTime(dp.Timestamp).Equal(now.Add(-2*time.Minute)) || dp.Unit != cwtypes.StandardUnitMilliseconds || aws.ToString(gms.Label) != "Latency" {
		t.Errorf("datapoint = %+v", dp)
	}
	pct, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("App"), MetricName: aws.String("Latency"), Dimensions: dims,
		StartTime: aws.Time(now.Add(-10 * time.Minute)), EndTime: aws.Time(now), Period: aws.Int32(600), ExtendedStatistics: []string{"p50"}})
	if err != nil || len(pct.Datapoints) != 1 || pct.Datapoints[0].ExtendedStatistics["p50"] != 20 {
		t.Errorf("p50 = %+v, %v", pct.Datapoints, err)
	}
	gmd, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(now.Add(-5 * time.Minute)), EndTime: aws.Time(now),
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("errs"), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("App"), MetricName: aws.String("Errors")}, Period: aws.Int32(60), Stat: aws.String("Sum")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := gmd.MetricDataResults; len(r) != 1 || !slices.Equal(r[0].Values, []float64{3}) || len(r[0].Timestamps) != 1 ||
		!r[0].Timestamps[0].Equal(now.Add(-2*time.Minute)) || r[0].StatusCode != cwtypes.StatusCodeComplete {
		t.Errorf("GetMetricData = %+v", r)
	}

	topic := "arn:aws:sns:us-east-1:" + testAccount + ":alerts"
	_, err = cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("errors"), Namespace: aws.String("App"), MetricName: aws.String("Errors"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold, AlarmActions: []string{topic}, AlarmDescription: aws.String("too many errors")})
	if err != nil {
		t.Fatal(err)
	}
	// The evaluation loop may already have moved it to ALARM (the
	// 2-minute-old datapoint breaches); either way it ends in ALARM with
	// one state change.
	if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("errors"), StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("test")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.DisableAlarmActions(ctx, &cloudwatch.DisableAlarmActionsInput{AlarmNames: []string{"errors"}}); err != nil {
		t.Fatal(err)
	}
	checkAlarm := func(cw *cloudwatch.Client) {
		t.Helper()
		da, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("err")})
		if err != nil {
			t.Fatal(err)
		}
		if len(da.MetricAlarms) != 1 {
			t.Fatalf("DescribeAlarms = %+v", da.MetricAlarms)
		}
		a := da.MetricAlarms[0]
		if a.StateValue != cwtypes.StateValueAlarm || aws.ToBool(a.ActionsEnabled) || aws.ToString(a.AlarmArn) != "arn:aws:cloudwatch:us-east-1:"+testAccount+":alarm:errors" ||
			!slices.Equal(a.AlarmActions, []string{topic}) || aws.ToString(a.AlarmDescription) != "too many errors" || a.StateUpdatedTimestamp == nil {
			t.Errorf("alarm = %+v", a)
		}
	}
	checkAlarm(cw)
	if _, err := cw.EnableAlarmActions(ctx, &cloudwatch.EnableAlarmActionsInput{AlarmNames: []string{"nope"}}); err != nil {
		t.Errorf("EnableAlarmActions on a missing alarm: %v", err)
	}
	fm, err := cw.DescribeAlarmsForMetric(ctx, &cloudwatch.DescribeAlarmsForMetricInput{Namespace: aws.String("App"), MetricName: aws.String("Errors")})
	if err != nil || len(fm.MetricAlarms) != 1 {
		t.Errorf("DescribeAlarmsForMetric = %+v, %v", fm, err)
	}
	h, err := cw.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{AlarmName: aws.String("errors"), HistoryItemType: cwtypes.HistoryItemTypeStateUpdate})
	if err != nil || len(h.AlarmHistoryItems) != 1 || aws.ToString(h.AlarmHistoryItems[0].HistorySummary) != "Alarm updated from INSUFFICIENT_DATA to ALARM" {
		t.Errorf("DescribeAlarmHistory = %+v, %v", h, err)
	}

	// Restart: metrics, alarm and state are kept.
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, dir, nil)
	cw = cwClient(t, d, testAccount, "us-east-1")
	checkAlarm(cw)
	gms, err = cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("App"), MetricName: aws.String("Latency"), Dimensions: dims,
		StartTime: aws.Time(now.Add(-10 * time.Minute)), EndTime: aws.Time(now), Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
	if err != nil || len(gms.Datapoints) != 1 || aws.ToFloat64(gms.Datapoints[0].Sum) != 90 {
		t.Errorf("after restart: %+v, %v", gms, err)
	}
	if _, err := cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"errors"}}); err != nil {
		t.Fatal(err)
	}
	if da, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{}); err != nil || len(da.MetricAlarms) != 0 {
		t.Errorf("after DeleteAlarms: %+v, %v", da, err)
	}

	// The calls are in event history, from monitoring.amazonaws.com; the
	// metric data calls are data events and stay out of it.
	ct := rootClient(t, d, testAccount, "us-east-1")
	le, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{
		AttributeKey: cttypes.LookupAttributeKeyEventSource, AttributeValue: aws.String("monitoring.amazonaws.com")}}})
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, ev := range le.Events {
		events = append(events, aws.ToString(ev.EventName))
		if aws.ToString(ev.EventName) == "PutMetricAlarm" {
			var rec map[string]any
			if err := json.Unmarshal([]byte(aws.ToString(ev.CloudTrailEvent)), &rec); err != nil {
				t.Fatal(err)
			}
			rp, _ := rec["requestParameters"].(map[string]any)
			if rp["alarmName"] != "errors" || rec["eventCategory"] != "Management" {
				t.Errorf("PutMetricAlarm event = %s", aws.ToString(ev.CloudTrailEvent))
			}
		}
	}
	for _, want := range []string{"PutMetricAlarm", "SetAlarmState", "DescribeAlarms", "DeleteAlarms", "DisableAlarmActions", "DescribeAlarmHistory"} {
		if !slices.Contains(events, want) {
			t.Errorf("event history lacks %s: %v", want, events)
		}
	}
	if slices.Contains(events, "PutMetricData") {
		t.Errorf("PutMetricData (a data event) in event history: %v", events)
	}
}

func cwCode(err error) (string, smithy.ErrorFault) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorFault()
	}
	return "", 0
}

// Errors reach the Go SDK as the modelled exceptions with the query codes.
func TestCloudWatchSDKErrors(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	ctx := t.Context()
	cw := cwClient(t, d, testAccount, "us-east-1")
	now := time.Now()
	tests := []struct {
		name string
		call func() error
		code string
		typ  any
	}{
		{"timestamp too old", func() error {
			_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("App"), MetricData: []cwtypes.MetricDatum{
				{MetricName: aws.String("m"), Value: aws.Float64(1), Timestamp: aws.Time(now.Add(-15 * 24 * time.Hour))}}})
			return err
		}, "InvalidParameterValue", new(*cwtypes.InvalidParameterValueException)},
		{"too many datapoints", func() error {
			_, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("App"), MetricName: aws.String("m"),
				StartTime: aws.Time(now.Add(-48 * time.Hour)), EndTime: aws.Time(now), Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
			return err
		}, "InvalidParameterCombination", new(*cwtypes.InvalidParameterCombinationException)},
		{"metric math", func() error {
			_, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now),
				MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("e"), Expression: aws.String("SUM(METRICS())")}}})
			return err
		}, "InvalidParameterValue", new(*cwtypes.InvalidParameterValueException)},
		{"set state of missing alarm", func() error {
			_, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("nope"), StateValue: cwtypes.StateValueOk, StateReason: aws.String("x")})
			return err
		}, "ResourceNotFound", new(*cwtypes.ResourceNotFound)},
		{"delete missing alarm", func() error {
			_, err := cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"nope"}})
			return err
		}, "ResourceNotFound", new(*cwtypes.ResourceNotFound)},
		{"bad alarm period", func() error {
			_, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("a"), Namespace: aws.String("App"), MetricName: aws.String("m"),
				Statistic: cwtypes.StatisticSum, Period: aws.Int32(7), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
				ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold})
			return err
		}, "", nil},
		{"bad next token", func() error {
			_, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{NextToken: aws.String("!!!")})
			return err
		}, "InvalidNextToken", new(*cwtypes.InvalidNextToken)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			code, fault := cwCode(err)
			if err == nil || fault != smithy.FaultClient {
				t.Fatalf("err = %v (fault %v), want a client error", err, fault)
			}
			if tc.code != "" && code != tc.code {
				t.Errorf("code = %q, want %q (%v)", code, tc.code, err)
			}
			if tc.typ != nil && !errors.As(err, tc.typ) {
				t.Errorf("err = %T %v, want %T", err, err, tc.typ)
			}
		})
	}
}

// The aws CLI speaks JSON 1.0 with x-amzn-query-mode.
func TestCloudWatchCLI(t *testing.T) {
	testenv.NeedCommand(t, testenv.AWSCLI, "aws", "--version")
	d := startDaemon(t, t.TempDir(), nil)
	cli := awsCLI(t, d, testAccount, t.TempDir())
	aws := func(args ...string) ([]byte, error) {
		return cli(append([]string{"cloudwatch", "--output", "json"}, args...)...)
	}
	run := func(args ...string) []byte {
		t.Helper()
		out, err := aws(args...)
		if err != nil {
			t.Fatalf("aws cloudwatch %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	now := time.Now().UTC().Truncate(time.Minute).Add(-time.Minute)
	ts := now.Format(time.RFC3339)
	run("put-metric-data", "--namespace", "CLI", "--metric-name", "Hits", "--value", "4", "--timestamp", ts, "--dimensions", "Site=a")
	run("put-metric-data", "--namespace", "CLI", "--metric-data",
		`[{"MetricName":"Hits","Dimensions":[{"Name":"Site","Value":"a"}],"Timestamp":"`+ts+`","StatisticValues":{"SampleCount":2,"Sum":6,"Minimum":1,"Maximum":5}}]`)
	var stats struct {
		Label      string
		Datapoints []struct {
			Timestamp   float64 // the CLI v1 prints JSON timestamps as received
			Sum         float64
			SampleCount float64
		}
	}
	raw := run("get-metric-statistics", "--namespace", "CLI", "--metric-name", "Hits", "--dimensions", "Name=Site,Value=a",
		"--start-time", now.Add(-5*time.Minute).Format(time.RFC3339), "--end-time", now.Add(time.Minute).Format(time.RFC3339),
		"--period", "60", "--statistics", "Sum", "SampleCount")
	if err := json.Unmarshal(raw, &stats); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if stats.Label != "Hits" || len(stats.Datapoints) != 1 || stats.Datapoints[0].Sum != 10 || stats.Datapoints[0].SampleCount != 3 {
		t.Errorf("get-metric-statistics = %s", raw)
	}
	if got := stats.Datapoints[0].Timestamp; got != float64(now.Unix()) {
		t.Errorf("datapoint timestamp %v, want %d (%s)", got, now.Unix(), ts)
	}
	run("put-metric-alarm", "--alarm-name", "cli-alarm", "--namespace", "CLI", "--metric-name", "Hits", "--dimensions", "Name=Site,Value=a",
		"--statistic", "Sum", "--period", "300", "--evaluation-periods", "1", "--threshold", "1",
		"--comparison-operator", "GreaterThanOrEqualToThreshold", "--alarm-actions", "arn:aws:sns:us-east-1:"+testAccount+":cis")
	run("set-alarm-state", "--alarm-name", "cli-alarm", "--state-value", "ALARM", "--state-reason", "cli test")
	var da struct {
		MetricAlarms []struct {
			AlarmName, StateValue, StateReason string
			Period                             int
			StateUpdatedTimestamp              float64
		}
	}
	raw = run("describe-alarms", "--alarm-names", "cli-alarm")
	if err := json.Unmarshal(raw, &da); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if len(da.MetricAlarms) != 1 || da.MetricAlarms[0].StateValue != "ALARM" || da.MetricAlarms[0].StateReason != "cli test" || da.MetricAlarms[0].Period != 300 {
		t.Errorf("describe-alarms = %s", raw)
	}
	run("describe-alarm-history", "--alarm-name", "cli-alarm")
	run("list-metrics", "--namespace", "CLI")
	run("get-metric-data", "--start-time", now.Add(-5*time.Minute).Format(time.RFC3339), "--end-time", now.Add(time.Minute).Format(time.RFC3339),
		"--metric-data-queries", `[{"Id":"h","MetricStat":{"Metric":{"Namespace":"CLI","MetricName":"Hits","Dimensions":[{"Name":"Site","Value":"a"}]},"Period":60,"Stat":"Sum"}}]`)
	run("describe-alarms-for-metric", "--namespace", "CLI", "--metric-name", "Hits", "--dimensions", "Name=Site,Value=a")
	run("disable-alarm-actions", "--alarm-names", "cli-alarm")
	run("enable-alarm-actions", "--alarm-names", "cli-alarm")
	run("delete-alarms", "--alarm-names", "cli-alarm")
	// Errors carry the query code (from x-amzn-query-error).
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"set-alarm-state", "--alarm-name", "cli-alarm", "--state-value", "OK", "--state-reason", "x"}, "(ResourceNotFound)"},
		{[]string{"get-metric-statistics", "--namespace", "CLI", "--metric-name", "Hits", "--start-time", now.Add(-48 * time.Hour).Format(time.RFC3339),
			"--end-time", now.Format(time.RFC3339), "--period", "60", "--statistics", "Sum"}, "(InvalidParameterCombination)"},
		{[]string{"put-metric-data", "--namespace", "CLI", "--metric-name", "Hits", "--value", "1", "--unit", "Parsecs"}, "(InvalidParameterValue)"},
	} {
		out, err := aws(tc.args...)
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("aws cloudwatch %s: %v\n%s; want %s", tc.args[0], err, out, tc.want)
		}
	}
}

// The stored metrics are on the Prometheus endpoint; a damaged metric
// file stops serve and fsck names it with its offset.
func TestCloudWatchPrometheusAndDamage(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, func(c *config.Config) { c.MetricsListen = "127.0.0.1:0" })
	ctx := t.Context()
	cw := cwClient(t, d, testAccount, "us-east-1")
	if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("App"), MetricData: []cwtypes.MetricDatum{
		{MetricName: aws.String("Req"), Dimensions: []cwtypes.Dimension{{Name: aws.String("Host"), Value: aws.String("web-1")}}, Value: aws.Float64(7)}}}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(d.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `opentrail_cloudwatch_metric_sum{account="` + testAccount + `",dimensions="Host=web-1",metric="Req",namespace="App",region="us-east-1"} 7`
	if !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if r := daemon.Check(dir); !slices.ContainsFunc(r.Lines, func(l string) bool { return l == "CloudWatch: 2 files, 1 records" }) || len(r.Problems) != 0 {
		t.Errorf("fsck of a healthy directory: %q, problems %q", r.Lines, r.Problems)
	}
	files, err := filepath.Glob(filepath.Join(dir, datadir.CloudWatchDir, "metrics", "*.log"))
	if err != nil || len(files) != 1 {
		t.Fatalf("metric files %v, %v", files, err)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-3] ^= 0x20 // inside the only record's payload
	if err := os.WriteFile(files[0], data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.AccountID = dir, "127.0.0.1:0", testAccount
	if d2, err := daemon.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		d2.Close()
		t.Fatal("serve started on a damaged metric file")
	} else if !strings.Contains(err.Error(), files[0]+": damaged record at offset 0") {
		t.Errorf("error %q does not name the file and offset", err)
	}
	if r := daemon.Check(dir); !strings.Contains(strings.Join(r.Problems, "\n"), files[0]+": damaged record at offset 0") {
		t.Errorf("fsck problems %q do not name the file and offset", r.Problems)
	}
}

// The query protocol (older SDKs), routed by the credential scope.
func TestCloudWatchQueryProtocol(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	k, err := d.Identities().RootKey(testAccount)
	if err != nil {
		t.Fatal(err)
	}
	call := func(form url.Values) (int, []byte) {
		t.Helper()
		body := form.Encode()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, d.URL()+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}
		if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "monitoring", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	st, b := call(url.Values{"Action": {"PutMetricAlarm"}, "Version": {"2010-08-01"}, "AlarmName": {"q"}, "Namespace": {"App"}, "MetricName": {"m"},
		"Statistic": {"Sum"}, "Period": {"60"}, "EvaluationPeriods": {"1"}, "Threshold": {"1"}, "ComparisonOperator": {"GreaterThanThreshold"}})
	if st != 200 || !strings.HasPrefix(string(b), "<PutMetricAlarmResponse") {
		t.Fatalf("PutMetricAlarm: %d %s", st, b)
	}
	st, b = call(url.Values{"Action": {"DescribeAlarms"}, "Version": {"2010-08-01"}, "AlarmNames.member.1": {"q"}})
	if st != 200 || !strings.Contains(string(b), "<MetricAlarms><member><AlarmName>q</AlarmName>") {
		t.Errorf("DescribeAlarms: %d %s", st, b)
	}
	st, b = call(url.Values{"Action": {"DeleteAlarms"}, "Version": {"2010-08-01"}, "AlarmNames.member.1": {"nope"}})
	if st != 404 || !strings.Contains(string(b), "<Code>ResourceNotFound</Code>") {
		t.Errorf("DeleteAlarms of a missing alarm: %d %s", st, b)
	}
}

// A CloudWatch Logs metric filter's values land in the metric store, where
// GetMetricStatistics reads them and an alarm on them fires.
func TestLogsMetricFilterToCloudWatch(t *testing.T) {
	d := startDaemon(t, t.TempDir(), nil)
	ctx := t.Context()
	cl := logsClient(t, d, testAccount, "us-east-1")
	cw := cwClient(t, d, testAccount, "us-east-1")
	if _, err := cl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("trail")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("trail"), LogStreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.PutMetricFilter(ctx, &cloudwatchlogs.PutMetricFilterInput{LogGroupName: aws.String("trail"), FilterName: aws.String("root"),
		FilterPattern: aws.String(`{ $.userIdentity.type = "Root" }`), MetricTransformations: []cwltypes.MetricTransformation{{MetricName: aws.String("RootUse"),
			MetricNamespace: aws.String("CIS"), MetricValue: aws.String("1")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("root-use"), Namespace: aws.String("CIS"), MetricName: aws.String("RootUse"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold}); err != nil {
		t.Fatal(err)
	}
	minute := time.Now().UTC().Truncate(time.Minute)
	var evs []cwltypes.InputLogEvent
	for i, typ := range []string{"Root", "IAMUser", "Root"} {
		evs = append(evs, cwltypes.InputLogEvent{Timestamp: aws.Int64(minute.Add(time.Duration(i) * time.Second).UnixMilli()),
			Message: aws.String(`{"userIdentity":{"type":"` + typ + `"}}`)})
	}
	if _, err := cl.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("trail"), LogStreamName: aws.String("s"), LogEvents: evs}); err != nil {
		t.Fatal(err)
	}
	gms, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("CIS"), MetricName: aws.String("RootUse"),
		StartTime: aws.Time(minute), EndTime: aws.Time(minute.Add(time.Minute)), Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
	if err != nil || len(gms.Datapoints) != 1 || aws.ToFloat64(gms.Datapoints[0].Sum) != 2 {
		t.Fatalf("GetMetricStatistics = %+v, %v", gms, err)
	}
	// Evaluate as the loop does when the minute has ended (plus the 1 s
	// evaluation delay), without waiting for it.
	d.CloudWatch().Tick(ctx, minute.Add(time.Minute+time.Second))
	da, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"root-use"}})
	if err != nil || len(da.MetricAlarms) != 1 || da.MetricAlarms[0].StateValue != cwtypes.StateValueAlarm {
		t.Fatalf("DescribeAlarms = %+v, %v", da, err)
	}
}
