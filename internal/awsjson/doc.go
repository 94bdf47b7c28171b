// Package awsjson owns the AWS JSON 1.1 framing of the cloudtrail API: the
// X-Amz-Target header, bounded request bodies, request decoding, the
// epoch-seconds timestamp type, and the success and error response
// envelopes.
//
// It knows nothing about individual operations. Wire structs live in the
// api package and use [Time] for every timestamp member; they are decoded
// with [Decode] and written with [WriteJSON] or [WriteError].
//
// Decoding follows protocol.md §2.1:
//   - an empty body means {};
//   - a member set to null is treated as absent;
//   - a null element of a list, or value of a map, is refused
//     ([ErrNullElement]): the model's lists and maps are dense;
//   - unknown members are ignored;
//   - a member of the wrong JSON type is a [*DecodeError] naming the member.
//
// The package is pure apart from writing to the http.ResponseWriter it is
// given: no clocks, no goroutines, standard library only.
package awsjson
