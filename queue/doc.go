// Package queue is Postel's outbound mail queue: it stores messages for
// remote recipients durably, delivers them over SMTP to each domain's MX
// hosts (or through a smarthost), retries temporary failures with backoff,
// and reports failures and long delays to the sender with RFC 3464
// delivery status notifications.
//
// # Storage and durability
//
// A queue directory holds queue.db (bbolt) and msg/<id>, one file per
// message, written once and never changed. [Queue.Enqueue] writes and
// fsyncs the file (and the directory entry), then commits one record per
// message and one per recipient (status, attempts, next try, last error) in
// one bbolt transaction; only then does it return, so a message the
// submission server acknowledged survives kill -9. Concurrent Enqueue calls
// share commits (bbolt's Batch), the group commit of DESIGN.md invariant 2.
//
// Results are recorded per recipient as soon as the remote's reply to DATA
// (or the refusal of RCPT) is known, before the next message goes on the
// same connection. A recipient recorded as delivered is never sent again.
// The only window for a duplicate is the one every MTA has: a crash between
// the remote's 250 and the commit of that result.
//
// A message's records are removed (and then its file) when every recipient
// is delivered or has failed and been reported. [Open] deletes message
// files without records: they belong to an Enqueue that never returned.
//
// # No open relay
//
// The queue delivers whatever it is given to whatever address it is given:
// it trusts its callers. What keeps Postel from being an open relay is who
// those callers are. Exactly two paths enter the queue:
//
//   - the submission listeners of package smtpd, which accept MAIL only
//     after AUTH and only with an envelope sender and From: the account
//     owns (DESIGN.md, "Security defaults"); the port 25 listener never
//     calls Enqueue, since it refuses every non-local recipient at RCPT;
//   - the queue itself, for bounces and delay notices, which have a null
//     sender and go only to the original envelope sender.
//
// cmd/postel is the only place that hands the *Queue to smtpd, and only to
// the submission servers. No network listener in this package accepts mail.
//
// # Delivery
//
// [Queue.RunOnce] delivers everything due now and returns when those
// attempts have finished (tests drive it with a fake clock, Options.Now).
// [Queue.Start] runs the scheduler: woken by Enqueue, by the end of a run
// and at the next due time, it claims the due recipients and delivers them
// in the background. A run in progress does not block the next one for more
// than a second (mail enqueued meanwhile gathers for up to that long, so
// that under load one connection carries many messages); a recipient is
// claimed by one run at a time. Recipients are grouped by domain; a domain
// gets up to Options.MaxPerDomain connections, each sending the messages it
// takes one transaction after another (all of the message's recipients in
// that domain in one transaction), and at most Options.MaxConns connections
// are open in total. Both caps hold across concurrent runs. Domains that
// share MX hosts are capped separately.
//
// Routing follows RFC 5321 5.1: MX records in preference order, shuffled
// among equal preferences; no MX means the domain's own A/AAAA records; a
// null MX (RFC 7505) is a permanent failure. STARTTLS is used whenever it is
// offered, without certificate verification for MX hosts (RFC 7435
// opportunistic security: a self-signed MX certificate still beats
// plaintext). A smarthost is verified and must offer TLS, since AUTH
// credentials cross that connection.
//
// go-smtp's client does not pipeline commands; each MAIL/RCPT waits for its
// reply. It sends BODY=8BITMIME whenever the server offers it; SMTPUTF8 is
// requested only for messages that need it (non-ASCII addresses or
// headers), and such a message to a server without SMTPUTF8 fails
// permanently for that recipient (RFC 6531 3.5).
//
// # Retries and reports
//
// 2xx: delivered. 5xx: permanent failure. 4xx, connection and DNS errors:
// retried after 5m, 10m, 20m, 40m, 1h, 2h, 4h, then every 4h, until the
// message is 5 days old, when it fails as expired. After 4 hours still
// undelivered the sender gets one delay notice. Failures produce one bounce
// per message and run, listing every recipient that failed in it. Reports
// to a sender of a local domain go to Options.Local (the mailbox delivery
// path); others are queued like any message, with a null sender. A message
// with a null sender is never reported on (RFC 5321 6.1, no bounce loops).
package queue
