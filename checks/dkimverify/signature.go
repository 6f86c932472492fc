package dkimverify

import (
	"encoding/base64"
	"errors"
	"postel/internal/dnsname"
	"strconv"
	"strings"
	"time"
)

// Field is one header field as received: its name (white space around it
// removed) and all its bytes, continuation lines and line ends included.
type Field struct {
	Name string
	Raw  []byte
}

// Signature is one DKIM-Signature field, parsed (RFC 6376 3.5).
type Signature struct {
	Field      int    // index of the field in the header given to Parse
	Domain     string // d=, white space removed, as written
	Selector   string // s=
	Identifier string // i=, or "@" + d= when absent
	B          string // b=, white space removed: its start tells signatures apart (RFC 6008)
	// Err is why the field is not a signature that can verify: a missing
	// or malformed tag, a version or algorithm we do not accept. Verify
	// reports it as a permerror without a lookup.
	Err error

	lookupDomain string // d= as a lower-case A-label, for the key query
	keyAlgo      string // "rsa" or "ed25519"
	headerCanon  canonicalization
	bodyCanon    canonicalization
	headers      []string // h=, in order
	bodyHash     []byte   // bh=, decoded
	sig          []byte   // b=, decoded
	hasLength    bool     // l= present
	hasExpiry    bool
	expires      time.Time // x=

	// body is the outcome of HashBodies for this signature.
	body bodyState
}

type bodyState int

const (
	bodyUnknown bodyState = iota // HashBodies did not cover it
	bodyMatch
	bodyMismatch
)

type canonicalization int

const (
	simple canonicalization = iota
	relaxed
)

// errUnusable marks the reasons a DKIM-Signature field cannot verify,
// whatever its key says.
var errUnusable = errors.New("unusable signature")

func unusable(why string) error { return &reasonError{errUnusable, why} }

type reasonError struct {
	kind error
	why  string
}

func (e *reasonError) Error() string { return e.why }
func (e *reasonError) Unwrap() error { return e.kind }

// Parse returns the DKIM-Signature fields of a header, in header order,
// each parsed; a field that does not parse has Err set.
func Parse(header []Field) []*Signature {
	var sigs []*Signature
	for i, f := range header {
		if strings.EqualFold(f.Name, "DKIM-Signature") {
			sigs = append(sigs, parseSignature(i, f.Raw))
		}
	}
	return sigs
}

func parseSignature(index int, raw []byte) *Signature {
	s := &Signature{Field: index}
	_, value, _ := strings.Cut(string(raw), ":")
	tags, err := parseTagList(value)
	if err != nil {
		s.Err = unusable("signature tags: " + err.Error())
		return s
	}
	get := func(name string) string { v, _ := lookup(tags, name); return v }
	// What identifies the signature is filled in first, so that even a
	// field that does not verify can be named in results and logs.
	s.Domain = stripWSP(get("d"))
	s.Selector = stripWSP(get("s"))
	s.B = stripWSP(get("b"))
	s.Identifier = "@" + s.Domain
	if v, ok := lookup(tags, "i"); ok {
		s.Identifier = stripWSP(v)
	}
	if v, _ := lookup(tags, "v"); v != "1" {
		s.Err = unusable("incompatible signature version")
		return s
	}
	for _, name := range []string{"a", "b", "bh", "d", "h", "s"} {
		if _, ok := lookup(tags, name); !ok {
			s.Err = unusable("signature missing required tag " + name + "=")
			return s
		}
	}
	if s.lookupDomain = dnsname.Normalize(s.Domain); s.lookupDomain == "" || s.Selector == "" {
		s.Err = unusable("malformed d= or s=")
		return s
	}
	// RFC 6376 3.5: i= must be d= or a subdomain of it.
	at := strings.LastIndexByte(s.Identifier, '@')
	if at < 0 || !inDomain(s.Identifier[at+1:], s.Domain) {
		s.Err = unusable("i= is not in the domain of d=")
		return s
	}
	s.headers = splitList(get("h"))
	signsFrom := false
	for _, h := range s.headers {
		signsFrom = signsFrom || strings.EqualFold(h, "From")
	}
	if !signsFrom {
		s.Err = unusable("From field not signed")
		return s
	}
	if s.Err = s.parseTimes(tags); s.Err != nil {
		return s
	}
	if q, ok := lookup(tags, "q"); ok && !hasElement(splitList(q), "dns/txt") {
		s.Err = unusable("unsupported public key query method")
		return s
	}
	switch stripWSP(get("a")) {
	case "rsa-sha256":
		s.keyAlgo = "rsa"
	case "ed25519-sha256":
		s.keyAlgo = "ed25519"
	case "rsa-sha1":
		// RFC 8301 3.1: verifiers MUST NOT consider it valid.
		s.Err = unusable("hash algorithm too weak: sha1")
		return s
	default:
		s.Err = unusable("unsupported signing algorithm")
		return s
	}
	var ok bool
	if s.headerCanon, s.bodyCanon, ok = parseCanonicalization(get("c")); !ok {
		s.Err = unusable("unsupported canonicalization")
		return s
	}
	_, s.hasLength = lookup(tags, "l")
	if s.bodyHash, err = base64.StdEncoding.DecodeString(stripWSP(get("bh"))); err != nil {
		s.Err = unusable("malformed body hash")
		return s
	}
	if s.sig, err = base64.StdEncoding.DecodeString(s.B); err != nil || len(s.sig) == 0 {
		s.Err = unusable("malformed signature data")
		return s
	}
	return s
}

// parseTimes checks t= and x=: both are decimal seconds since the epoch,
// and a signature cannot expire before it was made (RFC 6376 3.5).
func (s *Signature) parseTimes(tags []tag) error {
	var signed time.Time
	hasSigned := false
	if v, ok := lookup(tags, "t"); ok {
		t, err := parseTime(v)
		if err != nil {
			return unusable("malformed t=")
		}
		signed, hasSigned = t, true
	}
	if v, ok := lookup(tags, "x"); ok {
		t, err := parseTime(v)
		if err != nil {
			return unusable("malformed x=")
		}
		if hasSigned && t.Before(signed) {
			return unusable("x= precedes t=")
		}
		s.expires, s.hasExpiry = t, true
	}
	return nil
}

func parseTime(v string) (time.Time, error) {
	// RFC 6376 3.5: 1*12DIGIT; ParseUint refuses signs and spaces.
	v = stripWSP(v)
	if len(v) > 12 {
		return time.Time{}, strconv.ErrRange
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(int64(n), 0), nil
}

// parseCanonicalization parses c= (RFC 6376 3.5): "header/body", either
// part "simple" (the default) or "relaxed"; a missing body part is simple.
func parseCanonicalization(c string) (header, body canonicalization, ok bool) {
	h, b, _ := strings.Cut(stripWSP(c), "/")
	var okH, okB bool
	header, okH = canonByName(h)
	body, okB = canonByName(b)
	return header, body, okH && okB
}

func canonByName(name string) (canonicalization, bool) {
	switch name {
	case "", "simple":
		return simple, true
	case "relaxed":
		return relaxed, true
	}
	return simple, false
}

// inDomain reports whether name is domain or a subdomain of it, ignoring
// case.
func inDomain(name, domain string) bool {
	if len(name) < len(domain) || !strings.EqualFold(name[len(name)-len(domain):], domain) {
		return false
	}
	return len(name) == len(domain) || name[len(name)-len(domain)-1] == '.'
}

func hasElement(list []string, want string) bool {
	for _, e := range list {
		if strings.EqualFold(e, want) {
			return true
		}
	}
	return false
}
