package checks

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// StripAuthResults returns a reader of msg without the header fields
// "Authentication-Results" whose authserv-id is authservID (compared
// without regard to case or a trailing dot). RFC 8601 5: an MTA MUST remove
// such fields arriving from outside, or a forger could vouch for a message
// in our name. Fields from other authserv-ids are kept, the body is passed
// through untouched, and the whole thing streams: memory stays bounded
// whatever the message size.
func StripAuthResults(msg io.Reader, authservID string) io.Reader {
	return &stripReader{
		br: bufio.NewReaderSize(msg, 4096),
		id: strings.TrimSuffix(authservID, "."),
	}
}

// maxPending bounds how much of one Authentication-Results field is held
// while deciding about it; the authserv-id comes first, so a field whose
// id is still undecided after this many bytes is malformed and dropped.
const maxPending = 16 << 10

type fieldState int

const (
	stateNone     fieldState = iota // before the first field
	statePassing                    // current field is kept, streamed out
	statePending                    // current field is an A-R field being read
	stateDropping                   // current field is ours: discarded
)

type stripReader struct {
	br      *bufio.Reader
	id      string
	out     []byte // bytes ready for the caller
	pending []byte // the Authentication-Results field being judged
	state   fieldState
	midLine bool // the last chunk did not end a line
	inBody  bool
	err     error
}

func (s *stripReader) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if s.inBody {
			return s.br.Read(p)
		}
		if s.err != nil {
			return 0, s.err
		}
		s.step()
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// step consumes one chunk of header (a line, or part of a long line).
func (s *stripReader) step() {
	chunk, err := s.br.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		// io.EOF or a read error: what we hold is complete.
		s.handle(chunk)
		s.finishField()
		if s.inBody {
			// The empty line was the last thing; nothing follows.
			s.inBody = false
		}
		s.err = err
		return
	}
	s.handle(chunk)
}

func (s *stripReader) handle(chunk []byte) {
	if len(chunk) == 0 {
		return
	}
	startsLine := !s.midLine
	s.midLine = chunk[len(chunk)-1] != '\n'
	if startsLine {
		switch {
		case isBlankLine(chunk):
			s.finishField()
			s.out = append(s.out, chunk...)
			s.inBody = true
			return
		case chunk[0] == ' ' || chunk[0] == '\t':
			// Continuation: belongs to the current field.
		default:
			s.finishField()
			if isAuthResultsStart(chunk) {
				s.state = statePending
			} else {
				s.state = statePassing
			}
		}
	}
	switch s.state {
	case statePending:
		s.pending = append(s.pending, chunk...)
		if len(s.pending) > maxPending {
			s.judge(true)
		}
	case stateDropping:
	default:
		s.out = append(s.out, chunk...)
	}
}

// finishField decides about a pending Authentication-Results field now
// that all of it has been read.
func (s *stripReader) finishField() {
	if s.state == statePending {
		s.judge(false)
	}
	s.state = statePassing
}

// judge keeps or drops the pending field. truncated says the field is
// longer than maxPending: then an undecidable id means drop.
func (s *stripReader) judge(truncated bool) {
	_, value, _ := bytes.Cut(s.pending, []byte(":"))
	id, complete := authservID(string(value))
	ours := strings.EqualFold(strings.TrimSuffix(id, "."), s.id)
	if ours || truncated && !complete {
		s.state = stateDropping
	} else {
		s.out = append(s.out, s.pending...)
		s.state = statePassing
	}
	s.pending = s.pending[:0]
}

// isBlankLine reports whether a line is the empty line that ends a header
// section (CRLF, or a bare LF), the same test readHeader uses.
func isBlankLine(line []byte) bool {
	return len(bytes.TrimRight(line, "\r\n")) == 0
}

// isAuthResultsStart reports whether a line starts an
// Authentication-Results field; RFC 5322 4.5.3 (obsolete syntax) allows
// white space before the colon, and names are case-insensitive.
func isAuthResultsStart(line []byte) bool {
	name, _, found := bytes.Cut(line, []byte(":"))
	if !found {
		// A name longer than the read buffer: decide on what we have.
		name = line
	}
	return strings.EqualFold(string(bytes.TrimSpace(name)), "Authentication-Results")
}

// authservID extracts the authserv-id from an Authentication-Results field
// value (RFC 8601 2.2: [CFWS] authserv-id, where authserv-id is a token
// or a quoted-string). complete is false when the value ends before the id
// does (unterminated comment or quoted string).
func authservID(v string) (id string, complete bool) {
	i := 0
	// Skip CFWS: white space, line breaks and (nested) comments.
	for i < len(v) {
		c := v[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			i++
			continue
		}
		if c != '(' {
			break
		}
		end, ok := skipComment(v, i)
		if !ok {
			return "", false
		}
		i = end
	}
	if i == len(v) {
		return "", true // empty value: claims nobody
	}
	if v[i] == '"' {
		var b strings.Builder
		for i++; i < len(v); i++ {
			switch v[i] {
			case '\\':
				i++
				if i < len(v) {
					b.WriteByte(v[i])
				}
			case '"':
				return b.String(), true
			case '\r', '\n':
			default:
				b.WriteByte(v[i])
			}
		}
		return b.String(), false
	}
	j := i
	for j < len(v) && !strings.ContainsRune(" \t\r\n;(", rune(v[j])) {
		j++
	}
	return v[i:j], true
}

// skipComment returns the index just past the comment starting at v[i]
// ('('), honouring nesting and quoted-pairs (RFC 5322 3.2.2); ok is false
// when the comment is not closed.
func skipComment(v string, i int) (end int, ok bool) {
	depth := 0
	for ; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
	}
	return len(v), false
}

// MayHaveAuthResults reports whether the header section of msg (up to
// the first empty line, or all of msg) has a field named
// Authentication-Results, by a case-insensitive look at the start of
// each line. Most messages have none: their callers can skip
// StripAuthResults and its per-line parsing.
func MayHaveAuthResults(msg []byte) bool {
	const name = "authentication-results"
	header := msg
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		header = msg[:i+2]
	} else if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		header = msg[:i+1]
	}
	for line := header; len(line) > 0; {
		if len(line) >= len(name) && bytes.EqualFold(line[:len(name)], []byte(name)) {
			return true
		}
		i := bytes.IndexByte(line, '\n')
		if i < 0 {
			break
		}
		line = line[i+1:]
	}
	return false
}
