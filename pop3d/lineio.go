package pop3d

import (
	"bufio"
	"bytes"
	"errors"
)

var (
	errLineTooLong = errors.New("pop3d: line too long")
	errMalformed   = errors.New("pop3d: malformed command")
)

// readLine reads one line and returns it without its CRLF (a bare LF is
// accepted too). A line longer than limit octets, line end included, is
// consumed to its end and reported as errLineTooLong, so the session stays
// in step with the client. The returned slice is the caller's.
func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > limit {
				tooLong = true
				line = nil
			} else {
				line = append(line, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			// EOF or error in mid-line: the partial line is not a command.
			return nil, err
		}
		break
	}
	if tooLong {
		return nil, errLineTooLong
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, nil
}

// maxVerbLength bounds the keyword; RFC 2449 3 says keywords are 3 or 4
// characters, accept a little more so unknown ones are named as such.
const maxVerbLength = 8

// parseCommand splits a command line into its upper-cased keyword and the
// raw rest after the first space (RFC 1939 3: keywords are case-insensitive
// and separated from arguments by a single space). The rest is kept whole
// because PASS "may treat spaces in the argument as part of the password".
// Control characters anywhere make the line malformed.
func parseCommand(line []byte) (verb, arg string, err error) {
	for _, c := range line {
		if c < 0x20 || c == 0x7f {
			return "", "", errMalformed
		}
	}
	v, rest, hasArg := bytes.Cut(line, []byte(" "))
	if len(v) == 0 || len(v) > maxVerbLength {
		return "", "", errMalformed
	}
	up := make([]byte, len(v))
	for i, c := range v {
		switch {
		case 'a' <= c && c <= 'z':
			up[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
			up[i] = c
		default:
			return "", "", errMalformed
		}
	}
	if hasArg {
		arg = string(rest)
	}
	return string(up), arg, nil
}
