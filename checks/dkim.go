package checks

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// dkimOutcome is the result of one DKIM-Signature field.
type dkimOutcome struct {
	Result   string // pass, fail, neutral, temperror, permerror (RFC 8601 2.7.1)
	Domain   string // d=, normalised
	Selector string // s=
	BPrefix  string // first characters of b=, for header.b (RFC 6008)
	Err      error  // detail for the log
}

// verifyDKIM verifies every DKIM-Signature of the message (up to
// maxSigs), fetching keys through the shared resolver. It reads the whole
// message from msg when there is at least one signature.
func (c *Checker) verifyDKIM(ctx context.Context, fields []headerField, msg io.Reader) []dkimOutcome {
	var sigs []dkimOutcome
	for _, f := range fields {
		if strings.EqualFold(f.Name, "DKIM-Signature") {
			tags := parseTags(f.Value)
			sigs = append(sigs, dkimOutcome{
				Domain:   normalizeDomain(tags["d"]),
				Selector: tags["s"],
				BPrefix:  bPrefix(tags["b"]),
			})
		}
	}
	if len(sigs) == 0 {
		return nil
	}
	if len(sigs) > c.maxSigs {
		sigs = sigs[:c.maxSigs]
	}
	verifs, err := dkim.VerifyWithOptions(msg, &dkim.VerifyOptions{
		LookupTXT:        func(name string) ([]string, error) { return c.dns.LookupTXT(ctx, name) },
		MaxVerifications: c.maxSigs,
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		// A malformed message or a read error: the library gives no
		// per-signature results we can trust.
		for i := range sigs {
			sigs[i].Result, sigs[i].Err = "permerror", err
		}
		return sigs
	}
	for i := range sigs {
		if i >= len(verifs) {
			sigs[i].Result, sigs[i].Err = "permerror", errors.New("signature not verified")
			continue
		}
		v := verifs[i]
		if d := normalizeDomain(v.Domain); d != sigs[i].Domain {
			// Our field split disagrees with the library's; trust its
			// domain and drop the details we cannot pair.
			sigs[i] = dkimOutcome{Domain: d}
		}
		sigs[i].Err = v.Err
		switch {
		case v.Err == nil:
			sigs[i].Result = "pass"
		case dkim.IsTempFail(v.Err):
			sigs[i].Result = "temperror"
		case dkim.IsPermFail(v.Err):
			sigs[i].Result = "permerror"
		default:
			// Body hash or signature mismatch, or l= (insecure).
			sigs[i].Result = "fail"
		}
	}
	return sigs
}

// parseTags parses a DKIM tag-list (RFC 6376 3.2) leniently: values have
// their white space (including folding) removed; bad pairs are skipped.
func parseTags(v string) map[string]string {
	tags := map[string]string{}
	for _, pair := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, dup := tags[k]; dup || k == "" {
			continue
		}
		tags[k] = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, val)
	}
	return tags
}

// bPrefix returns the header.b value for a signature: RFC 6008 2 asks for
// at least 8 characters of b=, enough to tell signatures apart.
func bPrefix(b string) string {
	const n = 12
	if len(b) > n {
		b = b[:n]
	}
	return b
}
