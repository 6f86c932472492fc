package storagetest

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"postel/storage"
)

func testConcurrentDeliveries(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	const writers, each = 16, 20
	var mu sync.Mutex
	got := map[uint32]string{}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var prev uint32
			for i := 0; i < each; i++ {
				body := msg(fmt.Sprintf("w%d-%d", w, i), "concurrent")
				d, err := s.BeginDelivery(ctx(t))
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.WriteString(d, body)
				res, err := d.Commit(ctx(t), []storage.Target{inbox(a.Name())}, time.Time{})
				if err != nil || res[0].Err != nil {
					t.Errorf("commit: %v %v", err, res)
					return
				}
				uid := res[0].UID
				if uid <= prev {
					t.Errorf("writer %d: UID %d after %d", w, uid, prev)
				}
				prev = uid
				mu.Lock()
				if old, dup := got[uid]; dup {
					t.Errorf("UID %d given twice (%q and %q)", uid, old, body)
				}
				got[uid] = body
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	info, ms := list(t, a, "INBOX")
	if len(ms) != writers*each || info.Messages != writers*each || info.UIDNext != writers*each+1 {
		t.Fatalf("have %d messages, status %+v", len(ms), info)
	}
	for i, m := range ms {
		if m.UID != uint32(i+1) {
			t.Fatalf("UIDs not dense: position %d has %d", i, m.UID)
		}
		if body := readAll(t, a, "INBOX", m.UID); body != got[m.UID] {
			t.Fatalf("UID %d holds %q, want %q", m.UID, body, got[m.UID])
		}
	}
}

func testChangeEvents(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	c := ctx(t)
	sub := a.Subscribe()
	defer sub.Close()
	deliver(t, s, msg("ev", "1"), inbox(a.Name()))
	ev := waitChange(t, sub)
	if ev.Kind != storage.ChangeMessageAdded || ev.Mailbox != "INBOX" || ev.UID != 1 || ev.ModSeq == 0 {
		t.Errorf("added event %+v", ev)
	}
	_, err := a.StoreFlags(c, "INBOX", []uint32{1}, storage.FlagsAdd, []string{`\Deleted`})
	must(t, err)
	ev2 := waitChange(t, sub)
	if ev2.Kind != storage.ChangeFlags || ev2.UID != 1 || !slices.Equal(ev2.Flags, []string{`\Deleted`}) || ev2.ModSeq <= ev.ModSeq {
		t.Errorf("flags event %+v", ev2)
	}
	_, err = a.Expunge(c, "INBOX", nil)
	must(t, err)
	ev3 := waitChange(t, sub)
	if ev3.Kind != storage.ChangeExpunge || ev3.UID != 1 || ev3.ModSeq <= ev2.ModSeq {
		t.Errorf("expunge event %+v", ev3)
	}
	must(t, a.CreateMailbox(c, "New", ""))
	if ev := waitChange(t, sub); ev.Kind != storage.ChangeMailboxCreated || ev.Mailbox != "New" {
		t.Errorf("create event %+v", ev)
	}
	must(t, a.RenameMailbox(c, "New", "Newer"))
	if ev := waitChange(t, sub); ev.Kind != storage.ChangeMailboxRenamed || ev.Mailbox != "Newer" || ev.OldName != "New" {
		t.Errorf("rename event %+v", ev)
	}
	must(t, a.SetSubscribed(c, "Newer", true))
	if ev := waitChange(t, sub); ev.Kind != storage.ChangeSubscription || ev.Mailbox != "Newer" {
		t.Errorf("subscription event %+v", ev)
	}
	must(t, a.DeleteMailbox(c, "Newer"))
	if ev := waitChange(t, sub); ev.Kind != storage.ChangeMailboxDeleted || ev.Mailbox != "Newer" {
		t.Errorf("delete event %+v", ev)
	}
	_, _, err = a.Append(c, "INBOX", stringsReader("x"), nil, time.Time{})
	must(t, err)
	_, _, _, err = a.Move(c, "INBOX", []uint32{2}, "Archive")
	must(t, err)
	waitChange(t, sub) // the append
	add, exp := waitChange(t, sub), waitChange(t, sub)
	if add.Kind != storage.ChangeMessageAdded || add.Mailbox != "Archive" || exp.Kind != storage.ChangeExpunge || exp.Mailbox != "INBOX" || exp.UID != 2 {
		t.Errorf("move events %+v %+v", add, exp)
	}
	sub.Close()
	sub.Close()
	for range sub.C() {
	}
}

// testConcurrentSessionsEvents: several sessions subscribe, take a List
// snapshot, and follow changes made concurrently by other goroutines;
// every session must end with exactly the final state, and each sees
// every change in the same order.
func testConcurrentSessionsEvents(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	c := ctx(t)
	deliver(t, s, msg("pre", "x"), inbox(a.Name()))
	const sessions = 4
	type session struct {
		sub  *storage.Subscription
		snap uint64
		uids map[uint32]bool
		seen []string
	}
	ss := make([]*session, sessions)
	for i := range ss {
		sub := a.Subscribe()
		defer sub.Close()
		info, ms := list(t, a, "INBOX")
		se := &session{sub: sub, snap: info.HighestModSeq, uids: map[uint32]bool{}}
		for _, m := range ms {
			se.uids[m.UID] = true
		}
		ss[i] = se
	}
	var wg sync.WaitGroup
	const writers, each = 4, 10
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				d, err := s.BeginDelivery(c)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.WriteString(d, msg("c", "y"))
				if _, err := d.Commit(c, []storage.Target{inbox(a.Name())}, time.Time{}); err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					if _, err := a.StoreFlags(c, "INBOX", []uint32{1}, storage.FlagsAdd, []string{`\Deleted`}); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	_, err := a.Expunge(c, "INBOX", nil)
	must(t, err)
	final, fms := list(t, a, "INBOX")
	for _, se := range ss {
		for {
			ev := waitChange(t, se.sub)
			se.seen = append(se.seen, describe(ev))
			if ev.Mailbox == "INBOX" && ev.ModSeq > se.snap {
				switch ev.Kind {
				case storage.ChangeMessageAdded:
					se.uids[ev.UID] = true
				case storage.ChangeExpunge:
					delete(se.uids, ev.UID)
				}
			}
			if ev.ModSeq >= final.HighestModSeq {
				break
			}
		}
		if len(se.uids) != len(fms) {
			t.Errorf("session ended with %d messages, store has %d", len(se.uids), len(fms))
		}
		for _, m := range fms {
			if !se.uids[m.UID] {
				t.Errorf("session misses UID %d", m.UID)
			}
		}
	}
	for _, se := range ss[1:] {
		if !slices.Equal(se.seen, ss[0].seen) {
			t.Errorf("sessions saw different orders:\n%v\n%v", se.seen, ss[0].seen)
		}
	}
}

// testSlowSubscriber: a subscriber that never reads must not block
// commits or other subscribers.
func testSlowSubscriber(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	stuck := a.Subscribe()
	defer stuck.Close()
	live := a.Subscribe()
	defer live.Close()
	for i := 0; i < 200; i++ {
		_, _, err := a.Append(ctx(t), "INBOX", stringsReader("m"), nil, time.Time{})
		must(t, err)
	}
	for i := 1; i <= 200; i++ {
		if ev := waitChange(t, live); ev.UID != uint32(i) {
			t.Fatalf("event %d has UID %d", i, ev.UID)
		}
	}
	if ev := waitChange(t, stuck); ev.UID != 1 {
		t.Errorf("stuck subscriber's first event %+v", ev)
	}
}
