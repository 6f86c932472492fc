package auth

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCanonicalAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" = ErrInvalid
	}{
		{"bob@example.com", "bob@example.com"},
		{"  Bob@Example.COM \t", "bob@example.com"},
		{"bob@example.com.", "bob@example.com"},
		{"first.last@mail.example.com", "first.last@mail.example.com"},
		{"o'brien@example.com", "o'brien@example.com"},
		{"a_b-c@example.com", "a_b-c@example.com"},
		{"Jörg@Bücher.example", "jörg@xn--bcher-kva.example"},
		{"x@XN--BCHER-KVA.example", "x@xn--bcher-kva.example"},
		{"postmaster@localhost", "postmaster@localhost"},
		{"a@b.c1", "a@b.c1"},
		{"", ""},
		{"bob", ""},
		{"@example.com", ""},
		{"bob@", ""},
		{"bob@@example.com", ""},
		{"bob@ex@ample.com", ""},
		{"bo b@example.com", ""},
		{"bob@exa mple.com", ""},
		{"bob@ example.com", ""},
		{"bob\x00@example.com", ""},
		{"bob\r\n@example.com", ""},
		{"bob\u00a0x@example.com", ""},
		{"bob\u200bx@example.com", ""}, // zero-width space is a format char
		{".bob@example.com", ""},
		{"bob.@example.com", ""},
		{"b..ob@example.com", ""},
		{"bob+tag@example.com", ""}, // '+' is reserved for tags
		{"a/b@example.com", ""},
		{"../x@example.com", ""},
		{`"bob"@example.com`, ""},
		{"bob@-example.com", ""},
		{"bob@example-.com", ""},
		{"bob@exa_mple.com", ""},
		{"bob@example..com", ""},
		{"bob@192.0.2.1", ""},
		{"bob@[192.0.2.1]", ""},
		{"bob@" + strings.Repeat("a", 64) + ".com", ""},
		{strings.Repeat("a", 65) + "@example.com", ""},
		{strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com"},
		{"ab@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + "." + strings.Repeat("e", 61), ""}, // 256 > 254 total
		{"bob@exa\xffmple.com", ""},
		{"b\xffob@example.com", ""},
	}
	for _, tt := range tests {
		got, err := canonicalAddress(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("canonicalAddress(%q) = %q, %v; want ErrInvalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("canonicalAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCanonicalAliasAddress(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"@Example.com", "@example.com"},
		{"Sales@Example.com", "sales@example.com"},
		{"@", ""},
		{"@@example.com", ""},
		{"@bad_domain", ""},
	}
	for _, tt := range tests {
		got, err := canonicalAliasAddress(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("canonicalAliasAddress(%q) = %q, %v; want ErrInvalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("canonicalAliasAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestRecipientLocalPart(t *testing.T) {
	t.Parallel()
	// Received addresses may use the whole dot-atom, unlike accounts.
	for _, ok := range []string{"a+b", "a/b", "Ünïcode", "x{y}|z"} {
		if _, err := canonicalLocal(ok, localRecipient); err != nil {
			t.Errorf("canonicalLocal(%q, recipient): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a..b", `"q"`, "a@b", "a\tb"} {
		if _, err := canonicalLocal(bad, localRecipient); err == nil {
			t.Errorf("canonicalLocal(%q, recipient) accepted", bad)
		}
	}
}

// FuzzCanonicalAddress checks that canonicalisation never panics, is
// idempotent, and only ever yields the shape the rest of Postel relies on.
func FuzzCanonicalAddress(f *testing.F) {
	for _, s := range []string{
		"bob@example.com", " Bob@Example.COM ", "jörg@bücher.example", "a+b@c.d",
		"@example.com", "a@b@c", "İ@example.com", "\u212a@example.com", "x@xn--bcher-kva.example.",
		"a@b..c", "a\x00@b.c", "\xff@b.c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := canonicalAddress(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("canonicalAddress(%q) error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		again, err := canonicalAddress(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, got, again, err)
		}
		if strings.Count(got, "@") != 1 || strings.HasPrefix(got, "@") || strings.HasSuffix(got, "@") {
			t.Fatalf("%q -> %q: bad shape", s, got)
		}
		if len(got) > maxAddressLen || !utf8.ValidString(got) {
			t.Fatalf("%q -> %q: too long or invalid UTF-8", s, got)
		}
		if strings.ContainsAny(got, "/+\\") || strings.Contains(got, "..") {
			t.Fatalf("%q -> %q: reserved characters", s, got)
		}
		for _, r := range got {
			if unicode.IsSpace(r) || unicode.IsControl(r) || r != unicode.ToLower(r) && r < utf8.RuneSelf {
				t.Fatalf("%q -> %q: contains %U", s, got, r)
			}
		}
		// The same address must be accepted as a recipient and as an alias.
		local, domain, err := splitAddress(got, localRecipient)
		if err != nil || local+"@"+domain != got {
			t.Fatalf("recipient parse of %q = %q@%q, %v", got, local, domain, err)
		}
		if a, err := canonicalAliasAddress(got); err != nil || a != got {
			t.Fatalf("alias parse of %q = %q, %v", got, a, err)
		}
	})
}
