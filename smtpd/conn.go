package smtpd

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// listener sits between the real listener and go-smtp: it admits
// connections against the per-IP and total limits and runs the
// connection-level checks (DNSBL) before go-smtp sends its greeting, each
// in the connection's own goroutine so a slow lookup never blocks accept.
type listener struct {
	srv         *Server
	ln          net.Listener
	implicitTLS bool

	ch     chan net.Conn
	closed chan struct{} // closed by Close
	done   chan struct{} // closed when acceptLoop ends; err is then set
	err    error
	once   sync.Once
}

func newListener(s *Server, ln net.Listener, implicitTLS bool) *listener {
	l := &listener{
		srv: s, ln: ln, implicitTLS: implicitTLS,
		ch:     make(chan net.Conn),
		closed: make(chan struct{}),
		done:   make(chan struct{}),
	}
	go l.acceptLoop()
	return l
}

func (l *listener) acceptLoop() {
	defer close(l.done)
	var delay time.Duration
	for {
		raw, err := l.ln.Accept()
		if err != nil {
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() && !errors.Is(err, net.ErrClosed) {
				// Resource exhaustion (EMFILE, ENFILE) reports itself as
				// temporary: back off and retry like net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-l.closed:
				}
			}
			l.err = err
			return
		}
		delay = 0
		c := newConn(l.srv, raw)
		if c.trace != nil && l.implicitTLS {
			c.trace.encrypted("implicit TLS (RFC 8314)")
		}
		if reason := l.srv.admit(c); reason != "" {
			c.logger.Warn("connection refused", "reason", reason)
			if c.trace != nil && !l.implicitTLS {
				c.trace.server([]byte(reason + "\r\n"))
			}
			l.refuse(raw, reason)
			if c.trace != nil {
				c.trace.note("closed")
			}
			continue
		}
		go l.screen(c)
	}
}

// refuse answers a refused connection (in clear text only: a client of
// an implicit-TLS port would not understand it) and closes it.
func (l *listener) refuse(raw net.Conn, reply string) {
	if !l.implicitTLS {
		raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
		raw.Write([]byte(reply + "\r\n"))
	}
	raw.Close()
}

// screen runs the connection checks and hands the connection to go-smtp.
func (l *listener) screen(c *conn) {
	defer func() {
		if r := recover(); r != nil {
			c.logger.Error("panic in connection check", "panic", r, "stack", string(debug.Stack()))
			c.Close()
		}
	}()
	c.lookupClientName() // in parallel with the checks and the greeting
	if chk := l.srv.opts.Checker; chk != nil {
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		rej := chk.CheckConnection(ctx, c.ip)
		cancel()
		if rej != nil {
			c.logger.Info("connection rejected", "reply", rej.String())
			l.refuse(c, rej.String())
			return
		}
	}
	c.logger.Debug("connection accepted")
	select {
	case l.ch <- c:
	case <-l.closed:
		c.Close()
	}
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.done:
		return nil, l.err
	}
}

func (l *listener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		close(l.closed)
		err = l.ln.Close()
	})
	return err
}

func (l *listener) Addr() net.Addr { return l.ln.Addr() }

// errJunk ends a connection that sent too much outside transactions.
var errJunk = errors.New("smtpd: too many commands outside a mail transaction")

// conn is one accepted connection. It carries the state that must
// survive STARTTLS (go-smtp starts a new Session after it): the session
// id and logger, the error count and the junk-command budget.
type conn struct {
	net.Conn
	srv    *Server
	ip     netip.Addr
	id     string
	logger *slog.Logger
	ctx    context.Context // cancelled when the connection closes
	cancel context.CancelFunc

	trace      *tracer     // nil = no wire trace
	rdns       *clientName // nil = no reverse lookup
	closeOnce  sync.Once
	inTx       atomic.Bool  // between MAIL and the end of DATA or RSET
	dataPhase  atomic.Bool  // message data is being read
	drain      atomic.Bool  // Shutdown: close after this transaction
	closeAfter atomic.Bool  // close after the next write (the final reply)
	junk       atomic.Int64 // bytes read outside transactions
	errors     atomic.Int32 // error replies sent
	msgs       atomic.Int32 // messages received, for the Received id

	// dataDeadline is when Read last moved the read deadline during
	// DATA; only the connection's goroutine touches it.
	dataDeadline time.Time
}

func newConn(s *Server, raw net.Conn) *conn {
	id := newID(6)
	ip := addrIP(raw.RemoteAddr())
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		Conn: raw, srv: s, ip: ip, id: id,
		logger: s.logger.With("conn", id, "remote", raw.RemoteAddr().String()),
		ctx:    ctx, cancel: cancel,
	}
	if s.trace != nil {
		c.trace = newTracer(s.trace, id)
		c.trace.note("connection from " + raw.RemoteAddr().String() + " to " + raw.LocalAddr().String())
	}
	return c
}

// connOf finds our conn under go-smtp's current net.Conn (which is a
// *tls.Conn after STARTTLS or on an implicit-TLS listener).
func connOf(nc net.Conn) *conn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, _ := nc.(*conn)
	return c
}

func (c *conn) Read(p []byte) (int, error) {
	inTx := c.inTx.Load()
	if !inTx && c.junk.Load() > c.srv.opts.MaxJunkBytes {
		c.logger.Warn("closing connection", "reason", "too many commands outside a transaction")
		return 0, errJunk
	}
	if c.dataPhase.Load() {
		// go-smtp sets the read deadline once per command, which would
		// bound the whole DATA transfer; RFC 5321 4.5.3.2 times out each
		// block of data instead. Moving the deadline re-arms a runtime
		// timer, so it is moved only when 1/16 of the timeout has passed:
		// the client still gets at least 15/16 of it between blocks.
		now := time.Now()
		if t := c.srv.opts.ReadTimeout; now.Sub(c.dataDeadline) >= t/16 {
			c.Conn.SetReadDeadline(now.Add(t))
			c.dataDeadline = now
		}
	}
	n, err := c.Conn.Read(p)
	if c.trace != nil && n > 0 {
		c.trace.client(p[:n])
	}
	if !inTx {
		c.junk.Add(int64(n))
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.trace != nil && n > 0 {
		c.trace.server(p[:n])
	}
	if c.closeAfter.Load() {
		c.Close()
	}
	return n, err
}

func (c *conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		c.cancel()
		err = c.Conn.Close()
		c.srv.release(c)
		c.logger.Debug("connection closed")
		if c.trace != nil {
			c.trace.note("closed")
		}
	})
	return err
}

// beginTx marks the start of a mail transaction (MAIL accepted).
func (c *conn) beginTx() {
	c.inTx.Store(true)
	c.junk.Store(0)
}

// endTx marks the end of a transaction; during Shutdown the connection is
// closed right after the reply that ends it. The junk budget restarts only
// if a transaction was open, so a loop of RSETs still runs it down.
func (c *conn) endTx() {
	if c.inTx.Swap(false) {
		c.junk.Store(0)
	}
	if c.drain.Load() {
		c.closeAfter.Store(true)
	}
}

// closeWhenIdle closes the connection now if no transaction is running,
// otherwise after the transaction's final reply.
func (c *conn) closeWhenIdle() {
	c.drain.Store(true)
	if !c.inTx.Load() {
		c.Close()
	}
}

func addrIP(a net.Addr) netip.Addr {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns n random bytes as lower-case base32.
func newID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return idEncoding.EncodeToString(b)
}

// sanitizeLog trims client-supplied text for a log attribute.
func sanitizeLog(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.ToValidUTF8(s, "?")
}
