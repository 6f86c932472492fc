// Package dnsname puts domain names taken from mail (a From: address, an
// SPF or DKIM domain) into the one form in which they compare equal and
// can be queried in DNS. It is lenient, as received mail needs: it never
// says why a name is unusable, only that it is. Names an administrator
// types are validated strictly by auth instead.
package dnsname

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Normalize lower-cases d, drops surrounding white space and a trailing
// dot, and converts U-labels to their A-label form (RFC 5890), so that
// "Bücher.Example." and "xn--bcher-kva.example" are the same name. It
// returns "" for something that cannot be a domain name: empty, an
// address literal ("[192.0.2.1]"), or a name with characters no domain
// has (white space, "@", ";", ":", "/", brackets, quotes...) or bytes
// that are not UTF-8.
func Normalize(d string) string {
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			if !utf8.ValidString(d) {
				return "" // idna would read the bad bytes as U+FFFD
			}
			a, err := idna.Lookup.ToASCII(d)
			if err != nil {
				return ""
			}
			d = a
			break
		}
	}
	d = strings.ToLower(d)
	if d == "" || strings.ContainsAny(d, " \t\r\n@;:/()<>[]\"\\,") {
		return ""
	}
	return d
}
