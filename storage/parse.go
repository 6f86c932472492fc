package storage

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
)

// Parsing of the cached ENVELOPE and BODYSTRUCTURE (RFC 9051 7.5.2). The
// parser works on the stored bytes so sizes and line counts are exact, and
// it never fails: malformed MIME degrades to text/plain (RFC 2045 5.2),
// so a broken message is still delivered.

// Limits that keep hostile MIME cheap.
const (
	maxMIMEDepth = 32
	maxMIMEParts = 2000
)

// field is one header field, unfolded.
type field struct {
	key   string // lower case
	value string // unfolded, surrounding white space trimmed
}

type header []field

func (h header) get(key string) string {
	for _, f := range h {
		if f.key == key {
			return f.value
		}
	}
	return ""
}

func (h header) has(key string) bool {
	for _, f := range h {
		if f.key == key {
			return true
		}
	}
	return false
}

// splitMessage parses the header of an entity and returns it with the
// body. The header ends at the first empty line, or at the first line
// that is neither a field nor a continuation (then that line starts the
// body).
func splitMessage(b []byte) (header, []byte) {
	var h header
	// The last field's value is built in val and stored when the field
	// ends: appending to the string would copy it once per continuation
	// line, quadratic in a field folded into many short lines (200,000
	// folds cost 51 s of CPU per delivery).
	var val []byte
	finish := func() {
		if len(h) > 0 {
			h[len(h)-1].value = string(val)
		}
	}
	pos := 0
	for pos < len(b) {
		end := bytes.IndexByte(b[pos:], '\n')
		next := len(b)
		lineEnd := len(b)
		if end >= 0 {
			lineEnd = pos + end
			next = lineEnd + 1
		}
		line := b[pos:lineEnd]
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			finish()
			return h, b[next:]
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h) > 0 {
				val = append(append(val, ' '), bytes.TrimSpace(line)...)
				pos = next
				continue
			}
			return h, b[pos:]
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validFieldName(line[:colon]) {
			finish()
			return h, b[pos:]
		}
		finish()
		h = append(h, field{key: strings.ToLower(string(line[:colon]))})
		val = append(val[:0], bytes.TrimSpace(line[colon+1:])...)
		pos = next
	}
	finish()
	return h, b[len(b):]
}

// validFieldName: RFC 5322 3.6.8 ftext, printable ASCII except ':'. A
// trailing space before the colon is tolerated (obs-optional).
func validFieldName(b []byte) bool {
	b = bytes.TrimRight(b, " \t")
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// parseMessage returns the envelope and structure of a message.
func parseMessage(b []byte) (*Envelope, *BodyStructure) {
	h, body := splitMessage(b)
	parts := 0
	return envelope(h), parsePart(h, body, "text/plain", 0, &parts)
}

func envelope(h header) *Envelope {
	env := &Envelope{
		Subject:   decodeHeader(h.get("subject")),
		From:      parseAddresses(h.get("from")),
		Sender:    parseAddresses(h.get("sender")),
		ReplyTo:   parseAddresses(h.get("reply-to")),
		To:        parseAddresses(h.get("to")),
		Cc:        parseAddresses(h.get("cc")),
		Bcc:       parseAddresses(h.get("bcc")),
		InReplyTo: h.get("in-reply-to"),
		MessageID: strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(h.get("message-id")), "<"), ">"),
	}
	if d, err := mail.ParseDate(h.get("date")); err == nil {
		env.Date = d
	}
	// RFC 9051 7.5.2: a missing Sender or Reply-To takes the From value.
	if len(env.Sender) == 0 {
		env.Sender = env.From
	}
	if len(env.ReplyTo) == 0 {
		env.ReplyTo = env.From
	}
	return env
}

// charsetReader decodes any charset the WHATWG encoding index knows.
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, err
	}
	return enc.NewDecoder().Reader(r), nil
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// decodeHeader decodes RFC 2047 encoded words; on failure the raw text is
// kept.
func decodeHeader(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

// parseAddresses parses an address list leniently: a bad list is parsed
// item by item, and an unparsable item is kept as a bare mailbox.
func parseAddresses(v string) []Address {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	list, err := p.ParseList(v)
	if err == nil {
		return convertAddresses(list)
	}
	var out []Address
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if a, err := p.Parse(item); err == nil {
			out = append(out, convertAddresses([]*mail.Address{a})...)
			continue
		}
		if i := strings.LastIndexByte(item, '<'); i >= 0 {
			item = strings.TrimSuffix(item[i+1:], ">")
		}
		if strings.ContainsAny(item, " \t\"") {
			continue
		}
		out = append(out, splitAddr("", item))
	}
	return out
}

func convertAddresses(list []*mail.Address) []Address {
	out := make([]Address, 0, len(list))
	for _, a := range list {
		out = append(out, splitAddr(a.Name, a.Address))
	}
	return out
}

func splitAddr(name, addr string) Address {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return Address{Name: name, Mailbox: addr}
	}
	return Address{Name: name, Mailbox: addr[:i], Host: addr[i+1:]}
}

// parsePart builds the structure of one entity.
func parsePart(h header, body []byte, defType string, depth int, parts *int) *BodyStructure {
	*parts++
	bs := &BodyStructure{Size: int64(len(body)), Encoding: "7bit"}
	mt, params := defType, map[string]string(nil)
	if ct := h.get("content-type"); ct != "" {
		t, p, err := mime.ParseMediaType(ct)
		switch {
		case err == nil || (err == mime.ErrInvalidMediaParameter && t != ""):
			mt, params = t, p
		default:
			mt = "text/plain" // RFC 2045 5.2
		}
	}
	typ, sub, ok := strings.Cut(strings.ToLower(mt), "/")
	if !ok || typ == "" || sub == "" {
		typ, sub, params = "text", "plain", nil
	}
	bs.Type, bs.Subtype = typ, sub
	if len(params) > 0 {
		bs.Params = params
	}
	if typ == "text" && bs.Params["charset"] == "" {
		if bs.Params == nil {
			bs.Params = map[string]string{}
		}
		bs.Params["charset"] = "us-ascii" // RFC 2045 5.2
	}
	if e := strings.ToLower(strings.TrimSpace(h.get("content-transfer-encoding"))); e != "" {
		bs.Encoding = e
	}
	bs.ID = h.get("content-id")
	bs.Description = decodeHeader(h.get("content-description"))
	bs.MD5 = h.get("content-md5")
	bs.Location = h.get("content-location")
	if cd := h.get("content-disposition"); cd != "" {
		if d, p, err := mime.ParseMediaType(cd); err == nil || d != "" {
			bs.Disposition = strings.ToLower(d)
			if len(p) > 0 {
				bs.DispositionParams = p
			}
		}
	}
	if cl := h.get("content-language"); cl != "" {
		for _, l := range strings.Split(cl, ",") {
			if l = strings.TrimSpace(l); l != "" {
				bs.Language = append(bs.Language, l)
			}
		}
	}
	switch {
	case typ == "multipart":
		boundary := bs.Params["boundary"]
		var chunks [][]byte
		if boundary != "" && depth < maxMIMEDepth && *parts < maxMIMEParts {
			chunks = splitMultipart(body, boundary)
		}
		if len(chunks) == 0 {
			// No usable parts: present it as text (RFC 2046 5.1.1 asks
			// for at least one part).
			bs.Type, bs.Subtype, bs.Params = "text", "plain", map[string]string{"charset": "us-ascii"}
			bs.Lines = countLines(body)
			return bs
		}
		childType := "text/plain"
		if sub == "digest" {
			childType = "message/rfc822" // RFC 2046 5.1.5
		}
		for _, c := range chunks {
			if *parts >= maxMIMEParts {
				break
			}
			ch, cb := splitMessage(c)
			bs.Children = append(bs.Children, parsePart(ch, cb, childType, depth+1, parts))
		}
	case typ == "message" && (sub == "rfc822" || sub == "global") && depth < maxMIMEDepth:
		ih, ib := splitMessage(body)
		bs.Envelope = envelope(ih)
		bs.Body = parsePart(ih, ib, "text/plain", depth+1, parts)
		bs.Lines = countLines(body)
	case typ == "text":
		bs.Lines = countLines(body)
	}
	return bs
}

// countLines counts lines as IMAP does: line ends, plus a final line
// without one.
func countLines(b []byte) int64 {
	n := int64(bytes.Count(b, []byte("\n")))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// splitMultipart returns the bodies of a multipart's parts (RFC 2046
// 5.1.1): the CRLF before a delimiter belongs to the delimiter; preamble
// and epilogue are dropped; a missing close delimiter ends the last part
// at the end of the body.
func splitMultipart(body []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1
	pos := 0
	for pos < len(body) {
		next := len(body)
		lineEnd := len(body)
		if i := bytes.IndexByte(body[pos:], '\n'); i >= 0 {
			lineEnd = pos + i
			next = lineEnd + 1
		}
		line := bytes.TrimSuffix(body[pos:lineEnd], []byte("\r"))
		if bytes.HasPrefix(line, delim) {
			rest := line[len(delim):]
			closing := bytes.HasPrefix(rest, []byte("--"))
			if closing {
				rest = rest[2:]
			}
			if len(bytes.TrimRight(rest, " \t")) == 0 {
				if start >= 0 {
					e := pos
					if e > start && body[e-1] == '\n' {
						e--
						if e > start && body[e-1] == '\r' {
							e--
						}
					}
					parts = append(parts, body[start:e])
				}
				if closing {
					return parts
				}
				start = next
				if len(parts) >= maxMIMEParts {
					return parts
				}
			}
		}
		pos = next
	}
	if start >= 0 {
		parts = append(parts, body[start:])
	}
	return parts
}
