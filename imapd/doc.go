// Package imapd serves mailboxes over IMAP (RFC 9051 IMAP4rev2 and RFC 3501
// IMAP4rev1) by adapting github.com/emersion/go-imap/v2's imapserver to the
// storage and auth packages.
//
// The package owns no mail data: every mailbox operation is a call on a
// *storage.Account, every login a call on the auth database. What it does own
// is the per-connection view of a selected mailbox and the fan-out of
// storage change events to those views:
//
//   - One hub per logged-in account (see hub.go) reads the account's
//     storage.Subscription in commit order and queues each change on every
//     session that has the mailbox selected. The hub never blocks on a
//     session and never does network I/O.
//   - Each selected session keeps its own view (view.go): the UIDs the client
//     knows, in sequence-number order. Client sequence numbers are resolved
//     against that view only, so they stay right however many other sessions
//     are changing the mailbox. Pending changes are applied to the view, and
//     written to the client, only when the RFC allows it: at once during
//     IDLE, after a command otherwise, and never an EXPUNGE while answering
//     FETCH, STORE or SEARCH (RFC 9051 7.5.1).
//   - SELECT registers the view with the hub before it takes the storage
//     snapshot, and drops queued changes whose ModSeq the snapshot already
//     includes, so no change is lost or applied twice.
//
// Connections: our accept loop applies the per-IP limit and hands each
// connection to one of two library servers, one that allows LOGIN before
// TLS (Options.InsecureAuth, loopback by default) and one that advertises
// LOGINDISABLED. Under the library sits limitedConn (conn.go), which
// replaces the library's idle timeout with Options.IdleTimeout and
// coalesces its per-line flushes into few writes.
//
// Locks: a view's mutex guards only its pending queue; the hub's mutex only
// its session set. Neither is held during storage calls or network writes.
//
// IDLE and Close: the library runs Idle on a helper goroutine and, when
// the connection fails during IDLE (timeout, client gone), calls Close
// without waiting for it. Close therefore waits for a running Idle (it
// returns promptly: stop is closed by then) before it detaches the view.
//
// Client interoperability (the clients_*_test.go transcripts replay what
// Thunderbird, Apple Mail, Outlook, K-9, FairEmail, mutt and fetchmail
// send) fixed these choices:
//   - LSUB and LIST (SUBSCRIBED) are driven by the subscription list, so a
//     subscribed name without a mailbox is listed: \NonExistent for LIST
//     (RFC 9051 6.3.9), \Noselect for LSUB, the only such attribute an
//     IMAP4rev1 client knows. LSUB "%" lists the unsubscribed parent of a
//     subscribed child with \Noselect (RFC 3501 6.3.9).
//   - A sequence-set SEARCH key on an empty mailbox matches nothing (K-9
//     sends "SEARCH 1:* UNSEEN NOT DELETED" and "UID SEARCH *:*" on every
//     folder); FETCH/STORE/COPY with "*" there stay BAD.
//   - An empty SASL challenge is sent as "+ ", not the library's "+ =".
//
// Errors reaching a client go through imapError (errors.go): storage and auth
// sentinels become response codes, anything else NO [SERVERBUG] with the
// detail in the log.
package imapd
