package pop3d

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// state is an RFC 1939 session state.
type state int

const (
	stateAuthorization state = iota
	stateTransaction
	stateUpdate
)

func (st state) String() string {
	switch st {
	case stateAuthorization:
		return "AUTHORIZATION"
	case stateTransaction:
		return "TRANSACTION"
	}
	return "UPDATE"
}

// session is one POP3 connection.
type session struct {
	srv    *Server
	conn   net.Conn // the accepted connection: deadlines and Close
	remote netip.Addr
	id     string
	log    *slog.Logger

	// rw is conn, or the TLS connection over it.
	rw    net.Conn
	r     *bufio.Reader
	w     *bufio.Writer
	isTLS bool

	// mu guards waiting; see beginRead and interruptIdle.
	mu      sync.Mutex
	waiting bool

	state   state
	user    string // from USER, until PASS
	account string
	drop    Maildrop
	unlock  func()
	snap    snapshot
	buf     []byte // RETR copy buffer, allocated on first use
	bad     int    // bad commands so far
	quit    bool   // end the loop after this command
}

func (s *session) setConn(c net.Conn, isTLS bool) {
	s.rw = c
	s.isTLS = isTLS
	s.r = bufio.NewReaderSize(c, 4096)
	if s.w == nil {
		s.w = bufio.NewWriterSize(c, 32*1024)
	} else {
		s.w.Reset(c)
	}
}

// errShutdown ends a session whose read was interrupted by Shutdown.
var errShutdown = errors.New("pop3d: shutting down")

// run is the command loop. Returning without QUIT expunges nothing.
func (s *session) run() {
	defer s.release()
	s.log.Debug("connected", "tls", s.isTLS)
	// RFC 1939 4: greeting. No APOP, so no timestamp banner.
	s.reply("+OK Postel POP3 server ready " + s.srv.opts.Hostname)
	for !s.quit {
		line, err := s.readLine(s.srv.opts.MaxAuthLineLength)
		switch {
		case errors.Is(err, errLineTooLong):
			s.trace("C: <line too long>")
			s.fail("-ERR line too long")
			continue
		case err != nil:
			s.endOnReadError(err)
			return
		}
		s.conn.SetWriteDeadline(time.Now().Add(s.srv.idleTimeout))
		s.command(line)
	}
	s.flush()
}

// release gives back the maildrop lock on every exit path.
func (s *session) release() {
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// endOnReadError logs why a read failed and, where the client can still
// hear it, says why the connection ends. Nothing is expunged.
func (s *session) endOnReadError(err error) {
	switch {
	case errors.Is(err, errShutdown):
		s.log.Info("closed by server shutdown", "state", s.state)
		s.reply("-ERR [SYS/TEMP] server shutting down")
		s.flush()
	case isTimeout(err):
		s.logEnd(err)
		// RFC 1939 3: the autologout timer closes the connection
		// without entering UPDATE; say why first.
		s.reply("-ERR disconnected for inactivity")
		s.flush()
	default:
		s.logEnd(err)
	}
}

func (s *session) logEnd(err error) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		s.log.Info("connection dropped", "state", s.state)
	case isTimeout(err):
		s.log.Info("idle timeout", "state", s.state)
	default:
		s.log.Info("connection error", "state", s.state, "err", err)
	}
}

// command parses and runs one command line.
func (s *session) command(line []byte) {
	verb, arg, err := parseCommand(line)
	if err != nil {
		s.trace("C: <malformed>")
		s.fail("-ERR malformed command")
		return
	}
	h, ok := lookup(verb)
	switch {
	case verb == "PASS" || verb == "AUTH" || (!ok && arg != ""):
		// Secrets, or arguments of a command we cannot vouch for
		// (another server's LOGIN, a misplaced SASL response).
		s.trace("C: " + verb + " <redacted>")
	default:
		s.trace("C: " + string(line))
	}
	if verb != "AUTH" && len(line)+2 > s.srv.opts.MaxLineLength {
		s.fail("-ERR line too long")
		return
	}
	if !ok {
		s.fail("-ERR unknown command")
		return
	}
	if h.states&(1<<s.state) == 0 {
		s.fail("-ERR command not valid in this state")
		return
	}
	h.fn(s, arg)
}

// handler is a command's implementation and the states it is valid in.
type handler struct {
	states uint
	fn     func(*session, string)
}

// lookup returns the handler for an upper-case verb.
func lookup(verb string) (handler, bool) {
	switch verb {
	case "CAPA":
		return handler{anyState, (*session).cmdCapa}, true
	case "QUIT":
		return handler{anyState, (*session).cmdQuit}, true
	case "NOOP":
		return handler{inTransaction, (*session).cmdNoop}, true
	case "USER":
		return handler{inAuthorization, (*session).cmdUser}, true
	case "PASS":
		return handler{inAuthorization, (*session).cmdPass}, true
	case "AUTH":
		return handler{inAuthorization, (*session).cmdAuth}, true
	case "STLS":
		return handler{inAuthorization, (*session).cmdStls}, true
	case "STAT":
		return handler{inTransaction, (*session).cmdStat}, true
	case "LIST":
		return handler{inTransaction, (*session).cmdList}, true
	case "UIDL":
		return handler{inTransaction, (*session).cmdUidl}, true
	case "RETR":
		return handler{inTransaction, (*session).cmdRetr}, true
	case "TOP":
		return handler{inTransaction, (*session).cmdTop}, true
	case "DELE":
		return handler{inTransaction, (*session).cmdDele}, true
	case "RSET":
		return handler{inTransaction, (*session).cmdRset}, true
	}
	return handler{}, false
}

const (
	inAuthorization = 1 << stateAuthorization
	inTransaction   = 1 << stateTransaction
	anyState        = inAuthorization | inTransaction
)

// readLine reads one line, flushing pending replies first unless more
// pipelined commands are already buffered (RFC 2449 6.6).
func (s *session) readLine(limit int) ([]byte, error) {
	if s.r.Buffered() == 0 {
		if err := s.flush(); err != nil {
			return nil, err
		}
	}
	if !s.beginRead() {
		return nil, errShutdown
	}
	line, err := readLine(s.r, limit)
	s.mu.Lock()
	s.waiting = false
	s.mu.Unlock()
	if isTimeout(err) && s.srv.isClosing() {
		return nil, errShutdown
	}
	return line, err
}

// beginRead arms the idle timer; false once the server is shutting down.
// Holding mu makes "check closing, set deadline" atomic with respect to
// interruptIdle, so a shutdown never misses a session about to block.
func (s *session) beginRead() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv.isClosing() {
		return false
	}
	s.conn.SetReadDeadline(time.Now().Add(s.srv.idleTimeout))
	s.waiting = true
	return true
}

// interruptIdle wakes the session if it is blocked waiting for a command.
func (s *session) interruptIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting {
		s.conn.SetReadDeadline(time.Now())
	}
}

// reply writes one status line.
func (s *session) reply(line string) {
	s.trace("S: " + line)
	s.w.WriteString(line)
	s.w.WriteString("\r\n")
}

// fail writes an -ERR line for a bad command and closes the connection
// once MaxBadCommands is reached.
func (s *session) fail(line string) {
	s.reply(line)
	s.bad++
	if s.bad >= s.srv.opts.MaxBadCommands {
		s.log.Warn("too many bad commands", "count", s.bad)
		s.reply("-ERR too many bad commands, closing connection")
		s.quit = true
	}
}

func (s *session) flush() error {
	s.conn.SetWriteDeadline(time.Now().Add(s.srv.idleTimeout))
	return s.w.Flush()
}

func (s *session) trace(msg string) {
	if s.srv.opts.Trace {
		s.log.Debug("wire", "line", msg)
	}
}

// ctx bounds a storage or auth call made for this session.
func (s *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.srv.ctx, defaultUpdateTimeout)
}

// words splits a command argument on spaces (RFC 1939 3).
func words(arg string) []string { return strings.Fields(arg) }
