package checks

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"net/mail"
	"postel/internal/dnsname"
	"strings"
)

// headerField is one field of a message header as received: Name is the
// text before the first colon with surrounding white space removed, Value
// the rest, continuation lines included, line ends removed. Start and End
// delimit the field's bytes (all its lines, line ends included) in the raw
// header readHeader returns, so that a field can be left out of a copy.
type headerField struct {
	Name       string
	Value      string
	Start, End int
}

// readHeader reads the header section from r up to and including the empty
// line that ends it (RFC 5322 2.1), accepting CRLF or bare LF line ends. It
// returns the fields and the raw bytes read, which DKIM hashes as they
// came. A header that ends at EOF without an empty line is returned whole
// with a nil error. A line starting with SP or HTAB continues the previous
// field (RFC 5322 2.2.3), as DKIM signers split fields.
func readHeader(r *bufio.Reader) (fields []headerField, raw []byte, err error) {
	// The value of the field being read grows in value and becomes its
	// Value when the next field starts: appending to the string itself
	// would copy it once per continuation line, quadratic in the length
	// of a field a sender folds into many short lines.
	var value []byte
	finish := func() {
		if len(fields) > 0 {
			fields[len(fields)-1].Value = string(value)
		}
	}
	var line []byte
	for {
		line = line[:0]
		var chunk []byte
		for {
			chunk, err = r.ReadSlice('\n')
			line = append(line, chunk...)
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			finish()
			return fields, raw, err
		}
		start := len(raw)
		raw = append(raw, line...)
		text := bytes.TrimRight(line, "\r\n")
		switch {
		case len(text) == 0:
			finish()
			return fields, raw, nil // the empty line ending the header, or EOF
		case (text[0] == ' ' || text[0] == '\t') && len(fields) > 0:
			value = append(append(value, '\r', '\n'), text...)
			fields[len(fields)-1].End = len(raw)
		default:
			finish()
			name, v, _ := bytes.Cut(text, []byte(":"))
			value = append(value[:0], v...)
			fields = append(fields, headerField{Name: string(bytes.TrimSpace(name)), Start: start, End: len(raw)})
		}
		if err != nil {
			finish()
			return fields, raw, nil // EOF without an empty line
		}
	}
}

// fromHeader is what DMARC needs from the RFC5322.From field.
type fromHeader struct {
	Domain  string // normalised (lower-case A-label) domain, "" when unusable
	Address string // the first address, for logs and header.from
	// Problem says why Domain is unusable or suspect: "" (fine), "missing",
	// "multiple" (several From: fields), "several domains" (one field
	// naming mailboxes in different domains), "unparsable".
	Problem string
}

// parseFrom extracts the author domain (RFC 7489 3.1.1, 6.6.1).
func parseFrom(fields []headerField) fromHeader {
	var values []string
	for _, f := range fields {
		if strings.EqualFold(f.Name, "From") {
			values = append(values, f.Value)
		}
	}
	switch len(values) {
	case 0:
		return fromHeader{Problem: "missing"}
	case 1:
	default:
		// RFC 5322 3.6: exactly one From: field. Still report a domain so
		// the header and the log say who was claimed.
		fh := parseFromValue(values[0])
		fh.Problem = "multiple"
		return fh
	}
	return parseFromValue(values[0])
}

func parseFromValue(v string) fromHeader {
	v = unfold(v)
	list, err := parseAddressList(v)
	if err != nil || len(list) == 0 {
		return fromHeader{Problem: "unparsable", Address: sanitize(strings.TrimSpace(v), 200)}
	}
	fh := fromHeader{Address: list[0].Address}
	for i, a := range list {
		at := strings.LastIndexByte(a.Address, '@')
		if at < 0 {
			return fromHeader{Problem: "unparsable", Address: fh.Address}
		}
		d := normalizeDomain(a.Address[at+1:])
		if d == "" {
			return fromHeader{Problem: "unparsable", Address: fh.Address}
		}
		if i == 0 {
			fh.Domain = d
		} else if d != fh.Domain {
			fh.Problem = "several domains"
		}
	}
	return fh
}

// parseAddressList parses addresses whatever the charset of RFC 2047
// words in display names: only the address matters here, and net/mail
// alone rejects any charset but UTF-8, ISO-8859-1 and US-ASCII (so a
// Japanese sender's name in ISO-2022-JP would make the From: unparsable).
func parseAddressList(v string) ([]*mail.Address, error) {
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, input io.Reader) (io.Reader, error) { return input, nil },
	}}
	return p.ParseList(v)
}

// unfold removes the CRLFs of folded header lines (RFC 5322 2.2.3).
func unfold(v string) string {
	if !strings.ContainsAny(v, "\r\n") {
		return v
	}
	// Byte by byte: strings.Map would turn bytes that are not UTF-8
	// (raw 8-bit headers exist) into U+FFFD.
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '\r' && v[i] != '\n' {
			b = append(b, v[i])
		}
	}
	return string(b)
}

// normalizeDomain is dnsname.Normalize: the form of a domain in which
// names compare equal and are queried.
func normalizeDomain(d string) string { return dnsname.Normalize(d) }

// sanitize makes s safe to put in a log or a header: control characters
// become '?', and it is cut to at most max bytes.
func sanitize(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
