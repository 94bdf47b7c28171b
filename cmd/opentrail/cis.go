package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/opentrail/opentrail/internal/logfilter"
)

// cisCmd sets up the CIS AWS Foundations Benchmark's monitoring controls
// (alerts.md §6) on an account, through the same AWS APIs a user would
// call: the trail's log group, one metric filter and alarm per control,
// and the SNS topic the alarms notify, with an optional subscription. It
// is idempotent: a second run changes nothing that is already in place.
type cisCmd struct{ stdout, stderr io.Writer }

func (*cisCmd) Name() string { return "cis-pack" }
func (*cisCmd) Summary() string {
	return "set up the CIS monitoring controls: log group, metric filters, alarms, SNS topic"
}

// cisOptions are the pack's settings.
type cisOptions struct {
	endpoint, region, profile string
	trail, logGroup, roleARN  string
	topic, subscribe          string
	period                    int
}

func (c *cisCmd) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("cis-pack", c.stdout)
	var o cisOptions
	fs.StringVar(&o.endpoint, "endpoint-url", "http://127.0.0.1:4750", "OpenTrail's (or AWS's) endpoint")
	fs.StringVar(&o.region, "region", "us-east-1", "the trail's home Region")
	fs.StringVar(&o.profile, "profile", "", "the AWS CLI profile whose credentials to use (default: the usual chain)")
	fs.StringVar(&o.trail, "trail", "", "the multi-Region trail to monitor (required)")
	fs.StringVar(&o.logGroup, "log-group", "cis-cloudtrail-logs", "the log group the trail delivers to (created if missing)")
	fs.StringVar(&o.roleARN, "role-arn", "", "the role CloudTrail uses to write to the log group (default arn:aws:iam::ACCOUNT:role/CloudTrail_CloudWatchLogs_Role)")
	fs.StringVar(&o.topic, "topic", "cis-security-alarms", "the SNS topic the alarms notify (created if missing)")
	fs.StringVar(&o.subscribe, "subscribe", "", "an http(s) endpoint to subscribe to the topic (it must confirm the subscription)")
	fs.IntVar(&o.period, "period", 300, "the alarms' period in seconds")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: opentrail cis-pack --trail NAME [flags]

Sets up the monitoring controls 4.1 to 4.15 of the CIS AWS Foundations
Benchmark (v1.4 to v5.0) on the account of the credentials: the trail
delivers to a CloudWatch Logs log group, each control gets a metric filter
on it (namespace CISBenchmark) and an alarm (Sum over the period >= 1, one
period, missing data not breaching) that notifies an SNS topic. Run it
again at any time: what is in place stays as it is.

Flags:`)
		fs.PrintDefaults()
	}
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if o.trail == "" {
		return &usageError{cmd: "cis-pack", msg: "--trail is required"}
	}
	if o.period < 60 || o.period%60 != 0 {
		return &usageError{cmd: "cis-pack", msg: "--period must be a multiple of 60 seconds"}
	}
	return setupCIS(ctx, o, c.stdout)
}

// setupCIS does the work; each step prints one line.
func setupCIS(ctx context.Context, o cisOptions, out io.Writer) error {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(o.region)}
	if o.profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(o.profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("cis-pack: load credentials: %w", err)
	}
	cfg.BaseEndpoint = aws.String(o.endpoint)
	ct, cwl, cw, sn := cloudtrail.NewFromConfig(cfg), cloudwatchlogs.NewFromConfig(cfg), cloudwatch.NewFromConfig(cfg), sns.NewFromConfig(cfg)

	tr, err := ct.GetTrail(ctx, &cloudtrail.GetTrailInput{Name: aws.String(o.trail)})
	if err != nil {
		return fmt.Errorf("cis-pack: trail %s: %w", o.trail, err)
	}
	trailARN := aws.ToString(tr.Trail.TrailARN)
	account := strings.Split(trailARN, ":")[4]
	if !aws.ToBool(tr.Trail.IsMultiRegionTrail) {
		fmt.Fprintf(out, "warning: trail %s is not multi-Region; CIS asks for one that is\n", o.trail)
	}
	if st, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(o.trail)}); err == nil && !aws.ToBool(st.IsLogging) {
		fmt.Fprintf(out, "warning: trail %s is not logging; start it (aws cloudtrail start-logging --name %s)\n", o.trail, o.trail)
	}

	if _, err := cwl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(o.logGroup)}); err == nil {
		fmt.Fprintf(out, "created log group %s\n", o.logGroup)
	} else if code(err) != "ResourceAlreadyExistsException" {
		return fmt.Errorf("cis-pack: create log group: %w", err)
	}
	groupARN := "arn:aws:logs:" + o.region + ":" + account + ":log-group:" + o.logGroup + ":*"
	if aws.ToString(tr.Trail.CloudWatchLogsLogGroupArn) != groupARN {
		role := o.roleARN
		if role == "" {
			role = "arn:aws:iam::" + account + ":role/CloudTrail_CloudWatchLogs_Role"
		}
		if _, err := ct.UpdateTrail(ctx, &cloudtrail.UpdateTrailInput{Name: aws.String(o.trail), CloudWatchLogsLogGroupArn: aws.String(groupARN),
			CloudWatchLogsRoleArn: aws.String(role)}); err != nil {
			return fmt.Errorf("cis-pack: send trail %s to log group %s: %w", o.trail, o.logGroup, err)
		}
		fmt.Fprintf(out, "trail %s now delivers to log group %s\n", o.trail, o.logGroup)
	}

	topic, err := sn.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(o.topic)})
	if err != nil {
		return fmt.Errorf("cis-pack: create topic %s: %w", o.topic, err)
	}
	topicARN := aws.ToString(topic.TopicArn)
	fmt.Fprintf(out, "alarms notify topic %s\n", topicARN)
	if o.subscribe != "" {
		if err := subscribeOnce(ctx, sn, topicARN, o.subscribe, out); err != nil {
			return err
		}
	}

	for _, c := range logfilter.CIS {
		if _, err := cwl.PutMetricFilter(ctx, &cloudwatchlogs.PutMetricFilterInput{LogGroupName: aws.String(o.logGroup), FilterName: aws.String(c.MetricName),
			FilterPattern: aws.String(c.FilterPattern), MetricTransformations: []cwltypes.MetricTransformation{{MetricName: aws.String(c.MetricName),
				MetricNamespace: aws.String(logfilter.CISNamespace), MetricValue: aws.String("1")}}}); err != nil {
			return fmt.Errorf("cis-pack: %s metric filter: %w", c.ID, err)
		}
		if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("CIS-" + c.ID + "-" + c.MetricName),
			AlarmDescription: aws.String("CIS " + c.ID + ": " + c.Title), MetricName: aws.String(c.MetricName), Namespace: aws.String(logfilter.CISNamespace),
			Statistic: cwtypes.StatisticSum, Period: aws.Int32(int32(o.period)), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold, TreatMissingData: aws.String("notBreaching"),
			AlarmActions: []string{topicARN}}); err != nil {
			return fmt.Errorf("cis-pack: %s alarm: %w", c.ID, err)
		}
		fmt.Fprintf(out, "%-5s %s: metric filter and alarm CIS-%s-%s\n", c.ID, c.Title, c.ID, c.MetricName)
	}
	fmt.Fprintf(out, "done: %d controls monitored on log group %s\n", len(logfilter.CIS), o.logGroup)
	return nil
}

// subscribeOnce subscribes endpoint unless it already is.
func subscribeOnce(ctx context.Context, sn *sns.Client, topicARN, endpoint string, out io.Writer) error {
	proto := "https"
	if strings.HasPrefix(endpoint, "http://") {
		proto = "http"
	}
	subs, err := sn.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topicARN)})
	if err != nil {
		return fmt.Errorf("cis-pack: list subscriptions: %w", err)
	}
	for _, s := range subs.Subscriptions {
		if aws.ToString(s.Endpoint) == endpoint {
			fmt.Fprintf(out, "%s is already subscribed (%s)\n", endpoint, aws.ToString(s.SubscriptionArn))
			return nil
		}
	}
	if _, err := sn.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topicARN), Protocol: aws.String(proto), Endpoint: aws.String(endpoint)}); err != nil {
		return fmt.Errorf("cis-pack: subscribe %s: %w", endpoint, err)
	}
	fmt.Fprintf(out, "subscribed %s: it must confirm (it received a SubscriptionConfirmation with a SubscribeURL)\n", endpoint)
	return nil
}

// code is an AWS error's code, or "".
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
