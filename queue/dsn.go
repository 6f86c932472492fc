package queue

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// report sends a delivery status notification about rcpts of m to its
// envelope sender: a bounce (Action: failed) or, with delayed, a delay
// notice (Action: delayed). Reports to a local sender go to Options.Local,
// others through the queue with a null sender (RFC 3464 2, RFC 5321 4.5.5).
func (q *Queue) report(ctx context.Context, m *message, rcpts []rcptRef, delayed bool) error {
	to := m.meta.From
	if to == "" {
		return nil // never report on a report
	}
	hdr, err := q.originalHeader(m.id)
	if err != nil {
		return err
	}
	msg := q.buildDSN(m, rcpts, hdr, delayed)
	if q.opts.Local != nil && q.opts.IsLocal(domainOf(to)) {
		return q.opts.Local.DeliverLocal(ctx, "", to, bytes.NewReader(msg))
	}
	_, err = q.enqueue(ctx, "", []string{to}, msg, true)
	return err
}

// originalHeader returns the header section of the queued message, for the
// text/rfc822-headers part (RFC 6522): enough to identify the message
// without returning its content.
func (q *Queue) originalHeader(id string) ([]byte, error) {
	f, err := os.Open(q.msgPath(id))
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var out bytes.Buffer
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && (string(line) == "\r\n" || string(line) == "\n") {
			break
		}
		out.Write(line)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
		if out.Len() > 64<<10 {
			break // a runaway header is not worth returning in full
		}
	}
	return out.Bytes(), nil
}

// buildDSN formats an RFC 3464 multipart/report with a human-readable part,
// the message/delivery-status part and the original header section.
func (q *Queue) buildDSN(m *message, rcpts []rcptRef, origHdr []byte, delayed bool) []byte {
	now := q.opts.Now()
	var rnd [12]byte
	rand.Read(rnd[:])
	boundary := "=_postel_" + hex.EncodeToString(rnd[:])
	subject, action := "Undelivered Mail Returned to Sender", "failed"
	if delayed {
		subject, action = "Delayed Mail (still being retried)", "delayed"
	}
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	w("From: Mail Delivery System <MAILER-DAEMON@%s>", q.opts.Hostname)
	w("To: <%s>", m.meta.From)
	w("Subject: %s", subject)
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <%s.%s@%s>", hex.EncodeToString(rnd[:6]), action, q.opts.Hostname)
	// RFC 3834 5: automatic messages say so, so that nothing auto-replies.
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"", boundary)
	w("")
	w("This is a MIME-encapsulated message.")
	w("")

	w("--%s", boundary)
	w("Content-Type: text/plain; charset=utf-8")
	w("Content-Description: Notification")
	w("")
	if delayed {
		w("This is the mail system at %s.", q.opts.Hostname)
		w("")
		w("Your message has not been delivered yet to the recipients below.")
		w("Delivery will be retried until %s; you do not need to resend it.",
			m.meta.Created.Add(q.opts.Expire).Format(time.RFC1123Z))
	} else {
		w("This is the mail system at %s.", q.opts.Hostname)
		w("")
		w("Your message could not be delivered to the recipients below.")
		w("This is a permanent error; the message was not delivered to them.")
	}
	w("")
	for _, r := range rcpts {
		w("<%s>: %s", r.rec.Rcpt, oneLine(r.rec.LastError))
	}
	w("")

	w("--%s", boundary)
	// RFC 6533 6.2 would use message/global-delivery-status for UTF-8
	// addresses; those are rare enough that utf-8 address types in the
	// plain type are accepted by common parsers.
	w("Content-Type: message/delivery-status")
	w("Content-Description: Delivery report")
	w("")
	// RFC 3464 2.2: per-message fields.
	w("Reporting-MTA: dns; %s", q.opts.Hostname)
	w("Arrival-Date: %s", m.meta.Created.Format(time.RFC1123Z))
	for _, r := range rcpts {
		// RFC 3464 2.3: per-recipient fields, each group after a blank line.
		w("")
		w("Final-Recipient: %s", addrType(r.rec.Rcpt))
		w("Action: %s", action)
		status := r.rec.DSNStatus
		if status == "" {
			status = map[bool]string{true: "4.0.0", false: "5.0.0"}[delayed]
		}
		w("Status: %s", status)
		if r.rec.RemoteMTA != "" {
			w("Remote-MTA: dns; %s", r.rec.RemoteMTA)
		}
		if r.rec.LastError != "" {
			if r.rec.SMTPReply {
				w("Diagnostic-Code: smtp; %s", oneLine(r.rec.LastError))
			} else {
				w("Diagnostic-Code: X-Postel; %s", oneLine(r.rec.LastError))
			}
		}
		if !r.rec.LastTry.IsZero() {
			w("Last-Attempt-Date: %s", r.rec.LastTry.Format(time.RFC1123Z))
		}
		if delayed {
			w("Will-Retry-Until: %s", m.meta.Created.Add(q.opts.Expire).Format(time.RFC1123Z))
		}
	}
	w("")

	w("--%s", boundary)
	w("Content-Type: text/rfc822-headers")
	w("Content-Description: Undelivered message headers")
	w("")
	b.Write(toCRLF(origHdr))
	if !bytes.HasSuffix(origHdr, []byte("\n")) {
		w("")
	}
	w("")
	w("--%s--", boundary)
	return b.Bytes()
}

// addrType formats an address for Final-Recipient (RFC 3464 2.3.2): type
// rfc822 for ASCII, utf-8 (RFC 6533 3) otherwise.
func addrType(a string) string {
	if isASCII(a) {
		return "rfc822; " + a
	}
	return "utf-8; " + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, a)
}

func (q *Queue) markDelayNotified(id string) error {
	return q.db.Update(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketMsg)
		var meta msgRecord
		ok, err := getJSON(mb, []byte(id), &meta)
		if err != nil || !ok {
			return err
		}
		meta.DelayNotified = true
		return putJSON(mb, []byte(id), meta)
	})
}
