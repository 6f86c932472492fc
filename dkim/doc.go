// Package dkim owns Postel's DKIM keys and signs outbound mail with them
// (RFC 6376, Ed25519 per RFC 8463).
//
// Keys live under one directory, one sub-directory per domain:
//
//	<dir>/<domain>/<selector>.key   PKCS#8 PEM, mode 0600 (directories 0700)
//
// Selectors are "ed<yyyymm>" for Ed25519 and "rsa<yyyymm>" for RSA-2048,
// from the month the key was generated (for example "ed202611" and
// "rsa202611"). Dated selectors make rotation a matter of generating new keys
// next month, publishing their records and leaving the old records in DNS
// for a few days: the [Signer] always uses the newest key of each algorithm
// (selectors sort by date), so mail already in flight still verifies.
//
// Every message from a domain with keys gets two signatures, Ed25519 and
// RSA-SHA256, both relaxed/relaxed: verifiers that do not know Ed25519 yet
// (RFC 8463 is still not universal) fall back to the RSA one.
//
// The package never touches the network; publishing the [Record]s returned
// by [Generate] or [Records] in DNS is the administrator's job.
package dkim
