// Package dkimverify verifies DKIM signatures (RFC 6376, with the
// algorithm rules of RFC 8301 and Ed25519 from RFC 8463) for the inbound
// checks.
//
// Postel signs outbound mail with github.com/emersion/go-msgauth/dkim, and
// its tests use that library as the reference this package must agree
// with. Inbound verification is ours because the library's verifier does
// the expensive parts once per signature and cannot be told otherwise:
// every signature canonicalizes and hashes the body again, each on its own
// goroutine fed through an io.Pipe, and a body hash is computed even when
// verification could stop. On the mail we receive most (one or two
// signatures, relaxed/relaxed, SHA-256) that doubled the checks' cost per
// message (benchmarks/checks.md). Here the header is parsed once, the body
// is read once and hashed once per distinct body canonicalization, and
// each signature then costs its key lookup (cached by the caller's
// resolver), its header hash and one public-key operation.
//
// Behaviour follows the library where RFC 6376 leaves a choice, so that
// replacing it changed no verdict (TestAgreesWithGoMsgauth):
//
//   - rsa-sha1 is never valid (RFC 8301 3.1), nor an RSA key under 1024
//     bits (RFC 8301 3.2);
//   - a signature with l= (body length) fails: it lets anyone append to
//     the signed body, so it proves nothing about what the reader sees;
//   - lines ending in a bare LF are read as ending in CRLF, and a CR
//     without LF ends a line too in relaxed body canonicalization
//     (dkimpy, TestVerifiesDkimpySignatures's other reference, reads
//     it as content; smtpd refuses both, RFC 5321 2.3.8, so no message
//     we receive or sign has one);
//   - several TXT records for one selector are a permerror (RFC 6376
//     3.6.2.2 leaves the outcome undefined).
//
// Where this package is stricter than the library, it follows the RFC:
// i= is compared with d= case-insensitively (RFC 6376 3.5), the key's t=s
// flag forbids an i= in a subdomain of d= (3.6.1), x= must not precede t=
// (3.5), d= in U-labels is looked up in its A-label form, RSA keys over
// 8192 bits are refused (each verification would cost milliseconds; RFC
// 8301 asks verifiers to handle up to 4096), and only "not found" from
// DNS is a permerror: any other lookup failure is a temperror, so that a
// resolver hiccup never reads as a broken signature.
package dkimverify
