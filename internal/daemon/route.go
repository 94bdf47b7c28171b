package daemon

import (
	"net/http"
	"strings"

	"github.com/opentrail/opentrail/internal/snsapi"
)

// service is what one request on the API port is for (alerts.md §1.2,
// protocol.md §4).
type service int

const (
	svcS3              service = iota // the S3 front end (also unsigned requests)
	svcCloudTrail                     // cloudtrail JSON (X-Amz-Target)
	svcCloudTrailData                 // cloudtrail-data rest-json (PutAuditEvents)
	svcSNS                            // SNS query protocol
	svcEvents                         // EventBridge JSON (AWSEvents.*)
	svcLogs                           // CloudWatch Logs JSON (Logs_20140328.*)
	svcMonitoringJSON                 // CloudWatch JSON 1.0 (GraniteServiceVersion20100801.*)
	svcMonitoringCBOR                 // CloudWatch rpc-v2-cbor
	svcMonitoringQuery                // CloudWatch query protocol
	svcUnknown                        // nothing OpenTrail serves
)

// classify routes a request without reading its body:
//  1. X-Amz-Target: by the text before its last dot;
//  2. CloudWatch's rpc-v2-cbor path;
//  3. otherwise by the SigV4 credential scope's service (Authorization
//     header or X-Amz-Credential), never by Action: SNS and CloudWatch
//     share action names; an unsigned POST /PutAuditEvents is
//     cloudtrail-data's (protocol.md §4), which asks for a signature;
//  4. unsigned SubscribeURL / UnsubscribeURL GETs and the SNS signing
//     certificate go to SNS; other unsigned requests to S3 (anonymous
//     access).
func classify(r *http.Request) service {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		prefix := t
		if i := strings.LastIndexByte(t, '.'); i >= 0 {
			prefix = t[:i]
		}
		switch prefix {
		case "AWSEvents":
			return svcEvents
		case "Logs_20140328":
			return svcLogs
		case "GraniteServiceVersion20100801":
			return svcMonitoringJSON
		}
		// The cloudtrail API answers its own forms and any unknown target
		// (UnknownOperationException), as before.
		return svcCloudTrail
	}
	if strings.HasPrefix(r.URL.Path, "/service/GraniteServiceVersion20100801/operation/") &&
		r.Header.Get("Smithy-Protocol") == "rpc-v2-cbor" {
		return svcMonitoringCBOR
	}
	switch svc := scopeService(r); svc {
	case "cloudtrail-data":
		return svcCloudTrailData
	case "sns":
		return svcSNS
	case "monitoring":
		return svcMonitoringQuery
	case "", "s3":
		if svc == "" && r.Method == http.MethodPost && r.URL.Path == "/PutAuditEvents" {
			return svcCloudTrailData
		}
		if snsapi.Unsigned(r) || unsignedQuery(r) {
			return svcSNS
		}
		return svcS3
	case "cloudtrail":
		return svcCloudTrail
	}
	return svcUnknown
}

// unsignedQuery is an unsigned form POST to / (no S3 request looks like
// one): SNS answers it, in the query protocol's XML, that it needs a
// signature.
func unsignedQuery(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/" && r.Header.Get("Authorization") == "" &&
		strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/x-www-form-urlencoded")
}

// scopeService is the service of the request's SigV4 credential scope
// (AKID/date/region/SERVICE/aws4_request), "" when unsigned or unparsable.
func scopeService(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if h := r.Header.Get("Authorization"); h != "" {
		_, rest, ok := strings.Cut(h, "Credential=")
		if !ok {
			return ""
		}
		cred, _, _ = strings.Cut(rest, ",")
	}
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// notServed answers the services routed but not served yet, in the JSON
// error shape their clients read.
func notServed(w http.ResponseWriter, what string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(`{"__type":"UnknownOperationException","message":"OpenTrail does not serve ` + what + ` yet."}`))
}
