package imapd

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"postel/internal/testenv"
)

// TestIdleSeesDelivery: a message delivered through storage's Delivery (as
// SMTP does) reaches an IDLE session as EXISTS within one second.
func TestIdleSeesDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(t, "INBOX", testMessage("old", "x"))
	u := newUpdates()
	c := e.login(t, u)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e.deliver(t, "INBOX", testMessage("new", "y"))
	u.waitFor(t, time.Second, "EXISTS 2 during IDLE", func() bool { return slices.Contains(u.exists, 2) })
	t.Logf("EXISTS arrived %v after delivery started", time.Since(start))
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	m := fetchOne(t, c, imap.SeqSetNum(2), &imap.FetchOptions{UID: true, Envelope: true})
	if m.UID != 2 || m.Envelope.Subject != "new" {
		t.Fatalf("seq 2: %+v", m)
	}
}

// TestMultiDevice: three sessions on one mailbox; flags, expunges and new
// mail made by one reach the others with correct sequence numbers, and
// EXPUNGE is held back during FETCH (RFC 9051 7.5.1).
func TestMultiDevice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 1; i <= 5; i++ {
		e.deliver(t, "INBOX", testMessage(fmt.Sprint("m", i), "x"))
	}
	ua, ub, uc := newUpdates(), newUpdates(), newUpdates()
	a, b, c := e.login(t, ua), e.login(t, ub), e.login(t, uc)
	if _, err := a.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}

	// b idles; a flags message 3 and expunges message 2.
	idle, err := b.Idle()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store(imap.SeqSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	ub.waitFor(t, 2*time.Second, "FETCH FLAGS of 3 in b", func() bool { return containsFlag(ub.flags[3], imap.FlagFlagged) })
	if err := a.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	ub.waitFor(t, 2*time.Second, "EXPUNGE 2 in b", func() bool { return slices.Equal(ub.expunge, []uint32{2}) })
	// A delivery now: b sees EXISTS 5 (4 left + 1).
	e.deliver(t, "INBOX", testMessage("m6", "x"))
	ub.waitFor(t, 2*time.Second, "EXISTS 5 in b", func() bool { return slices.Contains(ub.exists, 5) })
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	if b.Mailbox().NumMessages != 5 {
		t.Fatalf("b counts %d", b.Mailbox().NumMessages)
	}

	// c did nothing: its view still has 5 messages with UID 2 at seq 2.
	// A FETCH must not carry the EXPUNGE; it addresses c's numbering.
	m := fetchOne(t, c, imap.SeqSetNum(3), &imap.FetchOptions{UID: true})
	if m.UID != 3 {
		t.Fatalf("c: seq 3 is UID %d, want 3 (expunge must wait)", m.UID)
	}
	uc.mu.Lock()
	early := len(uc.expunge)
	uc.mu.Unlock()
	if early != 0 {
		t.Fatalf("c got EXPUNGE during FETCH")
	}
	// NOOP delivers the expunge and the new message, in order.
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	uc.mu.Lock()
	gotExp, gotExists := slices.Clone(uc.expunge), slices.Clone(uc.exists)
	uc.mu.Unlock()
	if !slices.Equal(gotExp, []uint32{2}) || !slices.Contains(gotExists, 5) {
		t.Fatalf("c after NOOP: expunge %v exists %v", gotExp, gotExists)
	}
	if !containsFlag(uc.flags[3], imap.FlagFlagged) {
		t.Errorf("c did not get the flag change: %v", uc.flags)
	}
	// All three agree on the numbering.
	want := []imap.UID{1, 3, 4, 5, 6}
	for i, cl := range []*imapclient.Client{a, b, c} {
		if err := cl.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		l, err := cl.Fetch(imap.SeqSetNum(1, 2, 3, 4, 5), &imap.FetchOptions{UID: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		var got []imap.UID
		for _, m := range l {
			got = append(got, m.UID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("client %d: UIDs %v, want %v", i, got, want)
		}
	}
}

// TestConcurrentDeliveriesDuringIdle: many deliveries race with an IDLE
// session; it ends up with exactly the right count.
func TestConcurrentDeliveriesDuringIdle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := newUpdates()
	c := e.login(t, u)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.deliver(t, "INBOX", testMessage(fmt.Sprint("c", i), "x"))
		}()
	}
	wg.Wait()
	u.waitFor(t, 5*time.Second, "EXISTS 20", func() bool { return slices.Contains(u.exists, n) })
	idle.Close()
	idle.Wait()
	if got := c.Mailbox().NumMessages; got != n {
		t.Fatalf("client counts %d", got)
	}
}

// TestRenameSelectedMailbox: a session keeps working on its selected
// mailbox after another session (or itself) renames it.
func TestRenameSelectedMailbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(t, "Archive", testMessage("a", "x"))
	a, b := e.login(t, nil), e.login(t, nil)
	if _, err := a.Select("Archive", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := b.Rename("Archive", "Old", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// The other session learns of the rename from an asynchronous event.
	testenv.WaitFor(t, 2*time.Second, "FETCH to work after another session's rename", func() bool {
		_, err := a.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		return err == nil
	})
	if err := a.Rename("Old", "Older", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true}).Collect(); err != nil {
		t.Fatalf("FETCH after own rename: %v", err)
	}
	if err := a.Delete("Older").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{UID: true}).Collect(); err == nil {
		t.Fatal("FETCH in a deleted mailbox succeeded")
	}
}

// TestIdleOverTLS: the same live delivery over implicit TLS, where the
// server's buffered writes go through crypto/tls.
func TestIdleOverTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := newUpdates()
	c, err := imapclient.DialTLS(e.tlsAddr, &imapclient.Options{TLSConfig: e.clientTLS(), UnilateralDataHandler: u.handler()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	e.deliver(t, "INBOX", testMessage("tls", "x"))
	u.waitFor(t, time.Second, "EXISTS 1 over TLS", func() bool { return slices.Contains(u.exists, 1) })
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	m := fetchOne(t, c, imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	if got := string(m.FindBodySection(&imap.FetchItemBodySection{Peek: true})); got != testMessage("tls", "x") {
		t.Fatalf("BODY[] over TLS = %q", got)
	}
}
