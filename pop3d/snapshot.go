package pop3d

import (
	"context"
	"fmt"
	"strconv"
)

// inbox is the POP3 maildrop (DESIGN.md: POP3 sees INBOX).
const inbox = "INBOX"

// snapshot is the maildrop as listed at login (RFC 1939 4: message numbers
// and sizes are fixed for the session).
type snapshot struct {
	uidValidity uint32
	msgs        []message
}

type message struct {
	uid     uint32
	size    int64
	deleted bool
}

func takeSnapshot(ctx context.Context, drop Maildrop) (snapshot, error) {
	info, metas, err := drop.List(ctx, inbox)
	if err != nil {
		return snapshot{}, err
	}
	snap := snapshot{uidValidity: info.UIDValidity, msgs: make([]message, len(metas))}
	for i, m := range metas {
		snap.msgs[i] = message{uid: m.UID, size: m.Size}
	}
	return snap, nil
}

// stat counts the messages not marked deleted and their octets.
func (sn *snapshot) stat() (n int, size int64) {
	for _, m := range sn.msgs {
		if !m.deleted {
			n++
			size += m.size
		}
	}
	return n, size
}

// get resolves a message-number argument. RFC 1939 5: a message marked
// deleted may not be referred to.
func (sn *snapshot) get(arg string) (int, *message, string) {
	n, err := strconv.ParseUint(arg, 10, 32)
	if err != nil || n == 0 {
		return 0, nil, "-ERR invalid message number"
	}
	if n > uint64(len(sn.msgs)) {
		return 0, nil, "-ERR no such message"
	}
	m := &sn.msgs[n-1]
	if m.deleted {
		return 0, nil, "-ERR message " + arg + " already deleted"
	}
	return int(n), m, ""
}

// uidl is the unique-id of a message: UIDVALIDITY and UID in hex, 16
// characters from 0x21-0x7E (RFC 1939 7), the same in every session, and
// never reused because UIDs are not reused under one UIDVALIDITY.
func (sn *snapshot) uidl(m *message) string {
	return fmt.Sprintf("%08x%08x", sn.uidValidity, m.uid)
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
