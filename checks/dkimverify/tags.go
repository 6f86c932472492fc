package dkimverify

import (
	"errors"
	"strings"
)

// tag is one tag=value pair of an RFC 6376 3.2 tag-list.
type tag struct{ name, value string }

// errTagList is a tag-list that breaks RFC 6376 3.2: a pair without "=",
// an empty tag name, or a name given twice ("if a tag name does occur more
// than once, the entire tag-list is invalid").
var errTagList = errors.New("malformed tag-list")

// parseTagList splits a tag-list into its pairs, names and values with
// surrounding white space (folding included) removed. White space inside a
// value is kept; callers remove it where the grammar allows it (base64,
// lists). A trailing ";" is allowed.
func parseTagList(s string) ([]tag, error) {
	tags := make([]tag, 0, 12)
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, ";")
		name, value, ok := strings.Cut(pair, "=")
		if !ok {
			if isBlank(pair) {
				continue
			}
			return nil, errTagList
		}
		name = trimWSP(name)
		if name == "" {
			return nil, errTagList
		}
		for _, t := range tags {
			if t.name == name {
				return nil, errTagList
			}
		}
		tags = append(tags, tag{name, trimWSP(value)})
	}
	return tags, nil
}

// lookup returns the value of the named tag.
func lookup(tags []tag, name string) (string, bool) {
	for _, t := range tags {
		if t.name == name {
			return t.value, true
		}
	}
	return "", false
}

// isWSP reports whether c is white space in a header field: SP and HTAB
// (WSP), and the CR and LF of folding (FWS, RFC 5322 3.2.2).
func isWSP(c byte) bool { return wspTable[c] }

var wspTable = [256]bool{' ': true, '\t': true, '\r': true, '\n': true}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isWSP(s[i]) {
			return false
		}
	}
	return true
}

func trimWSP(s string) string {
	for s != "" && isWSP(s[0]) {
		s = s[1:]
	}
	for s != "" && isWSP(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// stripWSP removes all white space from s: base64 values may be folded
// anywhere (RFC 6376 3.2, "base64string").
func stripWSP(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if isWSP(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)-n)
	for i := 0; i < len(s); i++ {
		if !isWSP(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// splitList splits a colon-separated list (h=, and the key record's h=, s=
// and t=) into its trimmed elements.
func splitList(s string) []string {
	parts := strings.Split(s, ":")
	for i, p := range parts {
		parts[i] = trimWSP(p)
	}
	return parts
}
