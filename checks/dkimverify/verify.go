package dkimverify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Status is the result of one signature, as RFC 8601 2.7.1 names it.
type Status string

const (
	Pass      Status = "pass"
	Fail      Status = "fail"      // the body or the header changed, or l= was used
	PermError Status = "permerror" // the signature or its key is unusable
	TempError Status = "temperror" // the key could not be fetched now
)

// Result is the outcome of verifying one signature; Err says why it did
// not pass.
type Result struct {
	Status Status
	Err    error
}

// Verifier verifies signatures with keys fetched through LookupTXT. It is
// safe for concurrent use.
type Verifier struct {
	// LookupTXT returns the TXT records of a name, one string per record
	// (as net.Resolver.LookupTXT). A *net.DNSError with IsNotFound means
	// the key does not exist (permerror); any other error is a temperror.
	LookupTXT func(ctx context.Context, name string) ([]string, error)
	// Now is the clock for x=; nil means time.Now.
	Now func() time.Time

	keys keyCache
}

// HashBodies reads the message body from r to its end and records, for
// each signature in sigs that can verify, whether its bh= matches. The
// body is canonicalized and hashed once per canonicalization used, not
// once per signature. Signatures with l= are not hashed: Verify fails
// them anyway. A read error is returned, and leaves the signatures
// unhashed (Verify then reports a permerror).
func HashBodies(r io.Reader, sigs []*Signature) error {
	var hashers [2]*bodyHasher // by canonicalization
	var ws []io.Writer
	for _, s := range sigs {
		if s.Err != nil || s.hasLength || hashers[s.bodyCanon] != nil {
			continue
		}
		hashers[s.bodyCanon] = newBodyHasher(s.bodyCanon, sha256.New())
		ws = append(ws, hashers[s.bodyCanon])
	}
	if len(ws) == 0 {
		return nil
	}
	var w io.Writer = ws[0]
	if len(ws) > 1 {
		w = io.MultiWriter(ws...)
	}
	err := copyBody(w, r)
	var sums [2][]byte
	for c, h := range hashers {
		if h == nil {
			continue
		}
		if err == nil {
			sums[c] = h.sum()
		}
		h.release()
	}
	if err != nil {
		return err
	}
	for _, s := range sigs {
		if s.Err != nil || s.hasLength {
			continue
		}
		if subtle.ConstantTimeCompare(sums[s.bodyCanon], s.bodyHash) == 1 {
			s.body = bodyMatch
		} else {
			s.body = bodyMismatch
		}
	}
	return nil
}

// copyBody copies r to w through a pooled buffer: io.Copy would allocate
// 32 KiB per message.
func copyBody(w io.Writer, r io.Reader) error {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	for {
		n, err := r.Read(*bp)
		w.Write((*bp)[:n]) // a bodyHasher never fails
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 8192); return &b }}

// Verify verifies one signature of header (the fields given to Parse),
// whose body HashBodies has seen: it fetches the key, then checks the
// body hash and the signature over the header fields h= names (RFC 6376
// 6.1).
func (v *Verifier) Verify(ctx context.Context, header []Field, s *Signature) Result {
	if s.Err != nil {
		return Result{PermError, s.Err}
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if s.hasExpiry && now().After(s.expires) {
		return Result{PermError, errors.New("signature has expired")}
	}
	key, res := v.key(ctx, s)
	if key == nil {
		return res
	}
	if s.hasLength {
		return Result{Fail, errors.New("body length limit (l=) used: the body may have been extended")}
	}
	switch s.body {
	case bodyUnknown:
		return Result{PermError, errors.New("body not read")}
	case bodyMismatch:
		return Result{Fail, errors.New("body hash did not verify")}
	}
	hashed := headerHash(header, s)
	var ok bool
	switch key.algo {
	case "rsa":
		ok = rsa.VerifyPKCS1v15(key.rsa, crypto.SHA256, hashed, s.sig) == nil
	case "ed25519":
		// RFC 8463 3: Ed25519 signs the SHA-256 hash of the header.
		ok = ed25519.Verify(key.ed25519, hashed, s.sig)
	}
	if !ok {
		return Result{Fail, errors.New("signature did not verify")}
	}
	return Result{Pass, nil}
}

// key fetches and checks the key of s; on failure it returns nil and the
// result to report.
func (v *Verifier) key(ctx context.Context, s *Signature) (*publicKey, Result) {
	name := s.Selector + "._domainkey." + s.lookupDomain
	txts, err := v.LookupTXT(ctx, name)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return nil, Result{PermError, errors.New("no key for signature at " + name)}
		}
		return nil, Result{TempError, errors.New("key unavailable: " + err.Error())}
	}
	switch len(txts) {
	case 0:
		return nil, Result{PermError, errors.New("no key for signature at " + name)}
	case 1:
	default:
		// RFC 6376 3.6.2.2: the outcome is undefined; refuse to guess.
		return nil, Result{PermError, errors.New("several key records at " + name)}
	}
	key, err := v.keys.parse(txts[0])
	if err != nil {
		return nil, Result{PermError, err}
	}
	if key.hashes != nil && !hasElement(key.hashes, "sha256") {
		return nil, Result{PermError, errors.New("key does not allow sha256")}
	}
	if key.algo != s.keyAlgo {
		return nil, Result{PermError, errors.New("key type does not match a=")}
	}
	if key.strict {
		// t=s: i= must be in d= itself (RFC 6376 3.6.1).
		at := strings.LastIndexByte(s.Identifier, '@')
		if !strings.EqualFold(s.Identifier[at+1:], s.Domain) {
			return nil, Result{PermError, errors.New("i= in a subdomain of d=, which the key's t=s forbids")}
		}
	}
	return key, Result{}
}

// headerHash hashes the header fields s signs, then s itself with its b=
// value emptied and no final CRLF (RFC 6376 3.7). A name in h= takes the
// last instance of that field not yet taken, from the bottom up; a name
// with no instance left adds nothing (RFC 6376 5.4.2).
func headerHash(header []Field, s *Signature) []byte {
	h := sha256.New()
	buf := make([]byte, 0, 2048)
	if len(s.headers)*len(header) <= 4096 {
		// The usual case, a few dozen names and fields: scan.
		taken := make([]bool, len(header))
		for _, name := range s.headers {
			for i := len(header) - 1; i >= 0; i-- {
				if !taken[i] && strings.EqualFold(header[i].Name, name) {
					taken[i] = true
					buf = appendHeader(buf, header[i].Raw, s.headerCanon)
					break
				}
			}
		}
	} else {
		// A long h= over a long header: index the fields by name, so
		// that a hostile message costs linear time, not h= times fields.
		byName := map[string][]int{} // bottom-up
		for i := len(header) - 1; i >= 0; i-- {
			name := strings.ToLower(header[i].Name)
			byName[name] = append(byName[name], i)
		}
		for _, name := range s.headers {
			name = strings.ToLower(name)
			if left := byName[name]; len(left) > 0 {
				buf = appendHeader(buf, header[left[0]].Raw, s.headerCanon)
				byName[name] = left[1:]
			}
		}
	}
	buf = appendHeader(buf, withoutB(header[s.Field].Raw), s.headerCanon)
	for len(buf) > 0 && (buf[len(buf)-1] == '\r' || buf[len(buf)-1] == '\n') {
		buf = buf[:len(buf)-1]
	}
	h.Write(buf)
	return h.Sum(nil)
}

// withoutB returns a DKIM-Signature field with the value of its b= tag
// removed, everything else (the "b=" itself included) as it was.
func withoutB(field []byte) []byte {
	colon := bytes.IndexByte(field, ':')
	if colon < 0 {
		return field
	}
	for at := colon + 1; at < len(field); {
		end := at
		for end < len(field) && field[end] != ';' {
			end++
		}
		seg := field[at:end]
		if eq := bytes.IndexByte(seg, '='); eq >= 0 && trimWSP(string(seg[:eq])) == "b" {
			out := make([]byte, 0, len(field))
			out = append(out, field[:at+eq+1]...)
			return append(out, field[end:]...)
		}
		at = end + 1
	}
	return field
}
