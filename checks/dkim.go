package checks

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
)

// dkimOutcome is the result of one DKIM-Signature field.
type dkimOutcome struct {
	// Result is pass, fail, neutral, temperror or permerror (RFC 8601
	// 2.7.1), or "" when the signature was not verified: another one had
	// already passed aligned with From:, or it was past MaxDKIMSignatures.
	Result   string
	Domain   string // d=, normalised
	Selector string // s=
	BPrefix  string // first characters of b=, for header.b (RFC 6008)
	Err      error  // detail for the log

	field     int  // index of the field in the header
	signsSigs bool // h= names DKIM-Signature: its hash covers other signatures
}

// dkimInput is the message as verifyDKIM reads it.
type dkimInput struct {
	fields []headerField
	raw    []byte    // the header as received, up to and including the empty line
	body   io.Reader // the rest of the message, read once
	// rewind returns a reader of the body from its first byte again; nil
	// when the message cannot be read twice.
	rewind func() (io.Reader, error)
}

// verifyDKIM verifies the DKIM signatures of the message through
// go-msgauth, fetching keys through the shared resolver, and returns one
// outcome per DKIM-Signature field in header order.
//
// Signatures whose d= is aligned (relaxed) with the From: domain are tried
// first, then the others in header order, at most maxSigs in all; the
// search ends at the first signature that passes and for which stop(d=)
// is true (a pass aligned with From: under the DMARC policy's mode). RFC
// 6376 6.1 allows both: "Verifiers MAY try signatures in any order they
// like. For example, one implementation might try the signatures in
// textual order, whereas another might try signatures by identities that
// match the contents of the From header field before trying other
// signatures", and "When a signature successfully verifies, a Verifier
// will either stop processing or attempt to verify any other signatures,
// at the discretion of the implementation." A signature that fails, or
// passes without that alignment, never ends the search: only an aligned
// pass can make DMARC pass, and nothing that follows from our results
// (DMARC, the own-domain rule, SPF-fail filing) changes with the
// signatures left unverified. Each extra signature would cost a key
// lookup and a public-key operation, the bulk of the checks' CPU.
//
// Each signature is verified on its own (the library is given the header
// without the other DKIM-Signature fields, which its hash does not cover,
// so it takes its sequential single-signature path): the first one reads
// in.body, the others in.rewind(). With Options.DKIMVerifyAll, when
// in.rewind is nil, or when a signature's h= covers other DKIM-Signature
// fields (so that they cannot be left out), the first maxSigs signatures
// are all verified, in one pass, as go-msgauth does by default.
func (c *Checker) verifyDKIM(ctx context.Context, in dkimInput, fromDomain string, stop func(domain string) bool) []dkimOutcome {
	sigs := dkimSignatures(in.fields)
	if len(sigs) == 0 {
		return nil
	}
	opts := &dkim.VerifyOptions{
		LookupTXT:        func(name string) ([]string, error) { return c.dns.LookupTXT(ctx, name) },
		MaxVerifications: c.maxSigs,
	}
	if c.verifyAll || in.rewind == nil || len(sigs) == 1 {
		return c.verifyAllDKIM(sigs, &replayReader{head: in.raw, rest: in.body}, opts)
	}
	// The order of trial: aligned with From: first, then the rest.
	order := make([]int, 0, len(sigs))
	for i, s := range sigs {
		if aligned(s.Domain, fromDomain, dmarc.AlignmentRelaxed) {
			order = append(order, i)
		}
	}
	for i, s := range sigs {
		if !aligned(s.Domain, fromDomain, dmarc.AlignmentRelaxed) {
			order = append(order, i)
		}
	}
	if len(order) > c.maxSigs {
		order = order[:c.maxSigs]
	}
	for _, i := range order {
		if sigs[i].signsSigs {
			return c.verifyAllDKIM(sigs, &replayReader{head: in.raw, rest: in.body}, opts)
		}
	}
	opts.MaxVerifications = 1
	for n, i := range order {
		body := in.body
		if n > 0 {
			var err error
			if body, err = in.rewind(); err != nil {
				// Our spool failed; the caller sees the error too.
				setDKIM(sigs, order[n:], "permerror", err)
				return sigs
			}
		}
		head := headerWithout(in, sigs, i)
		br := c.getReader(&replayReader{head: head, rest: body})
		verifs, err := dkim.VerifyWithOptions(br, opts)
		c.putReader(br)
		if err != nil || len(verifs) != 1 {
			// A malformed header or a read error: the same for every
			// signature, so none of them gets a result we could trust.
			if err == nil {
				err = errors.New("signature not verified")
			}
			setDKIM(sigs, order[n:], "permerror", err)
			return sigs
		}
		setOutcome(&sigs[i], verifs[0])
		if sigs[i].Result == "pass" && stop(sigs[i].Domain) {
			break
		}
	}
	return sigs
}

// dkimSignatures lists the DKIM-Signature fields of a header, unverified.
func dkimSignatures(fields []headerField) []dkimOutcome {
	var sigs []dkimOutcome
	for i, f := range fields {
		if strings.EqualFold(f.Name, "DKIM-Signature") {
			tags := parseTags(f.Value)
			sigs = append(sigs, dkimOutcome{
				Domain:    normalizeDomain(tags["d"]),
				Selector:  tags["s"],
				BPrefix:   bPrefix(tags["b"]),
				field:     i,
				signsSigs: namesField(tags["h"], "DKIM-Signature"),
			})
		}
	}
	return sigs
}

// verifyAllDKIM verifies the first maxSigs signatures of msg (the whole
// message) in one pass: go-msgauth checks them concurrently, each on its
// own goroutine fed through a pipe.
func (c *Checker) verifyAllDKIM(sigs []dkimOutcome, msg io.Reader, opts *dkim.VerifyOptions) []dkimOutcome {
	n := min(len(sigs), opts.MaxVerifications)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	// Every goroutine the library starts has ended when it returns.
	br := c.getReader(msg)
	verifs, err := dkim.VerifyWithOptions(br, opts)
	c.putReader(br)
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		// A malformed message or a read error: the library gives no
		// per-signature results we can trust.
		setDKIM(sigs, all, "permerror", err)
		return sigs
	}
	for i := range n {
		if i >= len(verifs) {
			setDKIM(sigs, []int{i}, "permerror", errors.New("signature not verified"))
			continue
		}
		setOutcome(&sigs[i], verifs[i])
	}
	return sigs
}

// setOutcome records the library's verdict on one signature.
func setOutcome(s *dkimOutcome, v *dkim.Verification) {
	if d := normalizeDomain(v.Domain); d != s.Domain {
		// Our field split disagrees with the library's; trust its
		// domain and drop the details we cannot pair.
		*s = dkimOutcome{Domain: d, field: s.field}
	}
	s.Err = v.Err
	switch {
	case v.Err == nil:
		s.Result = "pass"
	case dkim.IsTempFail(v.Err):
		s.Result = "temperror"
	case dkim.IsPermFail(v.Err):
		s.Result = "permerror"
	default:
		// Body hash or signature mismatch, or l= (insecure).
		s.Result = "fail"
	}
}

func setDKIM(sigs []dkimOutcome, which []int, result string, err error) {
	for _, i := range which {
		sigs[i].Result, sigs[i].Err = result, err
	}
}

// headerWithout returns the raw header with every DKIM-Signature field but
// sigs[keep] left out. The library verifies every signature it finds;
// this way it finds one. The others do not enter keep's hash unless its
// h= names DKIM-Signature (RFC 6376 5.4), which the caller rules out.
func headerWithout(in dkimInput, sigs []dkimOutcome, keep int) []byte {
	out := make([]byte, 0, len(in.raw))
	at := 0
	for i, s := range sigs {
		if i == keep {
			continue
		}
		f := in.fields[s.field]
		out = append(out, in.raw[at:f.Start]...)
		at = f.End
	}
	return append(out, in.raw[at:]...)
}

// namesField reports whether a colon-separated h= list names the field
// (case-insensitively, white space ignored).
func namesField(list, name string) bool {
	for _, f := range strings.Split(list, ":") {
		if strings.EqualFold(strings.TrimSpace(f), name) {
			return true
		}
	}
	return false
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
