package pop3d

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"
)

// ErrServerClosed is returned by Serve and ServeTLS after Shutdown or Close.
var ErrServerClosed = errors.New("pop3d: server closed")

// Server is a POP3 server. Create it with New; it may serve several
// listeners (plain with STLS, and implicit TLS) at once.
type Server struct {
	opts Options
	log  *slog.Logger
	// idleTimeout is opts.IdleTimeout; tests in this package shorten it.
	idleTimeout time.Duration

	ctx    context.Context // canceled by Close: aborts auth waits and storage calls
	cancel context.CancelFunc

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	perIP     map[netip.Addr]int
	idle      chan struct{} // closed when sessions becomes empty during shutdown
}

// New checks opts and returns a Server.
func New(opts Options) (*Server, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		opts:        o,
		log:         o.Logger.With("proto", "pop3"),
		idleTimeout: o.IdleTimeout,
		ctx:         ctx,
		cancel:      cancel,
		listeners:   make(map[net.Listener]struct{}),
		sessions:    make(map[*session]struct{}),
		perIP:       make(map[netip.Addr]int),
	}, nil
}

// Serve accepts plain POP3 connections on ln (port 110), offering STLS when
// Options.TLSConfig is set. It returns ErrServerClosed after Shutdown/Close.
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, false) }

// ServeTLS accepts implicit-TLS POP3 connections on ln (pop3s, port 995,
// RFC 8314). Options.TLSConfig is required.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opts.TLSConfig == nil {
		return errors.New("pop3d: ServeTLS needs Options.TLSConfig")
	}
	return s.serve(ln, true)
}

func (s *Server) serve(ln net.Listener, implicitTLS bool) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Like net/http: out of file descriptors and the like pass.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.accept(c, implicitTLS)
	}
}

// accept registers c and starts its goroutine, or refuses it when its
// address already has MaxConnsPerIP connections.
func (s *Server) accept(c net.Conn, implicitTLS bool) {
	remote := remoteAddr(c)
	sess := &session{srv: s, conn: c, remote: remote, id: newSessionID()}
	sess.log = s.log.With("conn", sess.id, "remote", c.RemoteAddr().String())

	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		c.Close()
		return
	}
	if s.opts.MaxConnsPerIP > 0 && s.perIP[remote] >= s.opts.MaxConnsPerIP {
		s.mu.Unlock()
		sess.log.Warn("too many connections from address", "limit", s.opts.MaxConnsPerIP)
		go refuse(c, implicitTLS)
		return
	}
	s.perIP[remote]++
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()

	go s.handle(sess, implicitTLS)
}

// refuse answers an over-limit connection and closes it. On an implicit
// TLS port nothing is written: the client expects a handshake.
func refuse(c net.Conn, implicitTLS bool) {
	defer c.Close()
	if !implicitTLS {
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		// RFC 3206 4: SYS/TEMP, the client may retry later.
		c.Write([]byte("-ERR [SYS/TEMP] too many connections from your address\r\n"))
	}
}

// handle runs one connection; a panic closes only this connection.
func (s *Server) handle(sess *session, implicitTLS bool) {
	defer s.forget(sess)
	defer sess.conn.Close()
	// Runs first: the maildrop lock is already released by run's defer.
	defer func() {
		if v := recover(); v != nil {
			sess.log.Error("panic in session", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	if implicitTLS {
		tc := tls.Server(sess.conn, s.opts.TLSConfig)
		ctx, cancel := context.WithTimeout(s.ctx, defaultHandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			sess.log.Info("tls handshake failed", "err", err)
			return
		}
		sess.setConn(tc, true)
	} else {
		sess.setConn(sess.conn, false)
	}
	sess.run()
}

func (s *Server) forget(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess)
	if s.perIP[sess.remote]--; s.perIP[sess.remote] <= 0 {
		delete(s.perIP, sess.remote)
	}
	if len(s.sessions) == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting, ends every session that is waiting for a
// command (with -ERR [SYS/TEMP], nothing expunged), lets running commands
// and QUIT updates finish, and waits for all connections to close. When ctx
// ends first, it calls Close and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	var idle chan struct{}
	if len(s.sessions) > 0 {
		if s.idle == nil {
			s.idle = make(chan struct{})
		}
		idle = s.idle
	}
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()

	for _, sess := range sessions {
		sess.interruptIdle()
	}
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes every listener and connection at once. Sessions end without
// expunging; storage calls in flight are canceled.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	for sess := range s.sessions {
		sess.conn.Close()
	}
	s.mu.Unlock()
	s.cancel()
	return nil
}

func remoteAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

func newSessionID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
