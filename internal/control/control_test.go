package control

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTripAndPermissions(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "control.sock")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Listen(path, func(ctx context.Context, req Request) (string, error) {
		if req.Cmd == "fail" {
			return "", errors.New("user bob@example.com exists")
		}
		return req.Cmd + ":" + req.Args[0] + ":" + req.Password, nil
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode = %v, %v; want 0600", fi.Mode(), err)
	}
	out, err := Call(context.Background(), path, Request{Cmd: "user.add", Args: []string{"bob"}, Password: "pw"})
	if err != nil || out != "user.add:bob:pw" {
		t.Fatalf("Call = %q, %v", out, err)
	}
	_, err = Call(context.Background(), path, Request{Cmd: "fail"})
	if err == nil || err.Error() != "user bob@example.com exists" {
		t.Fatalf("error = %v", err)
	}
	if _, err := Listen(path, nil, logger); err == nil {
		t.Fatal("second server on a live socket was allowed")
	}
}

func TestNoServer(t *testing.T) {
	t.Parallel()
	_, err := Call(context.Background(), filepath.Join(t.TempDir(), "none.sock"), Request{Cmd: "x"})
	if !errors.Is(err, ErrNoServer) {
		t.Fatalf("err = %v, want ErrNoServer", err)
	}
}
