package delivery

import (
	"bytes"
	"io"
)

// returnPathFilter is a writer that drops every Return-Path field (with
// its continuation lines) from the header section of the message written
// through it, and passes everything else, the body untouched.
//
// RFC 5321 4.4: Return-Path is inserted by the final delivery SMTP
// server; a Return-Path arriving with the message was put there by
// someone else (a misconfigured relay, or a forger hoping a mail reader
// or filter will trust it), so it must not survive next to ours.
//
// It works on the stream as it arrives in arbitrary chunks: a line's fate
// is decided from its first bytes (at most rpDecideMax are held back), the
// rest of the line is then streamed or skipped. Header lines are written
// one by one; after the blank line that ends the header section every
// chunk goes straight through.
type returnPathFilter struct {
	w     io.Writer
	body  bool   // past the header section
	mid   bool   // inside a line whose fate is decided
	drop  bool   // the current field is a Return-Path
	carry []byte // undecided start of a line split across writes
	run   []byte // kept bytes of the current p not yet written
	buf   [rpDecideMax]byte
}

// rpDecideMax bounds the bytes held back to classify a line: a line
// starting "Return-Path" followed by this much white space and no colon
// yet is treated as a Return-Path field (RFC 5322 4.5.3 obs-optional
// allows white space before the colon; no legitimate field needs more).
const rpDecideMax = 256

func newReturnPathFilter(w io.Writer) *returnPathFilter {
	f := &returnPathFilter{}
	f.reset(w)
	return f
}

// reset prepares f for a new message written to w.
func (f *returnPathFilter) reset(w io.Writer) {
	*f = returnPathFilter{w: w}
	f.carry = f.buf[:0]
}

// Write implements io.Writer. It reports len(p) unless the underlying
// writer fails. Consecutive kept lines of p go out in one write.
func (f *returnPathFilter) Write(p []byte) (int, error) {
	n := len(p)
	err := f.write(p)
	if ferr := f.flushRun(); err == nil {
		err = ferr
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (f *returnPathFilter) write(p []byte) error {
	for len(p) > 0 && !f.body {
		if f.mid {
			end, done := lineEnd(p)
			if !f.drop {
				if err := f.keep(p[:end]); err != nil {
					return err
				}
			}
			f.mid = !done
			p = p[end:]
			continue
		}
		var line []byte
		var complete, carried bool
		if len(f.carry) > 0 {
			carried = true
			end, done := lineEnd(p[:min(len(p), rpDecideMax-len(f.carry))])
			f.carry = append(f.carry, p[:end]...)
			p = p[end:]
			line, complete = f.carry, done
		} else {
			end, done := lineEnd(p)
			line, complete = p[:end], done
			p = p[end:]
		}
		kind, decided := classifyLine(line, complete)
		if !decided {
			if len(f.carry) == 0 {
				f.carry = append(f.carry, line...)
			}
			continue
		}
		switch kind {
		case lineBlank:
			f.body, f.drop = true, false
		case lineField:
			f.drop = false
		case lineReturnPath:
			f.drop = true
		}
		// A continuation line keeps the drop state of its field.
		if !f.drop {
			if carried {
				// carry is reused: write it now, after what came before.
				if err := f.flushRun(); err != nil {
					return err
				}
				if _, err := f.w.Write(line); err != nil {
					return err
				}
			} else if err := f.keep(line); err != nil {
				return err
			}
		}
		f.mid = !complete
		f.carry = f.carry[:0]
	}
	return f.keep(p)
}

// keep queues x, a piece of the current p, for writing: pieces that
// follow each other in p are merged into one write.
func (f *returnPathFilter) keep(x []byte) error {
	if len(x) == 0 {
		return nil
	}
	if n := len(f.run); n > 0 && cap(f.run) > n && &f.run[:n+1][n] == &x[0] {
		f.run = f.run[:n+len(x)]
		return nil
	}
	if err := f.flushRun(); err != nil {
		return err
	}
	f.run = x
	return nil
}

func (f *returnPathFilter) flushRun() error {
	if len(f.run) == 0 {
		return nil
	}
	_, err := f.w.Write(f.run)
	f.run = nil
	return err
}

// Flush writes a held-back line start at the end of the message (a last
// line without a line end).
func (f *returnPathFilter) Flush() error {
	if len(f.carry) == 0 {
		return nil
	}
	line := f.carry
	f.carry = f.carry[:0]
	if kind, _ := classifyLine(line, true); kind == lineReturnPath || (kind == lineContinuation && f.drop) {
		return nil
	}
	_, err := f.w.Write(line)
	return err
}

// lineEnd returns the length of the line at the start of p (through its
// LF) and whether the LF was found.
func lineEnd(p []byte) (int, bool) {
	if i := bytes.IndexByte(p, '\n'); i >= 0 {
		return i + 1, true
	}
	return len(p), false
}

type lineKind int

const (
	lineField lineKind = iota
	lineContinuation
	lineReturnPath
	lineBlank
)

// classifyLine says what the line starting with b is; decided is false
// when more bytes are needed. complete reports that b holds the whole
// line.
func classifyLine(b []byte, complete bool) (kind lineKind, decided bool) {
	const name = "return-path"
	if len(b) == 0 {
		return lineField, complete
	}
	switch b[0] {
	case '\r', '\n':
		// The empty line ending the header section (RFC 5322 2.1).
		// Delivered messages have CRLF line ends only.
		return lineBlank, true
	case ' ', '\t':
		return lineContinuation, true
	}
	for i := 0; i < len(name); i++ {
		if i == len(b) {
			return lineField, complete
		}
		if lower(b[i]) != name[i] {
			return lineField, true
		}
	}
	for _, c := range b[len(name):min(len(b), rpDecideMax)] {
		switch c {
		case ':':
			return lineReturnPath, true
		case ' ', '\t':
		default:
			return lineField, true
		}
	}
	if len(b) >= rpDecideMax {
		return lineReturnPath, true
	}
	return lineField, complete
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// StripReturnPath returns a reader of r without the Return-Path fields
// of its header section (with their continuation lines); the rest, body
// included, is unchanged. r must have CRLF line ends.
//
// Deliver does this itself; StripReturnPath is for messages leaving by
// another way: RFC 5321 4.4 says a message-originating SMTP system
// SHOULD NOT send a message that already contains a Return-Path, so
// submission strips it before handing remote recipients to the queue.
func StripReturnPath(r io.Reader) io.Reader {
	s := &stripReader{r: r}
	s.f.reset(&s.out)
	return s
}

type stripReader struct {
	r   io.Reader
	f   returnPathFilter
	out bytes.Buffer // filtered bytes not yet read
	buf []byte
	err error
}

func (s *stripReader) Read(p []byte) (int, error) {
	for s.out.Len() == 0 && s.err == nil {
		if s.buf == nil {
			s.buf = make([]byte, 32<<10)
		}
		n, err := s.r.Read(s.buf)
		s.f.Write(s.buf[:n]) // into s.out: cannot fail
		if err == io.EOF {
			s.f.Flush()
		}
		s.err = err
	}
	if s.out.Len() > 0 {
		return s.out.Read(p)
	}
	return 0, s.err
}
