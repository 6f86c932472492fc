package main

import (
	"io"
	"log/slog"
	"path/filepath"

	"postel/config"
)

// paths are the files and directories under data_dir.
type paths struct {
	accounts string // account database (auth)
	mail     string // mail store root (storage)
	queue    string // outbound queue
	dkim     string // DKIM keys
	tls      string // self-signed certificate
	socket   string // admin control socket
}

func pathsFor(c config.Config) paths {
	d := c.DataDir
	return paths{
		accounts: filepath.Join(d, "accounts.db"),
		mail:     filepath.Join(d, "mail"),
		queue:    filepath.Join(d, "queue"),
		dkim:     filepath.Join(d, "dkim"),
		tls:      filepath.Join(d, "tls"),
		socket:   filepath.Join(d, "control.sock"),
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
