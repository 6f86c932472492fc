package smtpd

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"postel/checks"
	"postel/storage"
)

// Data implements smtp.Session. The message is read completely (and
// spooled) before anything is decided, so that the checks and the header
// rules see the whole message; then it is delivered and the reply says
// whether every copy is durable.
func (s *session) Data(r io.Reader) (err error) {
	defer s.recoverPanic(&err)
	defer s.conn.endTx()
	began := time.Now()
	start := s.srv.opts.Now()
	sp := s.srv.getSpool()
	defer s.srv.putSpool(sp)
	var lines lineEndChecker
	s.conn.dataPhase.Store(true)
	defer s.conn.dataPhase.Store(false)
	buf := s.srv.bufs.Get().(*[]byte)
	err = copyData(sp, &lines, r, *buf)
	s.srv.bufs.Put(buf)
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		s.logger.Info("client timed out in DATA")
		s.hangup(errDataTimeout)
		return errDataTimeout
	}
	if err != nil {
		return s.fail(err)
	}
	if lines.Bad() {
		s.logger.Info("message refused", "reason", "bare CR or LF", "from", sanitizeLog(s.from))
		return s.fail(errBareLine)
	}
	id := s.conn.id + "." + strconv.Itoa(int(s.conn.msgs.Add(1)))
	var res result
	if s.srv.opts.Mode == Submission {
		res, err = s.submit(sp, id, start)
	} else {
		res, err = s.receive(sp, id, start)
	}
	if err != nil {
		return s.fail(err)
	}
	// LogAttrs behind Enabled: no attribute is built (or boxed into an
	// interface) when the level is off.
	if ctx := s.conn.ctx; s.logger.Enabled(ctx, slog.LevelInfo) {
		s.logger.LogAttrs(ctx, slog.LevelInfo, "message accepted",
			slog.String("id", id), slog.String("from", sanitizeLog(s.from)),
			slog.Int("rcpts", len(s.rcpts)), slog.Int("local", len(s.local)),
			slog.Int("remote", len(s.remote)), slog.Int64("size", sp.Size()),
			slog.String("mailbox", res.mailbox), slog.String("queue_id", res.queueID),
			slog.Int64("ms", time.Since(began).Milliseconds()))
	}
	return nil
}

type result struct {
	mailbox string // inbound: INBOX or Junk
	queueID string // submission: the queue's id for remote recipients
}

// receive runs the inbound checks and delivers to the local recipients.
func (s *session) receive(sp *spool, id string, now time.Time) (result, error) {
	mailbox := "INBOX"
	var authResults string
	body := sp.Reader()
	if chk := s.srv.opts.Checker; chk != nil {
		env := checks.Envelope{
			RemoteIP: s.conn.ip,
			Helo:     s.c.Hostname(),
			MailFrom: s.from,
			Rcpts:    s.rcpts,
			TLS:      s.tls != nil,
		}
		v := chk.CheckMessage(s.conn.ctx, env, sp.Reader())
		switch v.Action {
		case checks.Reject:
			s.logger.Info("message refused", "id", id, "reason", "checks", "from", sanitizeLog(s.from))
			return result{}, rejection(v.Reject, errContentCheck)
		case checks.Junk:
			mailbox = "Junk"
		}
		authResults = v.Header
		// A header claiming our authserv-id can only be forged. A message
		// in memory without any Authentication-Results skips the filter.
		if sp.f != nil || checks.MayHaveAuthResults(sp.buf) {
			body = checks.StripAuthResults(sp.Reader(), s.srv.opts.Hostname)
		}
	}
	prefix := append(s.received(id, now), authResults...)
	targets := make([]storage.Target, len(s.local))
	for i, acct := range s.local {
		targets[i] = storage.Target{Account: acct, Mailbox: mailbox}
	}
	msg := io.MultiReader(bytes.NewReader(prefix), body)
	if err := s.srv.opts.Delivery.Deliver(s.conn.ctx, s.from, targets, msg); err != nil {
		return result{}, err
	}
	return result{mailbox: mailbox}, nil
}

// copyData reads the message into the spool while watching line ends.
func copyData(sp *spool, lines *lineEndChecker, r io.Reader, buf []byte) error {
	for {
		n, err := r.Read(buf)
		if n > 0 {
			lines.Write(buf[:n])
			if _, werr := sp.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// lineEndChecker notices any CR not followed by LF and any LF not
// preceded by CR (RFC 5321 2.3.8: only CRLF ends a line in SMTP).
type lineEndChecker struct {
	prevCR bool
	bad    bool
}

func (l *lineEndChecker) Write(p []byte) {
	if l.bad || len(p) == 0 {
		return
	}
	if l.prevCR {
		if p[0] != '\n' {
			l.bad = true
			return
		}
		p = p[1:]
		l.prevCR = false
	}
	// Line by line with bytes.IndexByte (vectorised) rather than a byte
	// loop: this runs over every byte of every message.
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			// No LF left: a CR may only be the last byte (its LF may come
			// in the next write).
			switch cr := bytes.IndexByte(p, '\r'); {
			case cr < 0:
			case cr == len(p)-1:
				l.prevCR = true
			default:
				l.bad = true
			}
			return
		}
		// The LF must follow a CR, and that CR must be the line's first.
		if i == 0 || bytes.IndexByte(p[:i], '\r') != i-1 {
			l.bad = true
			return
		}
		p = p[i+1:]
	}
}

// Bad reports whether a bare CR or LF was seen (a trailing CR counts).
func (l *lineEndChecker) Bad() bool { return l.bad || l.prevCR }
