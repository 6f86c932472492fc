package smtpd

import (
	"crypto/tls"
	"strings"
	"time"
)

// received builds the trace field of RFC 5321 4.4:
//
//	Received: from HELO (IP-literal)
//		by HOSTNAME with PROTOCOL (using TLS1.3 with cipher ...)
//		id ID [for <rcpt>]; DATE
//
// PROTOCOL is from RFC 3848 (ESMTP, ESMTPS, ESMTPA, ESMTPSA) and RFC
// 6531 (UTF8SMTP...). "for" is given only for a single recipient, so the
// header does not disclose Bcc recipients to each other.
func (s *session) received(id string, now time.Time) string {
	var b strings.Builder
	b.WriteString("Received: from ")
	b.WriteString(heloToken(s.c.Hostname()))
	b.WriteString(" (")
	b.WriteString(addressLiteral(s.conn.ip.String(), s.conn.ip.Is6()))
	b.WriteString(")\r\n\tby ")
	b.WriteString(s.srv.opts.Hostname)
	b.WriteString(" with ")
	b.WriteString(s.protocol())
	if s.tls != nil {
		b.WriteString(" (using ")
		b.WriteString(strings.ReplaceAll(tls.VersionName(s.tls.Version), " ", ""))
		b.WriteString(" with cipher ")
		b.WriteString(tls.CipherSuiteName(s.tls.CipherSuite))
		b.WriteString(")")
	}
	b.WriteString("\r\n\tid ")
	b.WriteString(id)
	if len(s.rcpts) == 1 {
		b.WriteString(" for <")
		b.WriteString(s.rcpts[0])
		b.WriteString(">")
	}
	b.WriteString(";\r\n\t")
	b.WriteString(now.Format(time.RFC1123Z))
	b.WriteString("\r\n")
	return b.String()
}

func (s *session) protocol() string {
	p := "ESMTP"
	if s.utf8 {
		p = "UTF8SMTP"
	}
	if s.tls != nil {
		p += "S"
	}
	if s.account != "" {
		p += "A"
	}
	return p
}

func addressLiteral(ip string, v6 bool) string {
	if v6 {
		return "[IPv6:" + ip + "]"
	}
	return "[" + ip + "]"
}

// heloToken makes the client's EHLO argument safe inside a header: only
// characters of domains and address literals survive, at most 255.
func heloToken(h string) string {
	var b strings.Builder
	for i := 0; i < len(h) && b.Len() < 255; i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '-', c == '_', c == ':', c == '[', c == ']':
			b.WriteByte(c)
		default:
			b.WriteByte('?')
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}
