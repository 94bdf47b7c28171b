// Package eventbus is OpenTrail's EventBridge default event bus, scoped to
// what CloudTrail monitoring needs (alerts.md §3): rules with event
// patterns, their targets (SNS topics and API destinations), connections,
// and the delivery of CloudTrail events to them.
//
// # Data flow
//
// The [Engine] is a follower of the event log with its own durable
// checkpoint (docs/format/eventbus.md). For each event it decides whether
// the event reaches the default bus of its account and Region (a logging
// trail must cover it, unless the daemon turns that gate off; see
// [Options.Admit]), wraps it in the EventBridge envelope
// ([Envelope]), matches it against every rule of that bus at once (an
// eventpattern.Set), and writes one delivery per matched target to a
// durable outbox before it moves its checkpoint. PutEvents entries go
// through the same matching and outbox before the call is answered.
//
// Deliveries leave the outbox through one queue per target, so a target
// that is down never holds back another: each is retried with exponential
// back-off and jitter under the target's RetryPolicy (at most 185 retries
// and 24 hours by default), then written to the dead-letter log. Delivery
// is at least once: a crash may send a delivery again, never lose one.
//
// # What it does not do
//
// Only the default bus exists; schedule expressions, archives, replays
// and targets other than SNS topics and API destinations are refused with
// the errors the API model defines.
package eventbus
