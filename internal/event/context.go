package event

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Enriched events (PutEventConfiguration's context key selectors) carry an
// eventContext member that OpenTrail builds from the record itself and, for
// principal tags, from the identity configuration (decision 161):
//
//	"eventContext":{"requestContext":{"aws:SourceIp":"198.51.100.7","aws:PrincipalTag/team":"sec"}}
//
// Only keys the request had a value for appear; a record without any gets
// no eventContext.

// PrincipalTagPrefix starts a RequestContext key that selects a principal
// tag: aws:PrincipalTag/KEY.
const PrincipalTagPrefix = "aws:PrincipalTag/"

// requestContextKeys are the IAM global condition keys OpenTrail derives
// from a record, each with what it is taken from.
var requestContextKeys = []struct {
	key  string
	from func(*contextDoc) string
}{
	{"aws:CurrentTime", func(d *contextDoc) string {
		if t := d.eventTime(); !t.IsZero() {
			return t.Format(time.RFC3339)
		}
		return ""
	}},
	{"aws:EpochTime", func(d *contextDoc) string {
		if t := d.eventTime(); !t.IsZero() {
			return strconv.FormatInt(t.Unix(), 10)
		}
		return ""
	}},
	{"aws:MultiFactorAuthPresent", func(d *contextDoc) string { return d.UserIdentity.SessionContext.Attributes.MFAAuthenticated }},
	{"aws:PrincipalAccount", func(d *contextDoc) string { return d.UserIdentity.AccountID }},
	{"aws:PrincipalArn", func(d *contextDoc) string {
		if d.UserIdentity.Type == "AssumedRole" && d.UserIdentity.SessionContext.SessionIssuer.ARN != "" {
			return d.UserIdentity.SessionContext.SessionIssuer.ARN
		}
		return d.UserIdentity.ARN
	}},
	{"aws:PrincipalType", func(d *contextDoc) string {
		return map[string]string{"Root": "Account", "IAMUser": "User", "AssumedRole": "AssumedRole", "FederatedUser": "FederatedUser"}[d.UserIdentity.Type]
	}},
	{"aws:RequestedRegion", func(d *contextDoc) string { return d.AWSRegion }},
	{"aws:SecureTransport", func(d *contextDoc) string {
		if d.TLSDetails != nil {
			return "true"
		}
		return ""
	}},
	{"aws:SourceIp", func(d *contextDoc) string {
		if _, err := netip.ParseAddr(d.SourceIPAddress); err == nil {
			return d.SourceIPAddress
		}
		return "" // a service's name, not an address
	}},
	{"aws:SourceVpce", func(d *contextDoc) string { return d.VPCEndpointID }},
	{"aws:TokenIssueTime", func(d *contextDoc) string { return d.UserIdentity.SessionContext.Attributes.CreationDate }},
	{"aws:UserAgent", func(d *contextDoc) string { return d.UserAgent }},
	{"aws:userid", func(d *contextDoc) string { return d.UserIdentity.PrincipalID }},
	{"aws:username", func(d *contextDoc) string {
		if d.UserIdentity.Type == "IAMUser" {
			return d.UserIdentity.UserName
		}
		return ""
	}},
	{"aws:ViaAWSService", func(d *contextDoc) string {
		if d.UserIdentity.Type == "" {
			return ""
		}
		return strconv.FormatBool(strings.HasSuffix(d.UserIdentity.InvokedBy, ".amazonaws.com"))
	}},
}

// RequestContextKeys returns the RequestContext keys OpenTrail supports, in
// their canonical spelling, besides aws:PrincipalTag/KEY.
func RequestContextKeys() []string {
	out := make([]string, len(requestContextKeys))
	for i, k := range requestContextKeys {
		out[i] = k.key
	}
	return out
}

// CanonicalContextKey returns the canonical spelling of a RequestContext
// key (condition keys are case-insensitive; a principal tag's key keeps
// its case) and whether OpenTrail supports it.
func CanonicalContextKey(key string) (string, bool) {
	if len(key) > len(PrincipalTagPrefix) && strings.EqualFold(key[:len(PrincipalTagPrefix)], PrincipalTagPrefix) {
		return PrincipalTagPrefix + key[len(PrincipalTagPrefix):], true
	}
	for _, k := range requestContextKeys {
		if strings.EqualFold(k.key, key) {
			return k.key, true
		}
	}
	return "", false
}

// contextDoc is what request context keys are taken from.
type contextDoc struct {
	EventTime       string `json:"eventTime"`
	AWSRegion       string `json:"awsRegion"`
	SourceIPAddress string `json:"sourceIPAddress"`
	UserAgent       string `json:"userAgent"`
	VPCEndpointID   string `json:"vpcEndpointId"`
	TLSDetails      *struct {
		TLSVersion string `json:"tlsVersion"`
	} `json:"tlsDetails"`
	UserIdentity struct {
		Type           string `json:"type"`
		PrincipalID    string `json:"principalId"`
		ARN            string `json:"arn"`
		AccountID      string `json:"accountId"`
		AccessKeyID    string `json:"accessKeyId"`
		UserName       string `json:"userName"`
		InvokedBy      string `json:"invokedBy"`
		SessionContext struct {
			Attributes struct {
				CreationDate     string `json:"creationDate"`
				MFAAuthenticated string `json:"mfaAuthenticated"`
			} `json:"attributes"`
			SessionIssuer struct {
				ARN string `json:"arn"`
			} `json:"sessionIssuer"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	EventContext json.RawMessage `json:"eventContext"`
}

func (d *contextDoc) eventTime() time.Time {
	t, err := time.Parse(time.RFC3339, d.EventTime)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// Enrich returns the record raw (compact JSON, as the store holds it) with
// an eventContext member holding the values of keys, RequestContext keys
// in their canonical spelling (see [CanonicalContextKey]), that the record
// has. Principal tags come from tags, called with the record's access key
// id (nil: none). It returns raw itself when no key has a value, when the
// record already carries an eventContext (an enriched record imported from
// AWS) or when it cannot be read as a record.
func Enrich(raw []byte, keys []string, tags func(accessKeyID string) map[string]string) []byte {
	if len(keys) == 0 || len(raw) < 2 || raw[len(raw)-1] != '}' {
		return raw
	}
	var d contextDoc
	if err := json.Unmarshal(raw, &d); err != nil || d.EventContext != nil {
		return raw
	}
	var principal map[string]string
	var b bytes.Buffer
	n := 0
	for _, key := range keys {
		var v string
		if tag, ok := strings.CutPrefix(key, PrincipalTagPrefix); ok {
			if principal == nil && tags != nil && d.UserIdentity.AccessKeyID != "" {
				principal = tags(d.UserIdentity.AccessKeyID)
			}
			v = principal[tag]
		} else {
			for _, k := range requestContextKeys {
				if k.key == key {
					v = k.from(&d)
					break
				}
			}
		}
		if v == "" {
			continue
		}
		if n == 0 {
			if raw[len(raw)-2] != '{' {
				b.WriteByte(',')
			}
			b.WriteString(`"eventContext":{"requestContext":{`)
		} else {
			b.WriteByte(',')
		}
		n++
		kb, _ := json.Marshal(key)
		vb, _ := json.Marshal(v)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	if n == 0 {
		return raw
	}
	b.WriteString("}}}")
	out := make([]byte, 0, len(raw)+b.Len())
	out = append(out, raw[:len(raw)-1]...)
	return append(out, b.Bytes()...)
}
