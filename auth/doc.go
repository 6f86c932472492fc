// Package auth owns Postel's accounts: local domains, users with their
// password hashes and quotas, aliases and catch-alls, recipient resolution,
// the "may this account send as that address" policy, SASL PLAIN and LOGIN,
// and throttling of failed logins. Every front end (smtpd, imapd, pop3d)
// and the admin commands go through a *DB; nothing else opens its file.
//
// # Storage
//
// One bbolt file (Options.Path) with buckets "domains", "users" and
// "aliases", keyed by canonical name, values in JSON; "meta" holds the
// schema version. bbolt allows one process at a time: Open fails with
// ErrLocked while `postel serve` holds the file.
//
// The whole database is mirrored in memory as an immutable snapshot.
// Readers (Resolve, IsLocalDomain, Quota, CanSendAs, Authenticate, the
// listings) load it with one atomic read and take no lock and do no I/O.
// Writers are serialised by a mutex, validate against the snapshot, commit
// to bbolt (fsynced) and only then publish a freshly loaded snapshot, so
// nobody ever sees a change that is not on disk.
//
// # Addresses
//
// Addresses are canonical: white space around them trimmed, exactly one
// '@', lower-case. Domains follow RFC 1123 host name rules (letters, digits,
// hyphens; 63-octet labels; 253 octets; a trailing dot dropped; a numeric
// last label refused); internationalised domains are accepted and stored as
// A-labels ("xn--..."). Local parts of users and aliases are RFC 5322
// dot-atoms of at most 64 octets, UTF-8 allowed (RFC 6531), without '+'
// (reserved for tags: "user+tag@dom" reaches "user@dom") and without '/'.
// Quoted local parts are not supported; an address literal
// ("bob@[192.0.2.1]") is never local. Mail
// addressed to a local domain is looked up case-insensitively; see Resolve
// for the order (user, alias, +tag, catch-all, postmaster fallback) and
// CanSendAs for the sending rule ("you may send as what you receive").
// Aliases point at users only, never at other aliases.
//
// # Passwords and logins
//
// Passwords are stored as argon2id PHC strings
// ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash") and verified with the
// parameters stored in each hash, in constant time. A login for an unknown
// user verifies a dummy hash of the same cost. At most GOMAXPROCS hashes
// run at once, bounding memory under a login flood. A hash made with other
// parameters than the current ones is replaced at the user's next
// successful login. Passwords are compared byte for byte (no SASLprep or
// Unicode normalisation); they may not be empty, longer than 1024 octets,
// or contain NUL, CR or LF, which no login command could carry.
//
// Failed logins are counted per remote IPv4 address or IPv6 /64 and per
// account name (see ThrottleOptions): after Free failures each further
// failure is answered only after a doubling delay; after Lockout failures
// without a quiet Window between them, the source or account is refused
// with ErrThrottled, without checking the password, until Window has passed
// since its last failure. Loopback is not exempt. The throttle's lock is
// never held while hashing or waiting, and the wait honours ctx. Passwords
// are never logged; throttling state lives in memory only and starts empty
// after a restart.
package auth
