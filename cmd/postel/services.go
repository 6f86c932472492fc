package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"postel/auth"
	"postel/checks"
	"postel/config"
	"postel/delivery"
	"postel/dkim"
	"postel/imapd"
	"postel/internal/admin"
	"postel/internal/dnsresolver"
	"postel/pop3d"
	"postel/queue"
	"postel/smtpd"
)

// loopbackOnly is the policy for AUTH before TLS (DESIGN.md: refused
// except on loopback, where there is nobody to eavesdrop).
func loopbackOnly(a netip.Addr) bool { return a.IsLoopback() }

// frontEnd is what every protocol server offers.
type frontEnd interface {
	Serve(net.Listener) error
	ServeTLS(net.Listener) error
	Shutdown(context.Context) error
}

// startServices starts the outbound queue and every configured listener,
// and completes the admin service with the queue and DKIM keys.
func (s *server) startServices(svc *admin.Service) error {
	cfg, p := s.cfg, pathsFor(s.cfg)
	agent, err := delivery.New(delivery.Options{Store: delivery.Storage(s.store), Auth: s.auth, Logger: s.logger.With("component", "delivery")})
	if err != nil {
		return err
	}
	q, err := openQueue(cfg, s.auth, agent, s.logger)
	if err != nil {
		return err
	}
	qctx, stopQueue := context.WithCancel(context.Background())
	q.Start(qctx)
	s.onClose(func(context.Context) { stopQueue(); q.Close() })
	svc.Queue, svc.DKIMDir = q, p.dkim

	lim := cfg.Limits
	smtpOpts := func(mode smtpd.Mode, name string) smtpd.Options {
		return smtpd.Options{
			Mode: mode, Hostname: cfg.Hostname, TLSConfig: s.tls,
			Logger:   s.logger.With("listener", name),
			Delivery: agent, Auth: s.auth, Queue: q,
			MaxMessageBytes: lim.MessageSize, MaxRecipients: lim.Recipients, MaxConnsPerIP: lim.ConnectionsPerIP,
			ReadTimeout: lim.SMTPTimeout, WriteTimeout: lim.SMTPTimeout,
			AllowInsecureAuth: loopbackOnly, SpoolDir: filepath.Join(cfg.DataDir, "spool"),
			Trace: s.traceWriter(),
		}
	}
	inboundOpts := smtpOpts(smtpd.Inbound, "smtp")
	// The Received field names internet clients by their
	// forward-confirmed reverse DNS name, through the configured resolver.
	inboundOpts.ReverseDNS = smtpd.ForwardConfirmed(dnsresolver.New(cfg.Outbound.DNSServer))
	if cfg.Inbound.Checks {
		ck, err := checks.New(checks.Options{
			Hostname: cfg.Hostname, Resolver: dnsresolver.New(cfg.Outbound.DNSServer),
			DNSBL: cfg.Inbound.DNSBL, IsLocalDomain: s.auth.IsLocalDomain,
			DKIMVerifyAll: cfg.Inbound.DKIMVerifyAll,
			Logger:        s.logger.With("component", "checks"),
			ConnRate:      checks.Rate{Count: cfg.Inbound.ConnectionsPerMinute, Per: time.Minute},
			MsgRate:       checks.Rate{Count: cfg.Inbound.MessagesPerMinute, Per: time.Minute},
		})
		if err != nil {
			return err
		}
		inboundOpts.Checker = ck
	}
	type listener struct {
		name, addr string
		srv        func() (frontEnd, error)
		tls        bool
	}
	smtpServer := func(o smtpd.Options) func() (frontEnd, error) {
		return func() (frontEnd, error) { return smtpd.New(o) }
	}
	imapServer := func() (frontEnd, error) {
		return imapd.New(imapd.Options{
			Store: s.store, Auth: s.auth, TLSConfig: s.tls, Logger: s.logger,
			MaxMessageBytes: lim.MessageSize, MaxConnsPerIP: lim.IMAPConnectionsPerIP,
			IdleTimeout: lim.IMAPTimeout, InsecureAuth: loopbackOnly, Trace: s.traceWriter(),
		})
	}
	pop3Server := func() (frontEnd, error) {
		return pop3d.New(pop3d.Options{
			Store: pop3d.FromStorage(s.store), Auth: s.auth, TLSConfig: s.tls, Logger: s.logger,
			Hostname: cfg.Hostname, IdleTimeout: lim.POP3Timeout, MaxConnsPerIP: lim.ConnectionsPerIP,
			InsecureAuth: loopbackOnly, Trace: cfg.Trace,
		})
	}
	ls := []listener{
		{"smtp", cfg.Listen.SMTP, smtpServer(inboundOpts), false},
		{"submission", cfg.Listen.Submission, smtpServer(smtpOpts(smtpd.Submission, "submission")), false},
		{"submissions", cfg.Listen.Submissions, smtpServer(smtpOpts(smtpd.Submission, "submissions")), true},
		{"imap", cfg.Listen.IMAP, imapServer, false},
		{"imaps", cfg.Listen.IMAPS, imapServer, true},
		{"pop3", cfg.Listen.POP3, pop3Server, false},
		{"pop3s", cfg.Listen.POP3S, pop3Server, true},
	}
	for _, l := range ls {
		if l.addr == "" {
			continue
		}
		srv, err := l.srv()
		if err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
		ln, err := s.listen(l.name, l.addr)
		if err != nil {
			return err
		}
		if l.name == "smtp" && cfg.Inbound.EarlyTalkerWait > 0 {
			ln = checks.EarlyTalkerListener(ln, cfg.Inbound.EarlyTalkerWait, s.logger.With("listener", "smtp"))
		}
		serve := srv.Serve
		if l.tls {
			serve = srv.ServeTLS
		}
		name := l.name
		go func() {
			if err := serve(ln); err != nil && !errors.Is(err, net.ErrClosed) && !s.closing.Load() {
				s.logger.Error("listener stopped", "listener", name, "err", err)
			}
		}()
		s.onClose(func(ctx context.Context) {
			if err := srv.Shutdown(ctx); err != nil {
				s.logger.Warn("shutdown", "listener", name, "err", err)
			}
		})
	}
	return nil
}

// traceWriter is where protocol traces go when the config asks for them.
func (s *server) traceWriter() io.Writer {
	if !s.cfg.Trace {
		return nil
	}
	return os.Stderr
}

// openQueue opens the outbound queue with the DKIM signer and the local
// delivery agent for bounces to local senders.
func openQueue(cfg config.Config, db *auth.DB, local queue.LocalDeliverer, logger *slog.Logger) (*queue.Queue, error) {
	p := pathsFor(cfg)
	opts := queue.Options{
		Dir: p.queue, Hostname: cfg.Hostname,
		Resolver: dnsresolver.New(cfg.Outbound.DNSServer), Port: cfg.Outbound.SMTPPort,
		Signer: dkim.NewSigner(p.dkim), IsLocal: db.IsLocalDomain, Local: local,
		Logger: logger.With("component", "queue"),
	}
	if cfg.Outbound.Smarthost != "" {
		host, port, _ := net.SplitHostPort(cfg.Outbound.Smarthost) // validated by config
		n, _ := strconv.Atoi(port)
		opts.Smarthost = &queue.Smarthost{
			Host: host, Port: n, Username: cfg.Outbound.SmarthostUsername,
			Password: cfg.Outbound.SmarthostPassword, ImplicitTLS: cfg.Outbound.SmarthostTLS == "implicit",
		}
	}
	q, err := queue.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("opening outbound queue: %w", err)
	}
	return q, nil
}

// attachOutbound opens the outbound queue for the admin service when no
// server is running (queue commands), and names the DKIM key directory.
func attachOutbound(cfg config.Config, svc *admin.Service, db *auth.DB, logger *slog.Logger) (func(), error) {
	svc.DKIMDir = pathsFor(cfg).dkim
	q, err := openQueue(cfg, db, nil, logger)
	if err != nil {
		return nil, err
	}
	svc.Queue = q
	return func() { q.Close() }, nil
}

// The real types cmd wires must satisfy the consumers' interfaces.
var (
	_ queue.LocalDeliverer = (*delivery.Agent)(nil)
	_ queue.Signer         = (*dkim.Signer)(nil)
	_ smtpd.Queue          = (*queue.Queue)(nil)
	_ smtpd.Checker        = (*checks.Checker)(nil)
	_ admin.QueueAdmin     = (*queue.Queue)(nil)
	_ admin.Accounts       = (*auth.DB)(nil)
)
