package checks

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// dmarcOutcome is the DMARC evaluation of one message (RFC 7489 6.6).
type dmarcOutcome struct {
	Result string // pass, fail, none, temperror, permerror
	Domain string // the From: domain evaluated
	// Published is the policy that applies to Domain as published (p=, or
	// sp= when the record came from the organizational domain); "" when
	// no valid record was found.
	Published dmarc.Policy
	// Applied is the policy to enforce after pct= sampling (RFC 7489
	// 6.6.4); "" unless Result is "fail".
	Applied dmarc.Policy
	// Aligned is true when an SPF or DKIM pass is aligned with Domain:
	// what DMARC calls a pass, computed even when no policy is published
	// (our own domains need it).
	Aligned bool
	Reason  string
	Err     error
}

// orgDomain returns the organizational domain of d (RFC 7489 3.2): the
// public suffix plus one label, from the Public Suffix List compiled into
// golang.org/x/net/publicsuffix. A name that is itself a public suffix (or
// unparsable) is its own organizational domain. The list is only as recent
// as the x/net version in go.mod; a suffix added since then is treated by
// the list's default rule (the last label is the suffix).
func orgDomain(d string) string {
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// aligned reports whether an authenticated domain is aligned with the
// From: domain (RFC 7489 3.1): strict mode wants the same name, relaxed
// mode the same organizational domain.
func aligned(authDomain, fromDomain string, mode dmarc.AlignmentMode) bool {
	if authDomain == "" || fromDomain == "" {
		return false
	}
	if authDomain == fromDomain {
		return true
	}
	if mode == dmarc.AlignmentStrict {
		return false
	}
	return orgDomain(authDomain) == orgDomain(fromDomain)
}

// lookupPolicy finds the DMARC record for fromDomain (RFC 7489 6.6.3): at
// _dmarc.<From domain>, then at _dmarc.<organizational domain>. It returns
// the record, whether it came from the organizational domain (so sp=
// applies), and an error that is a temporary failure, a permanent one (no
// usable record but an invalid one was seen), or dmarc.ErrNoPolicy.
func (c *Checker) lookupPolicy(ctx context.Context, fromDomain string) (*dmarc.Record, bool, error) {
	opts := &dmarc.LookupOptions{
		LookupTXT: func(name string) ([]string, error) { return c.dns.LookupTXT(ctx, name) },
	}
	var invalid error
	names := []string{fromDomain}
	if org := orgDomain(fromDomain); org != fromDomain {
		names = append(names, org)
	}
	for i, name := range names {
		rec, err := dmarc.LookupWithOptions(name, opts)
		switch {
		case err == nil:
			return rec, i > 0, nil
		case dmarc.IsTempFail(err):
			return nil, false, err
		case errors.Is(err, dmarc.ErrNoPolicy):
		default:
			// An invalid record counts as no record (RFC 7489 6.6.3);
			// remember it in case nothing better turns up.
			invalid = err
		}
	}
	if invalid != nil {
		return nil, false, invalid
	}
	return nil, false, dmarc.ErrNoPolicy
}

// policy is the outcome of lookupPolicy.
type policy struct {
	rec     *dmarc.Record
	fromOrg bool
	err     error
}

// dkimMode is the DKIM alignment mode the policy asks for (relaxed unless
// adkim=s; relaxed with no record, for our own-domain rule).
func (p policy) dkimMode() dmarc.AlignmentMode {
	if p.rec != nil && p.rec.DKIMAlignment != "" {
		return p.rec.DKIMAlignment
	}
	return dmarc.AlignmentRelaxed
}

// spfMode is the SPF alignment mode the policy asks for (relaxed unless
// aspf=s).
func (p policy) spfMode() dmarc.AlignmentMode {
	if p.rec != nil && p.rec.SPFAlignment != "" {
		return p.rec.SPFAlignment
	}
	return dmarc.AlignmentRelaxed
}

// policyLookup looks the DMARC policy up once, when first needed: by the
// DKIM search (to know adkim= when a subdomain's signature passes) or by
// evalDMARC. Synchronous on purpose: the answer is nearly always in the
// DNS cache, and a goroutine for it cost more CPU than the lookup.
type policyLookup struct {
	c      *Checker
	ctx    context.Context
	domain string
	once   sync.Once
	res    policy
}

func (c *Checker) newPolicyLookup(ctx context.Context, fromDomain string) *policyLookup {
	return &policyLookup{c: c, ctx: ctx, domain: fromDomain}
}

// get returns the policy ("" as the domain finds none); it may be called
// any number of times.
func (p *policyLookup) get() policy {
	p.once.Do(func() {
		if p.domain == "" {
			p.res.err = dmarc.ErrNoPolicy
			return
		}
		p.res.rec, p.res.fromOrg, p.res.err = p.c.lookupPolicy(p.ctx, p.domain)
	})
	return p.res
}

// evalDMARC applies DMARC to the message: the policy found, then
// identifier alignment of the SPF and DKIM results with the From: domain.
func (c *Checker) evalDMARC(from fromHeader, spfRes spfOutcome, sigs []dkimOutcome, pol policy) dmarcOutcome {
	out := dmarcOutcome{Domain: from.Domain}
	if from.Domain == "" {
		// Nothing to align with. RFC 7489 6.6.1 lets receivers reject;
		// decide() files it as Junk.
		out.Result, out.Reason = "permerror", "From: "+from.Problem
		if from.Problem == "missing" {
			out.Result = "none"
		}
		return out
	}
	rec, fromOrg, err := pol.rec, pol.fromOrg, pol.err
	switch {
	case dmarc.IsTempFail(err):
		out.Result, out.Err, out.Reason = "temperror", err, "policy lookup failed"
		return out
	case errors.Is(err, dmarc.ErrNoPolicy):
		out.Result = "none"
	case err != nil:
		out.Result, out.Err, out.Reason = "permerror", err, "invalid policy record"
	default:
		out.Published = rec.Policy
		if fromOrg && rec.SubdomainPolicy != "" {
			out.Published = rec.SubdomainPolicy
		}
	}

	dkimMode, spfMode := pol.dkimMode(), pol.spfMode()
	pass := false
	for _, s := range sigs {
		if s.Result == "pass" && aligned(s.Domain, from.Domain, dkimMode) {
			pass, out.Reason = true, "aligned DKIM d="+s.Domain
			break
		}
	}
	if !pass && spfRes.Result == spf.Pass && aligned(spfRes.Domain, from.Domain, spfMode) {
		pass, out.Reason = true, "aligned SPF "+spfRes.Domain
	}

	switch {
	case from.Problem != "":
		// Several From: fields or domains: whatever aligned, the reader
		// may see another author (RFC 7489 6.6.1). Always a fail.
		out.Result, out.Reason = "fail", "From: "+from.Problem
		out.Applied = dmarc.PolicyReject
	case rec == nil:
		// No policy: DMARC does not apply; keep "none"/"permerror" and
		// the reason for it.
		out.Aligned = pass
		if pass {
			out.Reason = ""
			if out.Result == "permerror" {
				out.Reason = "invalid policy record"
			}
		}
	case pass:
		out.Result, out.Aligned = "pass", true
	default:
		out.Result = "fail"
		if out.Reason == "" {
			out.Reason = "no aligned SPF or DKIM pass"
		}
		out.Applied = sample(out.Published, rec.Percent)
	}
	return out
}

// sample applies pct= (RFC 7489 6.6.4): a failing message outside the
// sampled percentage gets the next less strict policy (reject becomes
// quarantine, quarantine becomes none).
func sample(p dmarc.Policy, pct *int) dmarc.Policy {
	if pct == nil || *pct >= 100 || rand.IntN(100) < *pct {
		return p
	}
	switch p {
	case dmarc.PolicyReject:
		return dmarc.PolicyQuarantine
	case dmarc.PolicyQuarantine:
		return dmarc.PolicyNone
	}
	return p
}
