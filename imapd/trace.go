package imapd

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// connTrace writes one plain-text connection's wire trace to w, a line at
// a time, each prefixed with the connection id and direction (C: client,
// S: server), with credentials removed: the arguments of LOGIN, the
// initial response of AUTHENTICATE, and every client line of a SASL
// exchange or of a LOGIN sent with literals, until the server's tagged
// answer (STYLE: wire traces redact AUTH/LOGIN). w is shared by every
// connection; each line is written whole under traceMu.
type connTrace struct {
	w      io.Writer
	mu     *sync.Mutex // shared by all connections writing to w
	id     uint64
	cline  []byte
	sline  []byte
	secret string // tag whose exchange is being redacted, "" when none
}

// maxTraceLine bounds the buffered partial line (literals can be huge).
const maxTraceLine = 4096

func (t *connTrace) client(p []byte) { t.feed(&t.cline, p, 'C') }
func (t *connTrace) server(p []byte) { t.feed(&t.sline, p, 'S') }

func (t *connTrace) feed(buf *[]byte, p []byte, dir byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			*buf = append(*buf, p...)
			if len(*buf) > maxTraceLine {
				t.emit(dir, "[long line elided]")
				*buf = (*buf)[:0]
			}
			return
		}
		*buf = append(*buf, p[:i]...)
		t.emit(dir, strings.TrimRight(string(*buf), "\r"))
		*buf = (*buf)[:0]
		p = p[i+1:]
	}
}

func (t *connTrace) emit(dir byte, l string) {
	fields := strings.Fields(l)
	if dir == 'S' {
		if t.secret != "" && len(fields) > 0 && fields[0] == t.secret {
			t.secret = ""
		}
	} else {
		switch {
		case t.secret != "":
			l = "[redacted]"
		case len(fields) >= 2 && strings.EqualFold(fields[1], "LOGIN"):
			if strings.HasSuffix(l, "}") {
				t.secret = fields[0] // literals follow on the next lines
			}
			l = fields[0] + " LOGIN [redacted]"
		case len(fields) >= 3 && strings.EqualFold(fields[1], "AUTHENTICATE"):
			t.secret = fields[0]
			l = fields[0] + " AUTHENTICATE " + fields[2]
			if len(fields) > 3 {
				l += " [redacted]"
			}
		}
	}
	fmt.Fprintf(t.w, "imap %d %c: %s\n", t.id, dir, l)
}
