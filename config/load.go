package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Load reads the file at path on top of Default and validates it.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return Parse(path, data)
}

// Parse decodes TOML text (name is used in messages) on top of Default
// and validates it. Every unknown key is an error naming its line.
func Parse(name string, data []byte) (Config, error) {
	c := Default()
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, fmt.Errorf("%s:%d: %s: %s", name, pe.Position.Line, pe.LastKey, pe.Message)
		}
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	for _, k := range md.Undecoded() {
		errs = append(errs, fmt.Errorf("%s:%d: unknown key %q", name, keyLine(data, k), k.String()))
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return c, errors.Join(errs...)
}

// keyLine finds the line where key k is set, tracking [table] headers;
// 0 when not found (the toml library does not expose key positions).
func keyLine(data []byte, k toml.Key) int {
	table, leaf := strings.Join(k[:len(k)-1], "."), k[len(k)-1]
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			cur = strings.Trim(line, "[] ")
			if cur == k.String() {
				return n // an unknown table
			}
			continue
		}
		if name, _, ok := strings.Cut(line, "="); ok && cur == table && strings.Trim(strings.TrimSpace(name), `"'`) == leaf {
			return n
		}
	}
	return 0
}

// Validate returns every problem with the values at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Hostname == "" || strings.ContainsAny(c.Hostname, " \t/@") {
		bad("hostname", "%q is not a host name", c.Hostname)
	}
	if c.DataDir == "" {
		bad("data_dir", "must be set")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q is not debug, info, warn or error", c.LogLevel)
	}
	for _, l := range c.Listen.All() {
		key, addr := "listen."+l.Name, l.Addr
		if addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(addr); err != nil {
			bad(key, "%q is not host:port", addr)
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad(key, "%q has a bad port", addr)
		}
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		bad("tls", "cert and key must be set together")
	}
	if c.Limits.MessageSize < 1024 {
		bad("limits.message_size", "%d is below 1024 bytes", c.Limits.MessageSize)
	}
	if c.Limits.Recipients < 1 {
		bad("limits.recipients", "must be at least 1")
	}
	if c.Limits.ConnectionsPerIP < 1 {
		bad("limits.connections_per_ip", "must be at least 1")
	}
	if c.Limits.IMAPConnectionsPerIP < 1 {
		bad("limits.imap_connections_per_ip", "must be at least 1")
	}
	if c.Limits.SMTPTimeout < 30e9 {
		bad("limits.smtp_timeout", "%v is below 30s", c.Limits.SMTPTimeout)
	}
	// RFC 9051 5.4: an autologout timer of at least 30 minutes.
	if c.Limits.IMAPTimeout < 30*time.Minute {
		bad("limits.imap_timeout", "%v is below RFC 9051's 30m", c.Limits.IMAPTimeout)
	}
	// RFC 1939 3: an autologout timer of at least 10 minutes.
	if c.Limits.POP3Timeout < 10*time.Minute {
		bad("limits.pop3_timeout", "%v is below RFC 1939's 10m", c.Limits.POP3Timeout)
	}
	if c.Outbound.Smarthost != "" {
		if _, _, err := net.SplitHostPort(c.Outbound.Smarthost); err != nil {
			bad("outbound.smarthost", "%q is not host:port", c.Outbound.Smarthost)
		}
	}
	if t := c.Outbound.SmarthostTLS; t != "implicit" && t != "starttls" {
		bad("outbound.smarthost_tls", "%q is not implicit or starttls", t)
	}
	if c.Outbound.DNSServer != "" {
		if _, _, err := net.SplitHostPort(c.Outbound.DNSServer); err != nil {
			bad("outbound.dns_server", "%q is not host:port", c.Outbound.DNSServer)
		}
	}
	if p := c.Outbound.SMTPPort; p < 1 || p > 65535 {
		bad("outbound.smtp_port", "%d is not a port", p)
	}
	if c.Inbound.ConnectionsPerMinute < 0 || c.Inbound.MessagesPerMinute < 0 {
		bad("inbound", "connections_per_minute and messages_per_minute must not be negative")
	}
	if c.Inbound.EarlyTalkerWait < 0 {
		bad("inbound.early_talker_wait", "must not be negative")
	}
	return errors.Join(errs...)
}
