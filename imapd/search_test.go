package imapd

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(t, "INBOX", testMessage("alpha", "the quick brown fox")) // 1
	e.deliver(t, "INBOX", multipartMsg)                                // 2: qp body "café au lait, zebra"
	e.deliver(t, "INBOX", testMessage("gamma", "lazy dog"))            // 3
	e.deliver(t, "INBOX", testMessage("delta", "nothing"))             // 4
	c := e.login(t, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.SeqSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged, "$Todo"}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	cases := []struct {
		name string
		c    imap.SearchCriteria
		want string
	}{
		{"all", imap.SearchCriteria{}, "1:4"},
		{"seqset", imap.SearchCriteria{SeqNum: []imap.SeqSet{imap.SeqSetNum(2, 4)}}, "2,4"},
		{"uidset", imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(1, 3)}}, "1,3"},
		{"subject", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "GAMMA"}}}, "3"},
		{"from", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "bob@"}}}, "1:4"},
		{"body", imap.SearchCriteria{Body: []string{"brown"}}, "1"},
		{"body decodes qp", imap.SearchCriteria{Body: []string{"café"}}, "2"},
		{"text", imap.SearchCriteria{Text: []string{"delta"}}, "4"},
		{"flag", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagFlagged}}, "3"},
		{"keyword", imap.SearchCriteria{Flag: []imap.Flag{"$Todo"}}, "3"},
		{"unflagged", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagFlagged}}, "1:2,4"},
		{"not", imap.SearchCriteria{Not: []imap.SearchCriteria{{Body: []string{"fox"}}}}, "2:4"},
		{"or", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Body: []string{"fox"}}, {Body: []string{"dog"}}}}}, "1,3"},
		{"larger", imap.SearchCriteria{Larger: int64(len(testMessage("alpha", "the quick brown fox")) + 50)}, "2"},
		{"smaller", imap.SearchCriteria{Smaller: int64(len(multipartMsg))}, "1,3:4"},
		{"smaller none", imap.SearchCriteria{Smaller: 10}, ""},
		{"sentsince", imap.SearchCriteria{SentSince: day("2026-11-25")}, "1:4"},
		{"sentbefore", imap.SearchCriteria{SentBefore: day("2026-11-25")}, ""},
		{"since", imap.SearchCriteria{Since: time.Now().AddDate(0, 0, -1)}, "1:4"},
		{"before", imap.SearchCriteria{Before: day("2000-01-01")}, ""},
		{"and of seqsets", imap.SearchCriteria{SeqNum: []imap.SeqSet{imap.SeqSetNum(1, 2, 3), imap.SeqSetNum(2, 3, 4)}}, "2:3"},
	}
	for _, tc := range cases {
		d, err := c.Search(&tc.c, nil).Wait()
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := ""
		if d.All != nil {
			got = d.All.String()
		}
		if got != tc.want {
			t.Errorf("SEARCH %s = %q, want %q", tc.name, got, tc.want)
		}
	}
	// UID SEARCH with ESEARCH return options.
	d, err := c.UIDSearch(&imap.SearchCriteria{}, &imap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnCount: true}).Wait()
	if err != nil || d.Min != 1 || d.Max != 4 || d.Count != 4 {
		t.Fatalf("ESEARCH: %v %+v", err, d)
	}
	// CHARSET: UTF-8 accepted, others refused.
	rc := e.raw(t)
	rc.login()
	rc.expect("OK", "SELECT INBOX")
	u := rc.expect("OK", "SEARCH CHARSET UTF-8 BODY {5+}\r\ncafé")
	if len(u) != 1 || strings.TrimSpace(u[0]) != "* SEARCH 2" {
		t.Errorf("SEARCH CHARSET UTF-8: %q", u)
	}
	rc.expect("NO [BADCHARSET", "SEARCH CHARSET KOI8-R BODY x")
	// SEARCHRES (RFC 5182): save, then use $ (imapclient cannot send SAVE).
	// RFC 5182 says SAVE alone returns no ESEARCH; the library sends ALL.
	rc.expect("OK", "SEARCH RETURN (SAVE) BODY dog")
	if u := rc.expect("OK", "FETCH $ (UID)"); len(u) != 1 || u[0] != "* 3 FETCH (UID 3)" {
		t.Errorf("FETCH $: %q", u)
	}
	if u := rc.expect("OK", "UID SEARCH RETURN (SAVE MIN) OR BODY fox BODY dog"); len(u) != 1 {
		t.Errorf("SAVE MIN: %q", u)
	}
	if u := rc.expect("OK", "UID FETCH $ (UID)"); len(u) != 1 || u[0] != "* 1 FETCH (UID 1)" {
		t.Errorf("UID FETCH $ after SAVE MIN: %q", u)
	}
	u = rc.expect("OK", "SEARCH ON 25-Nov-2026 NOT DELETED UNKEYWORD $Todo")
	_ = u
	rc.expect("OK", "SEARCH NEW")
	rc.expect("OK", "SEARCH ANSWERED UNANSWERED DRAFT UNDRAFT SEEN UNSEEN OLD RECENT")
	rc.expect("OK", "SEARCH SENTON 25-Nov-2026 SENTSINCE 1-Jan-2026 BCC x CC x TO x")
	// The library answers an unknown key with NO [SERVERBUG] (its parse
	// error is not an *imap.Error); either way nothing runs.
	if _, done := rc.cmd("SEARCH BOGUSKEY"); strings.HasPrefix(done, "OK") {
		t.Errorf("SEARCH BOGUSKEY: %q", done)
	}
}
