package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestExampleDecodes(t *testing.T) {
	t.Parallel()
	c, err := Load("../postel.example.toml")
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	want := Default()
	if c.Hostname != want.Hostname || c.Listen != want.Listen || c.Limits != want.Limits || c.Outbound != want.Outbound {
		t.Errorf("example differs from Default():\n got %+v\nwant %+v", c, want)
	}
}

func TestUnknownKeysNamedWithLine(t *testing.T) {
	t.Parallel()
	text := "hostname = \"mx.example.com\"\nbogus = 1\n[listen]\nsmtp = \":25\"\nimapz = \":143\"\n[nosuch]\nx = 1\n"
	_, err := Parse("p.toml", []byte(text))
	if err == nil {
		t.Fatal("no error for unknown keys")
	}
	for _, want := range []string{`p.toml:2: unknown key "bogus"`, `p.toml:5: unknown key "listen.imapz"`, `p.toml:7: unknown key "nosuch.x"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestBadValues(t *testing.T) {
	t.Parallel()
	cases := []struct{ text, want string }{
		{`hostname = 5`, `line 1 (last key "hostname")`},
		{"[limits]\nsmtp_timeout = \"soon\"", "smtp_timeout"},
		{"[limits]\nrecipients = 0\nmessage_size = 10", "limits.recipients"},
		{"[limits]\nrecipients = 0\nmessage_size = 10", "limits.message_size"},
		{"[listen]\nsmtp = \"nonsense\"", "listen.smtp"},
		{"[tls]\ncert = \"a.pem\"", "tls: cert and key"},
		{`log_level = "loud"`, "log_level"},
		{"[limits]\nimap_timeout = \"5m\"", "limits.imap_timeout: 5m0s is below RFC 9051's 30m"},
		{"[limits]\npop3_timeout = \"1m\"", "limits.pop3_timeout"},
		{"[outbound]\nsmarthost_tls = \"maybe\"", "outbound.smarthost_tls"},
	}
	for _, tc := range cases {
		_, err := Parse("p.toml", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", tc.text, err, tc.want)
		}
	}
}

func TestValuesApplied(t *testing.T) {
	t.Parallel()
	text := "hostname = \"mx.example.com\"\ndata_dir = \"/srv/mail\"\n[listen]\nimap = \"\"\n[limits]\nsmtp_timeout = \"10m\"\n[inbound]\ndnsbl = [\"zen.example\"]\ndkim_verify_all = true\n"
	c, err := Parse("p.toml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hostname != "mx.example.com" || c.DataDir != "/srv/mail" || c.Listen.IMAP != "" ||
		c.Listen.IMAPS != ":993" || c.Limits.SMTPTimeout != 10*time.Minute || len(c.Inbound.DNSBL) != 1 || !c.Inbound.DKIMVerifyAll {
		t.Errorf("got %+v", c)
	}
}

func TestDevIsValidLoopback(t *testing.T) {
	t.Parallel()
	c := Dev(t.TempDir())
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, l := range c.Listen.All() {
		if !strings.HasPrefix(l.Addr, "127.0.0.1:") {
			t.Errorf("dev listener %s = %q, want loopback", l.Name, l.Addr)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(t.TempDir() + "/none.toml")
	if !os.IsNotExist(err) {
		t.Errorf("err = %v, want not-exist", err)
	}
}
