package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"postel/auth"
	"postel/config"
	"postel/internal/admin"
	"postel/internal/control"
	"postel/internal/selfsigned"
	"postel/storage"
)

// server is everything `postel serve` runs, wired together.
type server struct {
	cfg     config.Config
	logger  *slog.Logger
	auth    *auth.DB
	store   *storage.Store
	tls     *tls.Config
	control *control.Server
	closers []func(ctx context.Context) // run in reverse order on shutdown
	closing atomic.Bool                 // set when shutdown starts
}

func runServe(o *cmdOpts, _ []string) error {
	cfg, dev, err := loadConfig(o)
	if err != nil {
		return err
	}
	logger := newLogger(cfg)
	s, err := start(cfg, logger)
	if err != nil {
		return err
	}
	if dev {
		if err := s.ensureDevAccount(o); err != nil {
			s.shutdown(context.Background())
			return err
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	got := <-sig
	logger.Info("shutting down", "signal", got.String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.shutdown(ctx)
	return nil
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	if cfg.Trace {
		level = slog.LevelDebug // POP3 traces are debug lines
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// start opens the databases and starts every configured listener. On error
// everything already started is stopped again.
func start(cfg config.Config, logger *slog.Logger) (s *server, err error) {
	s = &server{cfg: cfg, logger: logger}
	defer func() {
		if err != nil {
			s.shutdown(context.Background())
		}
	}()
	p := pathsFor(cfg)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	if s.auth, err = auth.Open(auth.Options{Path: p.accounts, Logger: logger.With("component", "auth")}); err != nil {
		return nil, fmt.Errorf("opening account database: %w", err)
	}
	s.onClose(func(context.Context) { s.auth.Close() })
	if s.store, err = storage.Open(storage.Options{Dir: p.mail, Logger: logger.With("component", "storage"), Quota: s.auth.Quota}); err != nil {
		return nil, fmt.Errorf("opening mail store: %w", err)
	}
	s.onClose(func(context.Context) { s.store.Close() })
	if s.tls, err = loadTLS(cfg, p); err != nil {
		return nil, err
	}
	svc := &admin.Service{Accounts: s.auth, DKIMDir: p.dkim, Host: hostFor(cfg)}
	if err := s.startServices(svc); err != nil {
		return nil, err
	}
	if s.control, err = control.Listen(p.socket, svc.Handle, logger.With("component", "control")); err != nil {
		return nil, err
	}
	s.onClose(func(context.Context) { s.control.Close() })
	logger.Info("postel started", "hostname", cfg.Hostname, "data_dir", cfg.DataDir)
	return s, nil
}

func (s *server) onClose(f func(ctx context.Context)) { s.closers = append(s.closers, f) }

// shutdown stops listeners first (they were registered last), then the
// queue, store and databases.
func (s *server) shutdown(ctx context.Context) {
	s.closing.Store(true)
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i](ctx)
	}
	s.closers = nil
}

func loadTLS(cfg config.Config, p paths) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	if cfg.TLS.Cert != "" {
		cert, err = tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
	} else {
		cert, err = selfsigned.LoadOrCreate(p.tls, cfg.Hostname)
	}
	if err != nil {
		return nil, fmt.Errorf("tls certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// listen opens one configured listener, logging where it is.
func (s *server) listen(name, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s on %s: %w", name, addr, err)
	}
	s.logger.Info("listening", "listener", name, "addr", ln.Addr().String())
	return ln, nil
}

// ensureDevAccount creates the development account on first start and
// prints its address and password.
func (s *server) ensureDevAccount(o *cmdOpts) error {
	ctx := context.Background()
	users, err := s.auth.Users(ctx)
	if err != nil || len(users) > 0 {
		return err
	}
	domain := s.cfg.Hostname
	if err := s.auth.AddDomain(ctx, domain); err != nil && !errors.Is(err, auth.ErrExists) {
		return err
	}
	pw, err := admin.NewPassword()
	if err != nil {
		return err
	}
	addr := "admin@" + domain
	if err := s.auth.AddUser(ctx, addr, pw); err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "\nDevelopment account created:\n  address:  %s\n  password: %s\n\n", addr, pw)
	return nil
}
