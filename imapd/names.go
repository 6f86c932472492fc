package imapd

import (
	"strings"
	"unicode/utf8"
)

// delim is the hierarchy separator (RFC 9051 5.1).
const delim = '/'

// maxNameBytes bounds a mailbox name; storage has its own checks too.
const maxNameBytes = 512

// checkName refuses mailbox names that are not data-safe before they reach
// storage (DESIGN invariant 7): empty or overlong names, invalid UTF-8,
// control characters and NUL, the LIST wildcards "%" and "*" (RFC 9051
// 5.1), a "/" at either end or doubled, and "." or ".." components.
func checkName(name string) error {
	switch {
	case name == "":
		return badName("Empty mailbox name")
	case len(name) > maxNameBytes:
		return badName("Mailbox name too long")
	case !utf8.ValidString(name):
		return badName("Mailbox name is not valid UTF-8")
	case strings.ContainsAny(name, "%*"):
		return badName("Mailbox name contains a wildcard")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return badName("Mailbox name contains a control character")
		}
	}
	for _, part := range strings.Split(name, string(delim)) {
		switch part {
		case "":
			return badName("Mailbox name has an empty level")
		case ".", "..":
			return badName("Mailbox name has a dot level")
		}
	}
	return nil
}
