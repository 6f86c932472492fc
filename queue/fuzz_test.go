package queue

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// FuzzReportFromRemoteReply: whatever text a remote server replies with
// (it is network input), the bounce built from it stays a well-formed
// RFC 3464 report with exactly one recipient block and one
// Diagnostic-Code line: no header or MIME-boundary injection.
func FuzzReportFromRemoteReply(f *testing.F) {
	f.Add(550, "5.1.1 user unknown")
	f.Add(554, "line one\nline two\r\nFinal-Recipient: rfc822; evil@x")
	f.Add(451, "\r\n--=_postel_00\r\nContent-Type: text/html\r\n\r\n<b>")
	f.Add(550, "caf\xc3\xa9 \x00\x7f\xff")
	f.Fuzz(func(t *testing.T, code int, text string) {
		if code < 400 || code > 599 {
			code = 550
		}
		q := &Queue{opts: Options{Hostname: "mail.example.org", Now: newClock().Now, Expire: DefaultExpire}}
		r := classify(&smtp.SMTPError{Code: code, Message: text}, "mx.example")
		m := &message{id: "x", meta: msgRecord{From: "alice@example.org", Created: q.opts.Now()}}
		rec := rcptRef{rec: rcptRecord{Rcpt: "bob@example.net", Status: stFailed, LastError: r.text,
			DSNStatus: r.status, RemoteMTA: r.remote, SMTPReply: r.reply, LastTry: q.opts.Now()}}
		out := q.buildDSN(m, []rcptRef{rec}, []byte("Subject: hi\r\n"), false)

		msg, err := mail.ReadMessage(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("report does not parse: %v", err)
		}
		_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		if err != nil {
			t.Fatal(err)
		}
		mr := multipart.NewReader(msg.Body, params["boundary"])
		parts := 0
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("part: %v", err)
			}
			body, _ := io.ReadAll(p)
			parts++
			if p.Header.Get("Content-Type") == "message/delivery-status" {
				s := "\n" + strings.ReplaceAll(string(body), "\r\n", "\n")
				if n := strings.Count(s, "\nFinal-Recipient:"); n != 1 {
					t.Fatalf("%d Final-Recipient fields", n)
				}
				if n := strings.Count(s, "\nDiagnostic-Code:"); n != 1 {
					t.Fatalf("%d Diagnostic-Code fields", n)
				}
			}
		}
		if parts != 3 {
			t.Fatalf("%d parts, want 3", parts)
		}
	})
}

// FuzzHasExtension: the EHLO reply parser never panics and finds only
// keywords at the start of a line after the first.
func FuzzHasExtension(f *testing.F) {
	f.Add("mx.example greets you\nPIPELINING\nSTARTTLS\nSIZE 1000")
	f.Add("STARTTLS")
	f.Fuzz(func(t *testing.T, msg string) {
		got := hasExtension(msg, "STARTTLS")
		lines := strings.Split(msg, "\n")
		if len(lines) < 2 && got {
			t.Fatal("found an extension in the greeting line")
		}
	})
}
