// Package cwapi serves the CloudWatch API subset of alerts.md §1.4 on
// internal/jsonsvc, the front end the JSON alerting services share, in the
// three wire forms of §1.1:
//   - botocore's JSON 1.0: POST / with X-Amz-Target
//     GraniteServiceVersion20100801.<Op> and x-amzn-query-mode (jsonsvc's
//     own form);
//   - the Go SDK's (≥ v1.53.0) Smithy RPC v2 CBOR: POST
//     /service/GraniteServiceVersion20100801/operation/<Op> (cbor.go: a
//     reflect glue between the wire structs and smithy-go's CBOR values,
//     timestamps as tag 1);
//   - the query protocol of older SDKs: a form POST signed for monitoring,
//     answered in XML (query.go).
//
// All three run the same operations (ops.go) over the wire structs of
// wire.go, are authenticated with SigV4 for the signing name monitoring,
// scoped to the caller's account and Region, and recorded as CloudTrail
// events from monitoring.amazonaws.com. CloudWatch is awsQueryCompatible:
// errors carry the modelled shape id as __type and the query code in
// x-amzn-query-error (errors.go).
package cwapi

import (
	"github.com/opentrail/opentrail/internal/jsonsvc"
)

// Service identifiers (alerts.md §1.1).
const (
	TargetPrefix    = "GraniteServiceVersion20100801"
	PathPrefix      = "/service/" + TargetPrefix + "/operation/"
	SigningName     = "monitoring"
	EventSource     = "monitoring.amazonaws.com"
	jsonContentType = "application/x-amz-json-1.0"
	cborContentType = "application/cbor"
)

// New returns the CloudWatch API for engine e. o carries what every
// jsonsvc service shares (Auth, Events, Regions, limits, logger); New sets
// the rest.
func New(e Engine, o jsonsvc.Options) (*jsonsvc.Handler, error) {
	s := &service{e: e}
	table := s.table()
	o.TargetPrefix, o.SigningName, o.EventSource = TargetPrefix, SigningName, EventSource
	o.ContentType = jsonContentType
	o.QueryCompatible = true
	o.Errors = resolve
	o.Ops = map[string]jsonsvc.Op{}
	inputs := map[string]func() any{}
	for name, op := range table {
		o.Ops[name] = op.op
		inputs[name] = op.input
	}
	o.Protocols = []jsonsvc.Protocol{cborProtocol{inputs: inputs}, queryProtocol{inputs: inputs}}
	return jsonsvc.New(o)
}
