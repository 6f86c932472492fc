package imapd

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limitedConn is the raw connection under the library. It releases the
// per-IP slot when closed and applies Options.IdleTimeout.
type limitedConn struct {
	net.Conn
	srv     *Server
	release func()
	once    sync.Once
	idle    atomic.Bool // the read deadline is the idle timeout
}

func (c *limitedConn) Close() error {
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

// Read closes the connection when the idle timeout expires. Without this
// the library would re-arm its 30 s command timeout and read again, so the
// client would get IdleTimeout + 30 s.
func (c *limitedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	var ne net.Error
	if err != nil && c.idle.Load() && errors.As(err, &ne) && ne.Timeout() {
		c.Close()
	}
	return n, err
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
