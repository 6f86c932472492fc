package queue

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// result is the outcome of one delivery attempt for one recipient.
type result struct {
	ok     bool
	perm   bool   // permanent failure (5xx or equivalent)
	text   string // "550 5.1.1 no such user" or a local description
	status string // RFC 3463 status for reports
	remote string // host the reply came from
	reply  bool   // text is the remote's SMTP reply (Diagnostic-Code: smtp)
}

func success(remote string) result { return result{ok: true, remote: remote, status: "2.0.0"} }

// tempFail is a temporary local failure (DNS, connection, TLS, ...).
func tempFail(status, format string, args ...any) result {
	return result{status: status, text: fmt.Sprintf(format, args...)}
}

// permFail is a permanent local failure (null MX, no such domain, ...).
func permFail(status, format string, args ...any) result {
	return result{perm: true, status: status, text: fmt.Sprintf(format, args...)}
}

// classify turns a go-smtp client error into a result. SMTP replies keep
// their code; anything else (I/O, timeouts) is a temporary failure, RFC
// 5321 4.5.4.1: the client must retry.
func classify(err error, remote string) result {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		r := result{remote: remote, reply: true, perm: se.Code >= 500}
		msg := oneLine(se.Message)
		ec := se.EnhancedCode
		if (ec[0] == 4 || ec[0] == 5) && ec[0] == se.Code/100 {
			r.status = fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2])
			r.text = fmt.Sprintf("%d %s %s", se.Code, r.status, msg)
		} else {
			r.status = fmt.Sprintf("%d.0.0", se.Code/100)
			r.text = fmt.Sprintf("%d %s", se.Code, msg)
		}
		if se.Code < 400 || se.Code >= 600 {
			// Nonsense reply code: treat as temporary.
			r.perm, r.status = false, "4.0.0"
		}
		return r
	}
	return result{remote: remote, status: "4.4.2", text: "connection: " + oneLine(err.Error())}
}

// oneLine folds a multi-line reply into one line of printable ASCII, safe
// for a report header field and a log attribute.
func oneLine(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || r >= 0x80:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// backoff is the wait after the n-th failed attempt (n >= 1): about 5m,
// 10m, 20m, 40m, 1h, 2h, 4h, then every 4h (the schedule, close to
// Postfix's doubling between minimal and maximal backoff).
func backoff(n int) time.Duration {
	steps := []time.Duration{
		5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute,
		time.Hour, 2 * time.Hour, 4 * time.Hour,
	}
	if n < 1 {
		n = 1
	}
	return steps[min(n, len(steps))-1]
}
