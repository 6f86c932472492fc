package smtpd

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"postel/internal/testenv"
)

// traceLine matches one trace line: time, session id, direction, text.
var traceLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ([a-z2-7]+) (C:|S:|--) (.*)$`)

// traceLines checks every line's shape and returns them grouped by
// session id.
func traceLines(t *testing.T, trace string) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	for _, l := range strings.Split(strings.TrimSuffix(trace, "\n"), "\n") {
		m := traceLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("malformed trace line %q", l)
		}
		out[m[1]] = append(out[m[1]], m[2]+" "+m[3])
	}
	return out
}

func withTrace(w *testenv.SyncBuffer) func(*Options) { return func(o *Options) { o.Trace = w } }

// A wire trace of AUTH PLAIN and AUTH LOGIN sessions (with and without
// an initial response, failed and pipelined) holds no credential, plain
// or base64; each connection's lines carry its own session id.
func TestTraceRedactsAuth(t *testing.T) {
	t.Parallel()
	trace := &testenv.SyncBuffer{}
	e := newEnv(t, Submission, withTrace(trace))

	c := dial(t, e.addr)
	c.cmd("EHLO laptop", `^250`)
	c.cmd("AUTH PLAIN "+plain("alice@example.com", "wrongpw1"), `^535 `)
	c.cmd("AUTH PLAIN", `^334`)
	c.cmd(plain("alice@example.com", "alicepw"), `^235 `)
	c.cmd("MAIL FROM:<alice@example.com>", `^250`)
	c.cmd("QUIT", `^221`)

	c = dial(t, e.addr)
	c.cmd("EHLO laptop", `^250`)
	// Pipelined: RSET's reply must not end the SASL exchange early.
	c.send("RSET\r\nAUTH LOGIN\r\n")
	c.expect(`^250`)
	c.expect(`^334 `)
	c.cmd(b64("alice@example.com"), `^334 `)
	c.cmd(b64("alicepw"), `^235 `)
	c.cmd("NOOP", `^250`)
	// Odd spellings go-smtp refuses still do not show what follows AUTH.
	c.cmd("auth  login "+b64("alicepw"), `^[45]`)
	c.cmd(" AUTH PLAIN "+plain("alice@example.com", "alicepw"), `^5`)
	c.cmd("AUTH\tPLAIN "+plain("alice@example.com", "alicepw"), `^5`)
	c.cmd("AUTH "+b64("alicepw"), `^5`)
	c.cmd("QUIT", `^221`)
	waitFor(t, func() bool { return strings.Count(trace.String(), "-- closed") == 2 })

	got := trace.String()
	for _, secret := range []string{
		"alicepw", "wrongpw1", b64("alicepw"), b64("alice@example.com"),
		plain("alice@example.com", "alicepw"), plain("alice@example.com", "wrongpw1"),
	} {
		if strings.Contains(got, secret) {
			t.Errorf("trace contains credential %q:\n%s", secret, got)
		}
	}
	sessions := traceLines(t, got)
	if len(sessions) != 2 {
		t.Fatalf("trace has %d session ids, want 2:\n%s", len(sessions), got)
	}
	all := make(map[string]bool)
	for _, lines := range sessions {
		for _, l := range lines {
			all[l] = true
		}
	}
	for _, want := range []string{
		"C: EHLO laptop", "C: AUTH PLAIN <redacted>", "C: AUTH PLAIN", "C: <redacted>",
		"S: 235 2.0.0 Authentication succeeded", "C: RSET", "C: AUTH LOGIN",
		"S: 334 " + b64("Username:"), "C: NOOP", "C: MAIL FROM:<alice@example.com>", "-- closed",
	} {
		if !all[want] {
			t.Errorf("trace lacks %q:\n%s", want, got)
		}
	}
}

// Message content is counted, not traced (DATA and BDAT); a refused
// DATA goes back to tracing commands; after STARTTLS nothing more is
// traced but the close.
func TestTraceDataBdatAndTLS(t *testing.T) {
	t.Parallel()
	trace := &testenv.SyncBuffer{}
	e := newEnv(t, Inbound, withTrace(trace))
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("DATA", `^5`) // no transaction: refused
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("Subject: secret\r\n\r\nBODY-SECRET-1\r\n..stuffed\r\n.\r\n")
	c.expect(`^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.send("BDAT 29 LAST\r\nSubject: x\r\n\r\nBODY-SECRET-2\r\n")
	c.expect(`^250`)
	c.startTLS(e.tls)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<after-tls@remote.org>", `^250`)
	c.cmd("QUIT", `^221`)
	waitFor(t, func() bool { return strings.Contains(trace.String(), "-- closed") })

	got := trace.String()
	for _, secret := range []string{"BODY-SECRET", "Subject", "stuffed", "after-tls"} {
		if strings.Contains(got, secret) {
			t.Errorf("trace contains %q:\n%s", secret, got)
		}
	}
	var lines []string
	for _, ls := range traceLines(t, got) {
		lines = ls
	}
	want := []string{
		"C: DATA", "S: 502 5.5.1 Missing RCPT TO command.", "C: MAIL FROM:<a@remote.org>",
		"C: DATA", "S: 354 Go ahead. End your data with <CR><LF>.<CR><LF>",
		"C: <message data, 45 bytes>", "C: .",
		"C: BDAT 29 LAST", "C: <chunk data, 29 bytes>",
		"C: STARTTLS", "S: 220 2.0.0 Ready to start TLS",
		"-- STARTTLS; encrypted traffic is not traced", "-- closed",
	}
	joined := "\n" + strings.Join(lines, "\n") + "\n"
	pos := 0
	for _, w := range want {
		i := strings.Index(joined[pos:], "\n"+w+"\n")
		if i < 0 {
			t.Fatalf("trace lacks %q (in order) in:%s", w, joined)
		}
		pos += i + len(w) + 1
	}
	if i := strings.Index(joined, "-- STARTTLS"); strings.Contains(joined[i:], "C:") || strings.Contains(joined[i:], "S:") {
		t.Errorf("lines traced after STARTTLS:%s", joined[i:])
	}
}

// Off means off: no sink, no tracer on connections, nothing written.
func TestTraceOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, nil)
	c := dial(t, e.addr)
	c.cmd("EHLO laptop", `^250`)
	c.cmd("AUTH PLAIN "+plain("alice@example.com", "alicepw"), `^235 `)
	if e.srv.trace != nil || e.srv.smtp.Debug != nil {
		t.Fatal("trace sink set without Options.Trace")
	}
	e.srv.mu.Lock()
	for pc := range e.srv.conns {
		if pc.trace != nil {
			t.Error("connection has a tracer without Options.Trace")
		}
	}
	e.srv.mu.Unlock()
	if strings.Contains(e.logs.String(), "C: ") || strings.Contains(e.logs.String(), plain("alice@example.com", "alicepw")) {
		t.Errorf("trace lines in the log:\n%s", e.logs.String())
	}
}

// The trace does not depend on how reads and writes are chunked.
func TestTracerChunking(t *testing.T) {
	t.Parallel()
	// Alternating server and client bytes, as on the wire.
	talk := []string{
		"220 hi\r\n", "EHLO x\r\nAUTH PLAIN c2VjcmV0\r\n", "250 ok\r\n235 ok\r\n",
		"AUTH LOGIN\r\n", "334 VXNlcm5hbWU6\r\n", "dXNlcg==\r\n", "334 UGFzc3dvcmQ6\r\n", "cGFzcw==\r\n", "235 ok\r\n",
		"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", "250 ok\r\n250 ok\r\n354 go\r\n",
		"hello\r\n.\r\nBDAT 3 LAST\r\nabcQUIT\r\n", "250 ok\r\n250 ok\r\n221 bye\r\n",
	}
	run := func(split int) string {
		var out testenv.SyncBuffer
		tr := newTracer(&traceSink{w: &out}, "id")
		for i, p := range talk {
			f := tr.server
			if i%2 == 1 {
				f = tr.client
			}
			k := min(split, len(p))
			f([]byte(p[:k]))
			f([]byte(p[k:]))
		}
		var b strings.Builder
		for _, l := range strings.Split(out.String(), "\n") {
			if _, rest, ok := strings.Cut(l, " "); ok {
				b.WriteString(rest + "\n")
			}
		}
		return b.String()
	}
	want := run(0)
	for _, w := range []string{"C: AUTH PLAIN <redacted>", "C: <redacted>\n", "C: <message data, 7 bytes>", "C: <chunk data, 3 bytes>", "C: QUIT", "S: 221 bye"} {
		if !strings.Contains(want, w) {
			t.Errorf("trace lacks %q:\n%s", w, want)
		}
	}
	for _, secret := range []string{"c2VjcmV0", "dXNlcg", "cGFzcw", "hello", "abc"} {
		if strings.Contains(want, secret) {
			t.Errorf("trace has %q:\n%s", secret, want)
		}
	}
	for split := 1; split < 40; split++ {
		if got := run(split); got != want {
			t.Fatalf("split %d:\n%s\nwant:\n%s", split, got, want)
		}
	}
}

// FuzzTracer feeds arbitrary client bytes: no panic, and every trace line
// is one line with control bytes escaped.
func FuzzTracer(f *testing.F) {
	f.Add([]byte("AUTH LOGIN\r\nx\r\n"), []byte("334 x\r\n235 ok\r\n"))
	f.Add([]byte("DATA\r\n.\r\r\n.\r\n"), []byte("354 go\r\n"))
	f.Add([]byte("BDAT 4294967295\r\nx"), []byte("250 ok\r\n"))
	f.Fuzz(func(t *testing.T, client, server []byte) {
		var out bytes.Buffer
		tr := newTracer(&traceSink{w: &out}, "id")
		half := len(client) / 2
		tr.client(client[:half])
		tr.server(server)
		tr.client(client[half:])
		for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
			if out.Len() == 0 {
				break
			}
			if strings.ContainsAny(l, "\r\x00") {
				t.Fatalf("unescaped control byte in %q", l)
			}
		}
	})
}

// On an implicit-TLS listener (RFC 8314) the trace says the traffic is
// encrypted and records no line of it.
func TestTraceImplicitTLS(t *testing.T) {
	t.Parallel()
	trace := &testenv.SyncBuffer{}
	e := newEnv(t, Submission, withTrace(trace))
	c := dialTLS(t, e.serveTLS(t), e.tls)
	c.cmd("EHLO laptop", `^250`)
	c.cmd("AUTH PLAIN "+plain("alice@example.com", "alicepw"), `^235 `)
	c.cmd("QUIT", `^221`)
	waitFor(t, func() bool { return strings.Contains(trace.String(), "-- closed") })
	got := trace.String()
	if !strings.Contains(got, "-- implicit TLS (RFC 8314); encrypted traffic is not traced") {
		t.Errorf("no implicit-TLS note:\n%s", got)
	}
	if strings.Contains(got, " C: ") || strings.Contains(got, " S: ") {
		t.Errorf("TLS traffic traced:\n%s", got)
	}
}
