package checks

import (
	"context"
	"io"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dmarc"
)

// CheckMessage authenticates a message received on port 25: SPF for the
// envelope, DKIM signatures until one passes aligned with the From:
// domain (see verifyDKIM), DMARC for the From: domain. It reads msg once,
// to the end when the message is signed, and must see the message exactly
// as received, before any header is added or removed. It never returns an
// error: DNS trouble shows as temperror results, and a failure to read
// msg is a temporary rejection. It logs one line per message.
func (c *Checker) CheckMessage(ctx context.Context, env Envelope, msg io.Reader) Verdict {
	ctx, cancel := context.WithTimeout(ctx, c.msgTimeout)
	defer cancel()
	ip := env.RemoteIP.Unmap()
	spfCh := make(chan spfOutcome, 1)
	go func() { spfCh <- c.checkSPF(ctx, ip, env.Helo, env.MailFrom) }()

	br := c.getReader(msg)
	defer c.putReader(br)
	fields, raw, err := readHeader(br)
	from := parseFrom(fields)
	pol := c.newPolicyLookup(ctx, from.Domain)
	var sigs []dkimOutcome
	var spfRes spfOutcome
	gotSPF := false
	if c.spfFirst && err == nil && from.Domain != "" && from.Problem == "" {
		spfRes, gotSPF = <-spfCh, true
		if spfRes.Result == spf.Pass && aligned(spfRes.Domain, from.Domain, pol.get().spfMode()) {
			// Options.SkipDKIMWhenSPFAligned: DMARC passes on SPF.
			_, _, sigs = dkimSignatures(fields, raw)
		}
	}
	if err == nil && sigs == nil {
		stop := func(d string) bool {
			// Strict and relaxed alignment agree on the same name; only
			// a subdomain needs the policy's adkim=.
			return from.Domain != "" && (d == from.Domain || aligned(d, from.Domain, pol.get().dkimMode()))
		}
		sigs, err = c.verifyDKIM(ctx, fields, raw, br, from.Domain, stop)
	}
	if !gotSPF {
		spfRes = <-spfCh
	}
	if err != nil {
		// We could not read the message we were given (a spool or
		// network problem on our side): judging half a message would be
		// wrong, so ask the client to try again.
		c.log.Error("reading message for checks", "ip", ip.String(), "err", err)
		return Verdict{Action: Reject, Reject: &Rejection{Code: 451, Enhanced: [3]int{4, 3, 0}, Message: "Temporary local problem, try again later"}}
	}
	dm := c.evalDMARC(from, spfRes, sigs, pol.get())
	v := c.decide(from, spfRes, sigs, dm)
	v.Header = c.authResults(env, spfRes, sigs, dm, from)
	c.logMessage(env, from, spfRes, sigs, dm, v)
	return v
}

// decide turns the results into an action. Only DMARC rejects; see doc.go
// for the whole policy.
func (c *Checker) decide(from fromHeader, spfRes spfOutcome, sigs []dkimOutcome, dm dmarcOutcome) Verdict {
	reject := func(text string) Verdict {
		return Verdict{Action: Reject, Reject: &Rejection{Code: 550, Enhanced: [3]int{5, 7, 1}, Message: text}}
	}
	if from.Problem == "multiple" || from.Problem == "several domains" {
		return reject("Message must have exactly one From: author domain (RFC 5322 3.6)")
	}
	var v Verdict
	switch {
	case from.Domain == "":
		v.Action = Junk
	case dm.Result == "fail":
		switch dm.Applied {
		case dmarc.PolicyReject:
			v = reject("Message rejected by the DMARC policy of " + dm.Domain)
		case dmarc.PolicyQuarantine:
			v.Action = Junk
		}
	case (dm.Result == "none" || dm.Result == "permerror") && spfRes.Result == spf.Fail && !anyPass(sigs):
		// No DMARC policy, but the envelope domain says this host may not
		// send for it (RFC 7208 8.4) and no signature vouches for it.
		v.Action = Junk
	}
	if !dm.Aligned && c.ownDomain(from.Domain) {
		// Forged (or broken) mail in our own name never reaches an INBOX:
		// it needs an SPF or DKIM pass aligned with the From: domain,
		// whether or not we publish a DMARC record. If we publish
		// p=reject, refuse it outright whatever pct= says: we know our
		// own mail is signed.
		if dm.Published == dmarc.PolicyReject {
			return reject("Message rejected by the DMARC policy of " + dm.Domain)
		}
		if v.Action == Accept {
			v.Action = Junk
		}
	}
	return v
}

func anyPass(sigs []dkimOutcome) bool {
	for _, s := range sigs {
		if s.Result == "pass" {
			return true
		}
	}
	return false
}

// ownDomain reports whether d, or its organizational domain, is hosted
// here: a forger must not escape the rule with a made-up subdomain.
func (c *Checker) ownDomain(d string) bool {
	if d == "" {
		return false
	}
	return c.isLocal(d) || c.isLocal(orgDomain(d))
}

// logMessage writes the one structured line per message.
func (c *Checker) logMessage(env Envelope, from fromHeader, spfRes spfOutcome, sigs []dkimOutcome, dm dmarcOutcome, v Verdict) {
	var dk strings.Builder
	for i, s := range sigs {
		if i > 0 {
			dk.WriteByte(' ')
		}
		r := s.Result
		if r == "" {
			r = "unverified"
		}
		dk.WriteString(r + "(d=" + s.Domain + ")")
	}
	if len(sigs) == 0 {
		dk.WriteString("none")
	}
	attrs := []any{
		"ip", env.RemoteIP.Unmap().String(),
		"helo", sanitize(env.Helo, 200),
		"mailfrom", sanitize(env.MailFrom, 300),
		"rcpts", len(env.Rcpts),
		"tls", env.TLS,
		"from", sanitize(from.Address, 300),
		"spf", string(spfRes.Result),
		"dkim", dk.String(),
		"dmarc", dm.Result,
		"dmarc_policy", string(dm.Published),
		"action", v.Action.String(),
	}
	if dm.Reason != "" {
		attrs = append(attrs, "dmarc_reason", dm.Reason)
	}
	if spfRes.Err != nil && spfRes.Result != spf.Pass {
		attrs = append(attrs, "spf_detail", spfRes.Err.Error())
	}
	c.log.Info("message checked", attrs...)
}
