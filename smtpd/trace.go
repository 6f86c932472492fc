package smtpd

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// traceSink serialises trace lines of all connections onto
// Options.Trace, one Write per line, so lines never interleave.
type traceSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (t *traceSink) line(id, dir string, text []byte) {
	b := make([]byte, 0, 48+len(text))
	b = time.Now().UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, ' ')
	b = append(b, id...)
	b = append(b, ' ')
	b = append(b, dir...)
	b = append(b, ' ')
	b = appendEscaped(b, text)
	b = append(b, '\n')
	t.mu.Lock()
	defer t.mu.Unlock()
	t.w.Write(b)
}

// appendEscaped copies client or server text into a trace line with
// control bytes escaped, so a line cannot forge or break other lines.
func appendEscaped(b, text []byte) []byte {
	for _, c := range text {
		if c < 0x20 && c != '\t' || c == 0x7f {
			b = append(b, `\x`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

// Client stream states.
const (
	traceCmd  = iota // command lines
	traceAuth        // SASL exchange: every client line is a credential
	traceData        // DATA message content, up to <CRLF>.<CRLF>
	traceBdat        // BDAT chunk: bdatLeft more bytes
)

// go-smtp's DATA end detection, mirrored (see dataReader in go-smtp's
// data.go) so the trace switches back to commands exactly where the
// server does: neither message content is dumped nor commands hidden.
const (
	dotBeginLine = iota
	dotDot
	dotDotCR
	dotCR
	dotData
)

// tracer is the wire trace of one connection (Options.Trace). It sees
// the bytes the connection reads and writes below TLS, splits them into
// lines and writes them with the session id, except:
//   - the arguments of AUTH and every client line of the SASL exchange
//     that follows (until the server's final non-334 reply) are replaced
//     by "<redacted>": they are credentials, base64 or not;
//   - message content (DATA up to the final dot, BDAT chunks) is counted,
//     not written;
//   - after STARTTLS or on an implicit-TLS listener the traffic is
//     encrypted; the trace says so once and then only notes the close.
type tracer struct {
	sink *traceSink
	id   string

	mu       sync.Mutex
	tls      bool
	pending  []byte // kinds (cmd*) of the commands awaiting a final reply
	state    int
	dot      int    // DATA end detection state (dot*)
	count    int64  // bytes of the current message content
	bdatLeft uint64 // bytes of the current BDAT chunk still to come
	cline    []byte // partial client line
	sline    []byte // partial server line
}

// Kinds of pending commands: the final reply to each says what the
// client sends next. Counting replies (rather than reacting to the next
// one) keeps a pipelined command's reply from ending a SASL exchange
// or a DATA early.
const (
	cmdOther    = 'o'
	cmdAuth     = 'a' // 334 replies continue it; the final one ends the SASL exchange
	cmdData     = 'd' // 354 continues it; a reply before any content refuses it
	cmdStartTLS = 's' // 220 starts the TLS handshake
)

// maxTraceLine bounds a buffered line; longer lines are cut (go-smtp
// refuses them anyway).
const maxTraceLine = 1024

func newTracer(sink *traceSink, id string) *tracer {
	return &tracer{sink: sink, id: id}
}

func (t *tracer) note(text string) {
	t.sink.line(t.id, "--", []byte(text))
}

// encrypted records that everything from now on is TLS.
func (t *tracer) encrypted(how string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tls = true
	t.note(how + "; encrypted traffic is not traced")
}

// client processes bytes read from the client.
func (t *tracer) client(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(p) > 0 && !t.tls {
		switch t.state {
		case traceData:
			p = t.data(p)
		case traceBdat:
			n := uint64(len(p))
			if n > t.bdatLeft {
				n = t.bdatLeft
			}
			t.bdatLeft -= n
			t.count += int64(n)
			p = p[n:]
			if t.bdatLeft == 0 {
				t.sink.line(t.id, "C:", []byte("<chunk data, "+strconv.FormatInt(t.count, 10)+" bytes>"))
				t.state = traceCmd
			}
		default:
			var line []byte
			var ok bool
			line, p, ok = splitLine(&t.cline, p)
			if ok {
				t.clientLine(line)
			}
		}
	}
}

// splitLine takes the next line (without its line end) from p into buf;
// ok is false when p ended first (the line stays buffered).
func splitLine(buf *[]byte, p []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(p, '\n')
	end := len(p)
	if i >= 0 {
		end = i + 1
	}
	if room := maxTraceLine - len(*buf); room > 0 {
		*buf = append(*buf, p[:min(end, room)]...)
	}
	if i < 0 {
		return nil, nil, false
	}
	line = bytes.TrimRight(*buf, "\r\n")
	*buf = (*buf)[:0]
	return line, p[end:], true
}

func (t *tracer) clientLine(line []byte) {
	if t.state == traceAuth {
		t.sink.line(t.id, "C:", []byte("<redacted>"))
		return
	}
	// Verbs are recognised as go-smtp's parseCmd does: the first four
	// bytes, any case; the argument after one space. AUTH is matched
	// more loosely (leading blanks too), erring towards redaction.
	verb := strings.ToUpper(string(line[:min(len(line), 8)]))
	kind := byte(cmdOther)
	switch {
	case strings.HasPrefix(strings.TrimLeft(verb, " \t"), "AUTH"):
		// RFC 4954 4: AUTH mechanism [initial-response]. Only a
		// well-formed mechanism name (RFC 4422 3.1) is shown.
		rest := bytes.TrimLeft(line, " \t")[4:]
		mech, resp, _ := strings.Cut(strings.TrimSpace(string(rest)), " ")
		out := "AUTH"
		if isMechName(mech) {
			out += " " + mech
		} else if mech != "" {
			resp = mech
		}
		if resp != "" {
			out += " <redacted>"
		}
		t.sink.line(t.id, "C:", []byte(out))
		t.state = traceAuth
		t.pending = append(t.pending, cmdAuth)
		return
	case strings.HasPrefix(verb, "STARTTLS"):
		kind = cmdStartTLS
	case verb == "DATA":
		t.state, t.dot, t.count = traceData, dotBeginLine, 0
		kind = cmdData
	case strings.HasPrefix(verb, "BDAT "):
		if n, ok := bdatSize(string(line[5:])); ok {
			t.state, t.bdatLeft, t.count = traceBdat, n, 0
		}
	}
	t.pending = append(t.pending, kind)
	t.sink.line(t.id, "C:", line)
	if t.state == traceBdat && t.bdatLeft == 0 {
		t.sink.line(t.id, "C:", []byte("<chunk data, 0 bytes>"))
		t.state = traceCmd
	}
}

// isMechName: RFC 4422 3.1, 1 to 20 of [A-Z0-9-_] (any case here).
func isMechName(s string) bool {
	if len(s) == 0 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// bdatSize parses BDAT's arguments as go-smtp does (RFC 3030 2): when
// they are valid, the chunk follows whether or not the command is
// accepted.
func bdatSize(arg string) (uint64, bool) {
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 || (len(f) == 2 && !strings.EqualFold(f[1], "LAST")) {
		return 0, false
	}
	n, err := strconv.ParseUint(f[0], 10, 32)
	return n, err == nil
}

// data counts message content up to the end-of-data line and returns
// what follows it.
func (t *tracer) data(p []byte) []byte {
	for i, c := range p {
		switch t.dot {
		case dotBeginLine:
			switch c {
			case '.':
				t.dot = dotDot
			case '\r':
				t.dot = dotCR
			default:
				t.dot = dotData
			}
		case dotDot:
			if c == '\r' {
				t.dot = dotDotCR
			} else {
				t.dot = dotData
			}
		case dotDotCR:
			if c == '\n' {
				t.count += int64(i + 1)
				t.sink.line(t.id, "C:", []byte("<message data, "+strconv.FormatInt(t.count-3, 10)+" bytes>"))
				t.sink.line(t.id, "C:", []byte("."))
				t.state = traceCmd
				return p[i+1:]
			}
			t.dot = dotData
		case dotCR:
			if c == '\n' {
				t.dot = dotBeginLine
			} else {
				t.dot = dotData
			}
		case dotData:
			if c == '\r' {
				t.dot = dotCR
			}
		}
	}
	t.count += int64(len(p))
	return nil
}

// server processes bytes written to the client.
func (t *tracer) server(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(p) > 0 && !t.tls {
		line, rest, ok := splitLine(&t.sline, p)
		p = rest
		if !ok {
			return
		}
		t.sink.line(t.id, "S:", line)
		if len(line) < 4 || line[3] == '-' {
			continue // not the last line of a reply
		}
		if len(t.pending) == 0 {
			continue // the greeting, or a reply nobody asked for
		}
		code := string(line[:3])
		kind := t.pending[0]
		if (kind == cmdAuth && code == "334") || (kind == cmdData && code == "354") {
			continue // the command goes on
		}
		t.pending = t.pending[1:]
		switch kind {
		case cmdAuth:
			if t.state == traceAuth {
				t.state = traceCmd
			}
		case cmdData:
			if t.state == traceData && t.count == 0 {
				t.state = traceCmd // DATA refused: commands again
			}
		case cmdStartTLS:
			if code == "220" {
				t.tls = true
				t.note("STARTTLS; encrypted traffic is not traced")
			}
		}
	}
}
