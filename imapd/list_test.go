package imapd

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestLSUBNonExistent: a subscribed mailbox that was deleted (or never
// existed) stays in the subscription list (RFC 9051 6.3.7). LIST
// (SUBSCRIBED) reports it \NonExistent (RFC 9051 6.3.9, RFC 5258 3.4);
// LSUB, for IMAP4rev1 clients (Thunderbird, mutt), reports it \Noselect so
// they do not try to SELECT it. LSUB "%" reports the unsubscribed parent
// of a subscribed child as \Noselect (RFC 3501 6.3.9).
func TestLSUBNonExistent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := e.raw(t)
	rc.login()
	rc.expect("OK", `CREATE "Old"`)
	rc.expect("OK", `SUBSCRIBE "Old"`)
	rc.expect("OK", `DELETE "Old"`)
	rc.expect("OK", `SUBSCRIBE "Lists/golang"`) // never created
	rc.expect("OK", `CREATE "Work/Reports"`)
	rc.expect("OK", `SUBSCRIBE "Work/Reports"`)

	l := rc.expect("OK", `LIST (SUBSCRIBED) "" "*"`)
	mustFind(t, l, 1, `^\* LIST \(\\NonExistent \\Subscribed\) "/" "?Old"?$`)
	mustFind(t, l, 1, `^\* LIST \(\\NonExistent \\Subscribed\) "/" "?Lists/golang"?$`)
	mustFind(t, l, 1, `^\* LIST \(\\HasNoChildren \\Subscribed\) "/" "?Work/Reports"?$`)
	noneOf(t, l, `"?Work"?$`, "unsubscribed parent without RECURSIVEMATCH")
	noneOf(t, l, `"?Lists"?$`, "unsubscribed parent without RECURSIVEMATCH")

	// RETURN (SUBSCRIBED) without the selection lists only what exists.
	all := rc.expect("OK", `LIST "" "*" RETURN (SUBSCRIBED)`)
	noneOf(t, all, `Old|golang`, "LIST RETURN (SUBSCRIBED) of a missing mailbox")
	mustFind(t, all, 1, `\\Subscribed.*"?Work/Reports"?$`)

	// RECURSIVEMATCH: parents with CHILDINFO, a missing one \NonExistent.
	rec := rc.expect("OK", `LIST (SUBSCRIBED RECURSIVEMATCH) "" "%%"`)
	mustFind(t, rec, 1, `^\* LIST \(\\NonExistent\) "/" "?Lists"? \(\("CHILDINFO" \("SUBSCRIBED"\)\)|^\* LIST \(\\NonExistent\) "/" "?Lists"? \(CHILDINFO \("SUBSCRIBED"\)\)`)
	mustFind(t, rec, 1, `^\* LIST \(\\HasChildren\) "/" "?Work"? \(CHILDINFO \("SUBSCRIBED"\)\)`)
	mustFind(t, rec, 1, `^\* LIST \(\\NonExistent \\Subscribed\) "/" "?Old"?$`)

	lsub := rc.expect("OK", `LSUB "" "*"`)
	mustFind(t, lsub, 1, `^\* LSUB \(\\Noselect\) "/" "?Old"?$`)
	mustFind(t, lsub, 1, `^\* LSUB \(\\Noselect\) "/" "?Lists/golang"?$`)
	mustFind(t, lsub, 1, `^\* LSUB \(\\HasNoChildren\) "/" "?Work/Reports"?$`)
	mustFind(t, lsub, 1, `^\* LSUB \([^)]*\) "/" "?INBOX"?$`)
	noneOf(t, lsub, `"?Work"?$`, `LSUB "*" lists the child itself`)

	pct := rc.expect("OK", `LSUB "" "%%"`)
	mustFind(t, pct, 1, `^\* LSUB \(\\Noselect\) "/" "?Work"?$`)
	mustFind(t, pct, 1, `^\* LSUB \(\\Noselect\) "/" "?Lists"?$`)
	noneOf(t, pct, `Reports|golang`, `LSUB "%" stops at the separator`)
	// Without "%" an unsubscribed parent is not listed.
	if l := rc.expect("OK", `LSUB "" "Work"`); len(l) != 0 {
		t.Errorf(`LSUB "" "Work": %q`, l)
	}

	// Selecting it fails cleanly; unsubscribing removes it.
	rc.expect("NO [NONEXISTENT]", `SELECT "Old"`)
	rc.expect("OK", `UNSUBSCRIBE "Old"`)
	if l := rc.expect("OK", `LSUB "" "Old"`); len(l) != 0 {
		t.Errorf("after UNSUBSCRIBE: %q", l)
	}
	// Re-creating the mailbox does not need a new SUBSCRIBE for Lists/golang.
	rc.expect("OK", `CREATE "Lists/golang"`)
	l = rc.expect("OK", `LIST (SUBSCRIBED) "" "Lists/*"`)
	if len(l) != 1 || !strings.Contains(l[0], `\Subscribed`) || strings.Contains(l[0], `\NonExistent`) {
		t.Errorf("re-created: %q", l)
	}
}

// TestListNonExistentParsed: go-imap's client (layer 3) parses the
// \NonExistent and \Noselect answers.
func TestListNonExistentParsed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login(t, nil)
	if err := c.Subscribe("Gone/Child").Wait(); err != nil {
		t.Fatal(err)
	}
	sub := listNames(t, c, "", "*", &imap.ListOptions{SelectSubscribed: true})
	if d := sub["Gone/Child"]; !hasAttr(d, imap.MailboxAttrNonExistent) || !hasAttr(d, imap.MailboxAttrSubscribed) {
		t.Fatalf("LIST (SUBSCRIBED): %+v", d)
	}
	if _, ok := sub["Gone"]; ok {
		t.Fatalf("unsubscribed parent listed: %+v", sub["Gone"])
	}
	rec := listNames(t, c, "", "%", &imap.ListOptions{SelectSubscribed: true, SelectRecursiveMatch: true})
	if d := rec["Gone"]; !hasAttr(d, imap.MailboxAttrNonExistent) || d.ChildInfo == nil || !d.ChildInfo.Subscribed {
		t.Fatalf("RECURSIVEMATCH parent: %+v", d)
	}
}
