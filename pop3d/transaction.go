package pop3d

import "fmt"

// cmdStat is RFC 1939 5 STAT.
func (s *session) cmdStat(arg string) {
	if arg != "" {
		s.fail("-ERR usage: STAT")
		return
	}
	n, size := s.snap.stat()
	s.reply("+OK " + itoa(n) + " " + itoa64(size))
}

// cmdList is RFC 1939 5 LIST [msg].
func (s *session) cmdList(arg string) {
	s.scanListing(arg, "LIST", func(n int, m *message) string {
		return itoa(n) + " " + itoa64(m.size)
	})
}

// cmdUidl is RFC 1939 7 UIDL [msg].
func (s *session) cmdUidl(arg string) {
	s.scanListing(arg, "UIDL", func(n int, m *message) string {
		return itoa(n) + " " + s.snap.uidl(m)
	})
}

// scanListing answers LIST and UIDL: one message as a single line, or
// every message not marked deleted as a multi-line response.
func (s *session) scanListing(arg, verb string, line func(int, *message) string) {
	w := words(arg)
	switch len(w) {
	case 0:
		n, size := s.snap.stat()
		s.reply("+OK " + itoa(n) + " messages (" + itoa64(size) + " octets)")
		for i := range s.snap.msgs {
			if m := &s.snap.msgs[i]; !m.deleted {
				s.w.WriteString(line(i+1, m))
				s.w.WriteString("\r\n")
			}
		}
		s.reply(".")
	case 1:
		n, m, errLine := s.snap.get(w[0])
		if m == nil {
			s.fail(errLine)
			return
		}
		s.reply("+OK " + line(n, m))
	default:
		s.fail("-ERR usage: " + verb + " [msg]")
	}
}

// cmdDele is RFC 1939 5 DELE msg: only a mark until QUIT.
func (s *session) cmdDele(arg string) {
	w := words(arg)
	if len(w) != 1 {
		s.fail("-ERR usage: DELE msg")
		return
	}
	_, m, errLine := s.snap.get(w[0])
	if m == nil {
		s.fail(errLine)
		return
	}
	m.deleted = true
	s.reply("+OK message " + w[0] + " deleted")
}

// cmdRset is RFC 1939 5 RSET: unmark every message.
func (s *session) cmdRset(arg string) {
	if arg != "" {
		s.fail("-ERR usage: RSET")
		return
	}
	for i := range s.snap.msgs {
		s.snap.msgs[i].deleted = false
	}
	n, size := s.snap.stat()
	s.reply("+OK maildrop has " + itoa(n) + " messages (" + itoa64(size) + " octets)")
}

// cmdNoop is RFC 1939 5 NOOP.
func (s *session) cmdNoop(arg string) {
	if arg != "" {
		s.fail("-ERR usage: NOOP")
		return
	}
	s.reply("+OK")
}

// cmdQuit is RFC 1939 6 QUIT. In TRANSACTION it enters UPDATE and deletes
// the marked messages; only then does anything leave the store.
func (s *session) cmdQuit(string) {
	s.quit = true
	if s.state != stateTransaction {
		s.reply("+OK Postel POP3 server signing off")
		return
	}
	s.state = stateUpdate
	var uids []uint32
	for _, m := range s.snap.msgs {
		if m.deleted {
			uids = append(uids, m.uid)
		}
	}
	if len(uids) > 0 {
		ctx, cancel := s.ctx()
		err := s.drop.Delete(ctx, inbox, uids)
		cancel()
		if err != nil {
			// The lock is released all the same; nothing was deleted
			// or all was: storage deletes in one commit.
			s.release()
			s.reply(pop3Error(s.log, "delete at quit", fmt.Errorf("%w: %d messages: %w", errUpdate, len(uids), err)))
			return
		}
		s.log.Info("deleted", "messages", len(uids))
	}
	// Release before the reply, not after the close (RFC 1939 6 orders it
	// the other way): a client that reconnects as soon as it reads +OK
	// must not meet its own lock and get [IN-USE].
	s.release()
	n, _ := s.snap.stat()
	s.reply("+OK Postel POP3 server signing off (" + itoa(n) + " messages left)")
}
