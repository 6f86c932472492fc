// Package control carries admin requests from the `postel` CLI to a running
// server over a unix socket in the data directory. The socket is the
// authorisation: it is created owner-only (0600) inside the owner-only data
// directory, so only the server's own user (or root) can connect.
//
// The protocol is one JSON request and one JSON response per connection.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// Request is one admin command, already parsed by the CLI.
type Request struct {
	Cmd      string   `json:"cmd"`  // e.g. "user.add"
	Args     []string `json:"args"` // positional arguments
	Password string   `json:"password,omitempty"`
	All      bool     `json:"all,omitempty"`
}

// Response is the command's printable output or its error text.
type Response struct {
	Output string `json:"output"`
	Error  string `json:"error,omitempty"`
}

// Handler executes a request.
type Handler func(ctx context.Context, req Request) (string, error)

// Server answers requests on a unix socket.
type Server struct {
	ln      net.Listener
	handle  Handler
	logger  *slog.Logger
	wg      sync.WaitGroup
	closing chan struct{}
}

// Listen creates the socket at path (replacing a stale one) with mode 0600.
func Listen(path string, h Handler, logger *slog.Logger) (*Server, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another server is running", path)
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	s := &Server{ln: ln, handle: h, logger: logger, closing: make(chan struct{})}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.closing:
				return
			default:
			}
			s.logger.Error("control accept", "err", err)
			time.Sleep(100 * time.Millisecond) // avoid a hot loop on EMFILE
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
		}()
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("control request panicked", "panic", r)
		}
	}()
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	var req Request
	if err := json.NewDecoder(io.LimitReader(c, 1<<20)).Decode(&req); err != nil {
		json.NewEncoder(c).Encode(Response{Error: "malformed request"})
		return
	}
	s.logger.Info("admin command", "cmd", req.Cmd, "args", req.Args)
	out, err := s.handle(context.Background(), req)
	resp := Response{Output: out}
	if err != nil {
		resp.Error = err.Error()
	}
	json.NewEncoder(c).Encode(resp)
}

// Close stops accepting, waits for running requests and removes the socket.
func (s *Server) Close() error {
	close(s.closing)
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// ErrNoServer means no server listens on the socket: the CLI then opens the
// databases itself.
var ErrNoServer = errors.New("control: no running server")

// Call sends req to the server at path.
func Call(ctx context.Context, path string, req Request) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoServer, err)
	}
	defer c.Close()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return "", err
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return "", fmt.Errorf("control: reading response: %w", err)
	}
	if resp.Error != "" {
		return resp.Output, errors.New(resp.Error)
	}
	return resp.Output, nil
}
