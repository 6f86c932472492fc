package imapd

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"postel/storage"
)

// view is one session's picture of its selected mailbox: the UIDs the
// client has been told about, in sequence-number order, plus the changes
// queued by the hub that the client has not been told about yet.
//
// uids, snapModSeq, own and searchRes belong to the session goroutine (or
// its IDLE goroutine, which the library never runs concurrently with a
// command). mu guards name, pending and gone, which the hub writes.
type view struct {
	readOnly    bool
	uidValidity uint32
	uids        []uint32
	snapModSeq  uint64            // changes up to this ModSeq are in uids already
	own         map[uint32]uint64 // UID -> ModSeq of our own flag change, not echoed back
	searchRes   []uint32          // SEARCHRES "$" (RFC 5182), in UIDs

	notify chan struct{} // capacity 1: "pending is not empty" for IDLE

	mu       sync.Mutex
	name     string
	pending  []storage.Change
	gone     bool // mailbox deleted by someone
	overflow bool // more than maxPending changes queued: resync needed
}

// maxPending bounds the changes queued for a client that neither polls nor
// idles. Past it the queue is dropped and the client is disconnected at its
// next command, so it resynchronises instead of the server holding an
// unbounded backlog.
const maxPending = 100_000

func newView(name string, readOnly bool) *view {
	return &view{name: name, readOnly: readOnly, notify: make(chan struct{}, 1), own: make(map[uint32]uint64)}
}

// mailbox returns the current name (it follows RENAMEs).
func (v *view) mailbox() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.name
}

// push is called by the hub for every change of the account. It must not
// block: it appends to the queue and pokes notify.
func (v *view) push(c storage.Change) {
	v.mu.Lock()
	switch c.Kind {
	case storage.ChangeMessageAdded, storage.ChangeFlags, storage.ChangeExpunge:
		if c.Mailbox != v.name || v.overflow {
			v.mu.Unlock()
			return
		}
		if len(v.pending) >= maxPending {
			v.overflow = true
			v.pending = nil
		} else {
			v.pending = append(v.pending, c)
		}
	case storage.ChangeMailboxRenamed:
		// Renaming INBOX moves its messages away and leaves INBOX in place
		// (RFC 9051 6.3.6); the expunges arrive as their own changes.
		if c.OldName != "INBOX" {
			if v.name == c.OldName {
				v.name = c.Mailbox
			} else if strings.HasPrefix(v.name, c.OldName+"/") {
				v.name = c.Mailbox + v.name[len(c.OldName):]
			}
		}
		v.mu.Unlock()
		return
	case storage.ChangeMailboxDeleted:
		if c.Mailbox == v.name {
			v.gone = true
		}
		v.mu.Unlock()
		return
	default:
		v.mu.Unlock()
		return
	}
	v.mu.Unlock()
	select {
	case v.notify <- struct{}{}:
	default:
	}
}

// seqOf returns the sequence number of uid in the client's view, or 0.
func (v *view) seqOf(uid uint32) uint32 {
	i, ok := slices.BinarySearch(v.uids, uid)
	if !ok {
		return 0
	}
	return uint32(i) + 1
}

// msgRef is one message addressed by a command.
type msgRef struct {
	seq uint32
	uid uint32
}

// errBadSeq is RFC 9051 9 ("seq-number"): a number beyond the mailbox, or
// "*" in an empty one, is a client error.
var errBadSeq = &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug, Text: "Invalid message sequence number"}

// resolve turns a sequence or UID set from the client into the messages of
// the view it addresses, ascending and without duplicates. Unknown UIDs are
// ignored (RFC 9051 6.4.9); out-of-range sequence numbers are BAD. Ranges
// are merged before they are expanded, so "1:*,1:*,..." costs no more than
// one "1:*".
func (v *view) resolve(set imap.NumSet) ([]msgRef, error) {
	n := uint32(len(v.uids))
	var spans [][2]int // half-open index ranges into v.uids
	switch set := set.(type) {
	case imap.SeqSet:
		for _, r := range set {
			a, b := r.Start, r.Stop
			if a == 0 {
				a = n
			}
			if b == 0 {
				b = n
			}
			if a > b {
				a, b = b, a
			}
			if a == 0 || b > n {
				return nil, errBadSeq
			}
			spans = append(spans, [2]int{int(a - 1), int(b)})
		}
	case imap.UIDSet:
		if imap.IsSearchRes(set) {
			for _, uid := range v.searchRes {
				if i, ok := slices.BinarySearch(v.uids, uid); ok {
					spans = append(spans, [2]int{i, i + 1})
				}
			}
			break
		}
		if n == 0 {
			return nil, nil
		}
		maxUID := v.uids[n-1]
		for _, r := range set {
			a, b := uint32(r.Start), uint32(r.Stop)
			if a == 0 {
				a = maxUID
			}
			if b == 0 {
				b = maxUID
			}
			if a > b {
				a, b = b, a
			}
			lo, _ := slices.BinarySearch(v.uids, a)
			hi, found := slices.BinarySearch(v.uids, b)
			if found {
				hi++
			}
			if lo < hi {
				spans = append(spans, [2]int{lo, hi})
			}
		}
	}
	slices.SortFunc(spans, func(x, y [2]int) int { return x[0] - y[0] })
	var refs []msgRef
	next := 0 // first index not yet emitted
	for _, sp := range spans {
		for i := max(sp[0], next); i < sp[1]; i++ {
			refs = append(refs, msgRef{seq: uint32(i) + 1, uid: v.uids[i]})
		}
		next = max(next, sp[1])
	}
	return refs, nil
}

// removeUIDs drops expunged messages from the view and writes one EXPUNGE
// per message, highest sequence number first so that each number is still
// valid when the client reads it.
func (v *view) removeUIDs(uids []uint32, write func(seq uint32) error) error {
	var idx []int
	for _, uid := range uids {
		if i, ok := slices.BinarySearch(v.uids, uid); ok {
			idx = append(idx, i)
		}
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	var err error
	for j := len(idx) - 1; j >= 0; j-- {
		if e := write(uint32(idx[j]) + 1); e != nil && err == nil {
			err = e
		}
	}
	if len(idx) > 0 {
		keep := v.uids[:0]
		k := 0
		for i, uid := range v.uids {
			if k < len(idx) && idx[k] == i {
				k++
				continue
			}
			keep = append(keep, uid)
		}
		v.uids = keep
	}
	return err
}

// poll writes the queued changes to the client, updating the view as it
// goes. With allowExpunge false (FETCH, STORE, SEARCH, RFC 9051 7.5.1) it
// stops before the first expunge of a message the client knows and keeps
// the rest queued.
func (v *view) poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	v.mu.Lock()
	if v.overflow {
		v.mu.Unlock()
		return errOverflow
	}
	q := v.pending
	v.pending = nil
	v.mu.Unlock()
	if len(q) == 0 {
		return nil
	}

	added := false
	flushExists := func() error {
		if !added {
			return nil
		}
		added = false
		return w.WriteNumMessages(uint32(len(v.uids)))
	}
	for i, c := range q {
		if c.ModSeq != 0 && c.ModSeq <= v.snapModSeq {
			continue // already in the SELECT snapshot
		}
		switch c.Kind {
		case storage.ChangeMessageAdded:
			// UIDs only grow, so a new message goes at the end; anything
			// else is already known.
			if n := len(v.uids); n == 0 || c.UID > v.uids[n-1] {
				v.uids = append(v.uids, c.UID)
				added = true
			}
		case storage.ChangeFlags:
			if ms, ok := v.own[c.UID]; ok && c.ModSeq <= ms {
				delete(v.own, c.UID)
				continue
			}
			seq := v.seqOf(c.UID)
			if seq == 0 {
				continue
			}
			if err := flushExists(); err != nil {
				return err
			}
			if err := w.WriteMessageFlags(seq, imap.UID(c.UID), toIMAPFlags(c.Flags)); err != nil {
				return err
			}
		case storage.ChangeExpunge:
			if v.seqOf(c.UID) == 0 {
				continue
			}
			if !allowExpunge {
				v.requeue(q[i:])
				return flushExists()
			}
			if err := flushExists(); err != nil {
				return err
			}
			delete(v.own, c.UID)
			if err := v.removeUIDs([]uint32{c.UID}, w.WriteExpunge); err != nil {
				return err
			}
		}
	}
	return flushExists()
}

// errOverflow ends a session whose view fell too far behind.
var errOverflow = errors.New("imapd: too many pending mailbox changes")

// requeue puts changes back at the head of the queue.
func (v *view) requeue(q []storage.Change) {
	v.mu.Lock()
	v.pending = append(slices.Clip(q), v.pending...)
	v.mu.Unlock()
}

// awaitAdded waits (briefly) until the hub has queued the addition of uid,
// so that the poll after our own APPEND or COPY into the selected mailbox
// reports EXISTS at once (RFC 9051 6.3.12 SHOULD). Storage publishes after
// commit on another goroutine, hence the wait. The session goroutine is the
// only reader of notify while a command runs (IDLE is not running then).
func (v *view) awaitAdded(uid uint32, limit time.Duration) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		v.mu.Lock()
		found := false
		for _, c := range v.pending {
			if c.Kind == storage.ChangeMessageAdded && c.UID >= uid {
				found = true
				break
			}
		}
		v.mu.Unlock()
		if found {
			return
		}
		select {
		case <-v.notify:
		case <-timer.C:
			return
		}
	}
}
