package storage

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits on mailbox names. A name is data, never a path: it is validated
// here and encoded (encodeMailbox) before it reaches the file system.
const (
	maxNameLevel = 255  // bytes per hierarchy level
	maxNameTotal = 1000 // bytes for the whole name
	maxDirName   = 255  // one file-name component on common file systems
)

// Inbox is the canonical name of the inbox (RFC 9051 5.1: case-insensitive).
const Inbox = "INBOX"

// CanonicalName validates and normalises a mailbox name: NFC, "/" as the
// hierarchy separator, a case-insensitive "INBOX" first level spelled
// "INBOX". It returns ErrBadName for names that are empty, have empty, "."
// or ".." levels, leading, trailing or doubled "/", control characters,
// invalid UTF-8, are too long, or whose on-disk encoding would not fit one
// directory name.
func CanonicalName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty", ErrBadName)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: invalid UTF-8", ErrBadName)
	}
	name = norm.NFC.String(name)
	if len(name) > maxNameTotal {
		return "", fmt.Errorf("%w: too long", ErrBadName)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "", fmt.Errorf("%w: control character", ErrBadName)
		}
	}
	levels := strings.Split(name, "/")
	for i, l := range levels {
		switch {
		case l == "":
			return "", fmt.Errorf("%w: empty level", ErrBadName)
		case l == "." || l == "..":
			return "", fmt.Errorf("%w: dot level", ErrBadName)
		case len(l) > maxNameLevel:
			return "", fmt.Errorf("%w: level too long", ErrBadName)
		}
		if i == 0 && strings.EqualFold(l, Inbox) {
			levels[0] = Inbox
		}
	}
	name = strings.Join(levels, "/")
	if name != Inbox && len(encodeMailbox(name)) > maxDirName {
		return "", fmt.Errorf("%w: encoded name too long", ErrBadName)
	}
	return name, nil
}

// isInbox reports whether a canonical name is INBOX.
func isInbox(name string) bool { return name == Inbox }

// encodeMailbox maps a canonical mailbox name to its Maildir++ directory
// name relative to the account directory: INBOX is the account directory
// itself (""), any other name becomes "." followed by its levels joined
// with ".", each level escaped with escapeLevel. The mapping is reversible
// (decodeMailbox) and never yields a separator, "." or "..".
func encodeMailbox(name string) string {
	if name == Inbox {
		return ""
	}
	var b strings.Builder
	for _, l := range strings.Split(name, "/") {
		b.WriteByte('.')
		escapeLevel(&b, l)
	}
	return b.String()
}

// decodeMailbox reverses encodeMailbox. It returns ErrBadName for
// directory names encodeMailbox never produces.
func decodeMailbox(dir string) (string, error) {
	if dir == "" {
		return Inbox, nil
	}
	if len(dir) < 2 || dir[0] != '.' {
		return "", ErrBadName
	}
	levels := strings.Split(dir[1:], ".")
	for i, l := range levels {
		u, ok := unescapeLevel(l)
		if !ok {
			return "", ErrBadName
		}
		levels[i] = u
	}
	name, err := CanonicalName(strings.Join(levels, "/"))
	if err != nil {
		return "", err
	}
	if encodeMailbox(name) != dir {
		return "", ErrBadName // not the canonical encoding
	}
	return name, nil
}

// needsEscape lists the bytes written as %XX in a directory name: the
// Maildir++ level separator '.', the escape '%', path separators, the
// Maildir info separator ':', control bytes, and shell/Windows-hostile
// characters. UTF-8 bytes >= 0x80 are kept so names stay readable.
func needsEscape(c byte) bool {
	switch c {
	case '.', '%', '/', '\\', ':', '*', '?', '"', '<', '>', '|', '~':
		return true
	}
	return c < 0x20 || c == 0x7f
}

func escapeLevel(b *strings.Builder, l string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(l); i++ {
		c := l[i]
		if needsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
}

func unescapeLevel(l string) (string, bool) {
	if !strings.Contains(l, "%") {
		return l, true
	}
	out := make([]byte, 0, len(l))
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c != '%' {
			out = append(out, c)
			continue
		}
		if i+2 >= len(l) {
			return "", false
		}
		h, ok1 := unhex(l[i+1])
		lo, ok2 := unhex(l[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		out = append(out, h<<4|lo)
		i += 2
	}
	return string(out), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// encodeAccount maps an account name to its directory under Options.Dir.
// Letters, digits and "@._+-" are kept (except a leading '.', so the result
// is never "." or ".." and never collides with the store's own dot
// directories); everything else is %XX.
func encodeAccount(name string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '@' || c == '_' || c == '+' || c == '-' || (c == '.' && i > 0)
		if ok {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// canonicalAccount validates an account name and lower-cases it.
func canonicalAccount(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" || len(name) > 320 || !utf8.ValidString(name) {
		return "", fmt.Errorf("storage: invalid account name %q", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '/' || r == '\\' {
			return "", fmt.Errorf("storage: invalid account name %q", name)
		}
	}
	return name, nil
}

// isChildOf reports whether name is strictly below parent in the hierarchy.
func isChildOf(name, parent string) bool {
	return len(name) > len(parent) && name[len(parent)] == '/' && strings.HasPrefix(name, parent)
}

// parentNames returns the ancestors of name, outermost first.
func parentNames(name string) []string {
	var out []string
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			out = append(out, name[:i])
		}
	}
	return out
}
