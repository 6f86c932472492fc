package imapd

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limitedConn is the raw connection under the library (and under TLS). It
// releases the per-IP slot when closed, applies Options.IdleTimeout, and
// coalesces writes.
//
// Write coalescing: the library flushes its bufio.Writer after every
// response line, which is one write(2) per message of a FETCH (100,000
// syscalls for "UID FETCH 1:* FLAGS" on a large mailbox). limitedConn
// buffers those writes and sends them when the buffer fills, before every
// Read (a server reads only after answering, so replies are never held
// back while the client waits), on Close, and at the latest flushDelay
// after the first buffered byte (unilateral IDLE data). Write deadlines are
// applied per flush, since the library's own deadlines would be cleared
// before the bytes leave.
type limitedConn struct {
	net.Conn
	srv     *Server
	release func()
	once    sync.Once
	idle    atomic.Bool // the read deadline is the idle timeout
	trace   *connTrace  // nil unless Options.Trace; stops at STARTTLS

	wmu   sync.Mutex
	wbuf  *[]byte     // pooled, nil when empty
	timer *time.Timer // flushes a buffer nobody else flushes
	armed bool
	werr  error // sticky write error
}

const (
	flushDelay   = time.Millisecond
	maxBuffered  = 32 << 10
	writeTimeout = time.Minute // per flush of at most maxBuffered bytes
)

var wbufPool = sync.Pool{New: func() any { b := make([]byte, 0, maxBuffered); return &b }}

func (c *limitedConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.trace != nil {
		if isTLSRecord(p) {
			c.trace = nil // STARTTLS done: ciphertext from here on
		} else {
			c.trace.server(p)
		}
	}
	if c.werr != nil {
		return 0, c.werr
	}
	if c.wbuf != nil && len(*c.wbuf)+len(p) > maxBuffered {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) >= maxBuffered {
		c.Conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		n, err := c.Conn.Write(p)
		if err != nil {
			c.werr = err
		}
		return n, err
	}
	if c.wbuf == nil {
		c.wbuf = wbufPool.Get().(*[]byte)
	}
	*c.wbuf = append(*c.wbuf, p...)
	if !c.armed {
		c.armed = true
		if c.timer == nil {
			c.timer = time.AfterFunc(flushDelay, c.timerFlush)
		} else {
			c.timer.Reset(flushDelay)
		}
	}
	return len(p), nil
}

func (c *limitedConn) flushLocked() error {
	if c.wbuf == nil {
		return c.werr
	}
	buf := c.wbuf
	c.wbuf = nil
	if c.werr == nil && len(*buf) > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := c.Conn.Write(*buf); err != nil {
			c.werr = err
		}
	}
	*buf = (*buf)[:0]
	wbufPool.Put(buf)
	return c.werr
}

func (c *limitedConn) timerFlush() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.armed = false
	c.flushLocked()
}

// SetWriteDeadline is ignored: flushes set their own deadline.
func (c *limitedConn) SetWriteDeadline(time.Time) error { return nil }

// SetDeadline only sets the read deadline, for the same reason.
func (c *limitedConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *limitedConn) Close() error {
	c.wmu.Lock()
	if c.werr == nil && c.wbuf != nil {
		// A BYE or last answer goes out, but never blocks Close for long.
		c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Conn.Write(*c.wbuf)
	}
	if c.wbuf != nil {
		*c.wbuf = (*c.wbuf)[:0]
		wbufPool.Put(c.wbuf)
		c.wbuf = nil
	}
	c.werr = net.ErrClosed
	if c.timer != nil {
		c.timer.Stop()
	}
	c.wmu.Unlock()
	c.once.Do(c.release)
	return c.Conn.Close()
}

// longDeadline separates the library's command timeout (30 s) and literal
// timeout (5 min) from its idle timeout (35 min), which we replace with the
// configured Options.IdleTimeout.
const longDeadline = 10 * time.Minute

func (c *limitedConn) SetReadDeadline(t time.Time) error {
	idle := !t.IsZero() && time.Until(t) > longDeadline
	if idle {
		t = time.Now().Add(c.srv.idleTimeout)
	}
	c.idle.Store(idle)
	return c.Conn.SetReadDeadline(t)
}

// Read flushes pending output first, and closes the connection when the
// idle timeout expires (without this the library would re-arm its 30 s
// command timeout and read again, giving IdleTimeout + 30 s).
func (c *limitedConn) Read(p []byte) (int, error) {
	c.wmu.Lock()
	err := c.flushLocked()
	c.wmu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if t := c.traceForRead(); t != nil && n > 0 {
		if isTLSRecord(p[:n]) {
			c.wmu.Lock()
			c.trace = nil
			c.wmu.Unlock()
		} else {
			t.client(p[:n])
		}
	}
	var ne net.Error
	if err != nil && c.idle.Load() && errors.As(err, &ne) && ne.Timeout() {
		c.Close()
	}
	return n, err
}

func (c *limitedConn) traceForRead() *connTrace {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.trace
}

// isTLSRecord spots the start of a TLS record (handshake 0x16, alert 0x15,
// application data 0x17, version 3.x), which no IMAP line begins with.
func isTLSRecord(p []byte) bool {
	return len(p) >= 3 && p[0] >= 0x14 && p[0] <= 0x17 && p[1] == 3
}

// chanListener is a net.Listener fed by our own accept loops, so that one
// library server can serve connections accepted on several real listeners.
type chanListener struct {
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), closed: make(chan struct{})}
}

// deliver hands c to Accept; false if the listener is closed.
func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return dummyAddr{} }

type dummyAddr struct{}

func (dummyAddr) Network() string { return "imapd" }
func (dummyAddr) String() string  { return "imapd" }
