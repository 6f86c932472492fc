package dkim

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

// signedHeaders are the fields covered by the signatures. From is listed
// twice ("oversigning", RFC 6376 8.15) so that a From: added in transit
// breaks the signature instead of being displayed. A listed field the
// message lacks is signed as absent, which also prevents adding it later.
var signedHeaders = []string{
	"From", "From", "To", "Cc", "Subject", "Date", "Message-ID",
	"In-Reply-To", "References", "Reply-To", "MIME-Version",
	"Content-Type", "Content-Transfer-Encoding",
}

// Signer signs messages with the keys under one directory. It is safe for
// concurrent use. Keys are read when a domain is first used and re-read
// when its directory changes, so keys generated while the server runs are
// picked up without a restart.
type Signer struct {
	dir string

	mu    sync.Mutex
	cache map[string]domainKeys
}

type domainKeys struct {
	mtime time.Time
	keys  []key // newest Ed25519 and newest RSA key, at most one each
}

// NewSigner returns a signer for the keys under dir (see the package doc
// for the layout). dir need not exist yet.
func NewSigner(dir string) *Signer {
	return &Signer{dir: dir, cache: map[string]domainKeys{}}
}

// HasKeys reports whether domain has at least one key.
func (s *Signer) HasKeys(domain string) bool {
	keys, err := s.keys(domain)
	return err == nil && len(keys) > 0
}

// Sign computes the DKIM signatures of msg (a whole message, CRLF line
// endings) for domain and returns the DKIM-Signature header fields to
// prepend, CRLF-terminated: Ed25519 first, then RSA. It returns "" when
// domain has no keys.
func (s *Signer) Sign(domain string, msg []byte) (string, error) {
	keys, err := s.keys(domain)
	if err != nil || len(keys) == 0 {
		return "", err
	}
	var out strings.Builder
	for _, k := range keys {
		opts := &msgdkim.SignOptions{
			Domain:                 strings.ToLower(strings.TrimSuffix(domain, ".")),
			Selector:               k.selector,
			Signer:                 k.signer,
			HeaderCanonicalization: msgdkim.CanonicalizationRelaxed,
			BodyCanonicalization:   msgdkim.CanonicalizationRelaxed,
			HeaderKeys:             signedHeaders,
		}
		sg, err := msgdkim.NewSigner(opts)
		if err != nil {
			return "", fmt.Errorf("dkim: %w", err)
		}
		if _, err := sg.Write(msg); err != nil {
			sg.Close()
			return "", fmt.Errorf("dkim: sign: %w", err)
		}
		if err := sg.Close(); err != nil {
			return "", fmt.Errorf("dkim: sign: %w", err)
		}
		out.WriteString(sg.Signature())
	}
	return out.String(), nil
}

// SignMessage returns msg with the signatures of [Signer.Sign] prepended.
func (s *Signer) SignMessage(domain string, msg []byte) ([]byte, error) {
	sig, err := s.Sign(domain, msg)
	if err != nil || sig == "" {
		return msg, err
	}
	var b bytes.Buffer
	b.Grow(len(sig) + len(msg))
	b.WriteString(sig)
	b.Write(msg)
	return b.Bytes(), nil
}

// keys returns the signing keys of domain, from the cache unless the
// domain's directory changed since it was read.
func (s *Signer) keys(domain string) ([]key, error) {
	ddir, err := domainDir(s.dir, domain)
	if err != nil {
		return nil, err
	}
	var mtime time.Time
	if fi, err := os.Stat(ddir); err == nil {
		mtime = fi.ModTime()
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	s.mu.Lock()
	c, ok := s.cache[ddir]
	s.mu.Unlock()
	if ok && c.mtime.Equal(mtime) {
		return c.keys, nil
	}
	all, err := loadKeys(s.dir, domain)
	if err != nil {
		return nil, err
	}
	// loadKeys sorts by selector, and selectors carry the month: the last
	// key of each algorithm is the newest.
	var ed, rs *key
	for i := range all {
		switch all[i].signer.Public().(type) {
		case ed25519.PublicKey:
			ed = &all[i]
		case *rsa.PublicKey:
			rs = &all[i]
		}
	}
	var keys []key
	for _, k := range []*key{ed, rs} {
		if k != nil {
			keys = append(keys, *k)
		}
	}
	s.mu.Lock()
	s.cache[ddir] = domainKeys{mtime: mtime, keys: keys}
	s.mu.Unlock()
	return keys, nil
}
