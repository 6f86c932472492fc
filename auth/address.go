package auth

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Length limits from RFC 5321 4.5.3.1.1 (local part), 4.5.3.1.2 (domain)
// and the 256-octet path limit of 4.5.3.1.3 minus the angle brackets.
const (
	maxLocalLen   = 64
	maxDomainLen  = 253
	maxAddressLen = 254
	maxLabelLen   = 63
)

// canonicalDomain validates a domain name and returns its canonical form:
// lower-case, without a trailing dot, internationalised labels converted to
// their A-label ("xn--") form (RFC 5890) so that "Bücher.example" and
// "xn--bcher-kva.example" are the same domain. Address literals
// ("[192.0.2.1]") are not domains and are refused.
func canonicalDomain(s string) (string, error) {
	d := strings.TrimSuffix(s, ".")
	if d == "" {
		return "", fmt.Errorf("%w: empty domain", ErrInvalid)
	}
	if !isASCII(d) {
		if !utf8.ValidString(d) {
			return "", fmt.Errorf("%w: domain is not valid UTF-8", ErrInvalid)
		}
		a, err := idna.Lookup.ToASCII(d)
		if err != nil {
			return "", fmt.Errorf("%w: domain %q: %v", ErrInvalid, d, err)
		}
		d = a
	}
	d = strings.ToLower(d)
	if err := checkHostname(d); err != nil {
		return "", err
	}
	return d, nil
}

// checkHostname applies the RFC 1123 2.1 host name rules to an ASCII,
// lower-case name: dot-separated labels of letters, digits and hyphens,
// 1-63 octets each, no hyphen at either end, at most 253 octets, and a
// last label that is not all digits (so an IP address is not a domain).
func checkHostname(d string) error {
	if len(d) > maxDomainLen {
		return fmt.Errorf("%w: domain longer than %d octets", ErrInvalid, maxDomainLen)
	}
	labels := strings.Split(d, ".")
	for _, l := range labels {
		if l == "" || len(l) > maxLabelLen {
			return fmt.Errorf("%w: domain %q: bad label length", ErrInvalid, d)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("%w: domain %q: label starts or ends with '-'", ErrInvalid, d)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("%w: domain %q: character %q not allowed", ErrInvalid, d, c)
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" {
		return fmt.Errorf("%w: domain %q: numeric top-level label", ErrInvalid, d)
	}
	return nil
}

// localKind selects how strictly a local part is checked.
type localKind int

const (
	// localAccount is for users and aliases we create: dot-atom without
	// '+' (the tag separator, so "a+b" is never ambiguous) and without '/'
	// (so an account name never looks like a path).
	localAccount localKind = iota
	// localRecipient is for addresses we receive: any RFC 5322 dot-atom,
	// plus UTF-8 (RFC 6531 3.3). Quoted local parts are not supported.
	localRecipient
)

// canonicalLocal validates a local part and lower-cases it. Users are
// stored lower-case, so every comparison is effectively case-insensitive,
// which is what people expect even though RFC 5321 2.4 allows otherwise.
func canonicalLocal(s string, kind localKind) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: local part is not valid UTF-8", ErrInvalid)
	}
	l := strings.ToLower(s)
	if l == "" || len(l) > maxLocalLen {
		return "", fmt.Errorf("%w: local part empty or longer than %d octets", ErrInvalid, maxLocalLen)
	}
	// RFC 5322 3.4.1 dot-atom: no dot at either end, no two dots in a row.
	if l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return "", fmt.Errorf("%w: local part %q: misplaced dot", ErrInvalid, l)
	}
	for _, r := range l {
		switch {
		case r == '.':
		case r < utf8.RuneSelf:
			if !isAtext(byte(r)) {
				return "", fmt.Errorf("%w: local part %q: character %q not allowed", ErrInvalid, l, r)
			}
			if kind == localAccount && (r == '+' || r == '/') {
				return "", fmt.Errorf("%w: local part %q: %q is reserved", ErrInvalid, l, r)
			}
		case !unicode.IsPrint(r) || unicode.IsSpace(r):
			return "", fmt.Errorf("%w: local part %q: character %U not allowed", ErrInvalid, l, r)
		}
	}
	return l, nil
}

// isAtext reports whether c is RFC 5322 3.2.3 atext (ASCII only).
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// canonicalAddress validates the address of a user (or a non-catch-all
// alias) and returns it canonical: surrounding white space trimmed, exactly
// one '@', lower-case local part, canonical domain.
func canonicalAddress(s string) (string, error) {
	local, domain, err := splitAddress(strings.TrimSpace(s), localAccount)
	if err != nil {
		return "", err
	}
	return local + "@" + domain, nil
}

// splitAddress splits and canonicalises "local@domain". An address with
// more or fewer than one '@' is refused.
func splitAddress(s string, kind localKind) (local, domain string, err error) {
	i := strings.IndexByte(s, '@')
	if i < 0 || strings.IndexByte(s[i+1:], '@') >= 0 {
		return "", "", fmt.Errorf("%w: address %q must contain exactly one '@'", ErrInvalid, s)
	}
	if domain, err = canonicalDomain(s[i+1:]); err != nil {
		return "", "", err
	}
	if local, err = canonicalLocal(s[:i], kind); err != nil {
		return "", "", err
	}
	if len(local)+1+len(domain) > maxAddressLen {
		return "", "", fmt.Errorf("%w: address longer than %d octets", ErrInvalid, maxAddressLen)
	}
	return local, domain, nil
}

// canonicalAliasAddress accepts what canonicalAddress accepts plus the
// catch-all form "@domain".
func canonicalAliasAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "@"); ok {
		d, err := canonicalDomain(rest)
		if err != nil {
			return "", err
		}
		return "@" + d, nil
	}
	return canonicalAddress(s)
}

// domainOf returns the domain of a canonical address or catch-all.
func domainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}

// sameLogin reports whether two login names denote the same account,
// comparing canonical forms and falling back to a case-insensitive
// comparison for names that are not valid addresses.
func sameLogin(a, b string) bool {
	ca, errA := canonicalAddress(a)
	cb, errB := canonicalAddress(b)
	if errA == nil && errB == nil {
		return ca == cb
	}
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}
