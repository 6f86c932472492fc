// Package pop3d is Postel's POP3 server: RFC 1939 (USER/PASS, STAT, LIST,
// RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL) with RFC 2449 CAPA and response
// codes, RFC 2595 STLS, RFC 3206 [SYS/*] and [AUTH] codes and RFC 5034
// AUTH PLAIN, over the shared mail store.
//
// No maintained Go POP3 server library exists, so the protocol layer is
// here, deliberately small: one goroutine per connection runs a loop of
// readLine → parseCommand → handler, in the three RFC 1939 states
// (AUTHORIZATION, TRANSACTION, UPDATE).
//
// Invariants:
//   - The maildrop is the account's INBOX, snapshotted once at login
//     (Maildrop.List). Message numbers, sizes and UIDLs never change during
//     a session; mail delivered meanwhile shows up in the next session.
//   - LIST and STAT report the stored size (CRLF line ends, before
//     dot-stuffing, without the terminating ".CRLF"), which is exactly the
//     octets RETR sends once the stuffing is undone. Storage keeps bytes as
//     delivered, and SMTP and IMAP APPEND deliver CRLF; only a file dropped
//     into the Maildir from outside with bare LF line ends is sent with
//     CRLF added (RFC 1939 3) and then counts one octet short per line.
//   - UIDL is the hex of UIDVALIDITY and UID: stable for as long as the
//     message exists and identical in every session.
//   - The account's POP3 lock (Maildrop.LockPOP3) is held from a
//     successful login to the end of the connection, and released on every
//     exit path; a second login gets -ERR [IN-USE].
//   - DELE only marks. Marked messages are deleted through storage only
//     after QUIT in the TRANSACTION state; a dropped connection, a timeout,
//     a shutdown or a panic deletes nothing.
//   - USER/PASS and AUTH are refused before TLS unless Options.InsecureAuth
//     allows the remote address (by default: loopback only), and are then
//     not advertised in CAPA.
//   - pop3Error is the only place errors become wire text; internal error
//     text goes to the log, never to the client. Wire traces (Options.Trace)
//     never contain PASS or AUTH data.
package pop3d
