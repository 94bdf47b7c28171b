package logfilter

// CISNamespace is the metric namespace the CIS benchmark's remediation
// steps use for every monitoring metric.
const CISNamespace = "CISBenchmark"

// Control is one monitoring control of the CIS AWS Foundations Benchmark:
// a metric filter on the CloudTrail log group of a multi-Region trail, and
// (created by the CIS pack) an alarm on its metric: Sum over 300 seconds,
// GreaterThanOrEqualToThreshold 1, one evaluation period, notifying an SNS
// topic.
type Control struct {
	// ID is the control number in CIS v1.4.0 to v5.0.0 (v1.2.0 numbered
	// them 3.1 to 3.14).
	ID string
	// Title is the control's title.
	Title string
	// FilterPattern is the pattern the benchmark's remediation publishes.
	FilterPattern string
	// Variant is an alternative pattern the benchmark also publishes, or
	// "" when it publishes one only.
	Variant string
	// MetricName is the metric name the benchmark's remediation uses as
	// its placeholder; the filter name is the same.
	MetricName string
}

// CIS lists the monitoring controls 4.1 to 4.15 (alerts.md §6) with the
// filter patterns of the benchmark's remediation sections, character for
// character (CIS AWS Foundations Benchmark v1.5.0 to v3.0.0; the same
// patterns back Security Hub's CloudWatch.1 to CloudWatch.14). 4.1 relies on
// && binding tighter than ||: it matches `*UnauthorizedOperation` errors, or
// `AccessDenied*` errors that are neither from delivery.logs.amazonaws.com
// nor HeadBucket.
var CIS = []Control{
	{
		ID:            "4.1",
		Title:         "Ensure unauthorized API calls are monitored",
		FilterPattern: `{ ($.errorCode ="*UnauthorizedOperation") || ($.errorCode ="AccessDenied*") && ($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }`,
		MetricName:    "unauthorized_api_calls_metric",
	},
	{
		ID:            "4.2",
		Title:         "Ensure management console sign-in without MFA is monitored",
		FilterPattern: `{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }`,
		Variant:       `{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }`,
		MetricName:    "no_mfa_console_signin_metric",
	},
	{
		ID:            "4.3",
		Title:         "Ensure usage of the 'root' account is monitored",
		FilterPattern: `{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }`,
		MetricName:    "root_usage_metric",
	},
	{
		ID:            "4.4",
		Title:         "Ensure IAM policy changes are monitored",
		FilterPattern: `{($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)||($.eventName=DeleteUserPolicy)||($.eventName=PutGroupPolicy)||($.eventName=PutRolePolicy)||($.eventName=PutUserPolicy)||($.eventName=CreatePolicy)||($.eventName=DeletePolicy)||($.eventName=CreatePolicyVersion)||($.eventName=DeletePolicyVersion)||($.eventName=AttachRolePolicy)||($.eventName=DetachRolePolicy)||($.eventName=AttachUserPolicy)||($.eventName=DetachUserPolicy)||($.eventName=AttachGroupPolicy)||($.eventName=DetachGroupPolicy)}`,
		MetricName:    "iam_changes_metric",
	},
	{
		ID:            "4.5",
		Title:         "Ensure CloudTrail configuration changes are monitored",
		FilterPattern: `{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) }`,
		MetricName:    "cloudtrail_cfg_changes_metric",
	},
	{
		ID:            "4.6",
		Title:         "Ensure AWS Management Console authentication failures are monitored",
		FilterPattern: `{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }`,
		MetricName:    "console_signin_failure_metric",
	},
	{
		ID:            "4.7",
		Title:         "Ensure disabling or scheduled deletion of customer created CMKs is monitored",
		FilterPattern: `{($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion)) }`,
		MetricName:    "disable_or_delete_cmk_changes_metric",
	},
	{
		ID:            "4.8",
		Title:         "Ensure S3 bucket policy changes are monitored",
		FilterPattern: `{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutBucketAcl) || ($.eventName = PutBucketPolicy) || ($.eventName = PutBucketCors) || ($.eventName = PutBucketLifecycle) || ($.eventName = PutBucketReplication) || ($.eventName = DeleteBucketPolicy) || ($.eventName = DeleteBucketCors) || ($.eventName = DeleteBucketLifecycle) || ($.eventName = DeleteBucketReplication)) }`,
		MetricName:    "s3_bucket_policy_changes_metric",
	},
	{
		ID:            "4.9",
		Title:         "Ensure AWS Config configuration changes are monitored",
		FilterPattern: `{ ($.eventSource = config.amazonaws.com) && (($.eventName=StopConfigurationRecorder)||($.eventName=DeleteDeliveryChannel)||($.eventName=PutDeliveryChannel)||($.eventName=PutConfigurationRecorder)) }`,
		MetricName:    "aws_config_changes_metric",
	},
	{
		ID:            "4.10",
		Title:         "Ensure security group changes are monitored",
		FilterPattern: `{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || ($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || ($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }`,
		MetricName:    "security_group_changes_metric",
	},
	{
		ID:            "4.11",
		Title:         "Ensure Network Access Control Lists (NACL) changes are monitored",
		FilterPattern: `{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.eventName = DeleteNetworkAcl) || ($.eventName = DeleteNetworkAclEntry) || ($.eventName = ReplaceNetworkAclEntry) || ($.eventName = ReplaceNetworkAclAssociation) }`,
		MetricName:    "nacl_changes_metric",
	},
	{
		ID:            "4.12",
		Title:         "Ensure changes to network gateways are monitored",
		FilterPattern: `{ ($.eventName = CreateCustomerGateway) || ($.eventName = DeleteCustomerGateway) || ($.eventName = AttachInternetGateway) || ($.eventName = CreateInternetGateway) || ($.eventName = DeleteInternetGateway) || ($.eventName = DetachInternetGateway) }`,
		MetricName:    "network_gw_changes_metric",
	},
	{
		ID:            "4.13",
		Title:         "Ensure route table changes are monitored",
		FilterPattern: `{ ($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || ($.eventName = ReplaceRoute) || ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = DeleteRouteTable) || ($.eventName = DeleteRoute) || ($.eventName = DisassociateRouteTable) }`,
		MetricName:    "route_table_changes_metric",
	},
	{
		ID:            "4.14",
		Title:         "Ensure VPC changes are monitored",
		FilterPattern: `{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) || ($.eventName = ModifyVpcAttribute) || ($.eventName = AcceptVpcPeeringConnection) || ($.eventName = CreateVpcPeeringConnection) || ($.eventName = DeleteVpcPeeringConnection) || ($.eventName = RejectVpcPeeringConnection) || ($.eventName = AttachClassicLinkVpc) || ($.eventName = DetachClassicLinkVpc) || ($.eventName = DisableVpcClassicLink) || ($.eventName = EnableVpcClassicLink) }`,
		MetricName:    "vpc_changes_metric",
	},
	{
		ID:            "4.15",
		Title:         "Ensure AWS Organizations changes are monitored",
		FilterPattern: `{ ($.eventSource = organizations.amazonaws.com) && (($.eventName = "AcceptHandshake") || ($.eventName = "AttachPolicy") || ($.eventName = "CreateAccount") || ($.eventName = "CreateOrganizationalUnit") || ($.eventName = "CreatePolicy") || ($.eventName = "DeclineHandshake") || ($.eventName = "DeleteOrganization") || ($.eventName = "DeleteOrganizationalUnit") || ($.eventName = "DeletePolicy") || ($.eventName = "DetachPolicy") || ($.eventName = "DisablePolicyType") || ($.eventName = "EnablePolicyType") || ($.eventName = "InviteAccountToOrganization") || ($.eventName = "LeaveOrganization") || ($.eventName = "MoveAccount") || ($.eventName = "RemoveAccountFromOrganization") || ($.eventName = "UpdatePolicy") || ($.eventName = "UpdateOrganizationalUnit")) }`,
		MetricName:    "organizations_changes",
	},
}
