package smtpd

import (
	"crypto/tls"
	"net/netip"
	"strings"
	"time"
)

// received builds the trace field of RFC 5321 4.4:
//
//	Received: from HELO (NAME IP-literal)
//		by HOSTNAME with PROTOCOL (using TLS1.3 with cipher ...)
//		id ID [for <rcpt>]; DATE
//
// PROTOCOL is from RFC 3848 (ESMTP, ESMTPS, ESMTPA, ESMTPSA) and RFC
// 6531 (UTF8SMTP...). "for" is given only for a single recipient, so the
// header does not disclose Bcc recipients to each other.
func (s *session) received(id string, now time.Time) []byte {
	// One allocation, sized for the usual field; appended to in place.
	b := make([]byte, 0, 320)
	b = append(b, "Received: from "...)
	b = appendHeloToken(b, s.c.Hostname())
	b = append(b, " ("...)
	b = s.conn.appendTCPInfo(b)
	b = append(b, ")\r\n\tby "...)
	b = append(b, s.srv.opts.Hostname...)
	b = append(b, " with "...)
	b = append(b, s.protocol()...)
	if s.tls != nil {
		b = append(b, " (using "...)
		b = append(b, strings.ReplaceAll(tls.VersionName(s.tls.Version), " ", "")...)
		b = append(b, " with cipher "...)
		b = append(b, tls.CipherSuiteName(s.tls.CipherSuite)...)
		b = append(b, ')')
	}
	b = append(b, "\r\n\tid "...)
	b = append(b, id...)
	if len(s.rcpts) == 1 {
		b = append(b, " for <"...)
		b = append(b, s.rcpts[0]...)
		b = append(b, '>')
	}
	b = append(b, ";\r\n\t"...)
	b = now.AppendFormat(b, time.RFC1123Z)
	return append(b, "\r\n"...)
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

func appendAddressLiteral(b []byte, ip netip.Addr) []byte {
	if ip.Is6() {
		b = append(b, "[IPv6:"...)
	} else {
		b = append(b, '[')
	}
	b = ip.AppendTo(b)
	return append(b, ']')
}

// heloToken makes the client's EHLO argument safe inside a header: only
// characters of domains and address literals survive, at most 255.
func heloToken(h string) string { return string(appendHeloToken(nil, h)) }

func appendHeloToken(b []byte, h string) []byte {
	start := len(b)
	for i := 0; i < len(h) && len(b)-start < 255; i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '-', c == '_', c == ':', c == '[', c == ']':
			b = append(b, c)
		default:
			b = append(b, '?')
		}
	}
	if len(b) == start {
		b = append(b, "unknown"...)
	}
	return b
}
