package smtpd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"net/mail"
	"strings"
)

// headerInfo is what submission needs to know about a message header.
type headerInfo struct {
	From         []string // every address of every From: field
	Sender       []string // every address of every Sender: field
	HasMessageID bool
	HasDate      bool
}

var (
	errHeaderTooBig = errors.New("smtpd: header too large")
	errHeaderSyntax = errors.New("smtpd: malformed header")
)

// Submitted headers are bounded in bytes and in lines. Real clients send
// a few kilobytes; the bounds keep the outbound DKIM signer, go-msgauth,
// whose header reader copies a field once per continuation line, from
// spending minutes on one message folded into many short lines (1 MB of
// folds: about two minutes; within these bounds: about 0.3 s). Postfix
// cuts headers at 100 KB (header_size_limit).
const (
	maxSubmittedHeader      = 128 << 10
	maxSubmittedHeaderLines = 5000
)

// scanHeader reads the header section (RFC 5322 2.2) of r, up to limit
// bytes and maxSubmittedHeaderLines lines. A line that is neither a field, a continuation nor the blank line
// is an error: submission refuses it rather than guess where the header
// ends, since a From: after such a line would escape the ownership check
// but might still be shown by a mail reader.
func scanHeader(r io.Reader, limit int) (headerInfo, error) {
	var hi headerInfo
	br := bufio.NewReaderSize(r, 4096)
	var name string
	var value strings.Builder
	total, lines := 0, 0
	flush := func() error {
		defer value.Reset()
		switch strings.ToLower(name) {
		case "from":
			addrs, err := parseAddresses(value.String())
			if err != nil {
				return errHeaderSyntax
			}
			hi.From = append(hi.From, addrs...)
		case "sender":
			addrs, err := parseAddresses(value.String())
			if err != nil {
				return errHeaderSyntax
			}
			hi.Sender = append(hi.Sender, addrs...)
		case "message-id":
			hi.HasMessageID = true
		case "date":
			hi.HasDate = true
		}
		return nil
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A very long line: keep reading it as one.
			head := bytes.Clone(line)
			rest, err2 := br.ReadBytes('\n')
			line = append(head, rest...)
			err = err2
		}
		total += len(line)
		lines++
		if total > limit || lines > maxSubmittedHeaderLines {
			return hi, errHeaderTooBig
		}
		if len(line) == 0 && err == io.EOF {
			// A header without a body (no blank line) is allowed.
			if name != "" {
				return hi, flush()
			}
			return hi, nil
		}
		if err != nil && err != io.EOF {
			return hi, err
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		switch {
		case len(trimmed) == 0:
			if name != "" {
				return hi, flush()
			}
			return hi, nil
		case trimmed[0] == ' ' || trimmed[0] == '\t':
			if name == "" {
				return hi, errHeaderSyntax
			}
			value.Write(trimmed)
		default:
			colon := bytes.IndexByte(trimmed, ':')
			if colon <= 0 || !isFieldName(trimmed[:colon]) {
				return hi, errHeaderSyntax
			}
			if name != "" {
				if err := flush(); err != nil {
					return hi, err
				}
			}
			name = string(trimmed[:colon])
			value.Write(trimmed[colon+1:])
		}
		if err == io.EOF {
			if name != "" {
				return hi, flush()
			}
			return hi, nil
		}
	}
}

// isFieldName: RFC 5322 3.6.8 ftext, printable ASCII except colon.
func isFieldName(b []byte) bool {
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// parseAddresses returns the addr-specs of an address list. Encoded
// words in display names are not decoded (only the addresses matter), so
// an unknown charset cannot make a valid header fail.
func parseAddresses(v string) ([]string, error) {
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, in io.Reader) (io.Reader, error) { return in, nil },
	}}
	list, err := p.ParseList(strings.TrimSpace(v))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.Address
	}
	return out, nil
}
