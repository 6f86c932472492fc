package dkimverify

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"sync"
)

// publicKey is a parsed DKIM key record (RFC 6376 3.6.1).
type publicKey struct {
	algo    string // "rsa" or "ed25519"
	rsa     *rsa.PublicKey
	ed25519 ed25519.PublicKey
	hashes  []string // h=: acceptable hash algorithms; nil means any
	strict  bool     // t=s: i= must be in d= itself, not a subdomain
}

// RSA key sizes accepted: RFC 8301 3.2 forbids trusting keys under 1024
// bits; over 8192 bits a single verification costs milliseconds, a cheap
// way to make a receiver burn CPU.
const (
	minRSABits = 1024
	maxRSABits = 8192
)

// parseKey parses a key record. The error says why the record is
// unusable; every such error is a permerror.
func parseKey(record string) (*publicKey, error) {
	tags, err := parseTagList(record)
	if err != nil {
		return nil, fmt.Errorf("key record: %w", err)
	}
	if v, ok := lookup(tags, "v"); ok && v != "DKIM1" {
		return nil, fmt.Errorf("key record: incompatible version %q", v)
	}
	p, ok := lookup(tags, "p")
	if !ok {
		return nil, fmt.Errorf("key record: no p=")
	}
	p = stripWSP(p)
	if p == "" {
		return nil, fmt.Errorf("key revoked")
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("key record: malformed p=")
	}
	k := &publicKey{}
	switch algo, _ := lookup(tags, "k"); algo {
	case "", "rsa":
		k.algo = "rsa"
		// RFC 6376 asks for SubjectPublicKeyInfo but its example (and
		// some publishers) use a bare RSAPublicKey (erratum 3017).
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			pub, err = x509.ParsePKCS1PublicKey(der)
		}
		rk, ok := pub.(*rsa.PublicKey)
		if err != nil || !ok {
			return nil, fmt.Errorf("key record: not an RSA public key")
		}
		if bits := rk.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("RSA key of %d bits (accepted: %d-%d)", bits, minRSABits, maxRSABits)
		}
		k.rsa = rk
	case "ed25519":
		k.algo = "ed25519"
		if len(der) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key record: Ed25519 key of %d bytes", len(der))
		}
		k.ed25519 = ed25519.PublicKey(der)
	default:
		return nil, fmt.Errorf("key record: unsupported key type %q", algo)
	}
	if h, ok := lookup(tags, "h"); ok {
		k.hashes = splitList(h)
	}
	if s, ok := lookup(tags, "s"); ok {
		services := splitList(s)
		if !hasElement(services, "*") && !hasElement(services, "email") {
			return nil, fmt.Errorf("key record: not for email (s=%s)", s)
		}
	}
	if t, ok := lookup(tags, "t"); ok {
		k.strict = hasElement(splitList(t), "s")
	}
	return k, nil
}

// keyCache remembers parsed key records by their text: the resolver's
// cache returns the same record for every message of a sender, and
// parsing an RSA key (ASN.1, a big.Int) is a tenth of a verification.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]keyEntry
}

type keyEntry struct {
	key *publicKey
	err error
}

const maxCachedKeys = 1000

func (c *keyCache) parse(record string) (*publicKey, error) {
	c.mu.Lock()
	e, ok := c.keys[record]
	c.mu.Unlock()
	if ok {
		return e.key, e.err
	}
	k, err := parseKey(record)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil || len(c.keys) >= maxCachedKeys {
		c.keys = map[string]keyEntry{}
	}
	c.keys[record] = keyEntry{k, err}
	return k, err
}
