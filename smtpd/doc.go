// Package smtpd is Postel's SMTP server: the inbound MX listener (port 25)
// and the submission listeners (587 with STARTTLS, 465 with implicit TLS,
// RFC 6409 and RFC 8314), built on github.com/emersion/go-smtp.
//
// Inbound mode accepts mail only for local recipients (RFC 5321 relaying
// is never offered, authenticated or not), runs the optional inbound
// checks (SPF/DKIM/DMARC, package checks) and delivers through package
// delivery. Submission mode requires AUTH (only after TLS, except from
// loopback), checks that the account owns the envelope sender and every
// address of the From: and Sender: headers, adds Message-ID and Date when
// missing (RFC 6409 8),
// delivers local recipients directly and hands remote ones to the
// outbound queue.
//
// Invariants:
//   - 250 after DATA is sent only when every local copy is durable and the
//     queue has accepted the remote recipients. Any partial failure is a
//     4xx for the whole message (a duplicate beats a silent loss).
//   - Every reply to an error goes through one mapping function
//     (session.smtpError); internal error text is logged, never sent.
//   - A message containing a bare CR or bare LF is refused (550 5.5.2):
//     go-smtp's DATA reader only ends DATA on <CRLF>.<CRLF>, so the
//     "\n.\n" and "\r.\r" smuggling variants never split a message, and
//     refusing the bare line ends keeps us from passing them on.
//   - Per-connection state (session id, logger, error count, junk-command
//     budget) lives on the accepted connection (conn.go), because go-smtp
//     replaces the Session after STARTTLS.
//   - The wire trace (Options.Trace, off by default) never carries a
//     secret or message content: AUTH arguments and the SASL responses
//     after it are redacted until AUTH's final reply (counted, so a
//     pipelined command's reply cannot end the exchange early), DATA and
//     BDAT content is reduced to a byte count, and TLS traffic is not
//     traced (the tracer sits on the raw connection, below TLS).
//   - A panic in a session is recovered, logged with its stack and the
//     session id, answered with 421 and closes only that connection.
package smtpd
