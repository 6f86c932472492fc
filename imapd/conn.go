package imapd

import (
	"net"
	"sync"
	"time"
)

// limitedConn is the raw connection under the library. It releases the
// per-IP slot when closed and applies Options.IdleTimeout.
type limitedConn struct {
	net.Conn
	srv     *Server
	release func()
	once    sync.Once
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
	if !t.IsZero() && time.Until(t) > longDeadline {
		t = time.Now().Add(c.srv.idleTimeout)
	}
	return c.Conn.SetReadDeadline(t)
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
