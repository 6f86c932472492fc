package storage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// namer makes Maildir base names unique in this process and across
// processes (cr.yp.to/proto/maildir.html): time, microseconds, pid, a
// per-process counter, random bits, host.
type namer struct {
	host    string
	pid     int
	counter atomic.Uint64
	random  string
}

func newNamer() *namer {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	// Maildir: '/' and ':' in the host part are written as octal escapes.
	h = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(h)
	var rb [4]byte
	_, _ = rand.Read(rb[:])
	return &namer{host: h, pid: os.Getpid(), random: hex.EncodeToString(rb[:])}
}

func (n *namer) next() string {
	now := time.Now()
	return fmt.Sprintf("%d.M%dP%dQ%dR%s.%s", now.Unix(), now.Nanosecond()/1000,
		n.pid, n.counter.Add(1), n.random, n.host)
}

// baseName strips the Maildir info (":2,...") from a file name: the base
// name is what recovery matches on.
func baseName(file string) string {
	if i := strings.IndexByte(file, ':'); i >= 0 {
		return file[:i]
	}
	return file
}

// syncDir fsyncs a directory so a rename or link in it is durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// makeMaildir creates dir/{cur,new,tmp}.
func makeMaildir(dir string) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	return nil
}

// linkOrCopy puts src at dst without replacing an existing dst: a hard
// link when the file system allows it, else a copy (fsynced unless
// noSync).
func linkOrCopy(src, dst string, noSync bool) error {
	err := os.Link(src, dst)
	if err == nil {
		return nil
	}
	var le *os.LinkError
	if !errors.As(err, &le) || !(errors.Is(le.Err, syscall.EXDEV) || errors.Is(le.Err, syscall.EPERM) || errors.Is(le.Err, syscall.EMLINK)) {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil && !noSync {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dst)
	}
	return err
}
