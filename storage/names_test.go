package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCanonicalName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"INBOX", "INBOX"},
		{"inbox", "INBOX"},
		{"iNbOx/Sub", "INBOX/Sub"},
		{"Inboxes", "Inboxes"},
		{"a/b/c", "a/b/c"},
		{"U\u0308ber", "\u00dcber"}, // NFC
		{"..x", "..x"},
	} {
		got, err := CanonicalName(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", ".", "..", "../x", "/x", "x/", "a//b", "a\x00b", "a\x1bb", "a\u0085b",
		strings.Repeat("x", 256), strings.Repeat("ab/", 400) + "c", "\xff", strings.Repeat("%", 100)} {
		if _, err := CanonicalName(in); !errors.Is(err, ErrBadName) {
			t.Errorf("CanonicalName(%q) = %v, want ErrBadName", trunc(in), err)
		}
	}
}

func trunc(s string) string {
	if len(s) > 30 {
		return s[:30] + "..."
	}
	return s
}

func TestEncodeMailbox(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"INBOX", ""},
		{"Sent", ".Sent"},
		{"a/b", ".a.b"},
		{"a.b", ".a%2Eb"},
		{"..", ".%2E%2E"}, // only reachable through decode tests; never valid
		{"100%", ".100%25"},
		{"C:\\x", ".C%3A%5Cx"},
		{"Über", ".Über"},
		{"INBOX/x", ".INBOX.x"},
	} {
		if got := encodeMailbox(tc.in); got != tc.want {
			t.Errorf("encodeMailbox(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"Sent", ".", "..", ".a..b", ".a%2", ".a%zz", ".a%2e", ".a%2F"} {
		if n, err := decodeMailbox(bad); err == nil {
			t.Errorf("decodeMailbox(%q) = %q, want error", bad, n)
		}
	}
}

// FuzzMailboxName checks that every accepted name round-trips through the
// directory encoding and that the encoding is one safe path component.
func FuzzMailboxName(f *testing.F) {
	for _, s := range []string{"INBOX", "a/b", "a.b", "%41", "../x", "Über/straße", "x/./y", "a\x00", ".hidden", "~"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := CanonicalName(s)
		if err != nil {
			if !errors.Is(err, ErrBadName) {
				t.Fatalf("error %v is not ErrBadName", err)
			}
			return
		}
		if again, err := CanonicalName(name); err != nil || again != name {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, name, again, err)
		}
		enc := encodeMailbox(name)
		if name == Inbox {
			if enc != "" {
				t.Fatalf("INBOX encodes as %q", enc)
			}
			return
		}
		if enc == "." || enc == ".." || strings.ContainsAny(enc, "/\x00") || len(enc) > maxDirName || !utf8.ValidString(enc) {
			t.Fatalf("unsafe encoding %q of %q", enc, name)
		}
		if filepath.Base(enc) != enc || filepath.Clean(enc) != enc {
			t.Fatalf("encoding %q is not one clean component", enc)
		}
		dec, err := decodeMailbox(enc)
		if err != nil || dec != name {
			t.Fatalf("decode(%q) = %q, %v; want %q", enc, dec, err, name)
		}
	})
}

// TestHostileNamesOnDisk: hostile names are refused or encoded, and
// nothing is ever created outside the account directory.
func TestHostileNamesOnDisk(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "mail")
	s := openTest(t, dir)
	a := testAccount(t, s)
	ctx := context.Background()
	names := []string{"../x", "../../etc", "a/b", ".", "..", "x\x00y", strings.Repeat("L", 2048), "/x", "x/", "a//b",
		"..x", "x/..", "a/./b", "%2E%2E", "..%2F..%2Fx", "\\..\\x", "a/b/../../../x", "-rf", "~", ".Sent", "INBOX/../..", "con:"}
	for _, n := range names {
		err := a.CreateMailbox(ctx, n, "")
		if err != nil && !errors.Is(err, ErrBadName) {
			t.Errorf("CreateMailbox(%q): unexpected %v", trunc(n), err)
		}
		if err == nil {
			appendMsg(t, a, n, "Subject: x\r\n\r\n")
			if err := a.RenameMailbox(ctx, n, n+"-renamed"); err != nil && !errors.Is(err, ErrBadName) {
				t.Errorf("rename %q: %v", n, err)
			}
		}
		if err := a.RenameMailbox(ctx, "Archive", n); err == nil {
			if err := a.RenameMailbox(ctx, n, "Archive"); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, n := range []string{"../x", "..", ".", "/x", "x/", "a//b", "x\x00y", strings.Repeat("L", 2048)} {
		if err := a.CreateMailbox(ctx, n, ""); !errors.Is(err, ErrBadName) {
			t.Errorf("CreateMailbox(%q) = %v, want ErrBadName", trunc(n), err)
		}
	}
	// The test root holds only the store; the store only the account, its
	// own .tmp and the index; every mailbox directory is a direct child of the
	// account directory named ".<encoded>".
	if ents, _ := os.ReadDir(root); len(ents) != 1 || ents[0].Name() != "mail" {
		t.Errorf("outside the store: %v", ents)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("store root: %v", ents)
	}
	ad := filepath.Join(dir, acct)
	ents, err := os.ReadDir(ad)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		n := e.Name()
		switch {
		case n == "cur" || n == "new" || n == "tmp" || n == deletedDir:
		case strings.HasPrefix(n, "."):
			if _, err := decodeMailbox(n); err != nil {
				t.Errorf("directory %q does not decode: %v", n, err)
			}
		default:
			t.Errorf("unexpected entry %q in account dir", n)
		}
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, "..") {
			t.Errorf("walked outside: %s", p)
		}
		return nil
	})
	mbs, _ := a.Mailboxes(ctx)
	for _, m := range mbs {
		if _, err := CanonicalName(m.Name); err != nil {
			t.Errorf("listed invalid name %q", m.Name)
		}
	}
}

func TestEncodeAccount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"bob@example.com", "bob@example.com"},
		{"../x", "%2E.%2Fx"},
		{".", "%2E"},
		{"a/b", "a%2Fb"},
	} {
		if got := encodeAccount(tc.in); got != tc.want {
			t.Errorf("encodeAccount(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	s := openTest(t, t.TempDir())
	for _, bad := range []string{"", "a/b", "x\x00", strings.Repeat("a", 400)} {
		if _, err := s.Account(context.Background(), bad); err == nil {
			t.Errorf("Account(%q) accepted", trunc(bad))
		}
	}
}
