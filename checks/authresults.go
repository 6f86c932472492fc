package checks

import (
	"strings"
	"unicode"
)

// authResults formats the Authentication-Results field (RFC 8601) for the
// message, one result per folded line so that no line grows long:
//
//	Authentication-Results: mx.example.org;
//		spf=pass smtp.mailfrom=alice@example.com;
//		dkim=pass header.b=AbCdEfGh1234 header.d=example.com header.s=sel;
//		dmarc=pass header.from=example.com
func (c *Checker) authResults(env Envelope, spfRes spfOutcome, sigs []dkimOutcome, dm dmarcOutcome, from fromHeader) string {
	var b strings.Builder
	b.Grow(512)
	b.WriteString("Authentication-Results: ")
	b.WriteString(c.authservID)

	// Each result on its own folded line. The formatting is go-msgauth
	// authres.Format's, result by result (TestAuthResultsFormat holds the
	// two together), written directly: authres builds a map and sorts its
	// keys for every result, a tenth of the checks' own CPU time.
	if spfRes.UsedHelo {
		writeResult(&b, "spf", string(spfRes.Result), arParam{key: "smtp.helo", value: sanitize(strings.TrimSpace(env.Helo), 255)})
	} else {
		writeResult(&b, "spf", string(spfRes.Result), arParam{key: "smtp.mailfrom", value: sanitize(spfRes.Sender, 320)})
	}

	if len(sigs) == 0 {
		writeResult(&b, "dkim", "none")
	}
	for _, s := range sigs {
		if s.Result == "" {
			// Not verified (an aligned signature had passed, or past
			// MaxDKIMSignatures): RFC 8601 2.7.1 has no result for a
			// signature nobody evaluated ("none" means unsigned), so it
			// is left out rather than given one it did not earn.
			continue
		}
		// RFC 6008 adds header.s and header.b to tell signatures apart.
		var reason string
		if s.Result != "pass" {
			reason = dkimReason(s)
		}
		writeResult(&b, "dkim", s.Result,
			arParam{key: "reason", value: reason},
			arParam{key: "header.b", value: sanitize(s.BPrefix, 16)},
			arParam{key: "header.d", value: s.Domain},
			arParam{key: "header.s", value: sanitize(s.Selector, 64)})
	}

	writeResult(&b, "dmarc", dm.Result,
		arParam{key: "reason", value: sanitize(dm.Reason, 100)},
		arParam{key: "header.from", value: dm.Domain})
	b.WriteString("\r\n")
	return b.String()
}

// arParam is one "ptype.property=value" of a result (or its reason=).
type arParam struct{ key, value string }

// writeResult appends ";\r\n\t" and one result (RFC 8601 2.2) as
// authres.Format writes it: params with an empty value are left out, the
// reason is a quoted-when-needed value, the others pvalues. Callers give
// the reason first and the other params sorted by key, the order
// authres.Format uses.
func writeResult(b *strings.Builder, method, value string, params ...arParam) {
	b.WriteString(";\r\n\t")
	b.WriteString(method)
	b.WriteByte('=')
	b.WriteString(value)
	for _, p := range params {
		if p.value == "" {
			continue
		}
		b.WriteByte(' ')
		b.WriteString(p.key)
		b.WriteByte('=')
		if p.key == "reason" {
			writeValue(b, p.value)
		} else {
			writePvalue(b, p.value)
		}
	}
}

// writeValue writes s as an RFC 2045 value: a token, or a quoted-string
// when s holds a space, a control character or a tspecial.
func writeValue(b *strings.Builder, s string) {
	quote := false
	for _, r := range s {
		if r <= ' ' || strings.ContainsRune(`()<>@,;:\"/[]?=`, r) {
			quote = true
			break
		}
	}
	if !quote {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	b.WriteString(strings.ReplaceAll(s, `"`, `\"`))
	b.WriteByte('"')
}

// writePvalue writes s bare when it looks like an address or a domain
// (letters, digits and most punctuation), else as writeValue does.
func writePvalue(b *strings.Builder, s string) {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("#$%&'*+,./-@[]\\^_`{|}~", r) {
			writeValue(b, s)
			return
		}
	}
	b.WriteString(s)
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
