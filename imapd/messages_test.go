package imapd

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

var multipartMsg = strings.ReplaceAll(`From: Bob <bob@example.org>
To: Alice <alice@example.com>, carol@example.net
Cc: Dave <dave@example.org>
Subject: =?utf-8?q?caf=C3=A9?= report
Date: Wed, 25 Nov 2026 10:00:00 +0000
Message-ID: <mp@example.org>
In-Reply-To: <parent@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

preamble
--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9 au lait, zebra
--b1
Content-Type: application/octet-stream; name="x.bin"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="x.bin"

AAECAwQ=
--b1--
`, "\n", "\r\n")

func appendMsg(t *testing.T, c *imapclient.Client, mbox, msg string, o *imap.AppendOptions) *imap.AppendData {
	t.Helper()
	cmd := c.Append(mbox, int64(len(msg)), o)
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := cmd.Wait()
	if err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	return d
}

func fetchOne(t *testing.T, c *imapclient.Client, set imap.NumSet, o *imap.FetchOptions) *imapclient.FetchMessageBuffer {
	t.Helper()
	l, err := c.Fetch(set, o).Collect()
	if err != nil {
		t.Fatalf("FETCH: %v", err)
	}
	if len(l) != 1 {
		t.Fatalf("FETCH returned %d messages", len(l))
	}
	return l[0]
}

func TestAppendAndFetch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login(t, nil)
	date := time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)
	ad := appendMsg(t, c, "INBOX", multipartMsg, &imap.AppendOptions{Flags: []imap.Flag{imap.FlagFlagged, "$Work"}, Time: date})
	if ad.UID != 1 || ad.UIDValidity == 0 {
		t.Fatalf("APPENDUID %+v", ad)
	}
	// APPEND to a missing mailbox asks the client to create it.
	cmd := c.Append("Nope", 3, nil)
	cmd.Write([]byte("x\r\n"))
	cmd.Close()
	if _, err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "TRYCREATE") {
		t.Fatalf("APPEND to missing mailbox: %v", err)
	}

	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 1 {
		t.Fatalf("SELECT: %v %+v", err, sel)
	}
	m := fetchOne(t, c, imap.SeqSetNum(1), &imap.FetchOptions{
		Flags: true, InternalDate: true, RFC822Size: true, Envelope: true, UID: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
	})
	if m.UID != 1 || !m.InternalDate.Equal(date) || m.RFC822Size != int64(len(multipartMsg)) {
		t.Errorf("UID/INTERNALDATE/RFC822.SIZE: %d %v %d", m.UID, m.InternalDate, m.RFC822Size)
	}
	if !containsFlag(m.Flags, imap.FlagFlagged) || !containsFlag(m.Flags, "$Work") || containsFlag(m.Flags, imap.FlagSeen) {
		t.Errorf("FLAGS %v", m.Flags)
	}
	env := m.Envelope
	if env == nil || env.Subject != "café report" || env.MessageID != "mp@example.org" || len(env.To) != 2 ||
		env.From[0].Addr() != "bob@example.org" || env.From[0].Name != "Bob" || len(env.InReplyTo) != 1 || env.InReplyTo[0] != "parent@example.org" {
		t.Errorf("ENVELOPE %+v", env)
	}
	mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || len(mp.Children) != 2 || mp.Subtype != "mixed" {
		t.Fatalf("BODYSTRUCTURE %#v", m.BodyStructure)
	}
	att := mp.Children[1].(*imap.BodyStructureSinglePart)
	if att.Filename() != "x.bin" || !strings.EqualFold(att.Encoding, "base64") {
		t.Errorf("attachment part %+v", att)
	}
	if txt := mp.Children[0].(*imap.BodyStructureSinglePart); txt.Text == nil || txt.Params["charset"] != "utf-8" {
		t.Errorf("text part %+v", txt)
	}
	// Non-extended BODY too.
	b := fetchOne(t, c, imap.SeqSetNum(1), &imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{}})
	if _, ok := b.BodyStructure.(*imap.BodyStructureMultiPart); !ok {
		t.Errorf("BODY %#v", b.BodyStructure)
	}
}

func containsFlag(l []imap.Flag, f imap.Flag) bool {
	for _, x := range l {
		if strings.EqualFold(string(x), string(f)) {
			return true
		}
	}
	return false
}

func TestFetchSections(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(t, "INBOX", multipartMsg)
	c := e.login(t, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	hdrEnd := strings.Index(multipartMsg, "\r\n\r\n") + 4
	secs := map[string]*imap.FetchItemBodySection{
		"full":       {Peek: true},
		"header":     {Specifier: imap.PartSpecifierHeader, Peek: true},
		"fields":     {Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject", "From"}, Peek: true},
		"fieldsnot":  {Specifier: imap.PartSpecifierHeader, HeaderFieldsNot: []string{"Subject"}, Peek: true},
		"text":       {Specifier: imap.PartSpecifierText, Peek: true},
		"part1":      {Part: []int{1}, Peek: true},
		"part2mime":  {Part: []int{2}, Specifier: imap.PartSpecifierMIME, Peek: true},
		"partial":    {Peek: true, Partial: &imap.SectionPartial{Offset: 6, Size: 3}},
		"partialend": {Peek: true, Partial: &imap.SectionPartial{Offset: int64(len(multipartMsg) - 4), Size: 100}},
	}
	o := &imap.FetchOptions{}
	for _, s := range secs {
		o.BodySection = append(o.BodySection, s)
	}
	bin := &imap.FetchItemBinarySection{Part: []int{2}, Peek: true}
	binTxt := &imap.FetchItemBinarySection{Part: []int{1}, Peek: true}
	o.BinarySection = []*imap.FetchItemBinarySection{bin, binTxt}
	o.BinarySectionSize = []*imap.FetchItemBinarySectionSize{{Part: []int{2}}}
	m := fetchOne(t, c, imap.SeqSetNum(1), o)
	get := func(k string) string { return string(m.FindBodySection(secs[k])) }

	if get("full") != multipartMsg {
		t.Errorf("BODY[] differs")
	}
	if get("header") != multipartMsg[:hdrEnd] {
		t.Errorf("BODY[HEADER] = %q", get("header"))
	}
	if f := get("fields"); !strings.Contains(f, "Subject:") || !strings.Contains(f, "From:") || strings.Contains(f, "To:") {
		t.Errorf("HEADER.FIELDS = %q", f)
	}
	if f := get("fieldsnot"); strings.Contains(f, "Subject:") || !strings.Contains(f, "From:") {
		t.Errorf("HEADER.FIELDS.NOT = %q", f)
	}
	if get("text") != multipartMsg[hdrEnd:] {
		t.Errorf("BODY[TEXT] = %q", get("text"))
	}
	if p := get("part1"); p != "caf=C3=A9 au lait, zebra" {
		t.Errorf("BODY[1] = %q", p)
	}
	if p := get("part2mime"); !strings.Contains(p, "Content-Disposition: attachment") {
		t.Errorf("BODY[2.MIME] = %q", p)
	}
	if p := get("partial"); p != multipartMsg[6:9] {
		t.Errorf("BODY[]<6.3> = %q", p)
	}
	if p := get("partialend"); p != multipartMsg[len(multipartMsg)-4:] {
		t.Errorf("BODY[]<end> = %q", p)
	}
	if b := m.FindBinarySection(bin); !bytes.Equal(b, []byte{0, 1, 2, 3, 4}) {
		t.Errorf("BINARY[2] = %v", b)
	}
	if b := m.FindBinarySection(binTxt); string(b) != "café au lait, zebra" {
		t.Errorf("BINARY[1] = %q", b)
	}
	if n, ok := m.FindBinarySectionSize([]int{2}); !ok || n != 5 {
		t.Errorf("BINARY.SIZE[2] = %d %v", n, ok)
	}
	// .PEEK left \Seen alone; BODY[] sets it and returns FLAGS.
	if f := fetchOne(t, c, imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}); containsFlag(f.Flags, imap.FlagSeen) {
		t.Fatalf("PEEK set \\Seen: %v", f.Flags)
	}
	f := fetchOne(t, c, imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader}}})
	if !containsFlag(f.Flags, imap.FlagSeen) {
		t.Fatalf("BODY[HEADER] did not return \\Seen: %v", f.Flags)
	}
}

func TestFetchMacrosAndRFC822(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(t, "INBOX", testMessage("macro", "body"))
	rc := e.raw(t)
	rc.login()
	rc.expect("OK", "EXAMINE INBOX")
	for _, cmd := range []string{"FETCH 1 ALL", "FETCH 1 FAST", "FETCH 1 FULL", "FETCH 1 (RFC822.HEADER)", "FETCH 1 (RFC822.SIZE UID)", "UID FETCH 1 (FLAGS)"} {
		u := rc.expect("OK", "%s", cmd)
		if len(u) == 0 || !strings.HasPrefix(u[0], "* 1 FETCH") {
			t.Errorf("%s: %q", cmd, u)
		}
	}
	// EXAMINE is read-only: BODY[] must not set \Seen, STORE is refused.
	rc.expect("OK", "FETCH 1 (BODY[])")
	rc.expect("NO", `STORE 1 +FLAGS (\Deleted)`)
	u := rc.expect("OK", "FETCH 1 (FLAGS)")
	if strings.Contains(u[0], `\Seen`) {
		t.Errorf("EXAMINE set \\Seen: %q", u)
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 0; i < 3; i++ {
		e.deliver(t, "INBOX", testMessage("store", "x"))
	}
	c := e.login(t, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	store := func(set imap.NumSet, op imap.StoreFlagsOp, silent bool, flags ...imap.Flag) []*imapclient.FetchMessageBuffer {
		t.Helper()
		l, err := c.Store(set, &imap.StoreFlags{Op: op, Silent: silent, Flags: flags}, nil).Collect()
		if err != nil {
			t.Fatalf("STORE: %v", err)
		}
		return l
	}
	l := store(imap.SeqSetNum(1, 2), imap.StoreFlagsAdd, false, imap.FlagFlagged, "$Label1")
	if len(l) != 2 || !containsFlag(l[0].Flags, imap.FlagFlagged) || !containsFlag(l[1].Flags, "$Label1") {
		t.Fatalf("+FLAGS: %+v", l)
	}
	l = store(imap.SeqSetNum(1), imap.StoreFlagsDel, false, imap.FlagFlagged)
	if len(l) != 1 || containsFlag(l[0].Flags, imap.FlagFlagged) || !containsFlag(l[0].Flags, "$Label1") {
		t.Fatalf("-FLAGS: %+v", l)
	}
	l = store(imap.SeqSetNum(2), imap.StoreFlagsSet, false, imap.FlagAnswered)
	if len(l) != 1 || len(l[0].Flags) != 1 || l[0].Flags[0] != imap.FlagAnswered {
		t.Fatalf("FLAGS: %+v", l)
	}
	if l = store(imap.SeqSetNum(3), imap.StoreFlagsAdd, true, imap.FlagSeen); len(l) != 0 {
		t.Fatalf(".SILENT answered %+v", l)
	}
	// UID STORE with a range and *.
	var uids imap.UIDSet
	uids.AddRange(2, 0)
	ul, err := c.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDraft}}, nil).Collect()
	if err != nil || len(ul) != 2 || ul[0].UID != 2 {
		t.Fatalf("UID STORE 2:*: %v %+v", err, ul)
	}
	m := fetchOne(t, c, imap.SeqSetNum(3), &imap.FetchOptions{Flags: true})
	if !containsFlag(m.Flags, imap.FlagSeen) || !containsFlag(m.Flags, imap.FlagDraft) {
		t.Fatalf("flags of 3: %v", m.Flags)
	}
}

func TestCopyMoveExpunge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 0; i < 5; i++ {
		e.deliver(t, "INBOX", testMessage("m", "x"))
	}
	u := newUpdates()
	c := e.login(t, u)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	cd, err := c.Copy(imap.SeqSetNum(1, 2), "Archive").Wait()
	if err != nil {
		t.Fatalf("COPY: %v", err)
	}
	if cd.UIDValidity == 0 || cd.SourceUIDs.String() != "1:2" || cd.DestUIDs.String() != "1:2" {
		t.Fatalf("COPYUID %+v", cd)
	}
	if _, err := c.Copy(imap.SeqSetNum(1), "Nope").Wait(); err == nil || !strings.Contains(err.Error(), "TRYCREATE") {
		t.Fatalf("COPY to missing: %v", err)
	}
	md, err := c.Move(imap.SeqSetNum(2, 4), "Trash").Wait()
	if err != nil {
		t.Fatalf("MOVE: %v", err)
	}
	if md.SourceUIDs.String() != "2,4" || md.DestUIDs.String() != "1:2" {
		t.Fatalf("MOVE COPYUID %+v", md)
	}
	if n := c.Mailbox().NumMessages; n != 3 {
		t.Fatalf("after MOVE client counts %d messages", n)
	}
	// Remaining: UIDs 1,3,5 at seq 1,2,3. Delete 1 and 5, expunge only 5.
	if err := c.Store(imap.SeqSetNum(1, 3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	gone, err := c.UIDExpunge(imap.UIDSetNum(5)).Collect()
	if err != nil || len(gone) != 1 || gone[0] != 3 {
		t.Fatalf("UID EXPUNGE 5: %v %v", err, gone)
	}
	gone, err = c.Expunge().Collect()
	if err != nil || len(gone) != 1 || gone[0] != 1 {
		t.Fatalf("EXPUNGE: %v %v", err, gone)
	}
	m := fetchOne(t, c, imap.SeqSetNum(1), &imap.FetchOptions{UID: true})
	if m.UID != 3 {
		t.Fatalf("seq 1 is UID %d, want 3", m.UID)
	}
	for mbox, want := range map[string]uint32{"INBOX": 1, "Archive": 2, "Trash": 2} {
		st, err := c.Status(mbox, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil || *st.NumMessages != want {
			t.Errorf("%s: %v %v, want %d", mbox, err, st, want)
		}
	}
	// CLOSE expunges silently; UNSELECT does not.
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait(); *st.NumMessages != 1 {
		t.Fatalf("UNSELECT expunged")
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait(); *st.NumMessages != 0 {
		t.Fatalf("CLOSE did not expunge")
	}
}

// TestAppendToSelectedReportsExists: APPEND and COPY into the selected
// mailbox are followed by EXISTS before the tagged OK.
func TestAppendToSelectedReportsExists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := e.raw(t)
	rc.login()
	rc.expect("OK", "SELECT INBOX")
	msg := testMessage("self", "x")
	rc.send(fmt.Sprintf("a50 APPEND INBOX {%d+}\r\n%s\r\n", len(msg), msg))
	u, done := rc.until("a50")
	if !strings.HasPrefix(done, "OK [APPENDUID") || !slices.Contains(u, "* 1 EXISTS") {
		t.Fatalf("APPEND to selected: %q %q", u, done)
	}
	u = rc.expect("OK", "COPY 1 INBOX")
	if !slices.Contains(u, "* 2 EXISTS") {
		t.Fatalf("COPY to selected: %q", u)
	}
}

// TestLargeMessageRoundTrip: a 300 KiB message goes in by APPEND and comes
// back byte for byte, in plain text and over TLS (it crosses the write
// coalescing buffer many times).
func TestLargeMessageRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var sb strings.Builder
	sb.WriteString("Subject: big\r\n\r\n")
	for i := 0; sb.Len() < 300<<10; i++ {
		fmt.Fprintf(&sb, "line %06d of a long message, with some filler text to make it wide\r\n", i)
	}
	msg := sb.String()
	c := e.login(t, nil)
	appendMsg(t, c, "INBOX", msg, nil)
	tc, err := imapclient.DialTLS(e.tlsAddr, &imapclient.Options{TLSConfig: e.clientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := tc.Login(testUser, testPass).Wait(); err != nil {
		t.Fatal(err)
	}
	for name, cl := range map[string]*imapclient.Client{"plain": c, "tls": tc} {
		if _, err := cl.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		sec := &imap.FetchItemBodySection{Peek: true}
		m := fetchOne(t, cl, imap.SeqSetNum(1), &imap.FetchOptions{RFC822Size: true, BodySection: []*imap.FetchItemBodySection{sec}})
		if got := m.FindBodySection(sec); string(got) != msg || m.RFC822Size != int64(len(msg)) {
			t.Errorf("%s: got %d bytes (RFC822.SIZE %d), want %d", name, len(got), m.RFC822Size, len(msg))
		}
	}
}
