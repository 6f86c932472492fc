package storage

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
	"unicode/utf8"
)

// maxSearchText bounds the decoded text kept for one message.
const maxSearchText = 16 << 20

// extractText returns the decoded text of a message for BODY/TEXT search:
// every text/* part with its transfer encoding undone and its charset
// converted to UTF-8, and embedded messages' headers and text.
func extractText(b []byte) string {
	var sb strings.Builder
	h, body := splitMessage(b)
	parts := 0
	collectText(&sb, h, body, "text/plain", 0, &parts)
	return sb.String()
}

func collectText(sb *strings.Builder, h header, body []byte, defType string, depth int, parts *int) {
	*parts++
	if sb.Len() > maxSearchText || depth > maxMIMEDepth || *parts > maxMIMEParts {
		return
	}
	mt, params := defType, map[string]string{}
	if ct := h.get("content-type"); ct != "" {
		if t, p, err := mime.ParseMediaType(ct); err == nil || t != "" {
			mt, params = strings.ToLower(t), p
		} else {
			mt = "text/plain"
		}
	}
	typ, sub, _ := strings.Cut(mt, "/")
	switch {
	case typ == "multipart":
		child := "text/plain"
		if sub == "digest" {
			child = "message/rfc822"
		}
		chunks := splitMultipart(body, params["boundary"])
		if params["boundary"] == "" || len(chunks) == 0 {
			sb.Write(body)
			return
		}
		for _, c := range chunks {
			ch, cb := splitMessage(c)
			collectText(sb, ch, cb, child, depth+1, parts)
		}
	case typ == "message" && (sub == "rfc822" || sub == "global"):
		ih, ib := splitMessage(decodeTransfer(h, body))
		for _, f := range ih {
			sb.WriteString(f.key + ": " + decodeHeader(f.value) + "\n")
		}
		collectText(sb, ih, ib, "text/plain", depth+1, parts)
	case typ == "text" || typ == "":
		sb.WriteString(decodeCharset(decodeTransfer(h, body), params["charset"]))
		sb.WriteByte('\n')
	}
}

// decodeTransfer undoes Content-Transfer-Encoding; undecodable input is
// returned as far as it decoded (or raw).
func decodeTransfer(h header, body []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(h.get("content-transfer-encoding"))) {
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil && len(out) == 0 {
			return body
		}
		return out
	case "base64":
		clean := make([]byte, 0, len(body))
		for _, c := range body {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				clean = append(clean, c)
			}
		}
		clean = bytes.TrimRight(clean, "=")
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, clean)
		return out[:n]
	}
	return body
}

// decodeCharset converts text to UTF-8; unknown charsets keep valid UTF-8
// as is.
func decodeCharset(b []byte, charset string) string {
	cs := strings.ToLower(strings.TrimSpace(charset))
	switch cs {
	case "", "us-ascii", "utf-8", "utf8":
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	r, err := charsetReader(cs, bytes.NewReader(b))
	if err != nil {
		if utf8.Valid(b) {
			return string(b)
		}
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	out, err := io.ReadAll(r)
	if err != nil && len(out) == 0 {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(out)
}
