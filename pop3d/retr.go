package pop3d

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
)

// cmdRetr is RFC 1939 5 RETR msg.
func (s *session) cmdRetr(arg string) {
	w := words(arg)
	if len(w) != 1 {
		s.fail("-ERR usage: RETR msg")
		return
	}
	s.send(w[0], -1)
}

// cmdTop is RFC 1939 7 TOP msg n: the header, the blank line, and the
// first n lines of the body.
func (s *session) cmdTop(arg string) {
	w := words(arg)
	if len(w) != 2 {
		s.fail("-ERR usage: TOP msg lines")
		return
	}
	lines, err := strconv.ParseUint(w[1], 10, 31)
	if err != nil {
		s.fail("-ERR invalid line count")
		return
	}
	s.send(w[0], int(lines))
}

// send writes a message as a multi-line response; topLines < 0 means the
// whole message. The message is opened before "+OK" so a vanished message
// (expunged over IMAP since login) gets a clean -ERR. A read error after
// "+OK" cannot be reported in-band, so the connection is closed.
func (s *session) send(num string, topLines int) {
	_, m, errLine := s.snap.get(num)
	if m == nil {
		s.fail(errLine)
		return
	}
	ctx, cancel := s.ctx()
	defer cancel()
	f, _, err := s.drop.Open(ctx, inbox, m.uid)
	if err != nil {
		s.reply(pop3Error(s.log, "open message", err))
		return
	}
	defer f.Close()
	if topLines < 0 {
		s.reply("+OK " + itoa64(m.size) + " octets")
	} else {
		s.reply("+OK top of message follows")
	}
	dw := &dotWriter{w: s.w, bol: true}
	if topLines < 0 {
		err = s.copyBody(dw, f)
	} else {
		err = copyTop(dw, f, topLines)
	}
	if err == nil {
		err = dw.Close()
	}
	if err != nil {
		s.log.Warn("sending message failed", "uid", m.uid, "err", err)
		s.quit = true
	}
}

// copyBody copies r to w through the session's buffer: io.Copy would take
// *os.File's WriteTo path and allocate 32 KiB per message.
func (s *session) copyBody(w io.Writer, r io.Reader) error {
	if s.buf == nil {
		s.buf = make([]byte, 32*1024)
	}
	for {
		n, err := r.Read(s.buf)
		if n > 0 {
			if _, werr := w.Write(s.buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// copyTop copies the header, the empty line ending it, and then n body
// lines of r to w.
func copyTop(w io.Writer, r io.Reader, n int) error {
	br := bufio.NewReaderSize(r, 16*1024)
	inHeader, atStart := true, true
	for inHeader || n > 0 || !atStart {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if atStart {
				switch {
				case inHeader && (string(chunk) == "\r\n" || string(chunk) == "\n"):
					inHeader = false
				case !inHeader:
					n--
				}
			}
			if _, werr := w.Write(chunk); werr != nil {
				return werr
			}
			atStart = chunk[len(chunk)-1] == '\n'
		}
		switch err {
		case nil, bufio.ErrBufferFull:
		case io.EOF:
			return nil
		default:
			return err
		}
	}
	return nil
}

// dotWriter writes a POP3 multi-line body (RFC 1939 3): every line ends in
// CRLF (a bare LF gets its CR), a line starting with "." gets one more ".",
// and Close ends the body with ".CRLF" (after a CRLF if the body did not
// end with a line break). It scans whole chunks, not bytes, for speed.
type dotWriter struct {
	w   *bufio.Writer
	bol bool // at the beginning of a line
	cr  bool // the last byte written was CR
	err error
}

func (d *dotWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && d.err == nil {
		if d.bol && p[0] == '.' {
			d.write([]byte{'.'})
		}
		d.bol = false
		i := indexLF(p)
		if i < 0 {
			d.write(p)
			d.cr = p[len(p)-1] == '\r'
			break
		}
		if i > 0 {
			d.write(p[:i])
			d.cr = p[i-1] == '\r'
		}
		if d.cr {
			d.write([]byte{'\n'})
		} else {
			d.write([]byte{'\r', '\n'})
		}
		d.cr, d.bol = false, true
		p = p[i+1:]
	}
	if d.err != nil {
		return 0, d.err
	}
	return n, nil
}

func (d *dotWriter) write(p []byte) {
	if d.err == nil {
		_, d.err = d.w.Write(p)
	}
}

// Close writes the terminating line.
func (d *dotWriter) Close() error {
	if !d.bol {
		if d.cr {
			d.write([]byte{'\n'})
		} else {
			d.write([]byte{'\r', '\n'})
		}
	}
	d.write([]byte{'.', '\r', '\n'})
	return d.err
}

func indexLF(p []byte) int { return bytes.IndexByte(p, '\n') }
