package config

import (
	"time"
)

// Config is the whole configuration file.
type Config struct {
	// Hostname is the server's public name: SMTP greeting, Received
	// headers, the Authentication-Results authserv-id, DKIM reports.
	Hostname string `toml:"hostname"`
	// DataDir holds mail, databases, the queue, keys and the control socket.
	DataDir string `toml:"data_dir"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `toml:"log_level"`
	// Trace writes every protocol line of every connection to standard
	// error (passwords and AUTH data redacted). For debugging clients only.
	Trace bool `toml:"trace"`

	Listen   Listen   `toml:"listen"`
	TLS      TLS      `toml:"tls"`
	Limits   Limits   `toml:"limits"`
	Outbound Outbound `toml:"outbound"`
	Inbound  Inbound  `toml:"inbound"`
}

// Listen holds listener addresses ("host:port"); empty turns one off.
type Listen struct {
	SMTP        string `toml:"smtp"`        // inbound MX, port 25
	Submission  string `toml:"submission"`  // 587, STARTTLS
	Submissions string `toml:"submissions"` // 465, implicit TLS
	IMAP        string `toml:"imap"`        // 143, STARTTLS
	IMAPS       string `toml:"imaps"`       // 993, implicit TLS
	POP3        string `toml:"pop3"`        // 110, STLS
	POP3S       string `toml:"pop3s"`       // 995, implicit TLS
}

// TLS names the certificate; both empty means a self-signed certificate
// generated into data_dir on first start.
type TLS struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

// Limits bound what one client can make the server do.
type Limits struct {
	MessageSize      int64 `toml:"message_size"`       // bytes, SMTP SIZE and IMAP APPENDLIMIT
	Recipients       int   `toml:"recipients"`         // per message
	ConnectionsPerIP int   `toml:"connections_per_ip"` // SMTP and POP3, per listener kind
	// IMAPConnectionsPerIP is higher: mail clients keep several IMAP
	// connections per account open, and an office shares one NAT address.
	IMAPConnectionsPerIP int           `toml:"imap_connections_per_ip"`
	SMTPTimeout          time.Duration `toml:"smtp_timeout"` // idle per command, RFC 5321 4.5.3.2 asks >= 5m
	IMAPTimeout          time.Duration `toml:"imap_timeout"` // idle, RFC 9051 asks >= 30m
	POP3Timeout          time.Duration `toml:"pop3_timeout"` // idle, RFC 1939 asks >= 10m
}

// Outbound configures delivery to other servers.
type Outbound struct {
	// Smarthost relays every outbound message through "host:port".
	Smarthost         string `toml:"smarthost"`
	SmarthostUsername string `toml:"smarthost_username"`
	SmarthostPassword string `toml:"smarthost_password"`
	// SmarthostTLS is "implicit" (port 465 style) or "starttls".
	SmarthostTLS string `toml:"smarthost_tls"`
	// DNSServer sends every DNS query to "host:port"; empty = system resolver.
	DNSServer string `toml:"dns_server"`
	// SMTPPort is the port of remote MX hosts (25 on the internet).
	SMTPPort int `toml:"smtp_port"`
}

// Inbound configures the checks on mail arriving on the smtp listener.
type Inbound struct {
	// Checks turns SPF, DKIM, DMARC and Authentication-Results on.
	Checks bool `toml:"checks"`
	// DNSBL zones to query for each connecting IP.
	DNSBL []string `toml:"dnsbl"`
	// DKIMVerifyAll verifies every DKIM signature of a message (up to
	// five) and reports each in Authentication-Results, instead of
	// stopping at the first one that passes aligned with From: (all that
	// DMARC needs; RFC 6376 6.1 leaves the choice to the verifier).
	DKIMVerifyAll bool `toml:"dkim_verify_all"`
	// EarlyTalkerWait is how long the greeting waits to catch clients that
	// talk first (0 = off).
	EarlyTalkerWait time.Duration `toml:"early_talker_wait"`
	// ConnectionsPerMinute and MessagesPerMinute limit each client address
	// (IPv4 /32, IPv6 /64); 0 = unlimited.
	ConnectionsPerMinute int `toml:"connections_per_minute"`
	MessagesPerMinute    int `toml:"messages_per_minute"`
}

// Default returns the production defaults. The development default that
// `postel serve` uses without a config file is Dev.
func Default() Config {
	return Config{
		Hostname: "localhost",
		DataDir:  "/var/lib/postel",
		LogLevel: "info",
		Listen: Listen{
			SMTP: ":25", Submission: ":587", Submissions: ":465",
			IMAP: ":143", IMAPS: ":993", POP3: ":110", POP3S: ":995",
		},
		Limits: Limits{
			MessageSize:          50 << 20,
			Recipients:           100,
			ConnectionsPerIP:     20,
			IMAPConnectionsPerIP: 100,
			SMTPTimeout:          5 * time.Minute,
			IMAPTimeout:          30 * time.Minute,
			POP3Timeout:          10 * time.Minute,
		},
		Outbound: Outbound{SMTPPort: 25, SmarthostTLS: "implicit"},
		Inbound:  Inbound{Checks: true, ConnectionsPerMinute: 60, MessagesPerMinute: 120},
	}
}

// Dev is the development default: loopback high ports, data under
// dataDir, self-signed certificate.
func Dev(dataDir string) Config {
	c := Default()
	c.DataDir = dataDir
	c.Listen = Listen{
		SMTP: "127.0.0.1:2525", Submission: "127.0.0.1:2587", Submissions: "127.0.0.1:2465",
		IMAP: "127.0.0.1:1143", IMAPS: "127.0.0.1:1993", POP3: "127.0.0.1:1110", POP3S: "127.0.0.1:1995",
	}
	return c
}

// NamedAddr is one listener's config key and address.
type NamedAddr struct{ Name, Addr string }

// All lists the listeners in a fixed order, including those turned off.
func (l Listen) All() []NamedAddr {
	return []NamedAddr{
		{"smtp", l.SMTP}, {"submission", l.Submission}, {"submissions", l.Submissions},
		{"imap", l.IMAP}, {"imaps", l.IMAPS}, {"pop3", l.POP3}, {"pop3s", l.POP3S},
	}
}
