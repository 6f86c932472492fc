package integration

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"postel/storage"
)

// sendInbound delivers one message over the inbound SMTP listener.
func sendInbound(addr, rcpt, subject string) error {
	msg := fmt.Sprintf("From: sender@example.net\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@example.net>\r\n\r\nbody of %s\r\n", rcpt, subject, subject, subject)
	return sendRaw(addr, "sender@example.net", rcpt, msg)
}

// sendRaw delivers msg over plain SMTP to addr.
func sendRaw(addr, from, rcpt, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.example.net"); err != nil {
		return err
	}
	if err := c.SendMail(from, []string{rcpt}, strings.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}

// storedSubjects opens the stopped instance's store (running recovery)
// and returns subject -> UIDs in INBOX of account, after checking that
// every indexed message can be read and that the index and the Maildir
// files agree in number.
func storedSubjects(t *testing.T, in *instance, account string) (map[string][]uint32, storage.MailboxInfo) {
	t.Helper()
	ctx := context.Background()
	st, err := storage.Open(storage.Options{Dir: filepath.Join(in.dir, "data", "mail"), Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acct, err := st.Account(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	info, metas, err := acct.List(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	uids := make([]uint32, len(metas))
	for i, m := range metas {
		uids[i] = m.UID
		r, size, err := acct.Open(ctx, "INBOX", m.UID)
		if err != nil {
			t.Fatalf("indexed UID %d cannot be opened: %v", m.UID, err)
		}
		n, _ := io.Copy(io.Discard, r)
		r.Close()
		if n != size || n != m.Size {
			t.Errorf("UID %d: read %d bytes, size %d, indexed %d", m.UID, n, size, m.Size)
		}
	}
	msgs, err := acct.Fetch(ctx, "INBOX", uids)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]uint32{}
	for _, m := range msgs {
		got[m.Envelope.Subject] = append(got[m.Envelope.Subject], m.UID)
	}
	// Every message file in the account's Maildirs is indexed exactly once.
	var files int
	total := 0
	mboxes, err := acct.Mailboxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, mb := range mboxes {
		total += int(mb.Messages)
	}
	filepath.Walk(filepath.Join(in.dir, "data", "mail"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			switch filepath.Base(filepath.Dir(p)) {
			case "cur", "new":
				files++
			}
		}
		return nil
	})
	if files != total {
		t.Errorf("Maildir holds %d message files, index %d messages", files, total)
	}
	return got, info
}

// TestCrashLosesNothing: messages delivered from several clients while the
// server is killed with SIGKILL; every acknowledged message is present
// exactly once after restart, the index agrees with the files, and UIDs
// never go backwards.
func TestCrashLosesNothing(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "")
	in.mustPostel("", "domain", "add", "example.com")
	in.mustPostel("pw-bob-123\n", "user", "add", "bob@example.com", "--password-stdin")

	// Phase 1: a few messages and a clean stop, to know UIDs before the crash.
	in.start()
	for i := range 5 {
		if err := sendInbound(in.addr("smtp"), "bob@example.com", fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	in.stop()
	before, info1 := storedSubjects(t, in, "bob@example.com")
	if len(before) != 5 {
		t.Fatalf("before crash: %d subjects, want 5", len(before))
	}

	// Phase 2: 8 concurrent clients; SIGKILL after 60 acknowledgements.
	in.start()
	addr := in.addr("smtp")
	var (
		acked  sync.Map
		nacked atomic.Int64
		killed = make(chan struct{})
		once   sync.Once
		wg     sync.WaitGroup
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				subj := fmt.Sprintf("crash-%d-%d", g, i)
				if err := sendInbound(addr, "bob@example.com", subj); err != nil {
					continue // not acknowledged: may or may not be there
				}
				acked.Store(subj, true)
				if nacked.Add(1) == 60 {
					once.Do(func() { in.kill(); close(killed) })
				}
			}
		}()
	}
	select {
	case <-killed:
	case <-time.After(2 * time.Minute):
		once.Do(func() { in.kill(); close(killed) })
		t.Errorf("only %d messages acknowledged before the deadline", nacked.Load())
	}
	wg.Wait()

	after, info2 := storedSubjects(t, in, "bob@example.com")
	acked.Range(func(k, _ any) bool {
		if n := len(after[k.(string)]); n != 1 {
			t.Errorf("acknowledged %s present %d times", k, n)
		}
		return true
	})
	maxBefore := uint32(0)
	for subj, uids := range before {
		if len(after[subj]) != 1 || after[subj][0] != uids[0] {
			t.Errorf("%s: UID %v before crash, %v after", subj, uids, after[subj])
		}
		maxBefore = max(maxBefore, uids[0])
	}
	var all []uint32
	for subj, uids := range after {
		if len(uids) != 1 {
			t.Errorf("%s stored %d times", subj, len(uids))
		}
		all = append(all, uids...)
		if strings.HasPrefix(subj, "crash-") && uids[0] <= maxBefore {
			t.Errorf("%s got UID %d, not above the pre-crash UIDs (max %d)", subj, uids[0], maxBefore)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if info2.UIDValidity != info1.UIDValidity {
		t.Errorf("UIDVALIDITY changed across the crash: %d -> %d", info1.UIDValidity, info2.UIDValidity)
	}
	if len(all) > 0 && info2.UIDNext <= all[len(all)-1] {
		t.Errorf("UIDNEXT %d not above the largest UID %d", info2.UIDNext, all[len(all)-1])
	}

	// Phase 3: the server starts again on the crashed data and keeps going.
	in.start()
	if err := sendInbound(in.addr("smtp"), "bob@example.com", "after-restart"); err != nil {
		t.Fatal(err)
	}
	in.stop()
	final, _ := storedSubjects(t, in, "bob@example.com")
	if u := final["after-restart"]; len(u) != 1 || (len(all) > 0 && u[0] <= all[len(all)-1]) {
		t.Errorf("after-restart UID %v not above %v", u, all[len(all)-1])
	}
}
