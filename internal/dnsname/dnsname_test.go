package dnsname

import "testing"

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM":           "example.com",
		" example.com. ":        "example.com",
		"Bücher.Example":        "xn--bcher-kva.example",
		"xn--bcher-kva.example": "xn--bcher-kva.example",
		"":                      "",
		".":                     "",
		"[192.0.2.1]":           "",
		"a b.example":           "",
		"user@example.com":      "",
		"example.com;x":         "",
		"host:25":               "",
		"a/b":                   "",
		"\xff.example":          "",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}
