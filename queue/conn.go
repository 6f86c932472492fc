package queue

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// session is an open SMTP connection to one remote host.
type session struct {
	c      *smtp.Client
	host   string // name for Remote-MTA and logs
	tls    bool
	cancel func() bool // stops the context watcher
}

func (s *session) close() {
	s.cancel()
	if err := s.c.Quit(); err != nil {
		s.c.Close()
	}
}

// connect opens a session for domain: to the smarthost, or to the first
// MX host (and address) that greets us. The result is the failure to
// record when no host could be reached.
func (q *Queue) connect(ctx context.Context, domain string) (*session, *result) {
	if sh := q.opts.Smarthost; sh != nil {
		s, err := q.dialSmarthost(ctx, sh)
		if err != nil {
			r := classify(err, sh.Host)
			r.perm = false // a relay or credential problem is ours to fix, not the sender's
			return nil, &r
		}
		return s, nil
	}
	hosts, res := q.route(ctx, domain)
	if res != nil {
		return nil, res
	}
	var last *result
	for _, h := range hosts {
		ips, res := q.addrs(ctx, h)
		if res != nil {
			last = res
			continue
		}
		for _, ip := range ips {
			addr := net.JoinHostPort(ip.String(), strconv.Itoa(q.opts.Port))
			s, err := q.dialMX(ctx, addr, h.name)
			if err == nil {
				return s, nil
			}
			q.log.Info("mx unreachable", "domain", domain, "host", h.name, "addr", addr, "err", err)
			r := classify(err, h.name)
			r.perm = false // RFC 5321 5.1: try the next host; a bad host is not the recipient's fault
			r.status = "4.4.1"
			last = &r
		}
	}
	return nil, last
}

// dialMX connects to an MX host with opportunistic STARTTLS. If the TLS
// handshake fails, it reconnects once in plaintext (RFC 7435: without a
// policy such as MTA-STS, failing would only make mail less deliverable).
func (q *Queue) dialMX(ctx context.Context, addr, host string) (*session, error) {
	cfg := &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	s, err := q.dial(ctx, addr, host, cfg, tlsOpportunistic)
	var te *tlsError
	if errors.As(err, &te) {
		q.log.Info("starttls failed, retrying in plaintext", "host", host, "err", te.err)
		return q.dial(ctx, addr, host, nil, tlsNone)
	}
	return s, err
}

func (q *Queue) dialSmarthost(ctx context.Context, sh *Smarthost) (_ *session, err error) {
	port := sh.Port
	if port == 0 {
		port = 587
		if sh.ImplicitTLS {
			port = 465
		}
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if q.opts.SmarthostTLS != nil {
		cfg = q.opts.SmarthostTLS.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = sh.Host
	}
	// Resolve through our resolver, like MX hosts (closed networks, tests).
	var ips []net.IPAddr
	if ip := net.ParseIP(sh.Host); ip != nil {
		ips = []net.IPAddr{{IP: ip}}
	} else if ips, err = q.opts.Resolver.LookupIPAddr(ctx, sh.Host); err != nil {
		return nil, err
	}
	var s *session
	for _, ip := range ips {
		addr := net.JoinHostPort(ip.String(), strconv.Itoa(port))
		mode := tlsRequired
		if sh.ImplicitTLS {
			mode = tlsImplicit
		}
		if s, err = q.dial(ctx, addr, sh.Host, cfg, mode); err == nil {
			break
		}
	}
	if s == nil {
		if err == nil {
			err = fmt.Errorf("smarthost %s has no address", sh.Host)
		}
		return nil, err
	}
	if sh.Username != "" {
		if err := s.c.Auth(sasl.NewPlainClient("", sh.Username, sh.Password)); err != nil {
			s.close()
			return nil, fmt.Errorf("smarthost auth: %w", err)
		}
	}
	return s, nil
}

// tlsError marks a STARTTLS failure, after which dialMX retries in
// plaintext.
type tlsError struct{ err error }

func (e *tlsError) Error() string { return "starttls: " + e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

// tlsMode says how dial uses TLS.
type tlsMode int

const (
	tlsNone          tlsMode = iota // plaintext (fallback after a failed STARTTLS)
	tlsOpportunistic                // STARTTLS if offered (MX hosts)
	tlsRequired                     // STARTTLS or fail (smarthost)
	tlsImplicit                     // TLS from the first byte (smarthost, port 465)
)

// dial connects to addr and returns a session after EHLO, using TLS as
// mode says, with cfg.
//
// go-smtp's client always says EHLO as "localhost" before STARTTLS, so the
// greeting, first EHLO and STARTTLS are done here with our hostname, and
// the client is then started on the (TLS) connection with a replayed
// greeting.
func (q *Queue) dial(ctx context.Context, addr, host string, cfg *tls.Config, mode tlsMode) (*session, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	fail := func(err error) (*session, error) {
		stop()
		raw.Close()
		return nil, err
	}
	var conn net.Conn = raw
	tlsOn := false
	if mode == tlsImplicit {
		tc := tls.Client(raw, cfg)
		hctx, cancel := context.WithTimeout(ctx, q.opts.Timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return fail(err)
		}
		conn, tlsOn = tc, true
	}
	// greeting stays empty when go-smtp reads the server's real greeting.
	greeting := ""
	br := bufio.NewReader(conn)
	if mode == tlsOpportunistic || mode == tlsRequired {
		greeting = "220 " + host + " ESMTP\r\n"
		conn.SetDeadline(time.Now().Add(q.opts.Timeout))
		tp := textproto.NewConn(struct {
			io.Reader
			io.WriteCloser
		}{br, conn})
		if _, _, err := readReply(tp, 220); err != nil {
			return fail(err)
		}
		if err := tp.PrintfLine("EHLO %s", q.opts.Hostname); err != nil {
			return fail(err)
		}
		_, msg, err := readReply(tp, 250)
		var se *smtp.SMTPError
		switch {
		case errors.As(err, &se) && (se.Code == 500 || se.Code == 502) && mode == tlsOpportunistic:
			// No EHLO, so no STARTTLS: go-smtp's client falls back to HELO
			// below (RFC 5321 4.1.4 allows a new greeting).
			msg = ""
		case err != nil:
			return fail(err)
		}
		if hasExtension(msg, "STARTTLS") {
			if err := tp.PrintfLine("STARTTLS"); err != nil {
				return fail(err)
			}
			if _, _, err := readReply(tp, 220); err != nil {
				return fail(&tlsError{err})
			}
			tc := tls.Client(conn, cfg)
			hctx, cancel := context.WithTimeout(ctx, q.opts.Timeout)
			err := tc.HandshakeContext(hctx)
			cancel()
			if err != nil {
				if mode == tlsRequired {
					return fail(err)
				}
				return fail(&tlsError{err})
			}
			conn, tlsOn = tc, true
			br = bufio.NewReader(conn)
		} else if mode == tlsRequired {
			return fail(errors.New("smarthost does not offer STARTTLS"))
		}
		conn.SetDeadline(time.Time{})
	}
	pc := &prefixConn{Conn: conn, r: io.MultiReader(strings.NewReader(greeting), br)}
	c := smtp.NewClient(pc)
	c.CommandTimeout = q.opts.Timeout
	// RFC 5321 4.5.3.2.6: 10 minutes for the reply to the final dot.
	c.SubmissionTimeout = max(q.opts.Timeout, 10*time.Minute)
	if err := c.Hello(q.opts.Hostname); err != nil {
		c.Close()
		return fail(err)
	}
	return &session{c: c, host: host, tls: tlsOn, cancel: stop}, nil
}

// readReply reads one (multi-line) reply and converts a wrong code into an
// *smtp.SMTPError so that classify sees its code.
func readReply(tp *textproto.Conn, want int) (int, string, error) {
	code, msg, err := tp.ReadResponse(want)
	var pe *textproto.Error
	if errors.As(err, &pe) {
		return code, msg, &smtp.SMTPError{Code: pe.Code, Message: pe.Msg}
	}
	return code, msg, err
}

// hasExtension looks for ext among the keywords of an EHLO reply's lines
// after the first (RFC 5321 4.1.1.1).
func hasExtension(msg, ext string) bool {
	lines := strings.Split(msg, "\n")
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 && strings.EqualFold(f[0], ext) {
			return true
		}
	}
	return false
}

// prefixConn replays already-read bytes (and a synthetic greeting) before
// reading from the connection.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }
