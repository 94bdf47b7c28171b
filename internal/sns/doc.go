// Package sns is OpenTrail's Amazon SNS engine (alerts.md §2): topics and
// their attributes and tags, HTTP/HTTPS subscriptions with the
// confirmation handshake, signed messages, and a durable delivery queue
// with SNS's retry policies. internal/snsapi serves it over the SNS query
// API; other engines publish to it in process with [Service.Publish].
//
// # State
//
// Everything lives under one directory (docs/format/sns.md): state.json
// (topics, subscriptions, confirmation tokens; rewritten atomically,
// copy-on-write, before a caller is answered), the deployment's RSA-2048
// signing key and self-signed certificate, and queue/, one file per
// pending HTTP delivery.
//
// Resources belong to one account: every method taking an account
// refuses another account's topic or subscription with
// [ErrAuthorization], and lists show only the caller's.
//
// # Delivery
//
// Publish renders and signs one message per confirmed subscriber (its
// MessageId and Timestamp fixed, so retries resend the same bytes) and
// returns only once each is on disk. [Service.Run] delivers: each pending
// delivery has its own goroutine, and a subscription has at most
// Options.MaxInFlightPerSubscription attempts in flight, so a slow or
// failing endpoint delays only its own messages. An attempt succeeds on a
// 2xx–4xx answer (a 4xx is the subscriber refusing, and is not retried);
// otherwise it is retried after the delays of the effective delivery
// policy ([RetryPolicy.Delays]) and dropped, with a warning, once they are
// spent. Confirmations follow the same policy. A restart resumes every
// file, at its recorded retry and time.
//
// The clock and the waits are Options (Now, Sleep), so tests run the
// retry schedule without waiting for it.
//
// # Signing
//
// Messages are signed as SNS signs them (SignatureVersion 1: SHA1withRSA;
// 2: SHA256withRSA) over [StringToSign]; SigningCertURL names the
// certificate at <public-url>/SimpleNotificationService-<hash>.pem
// ([Service.Certificate]).
package sns
