package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"postel/auth"
	"postel/config"
	"postel/internal/admin"
	"postel/internal/control"
)

// loadConfig reads --config, or returns the development default.
func loadConfig(o *cmdOpts) (config.Config, bool, error) {
	if o.config == "" {
		return config.Dev("data"), true, nil
	}
	c, err := config.Load(o.config)
	return c, false, err
}

func runConfigCheck(o *cmdOpts, _ []string) error {
	if o.config == "" {
		return errors.New("config check needs --config FILE")
	}
	if _, err := config.Load(o.config); err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "%s: ok\n", o.config)
	return nil
}

// runAdmin sends an admin command to the running server through the
// control socket, or carries it out on the databases directly when no
// server runs (bbolt lets only one process open them).
func runAdmin(o *cmdOpts, cmd string, args []string) error {
	cfg, _, err := loadConfig(o)
	if err != nil {
		return err
	}
	req := control.Request{Cmd: cmd, Args: args, All: o.all}
	if o.passwordStdin {
		pw, err := readPassword(o.stdin)
		if err != nil {
			return err
		}
		req.Password = pw
	}
	if cmd == "queue.retry" && o.all == (len(args) == 1) {
		return errors.New("queue retry takes an ID or --all")
	}
	ctx := context.Background()
	p := pathsFor(cfg)
	out, err := control.Call(ctx, p.socket, req)
	if errors.Is(err, control.ErrNoServer) {
		out, err = runAdminDirect(ctx, cfg, req)
	}
	fmt.Fprint(o.stdout, out)
	return err
}

func runAdminDirect(ctx context.Context, cfg config.Config, req control.Request) (string, error) {
	p := pathsFor(cfg)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", err
	}
	db, err := auth.Open(auth.Options{Path: p.accounts, Logger: discardLogger()})
	if err != nil {
		return "", fmt.Errorf("opening account database: %w", err)
	}
	defer db.Close()
	svc := &admin.Service{Accounts: db, DKIMDir: p.dkim, Host: hostFor(cfg)}
	if strings.HasPrefix(req.Cmd, "queue.") || strings.HasPrefix(req.Cmd, "dkim.") {
		closeExtras, err := attachOutbound(cfg, svc, db, discardLogger())
		if err != nil {
			return "", err
		}
		defer closeExtras()
	}
	return svc.Handle(ctx, req)
}

// readPassword takes the first line of r, without its line end.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("--password-stdin: no password on standard input")
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("--password-stdin: empty password")
	}
	return pw, nil
}

// hostFor describes the configured server for `domain records`: its host
// name, the ports of the client services it listens on, and the
// smarthost, if any.
func hostFor(cfg config.Config) *admin.Host {
	ports := map[string]int{}
	for svc, addr := range map[string]string{
		"submissions": cfg.Listen.Submissions, "submission": cfg.Listen.Submission,
		"imaps": cfg.Listen.IMAPS, "imap": cfg.Listen.IMAP,
		"pop3s": cfg.Listen.POP3S, "pop3": cfg.Listen.POP3,
	} {
		if _, port, err := net.SplitHostPort(addr); err == nil {
			if n, err := strconv.Atoi(port); err == nil {
				ports[svc] = n
			}
		}
	}
	return &admin.Host{Name: cfg.Hostname, Ports: ports, Smarthost: cfg.Outbound.Smarthost}
}
