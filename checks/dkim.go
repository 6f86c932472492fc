package checks

import (
	"context"
	"io"

	"github.com/emersion/go-msgauth/dmarc"

	"postel/checks/dkimverify"
)

// dkimOutcome is the result of one DKIM-Signature field.
type dkimOutcome struct {
	// Result is pass, fail, temperror or permerror (RFC 8601 2.7.1), or
	// "" when the signature was not verified: another one had already
	// passed aligned with From:, or it was past MaxDKIMSignatures.
	Result   string
	Domain   string // d=, normalised
	Selector string // s=
	BPrefix  string // first characters of b=, for header.b (RFC 6008)
	Err      error  // detail for the log
}

// dkimSignatures parses the DKIM-Signature fields of a header (in header
// order) and returns them with the outcome of each, not yet verified.
func dkimSignatures(fields []headerField, raw []byte) ([]dkimverify.Field, []*dkimverify.Signature, []dkimOutcome) {
	header := make([]dkimverify.Field, len(fields))
	for i, f := range fields {
		header[i] = dkimverify.Field{Name: f.Name, Raw: raw[f.Start:f.End]}
	}
	sigs := dkimverify.Parse(header)
	out := make([]dkimOutcome, len(sigs))
	for i, s := range sigs {
		out[i] = dkimOutcome{Domain: normalizeDomain(s.Domain), Selector: s.Selector, BPrefix: bPrefix(s.B)}
	}
	return header, sigs, out
}

// verifyDKIM verifies the DKIM signatures of a message (checks/dkimverify)
// and returns one outcome per DKIM-Signature field in header order. It
// reads body, the rest of the message after raw, once; the error is a
// failure to read it.
//
// Signatures whose d= is aligned (relaxed) with the From: domain are tried
// first, then the others in header order, at most maxSigs in all. Unless
// Options.DKIMVerifyAll is set, the search ends at the first signature
// that passes and for which stop(d=) is true (a pass aligned with From:
// under the DMARC policy's mode). RFC 6376 6.1 allows both: "Verifiers
// MAY try signatures in any order they like. For example, one
// implementation might try the signatures in textual order, whereas
// another might try signatures by identities that match the contents of
// the From header field before trying other signatures", and "When a
// signature successfully verifies, a Verifier will either stop processing
// or attempt to verify any other signatures, at the discretion of the
// implementation." A signature that fails, or passes without that
// alignment, never ends the search: only an aligned pass can make DMARC
// pass, and nothing that follows from our results (DMARC, the own-domain
// rule, SPF-fail filing) changes with the signatures left unverified.
// The body is hashed for every signature tried, in the one read; what
// stopping saves is each further signature's key lookup and public-key
// operation.
func (c *Checker) verifyDKIM(ctx context.Context, fields []headerField, raw []byte, body io.Reader, fromDomain string, stop func(domain string) bool) ([]dkimOutcome, error) {
	header, sigs, out := dkimSignatures(fields, raw)
	if len(sigs) == 0 {
		return nil, nil
	}
	// The order of trial: aligned with From: first, then the rest.
	order := make([]int, 0, len(sigs))
	for i := range out {
		if aligned(out[i].Domain, fromDomain, dmarc.AlignmentRelaxed) {
			order = append(order, i)
		}
	}
	for i := range out {
		if !aligned(out[i].Domain, fromDomain, dmarc.AlignmentRelaxed) {
			order = append(order, i)
		}
	}
	if len(order) > c.maxSigs {
		order = order[:c.maxSigs]
	}
	tried := make([]*dkimverify.Signature, len(order))
	for n, i := range order {
		tried[n] = sigs[i]
	}
	if err := dkimverify.HashBodies(body, tried); err != nil {
		return out, err
	}
	for _, i := range order {
		r := c.dkim.Verify(ctx, header, sigs[i])
		out[i].Result, out[i].Err = string(r.Status), r.Err
		if r.Status == dkimverify.Pass && !c.verifyAll && stop(out[i].Domain) {
			break
		}
	}
	return out, nil
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
