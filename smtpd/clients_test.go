package smtpd

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"postel/internal/testenv"
)

func hostPort(t testing.TB, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	cmd.Stdin = devnull
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

var (
	reReceived  = regexp.MustCompile(`(?m)^Received: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby mx\.example\.com with (ESMTP\w*)`)
	reMessageID = regexp.MustCompile(`(?mi)^Message-ID: <[^>]+>\r$`)
	reDate      = regexp.MustCompile(`(?m)^Date: `)
)

func checkStored(t *testing.T, msg, returnPath, protocol string) {
	t.Helper()
	if !strings.HasPrefix(msg, "Return-Path: <"+returnPath+">\r\n") {
		t.Errorf("no Return-Path <%s>:\n%s", returnPath, msg)
	}
	m := reReceived.FindStringSubmatch(msg)
	if m == nil || m[1] != protocol {
		t.Errorf("Received with %s missing:\n%s", protocol, msg)
	}
	if !reMessageID.MatchString(msg) || !reDate.MatchString(msg) {
		t.Errorf("Message-ID or Date missing:\n%s", msg)
	}
	if strings.Contains(strings.ReplaceAll(msg, "\r\n", ""), "\n") {
		t.Errorf("stored message has bare LF")
	}
}

const pySMTP = `
import smtplib, ssl, sys
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
msg = "From: Bob <bob@example.com>\r\nTo: carol@example.com\r\nSubject: via python " + mode + "\r\n\r\nHello from smtplib.\r\n"
if mode == "starttls":
    s = smtplib.SMTP(host, port, local_hostname="pyclient.example")
    s.starttls(context=ctx)
else:
    s = smtplib.SMTP_SSL(host, port, local_hostname="pyclient.example", context=ctx)
s.ehlo("pyclient.example")
s.login("bob@example.com", "bobpw")
refused = s.sendmail("bob@example.com", ["carol@example.com", "friend@elsewhere.org"], msg)
assert not refused, refused
try:
    s.sendmail("carol@example.com", ["bob@example.com"], msg)
    raise SystemExit("sender not owned was accepted")
except smtplib.SMTPSenderRefused as e:
    assert e.smtp_code == 550, e
s.quit()
`

func TestPythonSmtplibSubmission(t *testing.T) {
	t.Parallel()
	py := testenv.RequireTool(t, "python3")
	e := newRealEnv(t, Submission, notLoopback)
	tlsAddr := serveTLS(t, e.srv)
	for _, tc := range []struct{ mode, addr string }{{"starttls", e.addr}, {"implicit", tlsAddr}} {
		h, p := hostPort(t, tc.addr)
		run(t, py, "-c", pySMTP, tc.mode, h, p)
	}
	msgs := e.messages(t, "carol@example.com", "INBOX")
	if len(msgs) != 2 {
		t.Fatalf("carol has %d messages, want 2", len(msgs))
	}
	for i, m := range msgs {
		checkStored(t, m, "bob@example.com", "ESMTPSA")
		if !strings.Contains(m, "Subject: via python "+[]string{"starttls", "implicit"}[i]) || !strings.Contains(m, "(using TLS1.3 with cipher ") {
			t.Errorf("message %d:\n%s", i, m)
		}
	}
	if q := e.queue.all(); len(q) != 2 || q[0].rcpts[0] != "friend@elsewhere.org" {
		t.Errorf("queue: %+v", q)
	}
}

func TestSwaksInbound(t *testing.T) {
	t.Parallel()
	swaks := testenv.RequireTool(t, "swaks")
	e := newRealEnv(t, Inbound, nil)
	h, p := hostPort(t, e.addr)
	out := run(t, swaks, "--server", h, "--port", p, "--ehlo", "swaks.example",
		"--from", "alice@remote.org", "--to", "team@example.com", "--tls",
		"--header", "Subject: via swaks", "--body", "Hello from swaks.")
	if !regexp.MustCompile(`<[-~] +250 2\.0\.0 OK`).MatchString(out) {
		t.Errorf("swaks output:\n%s", out)
	}
	// A relay attempt is refused at RCPT.
	cmd := exec.Command(swaks, "--server", h, "--port", p, "--from", "alice@remote.org", "--to", "x@elsewhere.org")
	cmd.Stdin = nil
	relay, _ := cmd.CombinedOutput()
	if !strings.Contains(string(relay), "554 5.7.1") {
		t.Errorf("relay attempt output:\n%s", relay)
	}
	for _, acct := range []string{"bob@example.com", "carol@example.com"} {
		msgs := e.messages(t, acct, "INBOX")
		if len(msgs) != 1 {
			t.Fatalf("%s has %d messages", acct, len(msgs))
		}
		checkStored(t, msgs[0], "alice@remote.org", "ESMTPS")
		if !strings.Contains(msgs[0], "Subject: via swaks") {
			t.Errorf("%s:\n%s", acct, msgs[0])
		}
	}
}

func TestSwaksSubmissionAuth(t *testing.T) {
	t.Parallel()
	swaks := testenv.RequireTool(t, "swaks")
	e := newRealEnv(t, Submission, notLoopback)
	h, p := hostPort(t, e.addr)
	out := run(t, swaks, "--server", h, "--port", p, "--ehlo", "swaks.example", "--tls",
		"--auth", "LOGIN", "--auth-user", "bob@example.com", "--auth-password", "bobpw",
		"--from", "bob@example.com", "--to", "carol@example.com",
		"--header", "From: bob@example.com", "--header", "Subject: swaks submission")
	if !strings.Contains(out, "235 2.0.0") {
		t.Errorf("swaks output:\n%s", out)
	}
	msgs := e.messages(t, "carol@example.com", "INBOX")
	if len(msgs) != 1 {
		t.Fatalf("carol has %d messages", len(msgs))
	}
	checkStored(t, msgs[0], "bob@example.com", "ESMTPSA")
}

func TestCurlInboundAndSubmission(t *testing.T) {
	t.Parallel()
	curl := testenv.RequireTool(t, "curl")
	in := newRealEnv(t, Inbound, nil)
	file := filepath.Join(t.TempDir(), "msg.eml")
	body := "From: Alice <alice@remote.org>\r\nTo: bob@example.com\r\nSubject: via curl\r\nDate: Thu, 26 Nov 2026 01:00:00 +0000\r\nMessage-ID: <curl1@remote.org>\r\n\r\nHello from curl.\r\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, curl, "-sS", "smtp://"+in.addr+"/curl.example", "--mail-from", "alice@remote.org",
		"--mail-rcpt", "bob@example.com", "-T", file)
	msgs := in.messages(t, "bob@example.com", "INBOX")
	if len(msgs) != 1 {
		t.Fatalf("bob has %d messages", len(msgs))
	}
	checkStored(t, msgs[0], "alice@remote.org", "ESMTP")
	if !strings.HasSuffix(msgs[0], body) {
		t.Errorf("body changed:\n%s", msgs[0])
	}

	sub := newRealEnv(t, Submission, notLoopback)
	tlsAddr := serveTLS(t, sub.srv)
	file2 := filepath.Join(t.TempDir(), "msg2.eml")
	if err := os.WriteFile(file2, []byte("From: bob@example.com\r\nSubject: curl smtps\r\n\r\nHi.\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, curl, "-sS", "-k", "smtps://"+tlsAddr+"/curl.example", "--user", "bob@example.com:bobpw",
		"--mail-from", "bob@example.com", "--mail-rcpt", "team@example.com", "-T", file2)
	file3 := filepath.Join(t.TempDir(), "msg3.eml")
	if err := os.WriteFile(file3, []byte("From: carol@example.com\r\nSubject: curl starttls\r\n\r\nHi.\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, curl, "-sS", "-k", "--ssl-reqd", "smtp://"+sub.addr+"/curl.example", "--user", "carol@example.com:carolpw",
		"--mail-from", "carol@example.com", "--mail-rcpt", "bob@example.com", "-T", file3)
	bob := sub.messages(t, "bob@example.com", "INBOX")
	carol := sub.messages(t, "carol@example.com", "INBOX")
	if len(bob) != 2 || len(carol) != 1 {
		t.Fatalf("bob has %d, carol %d messages; want 2, 1", len(bob), len(carol))
	}
	checkStored(t, bob[0], "bob@example.com", "ESMTPSA")
	checkStored(t, carol[0], "bob@example.com", "ESMTPSA")
	checkStored(t, bob[1], "carol@example.com", "ESMTPSA")
}
