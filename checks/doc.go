// Package checks judges mail arriving from the internet on port 25 before
// it reaches a mailbox: connection-level defences (DNSBL zones, per-IP rate
// limits, an early-talker screen before the greeting) and per-message
// authentication (SPF, DKIM, DMARC) summarised in an Authentication-Results
// header field (RFC 8601).
//
// The package owns no storage and no sockets of its own except the
// early-talker listener wrapper. smtpd calls it at four points:
//
//   - CheckConnection when a client connects (before the greeting);
//   - AllowMessage at MAIL FROM (per-IP message rate);
//   - CheckMessage at the end of DATA, on the message exactly as received
//     (DKIM must see the original bytes; it reads them once), which
//     returns the action
//     (Accept, Junk, Reject) and the Authentication-Results field to
//     prepend;
//   - StripAuthResults on the copy that is delivered, which removes any
//     Authentication-Results field that claims our authserv-id (RFC 8601
//     section 5). Strip after checking: a DKIM signature may cover such a
//     field.
//
// Every DNS query (SPF, DKIM keys, DMARC policies, DNSBL) goes through
// Options.Resolver, the same resolver the outbound queue uses, so tests and
// closed networks point all of them at one server. No address range is
// exempt from any check here (loopback included): exemptions are the
// caller's decision.
//
// SPF, DKIM and DMARC answers (and "no such record") are cached in memory
// for Options.DNSCacheTTL (one minute by default; failures are never
// cached), because net.Resolver does not cache and a busy MX sees the same
// sender domains over and over. DNSBL answers are not cached.
//
// Policy decisions (documented at the decision points in dmarc.go and
// verdict.go):
//
//   - DMARC p=reject → 550 5.7.1 at the end of DATA; p=quarantine → Junk;
//     p=none → Accept. pct= downgrades the unsampled share one step
//     (RFC 7489 6.6.4); sp= applies to subdomains whose policy came from the
//     organizational domain.
//   - The organizational domain comes from golang.org/x/net/publicsuffix
//     (the compiled-in Public Suffix List, ICANN and private sections). Its
//     limitation: the list is as fresh as the x/net module in go.mod.
//   - A message whose From: domain (or its organizational domain) is one of
//     ours and that has no SPF or DKIM pass aligned with it (what DMARC
//     calls a pass, required here even when we publish no DMARC record)
//     is never Accept: Junk, or Reject when we publish p=reject (or
//     sp=reject for a subdomain), whatever pct= says.
//   - More than one From: field (RFC 5322 3.6 allows exactly one), or one
//     From: naming addresses in different domains, is treated as a DMARC
//     fail and rejected with 550 5.7.1: it is the classic way to show the
//     reader one sender and the checker another. A missing or unparsable
//     From: cannot be aligned with anything and goes to Junk.
//   - With no (valid) DMARC policy, an SPF "fail" without any passing DKIM
//     signature goes to Junk (RFC 7208 8.4 allows rejecting; we file).
//   - DKIM signatures are verified by checks/dkimverify (go-msgauth's
//     verifier re-read and re-hashed the body once per signature; see
//     that package). Those aligned with the From: domain are verified
//     first, and verification stops at the first one that passes aligned
//     (RFC 6376 6.1 leaves order and stopping to the verifier): nothing
//     we decide depends on the others, and each costs a public-key
//     operation. Signatures not verified are left out of
//     Authentication-Results and logged as "unverified".
//     Options.DKIMVerifyAll (config: [inbound] dkim_verify_all) verifies
//     and reports every one instead; Options.SkipDKIMWhenSPFAligned (off
//     by default) verifies none when SPF already passes aligned.
//   - A message we cannot read (our spool failing) is 451 4.3.0.
//   - DNS trouble never rejects outright: temperror results are recorded
//     in the header and the message is accepted (or Junk for our own
//     domains), and a DNSBL lookup that fails is not a listing.
//
// Concurrency: a Checker is safe for concurrent use by many sessions; the
// rate limiters hold one mutex each, never across DNS lookups.
package checks
