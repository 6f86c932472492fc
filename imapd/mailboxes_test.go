package imapd

import (
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func listNames(t *testing.T, c *imapclient.Client, ref, pattern string, o *imap.ListOptions) map[string]*imap.ListData {
	t.Helper()
	l, err := c.List(ref, pattern, o).Collect()
	if err != nil {
		t.Fatalf("LIST %q %q: %v", ref, pattern, err)
	}
	m := map[string]*imap.ListData{}
	for _, d := range l {
		m[d.Mailbox] = d
	}
	return m
}

func hasAttr(d *imap.ListData, a imap.MailboxAttr) bool {
	return d != nil && slices.Contains(d.Attrs, a)
}

func TestDefaultMailboxes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login(t, nil)
	m := listNames(t, c, "", "*", nil)
	for name, use := range map[string]imap.MailboxAttr{
		"Sent": imap.MailboxAttrSent, "Drafts": imap.MailboxAttrDrafts, "Trash": imap.MailboxAttrTrash,
		"Junk": imap.MailboxAttrJunk, "Archive": imap.MailboxAttrArchive,
	} {
		if !hasAttr(m[name], use) {
			t.Errorf("%s lacks %s: %+v", name, use, m[name])
		}
	}
	if m["INBOX"] == nil || m["INBOX"].Delim != '/' {
		t.Fatalf("INBOX: %+v", m["INBOX"])
	}
	// The sixth special use (\All or \Flagged, per storage) is whatever
	// storage creates; at least six mailboxes exist.
	if len(m) < 6 {
		t.Errorf("only %d mailboxes: %v", len(m), m)
	}
	// RETURN (SPECIAL-USE) with SELECT (SPECIAL-USE) lists only those.
	su := listNames(t, c, "", "*", &imap.ListOptions{SelectSpecialUse: true, ReturnSpecialUse: true})
	if _, ok := su["INBOX"]; ok || su["Sent"] == nil {
		t.Errorf("LIST (SPECIAL-USE): %v", su)
	}
}

func TestCreateRenameDeleteList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login(t, nil)
	for _, name := range []string{"Work", "Work/2026", "Work/2026/Q4", "Ünïcode ✓"} {
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Fatalf("CREATE %q: %v", name, err)
		}
	}
	if err := c.Create("Work", nil).Wait(); err == nil || !strings.Contains(err.Error(), "ALREADYEXISTS") {
		t.Fatalf("CREATE existing: %v", err)
	}
	// RFC 9051 6.3.4: a trailing separator is allowed and ignored.
	if err := c.Create("Projects/", nil).Wait(); err != nil {
		t.Fatalf("CREATE with trailing separator: %v", err)
	}
	// CREATE-SPECIAL-USE.
	if err := c.Create("All mail", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrAll}}).Wait(); err != nil {
		t.Fatalf("CREATE USE (\\All): %v", err)
	}
	if err := c.Create("Odd", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrImportant}}).Wait(); err == nil || !strings.Contains(err.Error(), "USEATTR") {
		t.Fatalf("CREATE USE (\\Important): %v", err)
	}

	m := listNames(t, c, "", "*", nil)
	if !hasAttr(m["All mail"], imap.MailboxAttrAll) || m["Odd"] != nil {
		t.Errorf("special-use CREATE: %+v %+v", m["All mail"], m["Odd"])
	}
	for _, want := range []string{"Work", "Work/2026", "Work/2026/Q4", "Ünïcode ✓", "Projects"} {
		if m[want] == nil {
			t.Errorf("LIST * lacks %q", want)
		}
	}
	if !hasAttr(m["Work"], imap.MailboxAttrHasChildren) || !hasAttr(m["Work/2026/Q4"], imap.MailboxAttrHasNoChildren) {
		t.Errorf("CHILDREN attributes: %+v %+v", m["Work"], m["Work/2026/Q4"])
	}
	// % stops at the separator.
	pct := listNames(t, c, "", "Work/%", nil)
	if len(pct) != 1 || pct["Work/2026"] == nil {
		t.Errorf("LIST Work/%%: %v", pct)
	}
	// Reference names.
	ref := listNames(t, c, "Work/", "%", nil)
	if len(ref) != 1 || ref["Work/2026"] == nil {
		t.Errorf("LIST Work/ %%: %v", ref)
	}
	// INBOX matches case-insensitively.
	if in := listNames(t, c, "", "inbox", nil); in["INBOX"] == nil {
		t.Errorf("LIST inbox: %v", in)
	}
	// LIST "" "" returns the delimiter.
	rc := e.raw(t)
	rc.login()
	if u := rc.expect("OK", `LIST "" ""`); len(u) != 1 || u[0] != `* LIST (\Noselect) "/" ""` {
		t.Fatalf(`LIST "" "": %q`, u)
	}

	// RENAME moves children too.
	if err := c.Rename("Work", "Jobs", nil).Wait(); err != nil {
		t.Fatalf("RENAME: %v", err)
	}
	m = listNames(t, c, "", "*", nil)
	if m["Work"] != nil || m["Jobs/2026/Q4"] == nil {
		t.Errorf("after RENAME: %v", m)
	}
	if err := c.Rename("Nope", "Other", nil).Wait(); err == nil || !strings.Contains(err.Error(), "NONEXISTENT") {
		t.Errorf("RENAME missing: %v", err)
	}
	if err := c.Delete("Jobs/2026/Q4").Wait(); err != nil {
		t.Fatalf("DELETE: %v", err)
	}
	if err := c.Delete("INBOX").Wait(); err == nil {
		t.Error("DELETE INBOX succeeded")
	}
	if err := c.Delete("Nope").Wait(); err == nil || !strings.Contains(err.Error(), "NONEXISTENT") {
		t.Errorf("DELETE missing: %v", err)
	}
}

func TestRenameInbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(t, "INBOX", testMessage("one", "1"))
	e.deliver(t, "INBOX", testMessage("two", "2"))
	c := e.login(t, nil)
	if err := c.Rename("INBOX", "Old mail", nil).Wait(); err != nil {
		t.Fatalf("RENAME INBOX: %v", err)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 0 {
		t.Fatalf("INBOX after rename: %v %v", err, st)
	}
	st, err = c.Status("Old mail", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 2 {
		t.Fatalf("renamed INBOX: %v %v", err, st)
	}
}

func TestSubscribeAndLSUB(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login(t, nil)
	if err := c.Create("News", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("News/Go", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe("News/Go").Wait(); err != nil {
		t.Fatalf("SUBSCRIBE: %v", err)
	}
	sub := listNames(t, c, "", "*", &imap.ListOptions{SelectSubscribed: true})
	if sub["News/Go"] == nil || !hasAttr(sub["News/Go"], imap.MailboxAttrSubscribed) || sub["News"] != nil {
		t.Errorf("LIST (SUBSCRIBED): %v", sub)
	}
	// RECURSIVEMATCH reports the parent with CHILDINFO (RFC 5258 3.5).
	rec := listNames(t, c, "", "%", &imap.ListOptions{SelectSubscribed: true, SelectRecursiveMatch: true})
	if rec["News"] == nil || rec["News"].ChildInfo == nil || !rec["News"].ChildInfo.Subscribed {
		t.Errorf("RECURSIVEMATCH: %+v", rec["News"])
	}
	ret := listNames(t, c, "", "News*", &imap.ListOptions{ReturnSubscribed: true})
	if !hasAttr(ret["News/Go"], imap.MailboxAttrSubscribed) || hasAttr(ret["News"], imap.MailboxAttrSubscribed) {
		t.Errorf("RETURN (SUBSCRIBED): %v", ret)
	}
	if err := c.Unsubscribe("News/Go").Wait(); err != nil {
		t.Fatalf("UNSUBSCRIBE: %v", err)
	}
	if sub := listNames(t, c, "", "*", &imap.ListOptions{SelectSubscribed: true}); sub["News/Go"] != nil {
		t.Errorf("still subscribed: %v", sub)
	}
	// LSUB (IMAP4rev1) through the raw transcript.
	rc := e.raw(t)
	rc.login()
	rc.expect("OK", `SUBSCRIBE "News"`)
	u := rc.expect("OK", `LSUB "" "*"`)
	if all := strings.Join(u, "\n"); !strings.Contains(all, `"News"`) || strings.Contains(all, `"News/Go"`) {
		t.Errorf("LSUB: %q", u)
	}
}

func TestStatusAllItems(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	msg := testMessage("status", "hello")
	e.deliver(t, "INBOX", msg)
	e.deliver(t, "INBOX", msg)
	c := e.login(t, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen, imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true,
		NumUnseen: true, NumDeleted: true, Size: true, AppendLimit: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if *st.NumMessages != 2 || *st.NumUnseen != 1 || *st.NumDeleted != 1 || *st.Size != int64(2*len(msg)) ||
		st.UIDNext != 3 || st.UIDValidity == 0 || *st.AppendLimit != DefaultMaxMessageBytes {
		t.Fatalf("STATUS: %+v msgs=%d unseen=%d deleted=%d size=%d", st, *st.NumMessages, *st.NumUnseen, *st.NumDeleted, *st.Size)
	}
	// LIST-STATUS (RFC 5819).
	l, err := c.List("", "INBOX", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, Size: true}}).Collect()
	if err != nil || len(l) != 1 || l[0].Status == nil || *l[0].Status.NumMessages != 2 {
		t.Fatalf("LIST RETURN (STATUS): %v %+v", err, l)
	}
	if _, err := c.Status("Nope", &imap.StatusOptions{NumMessages: true}).Wait(); err == nil || !strings.Contains(err.Error(), "NONEXISTENT") {
		t.Fatalf("STATUS missing: %v", err)
	}
}

// TestEnable: ENABLE IMAP4rev2 switches SEARCH to ESEARCH and adds the LIST
// response to SELECT; ENABLE UTF8=ACCEPT makes mailbox names raw UTF-8.
func TestEnable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(t, "INBOX", testMessage("x", "y"))
	rc := e.raw(t)
	rc.login()
	if u := rc.expect("OK", "ENABLE IMAP4rev2 UTF8=ACCEPT"); len(u) != 1 || !strings.Contains(u[0], "IMAP4rev2") {
		t.Fatalf("ENABLE: %q", u)
	}
	u := rc.expect("OK", "SELECT INBOX")
	if !slices.Contains(u, `* LIST () "/" INBOX`) {
		t.Errorf("SELECT after ENABLE IMAP4rev2: %q", u)
	}
	if u := rc.expect("OK", "SEARCH ALL"); len(u) != 1 || !strings.HasPrefix(u[0], `* ESEARCH (TAG "a4") ALL 1`) {
		t.Errorf("SEARCH after ENABLE IMAP4rev2: %q", u)
	}
	rc.expect("OK", `CREATE "Bücher"`)
	if u := rc.expect("OK", `LIST "" "B*"`); len(u) != 1 || !strings.Contains(u[0], `"Bücher"`) {
		t.Errorf("UTF-8 LIST: %q", u)
	}
	// A plain IMAP4rev1 session sees the same mailbox in modified UTF-7.
	rc2 := e.raw(t)
	rc2.login()
	if u := rc2.expect("OK", `LIST "" "B*"`); len(u) != 1 || !strings.Contains(u[0], `"B&APw-cher"`) {
		t.Errorf("UTF-7 LIST: %q", u)
	}
}
