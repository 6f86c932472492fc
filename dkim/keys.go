package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ErrExists is returned by [Generate] when the domain already has keys with
// this month's selectors.
var ErrExists = errors.New("dkim: keys for this month already exist")

// ErrNoKeys is returned by [Records] for a domain without keys.
var ErrNoKeys = errors.New("dkim: no keys for domain")

// rsaBits is the RSA key size. RFC 8301 3.2: at least 1024, 2048 recommended;
// 2048 still fits one TXT record as a few 255-octet strings.
const rsaBits = 2048

// Record is one DNS TXT record to publish.
type Record struct {
	// Name is the fully qualified owner name, with the trailing dot:
	// "<selector>._domainkey.<domain>.".
	Name string
	// Value is the whole record text, e.g. "v=DKIM1; k=ed25519; p=...".
	Value string
}

// Strings splits Value into the character-strings of one TXT record:
// RFC 1035 3.3 limits each to 255 octets, and DKIM verifiers concatenate
// them (RFC 6376 3.6.2.2).
func (r Record) Strings() []string {
	var out []string
	v := r.Value
	for len(v) > 255 {
		out = append(out, v[:255])
		v = v[255:]
	}
	return append(out, v)
}

// Zone formats the record as one zone-file line with a one hour TTL, the
// form an administrator pastes into a zone and that test DNS servers take.
func (r Record) Zone() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s 3600 IN TXT", r.Name)
	for _, s := range r.Strings() {
		fmt.Fprintf(&b, " %q", s)
	}
	return b.String()
}

// Generate creates an Ed25519 and an RSA-2048 key for domain under dir and
// returns the TXT records to publish, Ed25519 first. It refuses to
// overwrite keys (ErrExists).
func Generate(dir, domain string) ([]Record, error) {
	return generate(dir, domain, time.Now())
}

func generate(dir, domain string, now time.Time) ([]Record, error) {
	ddir, err := domainDir(dir, domain)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(ddir, 0o700); err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	month := now.UTC().Format("200601")
	edSel, rsaSel := "ed"+month, "rsa"+month
	for _, sel := range []string{edSel, rsaSel} {
		if _, err := os.Stat(filepath.Join(ddir, sel+".key")); err == nil {
			return nil, fmt.Errorf("%w: %s/%s", ErrExists, domain, sel)
		}
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dkim: ed25519: %w", err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return nil, fmt.Errorf("dkim: rsa: %w", err)
	}
	if err := writeKey(filepath.Join(ddir, edSel+".key"), edKey); err != nil {
		return nil, err
	}
	if err := writeKey(filepath.Join(ddir, rsaSel+".key"), rsaKey); err != nil {
		return nil, err
	}
	return Records(dir, domain)
}

// Records returns the TXT records for every key domain has under dir,
// sorted by selector.
func Records(dir, domain string) ([]Record, error) {
	keys, err := loadKeys(dir, domain)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoKeys, domain)
	}
	var out []Record
	for _, k := range keys {
		rec, err := record(k, domain)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

func record(k key, domain string) (Record, error) {
	name := k.selector + "._domainkey." + strings.ToLower(strings.TrimSuffix(domain, ".")) + "."
	switch pub := k.signer.Public().(type) {
	case ed25519.PublicKey:
		// RFC 8463 4.2: p= is the raw 32-octet key, not SubjectPublicKeyInfo.
		return Record{Name: name, Value: "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}, nil
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return Record{}, fmt.Errorf("dkim: %w", err)
		}
		return Record{Name: name, Value: "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)}, nil
	}
	return Record{}, fmt.Errorf("dkim: unsupported key type %T", k.signer.Public())
}

// key is one loaded private key.
type key struct {
	selector string
	signer   crypto.Signer
}

// domainDir validates domain (it becomes a path element) and returns its
// key directory.
func domainDir(dir, domain string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	if d == "" || strings.ContainsAny(d, `/\`) || strings.HasPrefix(d, ".") || !strings.Contains(d, ".") {
		return "", fmt.Errorf("dkim: invalid domain %q", domain)
	}
	for _, r := range d {
		if r < 0x21 || r == 0x7f {
			return "", fmt.Errorf("dkim: invalid domain %q", domain)
		}
	}
	return filepath.Join(dir, d), nil
}

func writeKey(path string, k crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("dkim: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("dkim: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("dkim: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("dkim: %w", err)
	}
	return f.Close()
}

// loadKeys reads every <selector>.key of domain, sorted by selector. A
// missing directory is no keys, not an error.
func loadKeys(dir, domain string) ([]key, error) {
	ddir, err := domainDir(dir, domain)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(ddir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: %w", err)
	}
	var keys []key
	for _, e := range ents {
		sel, ok := strings.CutSuffix(e.Name(), ".key")
		if !ok || e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(ddir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("dkim: %w", err)
		}
		blk, _ := pem.Decode(data)
		if blk == nil {
			return nil, fmt.Errorf("dkim: %s/%s: not PEM", domain, e.Name())
		}
		pk, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("dkim: %s/%s: %w", domain, e.Name(), err)
		}
		s, ok := pk.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("dkim: %s/%s: unsupported key type %T", domain, e.Name(), pk)
		}
		keys = append(keys, key{selector: sel, signer: s})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].selector < keys[j].selector })
	return keys, nil
}
