// Package awsquery owns the AWS query protocol as a server sees it: the
// form-encoded request (Action, Version and the operation's members) and
// the XML response and error envelopes. SNS serves it (alerts.md §1); the
// CloudWatch query form will reuse it.
//
// # Requests
//
// [Parse] decodes an application/x-www-form-urlencoded body (or a query
// string) into a [Request]: its Action, its Version and the remaining
// members as a [Form], a flat map from dotted names to values. The
// serialisation rules of the query protocol map onto the names:
//
//   - a scalar member is Name=value;
//   - a list is Name.member.N=value (or Name.member.N.Field=value for a
//     list of structures), N counting from 1 without gaps;
//   - a map is Name.entry.N.key=K and Name.entry.N.value=V; a map of
//     structures uses Name.entry.N.Name and Name.entry.N.Value.Field
//     (SNS message attributes) — the key and value field names are the
//     model's;
//   - a nested structure is Name.Field=value.
//
// [Form.String], [Form.Members], [Form.Structs], [Form.Map] and [Form.Sub]
// read those shapes; each returns an [*Error] wrapping [ErrMalformed] when
// the request breaks a rule (a gap in the numbering, a map entry without a
// key). [Form.Tree] turns the whole form into nested lists and objects,
// which is what a CloudTrail record's requestParameters wants.
//
// # Responses
//
// [EncodeResult] writes <OpResponse xmlns=…><OpResult>…</OpResult>
// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
// </OpResponse>, the result being any value encoding/xml can marshal
// (lists as <member>, maps as [Entry] values). [EncodeError] writes the
// <ErrorResponse> of alerts.md §1.3.
//
// The package is pure: no I/O, no clocks, standard library only.
package awsquery
