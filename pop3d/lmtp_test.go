package pop3d

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
)

// lmtpSink is a minimal LMTP server (RFC 2033) that keeps every message
// it receives. getmail delivers to it: its forking destinations (Maildir,
// MDA_external) lose SIGCHLD now and then under load and stall for 60 s.
type lmtpSink struct {
	addr string
	mu   sync.Mutex
	msgs []string
}

func newLMTPSink(t *testing.T) *lmtpSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &lmtpSink{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *lmtpSink) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	say := func(l string) { w.WriteString(l + "\r\n"); w.Flush() }
	say("220 sink LMTP")
	rcpts := 0
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(l + " x")[0])
		switch verb {
		case "LHLO":
			say("250-sink")
			say("250 8BITMIME")
		case "MAIL", "RSET", "NOOP":
			rcpts = 0
			say("250 ok")
		case "RCPT":
			rcpts++
			say("250 ok")
		case "DATA":
			say("354 go")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, b.String())
			s.mu.Unlock()
			for range rcpts {
				say("250 delivered")
			}
		case "QUIT":
			say("221 bye")
			return
		default:
			say("500 what")
		}
	}
}

func (s *lmtpSink) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}
