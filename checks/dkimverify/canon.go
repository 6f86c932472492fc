package dkimverify

import (
	"bytes"
	"hash"
	"sync"
)

// Canonicalization (RFC 6376 3.4). Lines ending in a bare LF count as
// ending in CRLF, as the signer's MTA would have sent them.

// appendHeader appends field canonicalized by c (RFC 6376 3.4.1, 3.4.2),
// ending in CRLF.
func appendHeader(dst, field []byte, c canonicalization) []byte {
	if c == simple {
		dst = appendCRLFLines(dst, field)
		if !bytes.HasSuffix(dst, []byte("\r\n")) {
			dst = append(dst, '\r', '\n')
		}
		return dst
	}
	// relaxed: the name in lower case without white space around it, a
	// colon, the value unfolded with every run of white space reduced to
	// one space and none at either end.
	colon := bytes.IndexByte(field, ':')
	name, value := field, []byte(nil)
	if colon >= 0 {
		name, value = field[:colon], field[colon+1:]
	}
	name = bytes.TrimFunc(name, func(r rune) bool { return r < 0x80 && isWSP(byte(r)) })
	for _, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	dst = append(dst, ':')
	space, started := false, false
	for _, c := range value {
		if isWSP(c) {
			space = started
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		dst = append(dst, c)
		started = true
	}
	return append(dst, '\r', '\n')
}

// appendCRLFLines appends b with every bare LF turned into CRLF.
func appendCRLFLines(dst, b []byte) []byte {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return append(dst, b...)
		}
		dst = append(dst, b[:i]...)
		if i == 0 || b[i-1] != '\r' {
			dst = append(dst, '\r')
		}
		dst = append(dst, '\n')
		b = b[i+1:]
	}
}

// bodyHasher canonicalizes a body (RFC 6376 3.4.3, 3.4.4) into a hash as
// it is written. Output is gathered in buf and hashed in large writes.
type bodyHasher struct {
	canon canonicalization
	h     hash.Hash
	buf   []byte
	// held counts the line ends seen but not yet written: empty lines at
	// the end of the body are not part of it (both canonicalizations),
	// and are written only once something follows them. For relaxed,
	// eol holds those bytes as they came (CRs and LFs).
	held int
	eol  []byte
	cr   bool // the last byte was a CR, not yet known to start a CRLF
	wsp  bool // relaxed: white space seen since the last output byte
	any  bool // relaxed: the body has a non-empty line
}

const hashChunk = 4096

func newBodyHasher(c canonicalization, h hash.Hash) *bodyHasher {
	return &bodyHasher{canon: c, h: h, buf: (*hashBuffers.Get().(*[]byte))[:0]}
}

// release gives the hasher's buffer back; the hasher is unusable after.
func (b *bodyHasher) release() {
	buf := b.buf[:0]
	b.buf = nil
	hashBuffers.Put(&buf)
}

// hashBuffers holds the output buffers of bodyHashers: one message at a
// time needs one, and each is hashChunk plus the longest single write.
var hashBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2*hashChunk); return &b }}

func (b *bodyHasher) out(p []byte) {
	if len(b.buf)+len(p) > cap(b.buf) {
		b.h.Write(b.buf)
		b.buf = b.buf[:0]
		if len(p) >= cap(b.buf) {
			b.h.Write(p)
			return
		}
	}
	b.buf = append(b.buf, p...)
}

// outByte writes one byte; unlike out([]byte{c}) it never makes the
// hash see a slice, which would move the slice to the heap.
func (b *bodyHasher) outByte(c byte) {
	if len(b.buf) == cap(b.buf) {
		b.h.Write(b.buf)
		b.buf = b.buf[:0]
	}
	b.buf = append(b.buf, c)
}

func (b *bodyHasher) Write(p []byte) (int, error) {
	if b.canon == simple {
		b.writeSimple(p)
	} else {
		b.writeRelaxed(p)
	}
	return len(p), nil
}

// writeSimple: the body as is, but without the empty lines at its end.
func (b *bodyHasher) writeSimple(p []byte) {
	for i := 0; i < len(p); {
		c := p[i]
		if b.cr {
			b.cr = false
			if c == '\n' {
				b.held++
				i++
				continue
			}
			b.flushHeld()
			b.outByte('\r')
		}
		switch c {
		case '\r':
			b.cr = true
			i++
		case '\n': // a bare LF: a CRLF
			b.held++
			i++
		default:
			b.flushHeld()
			j := i + 1
			for j < len(p) && p[j] != '\r' && p[j] != '\n' {
				j++
			}
			b.out(p[i:j])
			i = j
		}
	}
}

func (b *bodyHasher) flushHeld() {
	for ; b.held > 0; b.held-- {
		b.outByte('\r')
		b.outByte('\n')
	}
}

// writeRelaxed: white space at the end of lines removed, other runs of
// it reduced to one space, empty lines at the end removed.
func (b *bodyHasher) writeRelaxed(p []byte) {
	for i := 0; i < len(p); {
		c := p[i]
		switch c {
		case ' ', '\t':
			b.wsp = true
			b.cr = false
			i++
		case '\r':
			b.wsp = false
			b.eol = append(b.eol, '\r')
			b.cr = true
			i++
		case '\n':
			b.wsp = false
			if !b.cr {
				b.eol = append(b.eol, '\r')
			}
			b.eol = append(b.eol, '\n')
			b.cr = false
			i++
		default:
			if len(b.eol) > 0 {
				b.out(b.eol)
				b.eol = b.eol[:0]
			}
			if b.wsp {
				b.outByte(' ')
				b.wsp = false
			}
			// The run goes on over single spaces between words, which
			// relaxed canonicalization keeps as they are: most lines
			// are then one run.
			j := i + 1
			for j < len(p) && (!isWSP(p[j]) || p[j] == ' ' && j+1 < len(p) && !isWSP(p[j+1])) {
				j++
			}
			b.out(p[i:j])
			b.any = true
			b.cr = false
			i = j
		}
	}
}

// sum finishes the body and returns its hash.
func (b *bodyHasher) sum() []byte {
	if b.canon == simple {
		if b.cr {
			// A CR that ends the body is content, not a line end.
			b.flushHeld()
			b.outByte('\r')
		}
		// RFC 6376 3.4.3: the body ends in exactly one CRLF (an empty
		// body is a single CRLF).
		b.outByte('\r')
		b.outByte('\n')
	} else if b.any {
		// RFC 6376 3.4.4: a non-empty body ends in CRLF; an empty one
		// is empty.
		b.outByte('\r')
		b.outByte('\n')
	}
	b.h.Write(b.buf)
	b.buf = b.buf[:0]
	return b.h.Sum(nil)
}
