package checks

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// EarlyTalkerListener wraps ln so that every accepted connection is held
// for wait before Accept returns it. A client that sends anything in that
// time — before it could have seen our greeting — is a spam engine that
// does not speak SMTP properly (RFC 5321 4.3.1: the client waits for the
// greeting). It gets "554 5.5.1" and is closed, and never reaches the SMTP
// server. Each connection is screened on its own goroutine, so one slow or
// silent client never holds up the accept loop. Closing the returned
// listener closes ln and every connection still being screened.
func EarlyTalkerListener(ln net.Listener, wait time.Duration, logger *slog.Logger) net.Listener {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &earlyTalker{
		Listener: ln,
		wait:     wait,
		log:      logger,
		ready:    make(chan net.Conn),
		errs:     make(chan error),
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	go l.acceptLoop()
	return l
}

type earlyTalker struct {
	net.Listener
	wait  time.Duration
	log   *slog.Logger
	ready chan net.Conn // screened connections
	errs  chan error    // errors from the inner Accept
	done  chan struct{} // closed by Close
	// stopped is closed when the inner listener is closed (by us or
	// someone else); stopErr, set before, is what Accept then returns.
	stopped chan struct{}
	stopErr error

	closeOnce sync.Once
	closeErr  error
}

// Accept returns the next connection that stayed quiet for the wait.
func (l *earlyTalker) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.stopped:
		return nil, l.stopErr
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections still being screened are closed.
func (l *earlyTalker) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.closeErr = l.Listener.Close()
	})
	return l.closeErr
}

func (l *earlyTalker) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				l.stopErr = err
				close(l.stopped)
				return
			}
			// Pass the error on (the server decides whether to stop) and
			// back off as net/http does, so that EMFILE does not spin.
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		go l.screen(c)
	}
}

// screen waits up to l.wait for the client to say something.
func (l *earlyTalker) screen(c net.Conn) {
	if l.wait > 0 {
		if err := c.SetReadDeadline(time.Now().Add(l.wait)); err != nil {
			c.Close()
			return
		}
		var b [1]byte
		n, err := c.Read(b[:])
		switch {
		case n > 0:
			l.log.Info("early talker refused", "remote", c.RemoteAddr().String())
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "554 5.5.1 Protocol error: you spoke before the greeting\r\n")
			c.Close()
			return
		case !isTimeout(err):
			// EOF or reset: the client left.
			c.Close()
			return
		}
		if err := c.SetReadDeadline(time.Time{}); err != nil {
			c.Close()
			return
		}
	}
	select {
	case l.ready <- c:
	case <-l.done:
		c.Close()
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
