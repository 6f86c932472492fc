package imapd

import (
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"

	"postel/storage"
)

func TestViewResolve(t *testing.T) {
	t.Parallel()
	v := newView("INBOX", false)
	v.uids = []uint32{3, 5, 7, 10, 11}
	seq := func(ranges ...imap.SeqRange) imap.NumSet { return imap.SeqSet(ranges) }
	uid := func(ranges ...imap.UIDRange) imap.NumSet { return imap.UIDSet(ranges) }
	cases := []struct {
		set  imap.NumSet
		want string // "seq:uid ..." or "BAD"
	}{
		{seq(imap.SeqRange{Start: 1, Stop: 0}), "1:3 2:5 3:7 4:10 5:11"},
		{seq(imap.SeqRange{Start: 0, Stop: 0}), "5:11"},
		{seq(imap.SeqRange{Start: 4, Stop: 2}), "2:5 3:7 4:10"},
		{seq(imap.SeqRange{Start: 2, Stop: 2}, imap.SeqRange{Start: 1, Stop: 3}), "1:3 2:5 3:7"},
		{seq(imap.SeqRange{Start: 6, Stop: 6}), "BAD"},
		{seq(imap.SeqRange{Start: 1, Stop: 9}), "BAD"},
		{uid(imap.UIDRange{Start: 4, Stop: 10}), "2:5 3:7 4:10"},
		{uid(imap.UIDRange{Start: 6, Stop: 0}), "3:7 4:10 5:11"},
		{uid(imap.UIDRange{Start: 100, Stop: 0}), "5:11"}, // 100:* includes the last (RFC 9051 6.4.9)
		{uid(imap.UIDRange{Start: 1, Stop: 2}), ""},
		{uid(imap.UIDRange{Start: 11, Stop: 11}, imap.UIDRange{Start: 3, Stop: 3}), "1:3 5:11"},
	}
	for _, tc := range cases {
		refs, err := v.resolve(tc.set)
		got := ""
		if err != nil {
			got = "BAD"
		}
		for i, r := range refs {
			if i > 0 {
				got += " "
			}
			got += fmt.Sprintf("%d:%d", r.seq, r.uid)
		}
		if got != tc.want {
			t.Errorf("resolve(%v) = %q, want %q", tc.set, got, tc.want)
		}
	}
	empty := newView("INBOX", false)
	if _, err := empty.resolve(seq(imap.SeqRange{Start: 1, Stop: 0})); err == nil {
		t.Error("1:* on an empty mailbox resolved")
	}
	if refs, err := empty.resolve(uid(imap.UIDRange{Start: 1, Stop: 0})); err != nil || len(refs) != 0 {
		t.Errorf("UID 1:* on an empty mailbox: %v %v", refs, err)
	}
}

// recorder stands in for the library's UpdateWriter in poll tests.
type recorder struct{ out []string }

func (r *recorder) exists(n uint32) error {
	r.out = append(r.out, fmt.Sprintf("EXISTS %d", n))
	return nil
}
func (r *recorder) expunge(n uint32) error {
	r.out = append(r.out, fmt.Sprintf("EXPUNGE %d", n))
	return nil
}

func TestViewRemoveUIDsDescending(t *testing.T) {
	t.Parallel()
	v := newView("INBOX", false)
	v.uids = []uint32{1, 2, 3, 4, 5}
	var r recorder
	if err := v.removeUIDs([]uint32{2, 4, 99}, r.expunge); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(r.out) != "[EXPUNGE 4 EXPUNGE 2]" || fmt.Sprint(v.uids) != "[1 3 5]" {
		t.Fatalf("got %v, uids %v", r.out, v.uids)
	}
}

func TestViewPushFilters(t *testing.T) {
	t.Parallel()
	v := newView("Work", false)
	v.push(storage.Change{Kind: storage.ChangeMessageAdded, Mailbox: "INBOX", UID: 1, ModSeq: 1})
	v.push(storage.Change{Kind: storage.ChangeMessageAdded, Mailbox: "Work", UID: 1, ModSeq: 1})
	if len(v.pending) != 1 {
		t.Fatalf("pending %v", v.pending)
	}
	v.push(storage.Change{Kind: storage.ChangeMailboxRenamed, Mailbox: "Jobs", OldName: "Work"})
	if v.mailbox() != "Jobs" {
		t.Fatalf("rename not followed: %s", v.mailbox())
	}
	v.push(storage.Change{Kind: storage.ChangeMailboxDeleted, Mailbox: "Jobs"})
	if !v.gone {
		t.Fatal("delete not noticed")
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"INBOX", "Work", "Work/2026", "Ünïcode ✓", "a.b", "...x"} {
		if err := checkName(ok); err != nil {
			t.Errorf("checkName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "..", ".", "a/../b", "a/./b", "/a", "a/", "a//b", "a%", "a*", "a\x00b", "a\tb", "a\x7f", "\xff", string(make([]byte, 600))} {
		if err := checkName(bad); err == nil {
			t.Errorf("checkName(%q) accepted", bad)
		}
	}
}

func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"INBOX", "a/b", "../x", "a\x00", "Ünï/✓"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkName(name) != nil {
			return
		}
		// Whatever passes has no empty, "." or ".." level and no wildcard.
		for _, part := range splitLevels(name) {
			if part == "" || part == "." || part == ".." {
				t.Fatalf("accepted %q", name)
			}
		}
	})
}

func FuzzMsgIDList(f *testing.F) {
	for _, s := range []string{"<a@b>", "<a@b> <c@d>", "garbage", "<<>>", "<a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, id := range msgIDList(raw) {
			if id == "" {
				t.Fatalf("empty id from %q", raw)
			}
		}
	})
}

func splitLevels(name string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			parts = append(parts, name[start:i])
			start = i + 1
		}
	}
	return append(parts, name[start:])
}

var _ = (&recorder{}).exists

func TestViewOverflow(t *testing.T) {
	t.Parallel()
	v := newView("INBOX", false)
	for i := 0; i <= maxPending; i++ {
		v.push(storage.Change{Kind: storage.ChangeFlags, Mailbox: "INBOX", UID: 1, ModSeq: uint64(i + 1)})
	}
	if !v.overflow || v.pending != nil {
		t.Fatalf("overflow %v, %d pending", v.overflow, len(v.pending))
	}
	if err := v.poll(nil, true); err != errOverflow {
		t.Fatalf("poll after overflow: %v", err)
	}
}
