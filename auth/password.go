package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// HashParams is the argon2id cost (RFC 9106) for new password hashes.
type HashParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// Default argon2id cost: the OWASP Password Storage Cheat Sheet's first
// recommendation (m=19 MiB, t=2, p=1). On this class of machine (2 shared
// cores) one hash takes a few tens of milliseconds, which keeps login latency
// low and lets both cores serve a burst of logins without a memory spike.
const (
	defaultHashMemory  = 19 * 1024
	defaultHashTime    = 2
	defaultHashThreads = 1

	saltLen = 16
	keyLen  = 32

	// Bounds on parameters read back from a stored hash, so that a damaged
	// record cannot make a login allocate gigabytes or spin for minutes.
	maxHashMemory = 1 << 20 // 1 GiB
	maxHashTime   = 64
	maxPassword   = 1024 // octets; longer passwords are refused
)

func (p HashParams) withDefaults() HashParams {
	if p.Memory == 0 {
		p.Memory = defaultHashMemory
	}
	if p.Time == 0 {
		p.Time = defaultHashTime
	}
	if p.Threads == 0 {
		p.Threads = defaultHashThreads
	}
	return p
}

func (p HashParams) validate() error {
	// argon2 needs at least 8 KiB per lane.
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxHashMemory || p.Time > maxHashTime {
		return fmt.Errorf("%w: argon2id parameters m=%d t=%d p=%d out of range", ErrInvalid, p.Memory, p.Time, p.Threads)
	}
	return nil
}

// checkPassword refuses passwords that no login protocol could carry:
// empty, NUL (the SASL PLAIN separator), CR or LF (line-based commands such
// as POP3 PASS), or unreasonably long.
func checkPassword(pw string) error {
	switch {
	case pw == "":
		return fmt.Errorf("%w: empty password", ErrInvalid)
	case len(pw) > maxPassword:
		return fmt.Errorf("%w: password longer than %d octets", ErrInvalid, maxPassword)
	case strings.ContainsAny(pw, "\x00\r\n"):
		return fmt.Errorf("%w: password contains NUL, CR or LF", ErrInvalid)
	}
	return nil
}

// hashPassword returns the PHC string
// "$argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<hash>" with
// unpadded standard base64, the format libargon2 and most tools read.
func hashPassword(p HashParams, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: reading salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(key)), nil
}

var errBadHash = errors.New("auth: malformed password hash")

// parseHash decodes a PHC argon2id string.
func parseHash(encoded string) (p HashParams, salt, key []byte, err error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	f := strings.Split(encoded, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported version %q", errBadHash, f[2])
	}
	var seen [3]bool
	for _, kv := range strings.Split(f[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, perr := strconv.ParseUint(v, 10, 32)
		if !ok || perr != nil {
			return p, nil, nil, errBadHash
		}
		switch k {
		case "m":
			p.Memory, seen[0] = uint32(n), true
		case "t":
			p.Time, seen[1] = uint32(n), true
		case "p":
			if n > 255 {
				return p, nil, nil, errBadHash
			}
			p.Threads, seen[2] = uint8(n), true
		default:
			return p, nil, nil, errBadHash
		}
	}
	if !seen[0] || !seen[1] || !seen[2] || p.Time == 0 || p.Threads == 0 || p.validate() != nil {
		return p, nil, nil, errBadHash
	}
	if salt, err = base64.RawStdEncoding.DecodeString(f[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errBadHash
	}
	if key, err = base64.RawStdEncoding.DecodeString(f[5]); err != nil || len(key) < 16 || len(key) > 128 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// verifyHash reports whether pw matches encoded, recomputing with the
// parameters stored in the hash and comparing in constant time.
func verifyHash(encoded, pw string) (bool, error) {
	p, salt, key, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// acquireHasher bounds the number of argon2 computations running at once
// (each holds Memory KiB), waiting for a slot while honouring ctx.
func (db *DB) acquireHasher(ctx context.Context) (release func(), err error) {
	select {
	case db.hashSem <- struct{}{}:
		return func() { <-db.hashSem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// newHash hashes pw with the database's parameters.
func (db *DB) newHash(ctx context.Context, pw string) (string, error) {
	if err := checkPassword(pw); err != nil {
		return "", err
	}
	release, err := db.acquireHasher(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return hashPassword(db.hash, pw)
}

// newDummyHash returns the hash verified when the user does not exist, so
// that an unknown user costs the same argon2id work as a wrong password (no
// user enumeration by timing). Only its parameters matter: the salt and key
// are random, so no password matches it, and making it costs no hashing.
func newDummyHash(p HashParams) (string, error) {
	buf := make([]byte, saltLen+keyLen)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("auth: reading random bytes: %w", err)
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(buf[:saltLen]),
		base64.RawStdEncoding.EncodeToString(buf[saltLen:])), nil
}
