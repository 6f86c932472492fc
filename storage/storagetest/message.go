package storagetest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"postel/storage"
)

func testDeliverAndFetch(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	c := ctx(t)
	body := "From: =?UTF-8?Q?J=C3=BCrgen?= <juergen@example.org>\r\n" +
		"To: Bob <bob@example.com>, carol@example.com\r\n" +
		"Cc: dave@example.net\r\n" +
		"Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus Berlin\r\n" +
		"Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n" +
		"Message-ID: <abc@example.org>\r\n" +
		"In-Reply-To: <parent@example.org>\r\n" +
		"\r\n" +
		"Hallo Bob,\r\nwie geht's?\r\n"
	res := deliver(t, s, body, inbox("Bob@Example.com"))
	if res[0].UID != 1 {
		t.Errorf("first UID %d, want 1", res[0].UID)
	}
	msgs, err := a.Fetch(c, "INBOX", []uint32{res[0].UID, 99})
	must(t, err)
	if len(msgs) != 1 {
		t.Fatalf("Fetch returned %d messages, want 1 (missing UIDs skipped)", len(msgs))
	}
	m := msgs[0]
	if m.Size != int64(len(body)) {
		t.Errorf("Size %d, want %d", m.Size, len(body))
	}
	if time.Since(m.InternalDate) > time.Minute || m.ModSeq == 0 || len(m.Flags) != 0 {
		t.Errorf("meta %+v", m.MessageMeta)
	}
	e := m.Envelope
	if e == nil {
		t.Fatal("no envelope")
	}
	if e.Subject != "Grüße aus Berlin" {
		t.Errorf("Subject %q", e.Subject)
	}
	if len(e.From) != 1 || e.From[0] != (storage.Address{Name: "Jürgen", Mailbox: "juergen", Host: "example.org"}) {
		t.Errorf("From %+v", e.From)
	}
	if len(e.Sender) != 1 || e.Sender[0] != e.From[0] || len(e.ReplyTo) != 1 || e.ReplyTo[0] != e.From[0] {
		t.Errorf("Sender/Reply-To must default to From: %+v %+v", e.Sender, e.ReplyTo)
	}
	if len(e.To) != 2 || e.To[0].Name != "Bob" || e.To[1].Mailbox != "carol" || len(e.Cc) != 1 {
		t.Errorf("To %+v Cc %+v", e.To, e.Cc)
	}
	if e.MessageID != "abc@example.org" || e.InReplyTo != "<parent@example.org>" {
		t.Errorf("MessageID %q InReplyTo %q", e.MessageID, e.InReplyTo)
	}
	if !e.Date.Equal(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("Date %v", e.Date)
	}
	bs := m.Structure
	if bs == nil || bs.Type != "text" || bs.Subtype != "plain" || bs.Lines != 2 || bs.Size != int64(len("Hallo Bob,\r\nwie geht's?\r\n")) {
		t.Errorf("structure %+v", bs)
	}
	if got := readAll(t, a, "INBOX", res[0].UID); got != body {
		t.Errorf("stored %q, want exactly %q", got, body)
	}
	info, ms := list(t, a, "INBOX")
	if info.Messages != 1 || info.Unseen != 1 || info.UIDNext != 2 || info.Size != int64(len(body)) || len(ms) != 1 {
		t.Errorf("List %+v %v", info, ms)
	}
	if _, _, err := a.Open(c, "INBOX", 42); !errors.Is(err, storage.ErrNoMessage) {
		t.Errorf("Open missing UID: %v", err)
	}
	if _, _, err := a.List(c, "Nope"); !errors.Is(err, storage.ErrNoMailbox) {
		t.Errorf("List missing mailbox: %v", err)
	}
}

func testDeliverMultiTarget(t *testing.T, open Opener) {
	s := open(t)
	bob := account(t, s, "bob@example.com")
	carol := account(t, s, "carol@example.com")
	must(t, carol.CreateMailbox(ctx(t), "Lists", ""))
	d, err := s.BeginDelivery(ctx(t))
	must(t, err)
	body := msg("multi", strings.Repeat("line\r\n", 100))
	_, err = io.WriteString(d, body)
	must(t, err)
	res, err := d.Commit(ctx(t), []storage.Target{
		inbox("bob@example.com"),
		{Account: "carol@example.com", Mailbox: "Lists"},
		{Account: "bob@example.com", Mailbox: "Junk"},
		{Account: "bob@example.com", Mailbox: "NoSuchBox"},
		{Account: "carol@example.com"}, // empty mailbox: INBOX
	}, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	must(t, err)
	for i, r := range res[:3] {
		if r.Err != nil || r.UID != 1 {
			t.Errorf("target %d: %+v", i, r)
		}
	}
	if !errors.Is(res[3].Err, storage.ErrNoMailbox) {
		t.Errorf("missing mailbox target: %v", res[3].Err)
	}
	if res[4].Err != nil || res[4].UID != 1 {
		t.Errorf("empty mailbox target: %+v", res[4])
	}
	for _, x := range []struct {
		a  *storage.Account
		mb string
	}{{bob, "INBOX"}, {carol, "Lists"}, {bob, "Junk"}} {
		_, ms := list(t, x.a, x.mb)
		if len(ms) != 1 || !ms[0].InternalDate.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Fatalf("%s/%s: %+v", x.a.Name(), x.mb, ms)
		}
		if got := readAll(t, x.a, x.mb, ms[0].UID); got != body {
			t.Errorf("%s/%s body differs", x.a.Name(), x.mb)
		}
	}
	// Commit after Commit is refused; Abort after Commit is a no-op.
	if _, err := d.Commit(ctx(t), []storage.Target{inbox("bob@example.com")}, time.Time{}); err == nil {
		t.Error("second Commit succeeded")
	}
	must(t, d.Abort())
}

func testDeliverAbort(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	d, err := s.BeginDelivery(ctx(t))
	must(t, err)
	_, err = io.WriteString(d, msg("aborted", "never"))
	must(t, err)
	must(t, d.Abort())
	must(t, d.Abort())
	info, ms := list(t, a, "INBOX")
	if len(ms) != 0 || info.UIDNext != 1 {
		t.Errorf("after Abort: %+v %v", info, ms)
	}
	// The next delivery gets UID 1: nothing was allocated.
	if res := deliver(t, s, msg("a", "b"), inbox(a.Name())); res[0].UID != 1 {
		t.Errorf("UID after abort %d", res[0].UID)
	}
}

func testAppend(t *testing.T, open Opener) {
	a := account(t, open(t), "bob@example.com")
	c := ctx(t)
	date := time.Date(2025, 5, 6, 7, 8, 9, 0, time.FixedZone("X", 3600))
	uv, uid, err := a.Append(c, "Drafts", strings.NewReader(msg("draft", "text")),
		[]string{`\seen`, `\Draft`, "$Label1", `\Recent`, "bad keyword", "$label1"}, date)
	must(t, err)
	st, _ := a.Status(c, "Drafts")
	if uv != st.UIDValidity || uid != 1 {
		t.Errorf("Append = %d,%d; status %+v", uv, uid, st)
	}
	_, ms := list(t, a, "Drafts")
	eq(t, "flags", ms[0].Flags, []string{"$Label1", `\Draft`, `\Seen`})
	if !ms[0].InternalDate.Equal(date) {
		t.Errorf("internal date %v, want %v", ms[0].InternalDate, date)
	}
	if st.Unseen != 0 || st.Messages != 1 {
		t.Errorf("status %+v", st)
	}
	if _, _, err := a.Append(c, "Missing", strings.NewReader("x"), nil, time.Time{}); !errors.Is(err, storage.ErrNoMailbox) {
		t.Errorf("Append to missing mailbox: %v", err)
	}
	// Bytes are stored exactly, even without a trailing CRLF or header.
	raw := "no header at all"
	_, uid, err = a.Append(c, "INBOX", strings.NewReader(raw), nil, time.Time{})
	must(t, err)
	if got := readAll(t, a, "INBOX", uid); got != raw {
		t.Errorf("stored %q", got)
	}
}

func testOpenPartial(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	body := msg("partial", strings.Repeat("0123456789", 1000))
	res := deliver(t, s, body, inbox(a.Name()))
	r, size, err := a.Open(ctx(t), "INBOX", res[0].UID)
	must(t, err)
	defer r.Close()
	if size != int64(len(body)) {
		t.Fatalf("size %d", size)
	}
	for _, off := range []int64{0, 100, 5000, size - 10} {
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
		if string(buf) != body[off:off+10] {
			t.Errorf("at %d read %q, want %q", off, buf, body[off:off+10])
		}
	}
	if _, err := r.Seek(-5, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	tail, _ := io.ReadAll(r)
	if string(tail) != body[len(body)-5:] {
		t.Errorf("tail %q", tail)
	}
}

func testFlags(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	c := ctx(t)
	for i := 0; i < 4; i++ {
		deliver(t, s, msg("f", "b"), inbox(a.Name()))
	}
	info0, _ := list(t, a, "INBOX")
	ch, err := a.StoreFlags(c, "INBOX", []uint32{1, 2, 3, 77}, storage.FlagsAdd, []string{`\Seen`, "$Work"})
	must(t, err)
	if len(ch) != 3 {
		t.Fatalf("changed %d, want 3", len(ch))
	}
	for _, m := range ch {
		eq(t, "flags", m.Flags, []string{"$Work", `\Seen`})
		if m.ModSeq <= info0.HighestModSeq {
			t.Errorf("ModSeq %d not above %d", m.ModSeq, info0.HighestModSeq)
		}
	}
	// No-op changes report nothing and take no MODSEQ.
	info1, _ := list(t, a, "INBOX")
	ch, err = a.StoreFlags(c, "INBOX", []uint32{1}, storage.FlagsAdd, []string{`\SEEN`, "$work"})
	must(t, err)
	if len(ch) != 0 {
		t.Errorf("no-op store reported %v", ch)
	}
	info2, _ := list(t, a, "INBOX")
	if info2.HighestModSeq != info1.HighestModSeq {
		t.Errorf("no-op store changed HIGHESTMODSEQ %d -> %d", info1.HighestModSeq, info2.HighestModSeq)
	}
	_, err = a.StoreFlags(c, "INBOX", []uint32{2}, storage.FlagsRemove, []string{`\Seen`, "$WORK"})
	must(t, err)
	_, err = a.StoreFlags(c, "INBOX", []uint32{3}, storage.FlagsReplace, []string{`\Flagged`, `\Answered`, `\Deleted`, `\Draft`})
	must(t, err)
	info, ms := list(t, a, "INBOX")
	eq(t, "flags 1", ms[0].Flags, []string{"$Work", `\Seen`})
	eq(t, "flags 2", ms[1].Flags, []string{})
	eq(t, "flags 3", ms[2].Flags, []string{`\Answered`, `\Deleted`, `\Draft`, `\Flagged`})
	eq(t, "flags 4", ms[3].Flags, []string{})
	if info.Unseen != 3 || info.Deleted != 1 {
		t.Errorf("counters %+v", info)
	}
	if _, err := a.StoreFlags(c, "Nope", []uint32{1}, storage.FlagsAdd, []string{`\Seen`}); !errors.Is(err, storage.ErrNoMailbox) {
		t.Errorf("StoreFlags missing mailbox: %v", err)
	}
}

func testCopyMove(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	c := ctx(t)
	for i := 0; i < 5; i++ {
		deliver(t, s, msg("cm", strings.Repeat("x", i)), inbox(a.Name()))
	}
	_, err := a.StoreFlags(c, "INBOX", []uint32{2}, storage.FlagsAdd, []string{`\Flagged`, "$K"})
	must(t, err)
	// Give Archive a head start so UIDs differ between mailboxes.
	deliver(t, s, msg("arch", "a"), storage.Target{Account: a.Name(), Mailbox: "Archive"})
	st, _ := a.Status(c, "Archive")

	uv, src, dst, err := a.Copy(c, "INBOX", []uint32{4, 2, 99, 2}, "Archive")
	must(t, err)
	if uv != st.UIDValidity {
		t.Errorf("COPYUID validity %d, want %d", uv, st.UIDValidity)
	}
	eq(t, "copy src", src, []uint32{2, 4})
	eq(t, "copy dst", dst, []uint32{2, 3})
	_, am := list(t, a, "Archive")
	eq(t, "archive uids", uidsOf(am), []uint32{1, 2, 3})
	eq(t, "copied flags", am[1].Flags, []string{"$K", `\Flagged`})
	if readAll(t, a, "Archive", 2) != readAll(t, a, "INBOX", 2) {
		t.Error("copied bytes differ")
	}
	_, im := list(t, a, "INBOX")
	if len(im) != 5 {
		t.Errorf("Copy changed the source: %v", uidsOf(im))
	}
	// Changing the copy leaves the original alone.
	_, err = a.StoreFlags(c, "Archive", []uint32{2}, storage.FlagsReplace, nil)
	must(t, err)
	_, im = list(t, a, "INBOX")
	eq(t, "original flags", im[1].Flags, []string{"$K", `\Flagged`})

	uv, src, dst, err = a.Move(c, "INBOX", []uint32{1, 3, 5}, "Trash")
	must(t, err)
	eq(t, "move src", src, []uint32{1, 3, 5})
	eq(t, "move dst", dst, []uint32{1, 2, 3})
	_, im = list(t, a, "INBOX")
	eq(t, "inbox after move", uidsOf(im), []uint32{2, 4})
	_, tm := list(t, a, "Trash")
	for i, m := range tm {
		if got, want := readAll(t, a, "Trash", m.UID), msg("cm", strings.Repeat("x", int(src[i]-1))); got != want {
			t.Errorf("moved %d: %q, want %q", m.UID, got, want)
		}
	}
	ts, _ := a.Status(c, "Trash")
	if uv != ts.UIDValidity || ts.Messages != 3 {
		t.Errorf("Trash status %+v", ts)
	}
	if _, _, _, err := a.Copy(c, "INBOX", []uint32{2}, "Nope"); !errors.Is(err, storage.ErrNoMailbox) {
		t.Errorf("copy to missing: %v", err)
	}
	if _, _, _, err := a.Move(c, "Nope", []uint32{2}, "INBOX"); !errors.Is(err, storage.ErrNoMailbox) {
		t.Errorf("move from missing: %v", err)
	}
	// Move within one mailbox gives new UIDs.
	_, src, dst, err = a.Move(c, "INBOX", []uint32{2}, "INBOX")
	must(t, err)
	eq(t, "self move", append(src, dst...), []uint32{2, 6})
	_, im = list(t, a, "INBOX")
	eq(t, "inbox after self move", uidsOf(im), []uint32{4, 6})
}

func testExpunge(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	c := ctx(t)
	for i := 0; i < 6; i++ {
		deliver(t, s, msg("e", "b"), inbox(a.Name()))
	}
	_, err := a.StoreFlags(c, "INBOX", []uint32{1, 3, 4, 6}, storage.FlagsAdd, []string{`\Deleted`})
	must(t, err)
	// UID EXPUNGE: only the listed \Deleted ones.
	got, err := a.Expunge(c, "INBOX", []uint32{2, 3, 6})
	must(t, err)
	eq(t, "uid expunge", got, []uint32{3, 6})
	got, err = a.Expunge(c, "INBOX", nil)
	must(t, err)
	eq(t, "expunge", got, []uint32{1, 4})
	got, err = a.Expunge(c, "INBOX", nil)
	must(t, err)
	if len(got) != 0 {
		t.Errorf("second expunge %v", got)
	}
	info, ms := list(t, a, "INBOX")
	eq(t, "left", uidsOf(ms), []uint32{2, 5})
	if info.Deleted != 0 || info.Messages != 2 {
		t.Errorf("status %+v", info)
	}
	if _, _, err := a.Open(c, "INBOX", 3); !errors.Is(err, storage.ErrNoMessage) {
		t.Errorf("Open expunged: %v", err)
	}
	// UIDs are never reused.
	res := deliver(t, s, msg("e", "b"), inbox(a.Name()))
	if res[0].UID != 7 {
		t.Errorf("UID after expunge %d, want 7", res[0].UID)
	}
}

func testDeletePOP3(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	for i := 0; i < 3; i++ {
		deliver(t, s, msg("p", "b"), inbox(a.Name()))
	}
	must(t, a.Delete(ctx(t), "INBOX", []uint32{1, 3, 8}))
	_, ms := list(t, a, "INBOX")
	eq(t, "left", uidsOf(ms), []uint32{2})
	must(t, a.Delete(ctx(t), "INBOX", nil))
}

func testQuota(t *testing.T, open Opener) {
	s := open(t)
	q := account(t, s, QuotaAccount)
	free := account(t, s, "free@example.com")
	c := ctx(t)
	big := msg("big", strings.Repeat("x", QuotaBytes/2))
	deliver(t, s, big, inbox(q.Name()))
	d, err := s.BeginDelivery(c)
	must(t, err)
	_, err = io.WriteString(d, big)
	must(t, err)
	res, err := d.Commit(c, []storage.Target{inbox(q.Name()), inbox(free.Name())}, time.Time{})
	must(t, err)
	if !errors.Is(res[0].Err, storage.ErrOverQuota) {
		t.Errorf("over quota target: %v", res[0].Err)
	}
	if res[1].Err != nil {
		t.Errorf("other target must succeed: %v", res[1].Err)
	}
	_, ms := list(t, q, "INBOX")
	if len(ms) != 1 {
		t.Errorf("over-quota delivery stored: %d messages", len(ms))
	}
	if _, _, err := q.Append(c, "Sent", strings.NewReader(big), nil, time.Time{}); !errors.Is(err, storage.ErrOverQuota) {
		t.Errorf("Append over quota: %v", err)
	}
	if _, _, _, err := q.Copy(c, "INBOX", []uint32{1}, "Archive"); !errors.Is(err, storage.ErrOverQuota) {
		t.Errorf("Copy over quota: %v", err)
	}
	// Small messages still fit.
	if _, _, err := q.Append(c, "Sent", strings.NewReader(msg("s", "s")), nil, time.Time{}); err != nil {
		t.Errorf("small Append: %v", err)
	}
}

func testLockPOP3(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	unlock, err := a.LockPOP3()
	must(t, err)
	same := account(t, s, "BOB@example.com")
	if _, err := same.LockPOP3(); !errors.Is(err, storage.ErrInUse) {
		t.Errorf("second lock: %v, want ErrInUse", err)
	}
	unlock()
	unlock()
	unlock2, err := a.LockPOP3()
	must(t, err)
	unlock2()
}

func testUsage(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	m1, m2 := msg("u", "1234"), msg("u", strings.Repeat("z", 300))
	deliver(t, s, m1, inbox(a.Name()))
	deliver(t, s, m2, storage.Target{Account: a.Name(), Mailbox: "Sent"})
	u, err := a.Usage(ctx(t))
	must(t, err)
	if u != int64(len(m1)+len(m2)) {
		t.Errorf("Usage %d, want %d", u, len(m1)+len(m2))
	}
}

func testModSeq(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	c := ctx(t)
	last := uint64(0)
	step := func(what string) {
		t.Helper()
		st, err := a.Status(c, "INBOX")
		must(t, err)
		if st.HighestModSeq <= last {
			t.Errorf("%s: HIGHESTMODSEQ %d not above %d", what, st.HighestModSeq, last)
		}
		last = st.HighestModSeq
	}
	step("start")
	deliver(t, s, msg("a", "b"), inbox(a.Name()))
	step("deliver")
	_, err := a.StoreFlags(c, "INBOX", []uint32{1}, storage.FlagsAdd, []string{`\Deleted`})
	must(t, err)
	step("flags")
	_, err = a.Expunge(c, "INBOX", nil)
	must(t, err)
	step("expunge")
	_, _, err = a.Append(c, "INBOX", strings.NewReader("x"), nil, time.Time{})
	must(t, err)
	step("append")
	_, _, _, err = a.Move(c, "INBOX", []uint32{2}, "Trash")
	must(t, err)
	step("move out")
	_, ms := list(t, a, "Trash")
	if len(ms) != 1 || ms[0].ModSeq == 0 {
		t.Errorf("moved message modseq %+v", ms)
	}
}

// testOpenAfterExpunge: an opened message stays readable after a
// concurrent expunge (a POP3 RETR or IMAP FETCH in flight).
func testOpenAfterExpunge(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	body := msg("keep reading", strings.Repeat("data ", 2000))
	res := deliver(t, s, body, inbox(a.Name()))
	r, _, err := a.Open(ctx(t), "INBOX", res[0].UID)
	must(t, err)
	defer r.Close()
	must(t, a.Delete(ctx(t), "INBOX", []uint32{res[0].UID}))
	got, err := io.ReadAll(r)
	must(t, err)
	if string(got) != body {
		t.Errorf("read %d bytes after expunge, want %d", len(got), len(body))
	}
}
