package integration

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"postel/internal/testenv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// imapSubjects logs in over IMAPS and returns subject -> UID of INBOX.
func imapSubjects(t *testing.T, addr, user, pass string) map[string]imap.UID {
	t.Helper()
	c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]imap.UID{}
	for _, m := range msgs {
		out[m.Envelope.Subject] = m.UID
	}
	return out
}

// TestMaildirChangedFromOutside: with the server stopped, a file dropped
// into INBOX's new/ gets the next UID and a file removed from cur/ is
// expunged when the server starts again.
func TestMaildirChangedFromOutside(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "")
	in.mustPostel("", "domain", "add", "example.com")
	in.mustPostel("bob-pw-12\n", "user", "add", "bob@example.com", "--password-stdin")
	in.start()
	for _, s := range []string{"keep-me", "remove-me"} {
		if err := sendInbound(in.addr("smtp"), "bob@example.com", s); err != nil {
			t.Fatal(err)
		}
	}
	before := imapSubjects(t, in.addr("imaps"), "bob@example.com", "bob-pw-12")
	in.stop()

	inbox := filepath.Join(in.dir, "data", "mail", "bob@example.com")
	cur, err := os.ReadDir(filepath.Join(inbox, "cur"))
	if err != nil {
		t.Fatal(err)
	}
	removed := false
	for _, e := range cur {
		p := filepath.Join(inbox, "cur", e.Name())
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "Subject: remove-me") {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			removed = true
		}
	}
	if !removed {
		t.Fatalf("no file for remove-me in %s", filepath.Join(inbox, "cur"))
	}
	outside := "From: someone@example.net\r\nSubject: dropped-in\r\n\r\nput here by another Maildir tool\r\n"
	if err := os.WriteFile(filepath.Join(inbox, "new", "1764000000.M1P1.otherhost"), []byte(outside), 0o600); err != nil {
		t.Fatal(err)
	}

	in.start()
	after := imapSubjects(t, in.addr("imaps"), "bob@example.com", "bob-pw-12")
	in.stop()
	if _, ok := after["remove-me"]; ok {
		t.Error("a message whose file was removed is still listed")
	}
	if after["keep-me"] != before["keep-me"] {
		t.Errorf("keep-me changed UID: %d -> %d", before["keep-me"], after["keep-me"])
	}
	uid, ok := after["dropped-in"]
	if !ok {
		t.Fatalf("dropped-in file not picked up: %v", after)
	}
	if uid <= before["remove-me"] || uid <= before["keep-me"] {
		t.Errorf("dropped-in got UID %d, want above %v", uid, before)
	}
}

// TestMaildirFileNamesShowFlags: flags set over IMAP show in the Maildir
// file names (the ":2," info part), so that another Maildir tool reading
// the folder, or a backup restored into one, sees what was read, flagged
// or answered.
func TestMaildirFileNamesShowFlags(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "")
	in.mustPostel("", "domain", "add", "example.com")
	in.mustPostel("bob-pw-12\n", "user", "add", "bob@example.com", "--password-stdin")
	in.start()
	for _, s := range []string{"read-me", "leave-me"} {
		if err := sendInbound(in.addr("smtp"), "bob@example.com", s); err != nil {
			t.Fatal(err)
		}
	}
	uids := imapSubjects(t, in.addr("imaps"), "bob@example.com", "bob-pw-12")
	c, err := imapclient.DialTLS(in.addr("imaps"), &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bob@example.com", "bob-pw-12").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen, imap.FlagFlagged, imap.FlagAnswered}, Silent: true}
	if err := c.Store(imap.UIDSetNum(uids["read-me"]), store, nil).Close(); err != nil {
		t.Fatal(err)
	}
	// The files are renamed in the background after the STORE answers.
	inbox := filepath.Join(in.dir, "data", "mail", "bob@example.com", "cur")
	infos := map[string]string{}
	testenv.WaitFor(t, 10*time.Second, "flags in file names", func() bool {
		ents, err := os.ReadDir(inbox)
		if err != nil {
			t.Fatal(err)
		}
		clear(infos)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(inbox, e.Name()))
			if err != nil {
				return false // renamed while we looked
			}
			for _, s := range []string{"read-me", "leave-me"} {
				if strings.Contains(string(b), "Subject: "+s) {
					_, info, _ := strings.Cut(e.Name(), ":")
					infos[s] = info
				}
			}
		}
		return infos["read-me"] == "2,FRS" && infos["leave-me"] == "2,"
	})
}
