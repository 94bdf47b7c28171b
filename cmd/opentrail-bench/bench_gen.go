package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// benchGen makes CloudTrail records shaped like real ones: the identity
// types, services, event names, request parameters, resources, error rates
// and sizes seen in public CloudTrail datasets (about 1.2 KB each).
type benchGen struct {
	account string
	region  string
	start   time.Time
	span    time.Duration
	n       int
	seed    uint64
}

var benchServices = []struct {
	source string
	names  []string
	rtype  string
}{
	{"s3.amazonaws.com", []string{"GetBucketAcl", "ListBuckets", "GetBucketPolicy", "PutBucketPolicy", "GetBucketLocation", "CreateBucket", "DeleteBucket", "GetBucketVersioning", "PutBucketPublicAccessBlock", "GetBucketEncryption"}, "AWS::S3::Bucket"},
	{"ec2.amazonaws.com", []string{"DescribeInstances", "RunInstances", "TerminateInstances", "DescribeSecurityGroups", "AuthorizeSecurityGroupIngress", "DescribeVolumes", "CreateSnapshot", "DescribeRegions", "StopInstances", "DescribeImages", "CreateKeyPair", "DescribeVpcs"}, "AWS::EC2::Instance"},
	{"iam.amazonaws.com", []string{"ListUsers", "GetUser", "CreateUser", "CreateAccessKey", "AttachUserPolicy", "ListRoles", "GetRole", "ListAttachedRolePolicies", "PutUserPolicy", "DeleteUser", "ListPolicies", "GetAccountSummary"}, "AWS::IAM::User"},
	{"sts.amazonaws.com", []string{"AssumeRole", "GetCallerIdentity", "GetSessionToken", "GetFederationToken"}, "AWS::IAM::Role"},
	{"kms.amazonaws.com", []string{"Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey", "ListKeys", "ListAliases", "CreateGrant"}, "AWS::KMS::Key"},
	{"lambda.amazonaws.com", []string{"ListFunctions20150331", "GetFunction20150331v2", "CreateFunction20150331", "UpdateFunctionCode20150331v2", "Invoke"}, "AWS::Lambda::Function"},
	{"cloudtrail.amazonaws.com", []string{"DescribeTrails", "GetTrailStatus", "LookupEvents", "StopLogging", "DeleteTrail", "GetEventSelectors", "ListTrails"}, "AWS::CloudTrail::Trail"},
	{"logs.amazonaws.com", []string{"DescribeLogGroups", "CreateLogStream", "DescribeLogStreams", "DeleteLogGroup", "FilterLogEvents"}, "AWS::Logs::LogGroup"},
	{"secretsmanager.amazonaws.com", []string{"GetSecretValue", "ListSecrets", "DescribeSecret", "CreateSecret"}, "AWS::SecretsManager::Secret"},
	{"guardduty.amazonaws.com", []string{"ListDetectors", "GetDetector", "DeleteDetector", "ListFindings"}, "AWS::GuardDuty::Detector"},
	{"ssm.amazonaws.com", []string{"GetParameter", "GetParameters", "DescribeInstanceInformation", "SendCommand", "StartSession"}, "AWS::SSM::Parameter"},
	{"organizations.amazonaws.com", []string{"DescribeOrganization", "ListAccounts", "LeaveOrganization"}, "AWS::Organizations::Account"},
	{"signin.amazonaws.com", []string{"ConsoleLogin"}, ""},
	{"config.amazonaws.com", []string{"DescribeConfigRules", "DescribeConfigurationRecorders", "StopConfigurationRecorder"}, "AWS::Config::ConfigRule"},
	{"rds.amazonaws.com", []string{"DescribeDBInstances", "ModifyDBInstance", "CreateDBSnapshot", "DescribeDBClusters"}, "AWS::RDS::DBInstance"},
}

var benchAgents = []string{
	"aws-cli/2.13.5 Python/3.11.4 Linux/5.15.0-1040-aws exe/x86_64.ubuntu.22 prompt/off command/s3.ls",
	"Boto3/1.28.9 md/Botocore#1.31.9 ua/2.0 os/linux#5.15.0 md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.9",
	"aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21.0 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.112.0",
	"console.amazonaws.com",
	"AWS Internal",
	"signin.amazonaws.com",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/115.0.0.0 Safari/537.36",
}

var benchErrors = []struct{ code, msg string }{
	{"AccessDenied", "User: arn:aws:iam::%s:user/%s is not authorized to perform: %s because no identity-based policy allows the action"},
	{"Client.UnauthorizedOperation", "You are not authorized to perform this operation."},
	{"NoSuchEntityException", "The user with name %s cannot be found."},
	{"ThrottlingException", "Rate exceeded"},
}

func (g *benchGen) rng(i int) *rand.Rand { return rand.New(rand.NewPCG(g.seed, uint64(i))) }

// userName returns the i-th of 200 users; a few are heavy hitters.
func benchUser(r *rand.Rand) int {
	if r.IntN(4) == 0 {
		return r.IntN(5)
	}
	return r.IntN(200)
}

// Record i, deterministic for a seed. Times increase with i.
func (g *benchGen) record(i int) []byte {
	r := g.rng(i)
	svc := benchServices[r.IntN(len(benchServices))]
	name := svc.names[r.IntN(len(svc.names))]
	u := benchUser(r)
	user := fmt.Sprintf("user-%03d", u)
	key := fmt.Sprintf("AKIA%016X", uint64(u*2+r.IntN(2))*0x9E3779B97F4A7C15>>4)
	t := g.start.Add(time.Duration(float64(g.span) * float64(i) / float64(g.n)))
	read := len(name) > 3 && (name[:3] == "Get" || name[:4] == "List" || name[:4] == "Desc")
	rec := map[string]any{
		"eventVersion":       "1.09",
		"eventTime":          t.UTC().Format("2006-01-02T15:04:05Z"),
		"eventSource":        svc.source,
		"eventName":          name,
		"awsRegion":          g.region,
		"sourceIPAddress":    fmt.Sprintf("%d.%d.%d.%d", 10+r.IntN(200), r.IntN(256), r.IntN(256), 1+r.IntN(254)),
		"userAgent":          benchAgents[r.IntN(len(benchAgents))],
		"requestID":          fmt.Sprintf("%08X-%04X-%04X-%04X-%012X", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff),
		"eventID":            fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, 0x8000|r.Uint32()&0x3fff, r.Uint64()&0xffffffffffff),
		"readOnly":           read,
		"eventType":          "AwsApiCall",
		"managementEvent":    true,
		"recipientAccountId": g.account,
		"eventCategory":      "Management",
		"tlsDetails": map[string]any{
			"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
			"clientProvidedHostHeader": svc.source[:len(svc.source)-len(".amazonaws.com")] + "." + g.region + ".amazonaws.com",
		},
	}
	if r.IntN(10) < 8 {
		rec["userIdentity"] = map[string]any{
			"type": "IAMUser", "principalId": fmt.Sprintf("AIDA%016X", u), "arn": "arn:aws:iam::" + g.account + ":user/" + user,
			"accountId": g.account, "accessKeyId": key, "userName": user,
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{}, "webIdFederationData": map[string]any{},
				"attributes": map[string]any{"creationDate": t.Add(-time.Duration(r.IntN(3600)) * time.Second).UTC().Format("2006-01-02T15:04:05Z"), "mfaAuthenticated": "false"}},
		}
	} else {
		role := fmt.Sprintf("role-%02d", r.IntN(30))
		sess := fmt.Sprintf("session-%d", r.IntN(500))
		rec["userIdentity"] = map[string]any{
			"type": "AssumedRole", "principalId": fmt.Sprintf("AROA%016X:%s", r.IntN(30), sess),
			"arn": "arn:aws:sts::" + g.account + ":assumed-role/" + role + "/" + sess, "accountId": g.account,
			"accessKeyId": fmt.Sprintf("ASIA%016X", r.Uint64()>>4),
			"sessionContext": map[string]any{
				"sessionIssuer": map[string]any{"type": "Role", "principalId": fmt.Sprintf("AROA%016X", r.IntN(30)),
					"arn": "arn:aws:iam::" + g.account + ":role/" + role, "accountId": g.account, "userName": role},
				"webIdFederationData": map[string]any{},
				"attributes":          map[string]any{"creationDate": t.Add(-time.Hour).UTC().Format("2006-01-02T15:04:05Z"), "mfaAuthenticated": "false"},
			},
		}
	}
	res := fmt.Sprintf("res-%05d", r.IntN(20000))
	rec["requestParameters"] = map[string]any{"resourceName": res, "maxResults": 50 + r.IntN(50), "filterSet": map[string]any{"items": []any{map[string]any{"name": "tag:Environment", "valueSet": map[string]any{"items": []any{map[string]any{"value": "production"}}}}}}}
	if !read {
		rec["responseElements"] = map[string]any{"requestId": rec["requestID"], "return": true, "resourceId": res}
	} else {
		rec["responseElements"] = nil
	}
	if r.IntN(10) == 0 {
		e := benchErrors[r.IntN(len(benchErrors))]
		rec["errorCode"] = e.code
		rec["errorMessage"] = fmt.Sprintf(e.msg, g.account, user, svc.source+":"+name)
	}
	if svc.rtype != "" && r.IntN(3) > 0 {
		arn := fmt.Sprintf("arn:aws:%s:%s:%s:%s", svc.source[:len(svc.source)-len(".amazonaws.com")], g.region, g.account, res)
		rec["resources"] = []any{map[string]any{"accountId": g.account, "type": svc.rtype, "ARN": arn}}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		panic(err)
	}
	return b
}
