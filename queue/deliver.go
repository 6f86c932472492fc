package queue

import (
	"errors"
	"io"
	"os"

	"github.com/emersion/go-smtp"
)

// send runs one transaction on s for message m and the recipients in
// rcpts (all of one domain). It returns one result per recipient, in
// order, and whether the connection is still usable for another message.
func (q *Queue) send(s *session, m *message, rcpts []rcptRef) ([]result, bool) {
	res := make([]result, len(rcpts))
	all := func(r result) []result {
		for i := range res {
			res[i] = r
		}
		return res
	}
	if m.meta.UTF8 {
		if ok, _ := s.c.Extension("SMTPUTF8"); !ok {
			// RFC 6531 3.5: without SMTPUTF8 on the server the message
			// cannot be delivered as it is; downgrading is out of scope.
			r := permFail("5.6.7", "%s does not support SMTPUTF8, which the message needs", s.host)
			r.remote = s.host
			return all(r), true
		}
	}
	f, err := os.Open(q.msgPath(m.id))
	if err != nil {
		q.log.Error("message file missing", "id", m.id, "err", err)
		return all(tempFail("4.3.0", "local error reading the queued message")), true
	}
	defer f.Close()

	if err := s.c.Mail(m.meta.From, &smtp.MailOptions{UTF8: m.meta.UTF8, Size: m.meta.Size}); err != nil {
		r := classify(err, s.host)
		s.reset()
		return all(r), alive(err)
	}
	var accepted []int
	for i, r := range rcpts {
		if err := s.c.Rcpt(r.rec.Rcpt, nil); err != nil {
			res[i] = classify(err, s.host)
			if !alive(err) {
				for j := i + 1; j < len(rcpts); j++ {
					res[j] = res[i]
				}
				for _, j := range accepted {
					res[j] = res[i]
				}
				return res, false
			}
			continue
		}
		accepted = append(accepted, i)
	}
	if len(accepted) == 0 {
		s.reset()
		return res, true
	}
	setAccepted := func(r result) {
		for _, i := range accepted {
			res[i] = r
		}
	}
	w, err := s.c.Data()
	if err != nil {
		r := classify(err, s.host)
		setAccepted(r)
		s.reset()
		return res, alive(err)
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Close()
		setAccepted(classify(err, s.host))
		return res, false
	}
	if _, err := w.CloseWithResponse(); err != nil {
		setAccepted(classify(err, s.host))
		return res, alive(err)
	}
	setAccepted(success(s.host))
	return res, true
}

// reset aborts a failed transaction so the next message can use the
// connection (RFC 5321 4.1.1.5).
func (s *session) reset() {
	s.c.Reset()
}

// alive reports whether the connection survives err: an SMTP reply leaves
// it usable, except 421 (RFC 5321 3.8: the server is closing).
func alive(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code != 421
}
