package checks

import (
	"strings"

	"github.com/emersion/go-msgauth/authres"
)

// authResults formats the Authentication-Results field (RFC 8601) for the
// message, one result per folded line so that no line grows long:
//
//	Authentication-Results: mx.example.org;
//		spf=pass smtp.mailfrom=alice@example.com;
//		dkim=pass header.d=example.com header.s=sel header.b=AbCdEfGh1234;
//		dmarc=pass header.from=example.com
func (c *Checker) authResults(env Envelope, spfRes spfOutcome, sigs []dkimOutcome, dm dmarcOutcome, from fromHeader) string {
	var results []authres.Result

	sr := &authres.SPFResult{Value: authres.ResultValue(spfRes.Result)}
	if spfRes.UsedHelo {
		sr.Helo = sanitize(strings.TrimSpace(env.Helo), 255)
	} else {
		sr.From = sanitize(spfRes.Sender, 320)
	}
	results = append(results, sr)

	if len(sigs) == 0 {
		results = append(results, &authres.DKIMResult{Value: authres.ResultNone})
	}
	for _, s := range sigs {
		if s.Result == "" {
			// Not verified (an aligned signature had passed, or past
			// MaxDKIMSignatures): RFC 8601 2.7.1 has no result for a
			// signature nobody evaluated ("none" means unsigned), so it
			// is left out rather than given one it did not earn.
			continue
		}
		// go-msgauth's DKIMResult knows only header.d and header.i; RFC
		// 6008 adds header.s and header.b to tell signatures apart.
		params := map[string]string{
			"header.d": s.Domain,
			"header.s": sanitize(s.Selector, 64),
			"header.b": sanitize(s.BPrefix, 16),
		}
		if s.Result != "pass" {
			params["reason"] = dkimReason(s)
		}
		results = append(results, &authres.GenericResult{Method: "dkim", Value: authres.ResultValue(s.Result), Params: params})
	}

	results = append(results, &authres.DMARCResult{
		Value:  authres.ResultValue(dm.Result),
		Reason: sanitize(dm.Reason, 100),
		From:   dm.Domain,
	})

	var b strings.Builder
	b.WriteString("Authentication-Results: ")
	b.WriteString(c.authservID)
	for _, r := range results {
		// Format each result alone and cut the identity off, so that the
		// field can be folded between results.
		s := authres.Format("x", []authres.Result{r})
		b.WriteString(";\r\n\t")
		b.WriteString(strings.TrimSpace(strings.TrimPrefix(s, "x; ")))
	}
	b.WriteString("\r\n")
	return b.String()
}

// dkimReason is the reason= text for a signature that did not pass: a
// fixed phrase, never resolver detail.
func dkimReason(s dkimOutcome) string {
	switch s.Result {
	case "temperror":
		return "key lookup failed"
	case "fail":
		if s.Err != nil && strings.Contains(s.Err.Error(), "body hash") {
			return "body hash did not verify"
		}
		if s.Err != nil && strings.Contains(s.Err.Error(), "body length") {
			return "insecure body length tag"
		}
		return "signature did not verify"
	}
	if s.Err != nil {
		msg := strings.TrimPrefix(s.Err.Error(), "dkim: ")
		if !strings.Contains(msg, "lookup") && len(msg) < 80 {
			return sanitize(msg, 80)
		}
	}
	return "invalid signature"
}
