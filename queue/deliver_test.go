package queue

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDeliverTwoDomainsByMXPreference: one message to two remote domains
// goes to each domain's best MX, one transaction per domain with all its
// recipients, EHLO with our hostname, STARTTLS, and two DKIM signatures
// that verify against the published records.
func TestDeliverTwoDomainsByMXPreference(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("a.example", 10, "mx1.a.example", "127.0.0.2")
	n.mx("a.example", 20, "mx2.a.example", "127.0.0.3")
	n.mx("b.example", 5, "mx.b.example", "127.0.0.4")
	// The sinks verify DKIM on receipt and refuse mail without two valid
	// signatures of ours.
	verify := sinkOpts{dkimDNS: n.dns.Addr}
	mx1 := n.sink(t, "mx1.a.example", "127.0.0.2", verify)
	mx2 := n.sink(t, "mx2.a.example", "127.0.0.3", verify)
	mxb := n.sink(t, "mx.b.example", "127.0.0.4", verify)
	e := newEnv(t, n, nil)

	e.enqueue(t, "alice@example.org", []string{"x@a.example", "y@b.example", "z@a.example"}, testMessage("alice@example.org", "two-domains"))
	e.run(t)

	got := mx1.messages()
	if len(got) != 1 || !slices.Equal(got[0].To, []string{"x@a.example", "z@a.example"}) || got[0].From != "alice@example.org" {
		t.Fatalf("mx1.a got %+v", got)
	}
	if !got[0].TLS || got[0].Helo != "mail.example.org" {
		t.Errorf("mx1.a: TLS=%v EHLO=%q, want STARTTLS and our hostname", got[0].TLS, got[0].Helo)
	}
	if len(mx2.messages()) != 0 {
		t.Errorf("lower-preference MX got mail")
	}
	gb := mxb.messages()
	if len(gb) != 1 || !slices.Equal(gb[0].To, []string{"y@b.example"}) {
		t.Fatalf("mx.b got %+v", gb)
	}
	for _, m := range []received{got[0], gb[0]} {
		if !slices.Equal(m.DKIM, []string{"example.org", "example.org"}) {
			t.Errorf("sink verified DKIM domains %q", m.DKIM)
		}
		vs := n.verifyDKIM(t, m.Data)
		if len(vs) != 2 {
			t.Fatalf("%d DKIM signatures, want 2 (Ed25519 and RSA)", len(vs))
		}
		for _, v := range vs {
			if v.Err != nil || v.Domain != "example.org" {
				t.Errorf("DKIM verification: domain %q err %v", v.Domain, v.Err)
			}
		}
		if !strings.Contains(string(m.Data), "a=ed25519-sha256") || !strings.Contains(string(m.Data), "a=rsa-sha256") {
			t.Errorf("missing an algorithm:\n%s", m.Data)
		}
		if !strings.Contains(string(m.Data), "c=relaxed/relaxed") {
			t.Errorf("not relaxed/relaxed")
		}
	}
	if l := e.list(t); len(l) != 0 {
		t.Errorf("queue not empty after delivery: %+v", l)
	}
	if ents, _ := readDir(e.dir + "/msg"); len(ents) != 0 {
		t.Errorf("message files left: %v", ents)
	}
}

// TestFirstMXDown: the preferred MX refuses connections; the next one
// takes the mail in the same run.
func TestFirstMXDown(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("a.example", 10, "mx1.a.example", "127.0.0.2") // nothing listens
	n.mx("a.example", 20, "mx2.a.example", "127.0.0.3")
	mx2 := n.sink(t, "mx2.a.example", "127.0.0.3", sinkOpts{})
	e := newEnv(t, n, nil)
	e.enqueue(t, "alice@example.org", []string{"x@a.example"}, testMessage("alice@example.org", "first-down"))
	e.run(t)
	if got := mx2.messages(); len(got) != 1 {
		t.Fatalf("second MX got %d messages", len(got))
	}
	if l := e.list(t); len(l) != 0 {
		t.Errorf("queue: %+v", l)
	}
}

// TestTempFailThenRetry: 451 is retried after the first backoff step (test
// clock) and then accepted; nothing is tried before it is due.
func TestTempFailThenRetry(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("a.example", 10, "mx.a.example", "127.0.0.2")
	mx := n.sink(t, "mx.a.example", "127.0.0.2", sinkOpts{})
	first := true
	mx.rcptFn = func(string) error {
		if first {
			first = false
			return smtpErr(451, [3]int{4, 7, 1}, "greylisted, try later")
		}
		return nil
	}
	e := newEnv(t, n, nil)
	id := e.enqueue(t, "alice@example.org", []string{"x@a.example"}, testMessage("alice@example.org", "retry"))
	e.run(t)
	l := e.list(t)
	if len(l) != 1 || l[0].ID != id || l[0].Attempts != 1 || !strings.Contains(l[0].LastError, "451 4.7.1 greylisted") {
		t.Fatalf("after 451: %+v", l)
	}
	if want := e.clock.Now().Add(5 * time.Minute); !l[0].NextTry.Equal(want) {
		t.Errorf("next try %v, want %v", l[0].NextTry, want)
	}
	e.clock.Advance(4 * time.Minute)
	e.run(t)
	if c := mx.rcptCount(); c != 1 {
		t.Fatalf("tried again before due: %d RCPTs", c)
	}
	e.clock.Advance(time.Minute)
	e.run(t)
	if got := mx.messages(); len(got) != 1 {
		t.Fatalf("after retry sink has %d messages", len(got))
	}
	if l := e.list(t); len(l) != 0 {
		t.Errorf("queue: %+v", l)
	}
	if len(e.local.all()) != 0 {
		t.Errorf("unexpected report: %s", e.local.all()[0].Data)
	}
}

// TestBackoffSchedule pins the retry intervals of the issue.
func TestBackoffSchedule(t *testing.T) {
	t.Parallel()
	want := []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute,
		time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour, 4 * time.Hour}
	for i, w := range want {
		if got := backoff(i + 1); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
}

// TestNoMXFallsBackToAddress: without MX the domain's own A record is the
// host (RFC 5321 5.1).
func TestNoMXFallsBackToAddress(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.dns.Add("plain.example. 300 IN A 127.0.0.2")
	s := n.sink(t, "plain.example", "127.0.0.2", sinkOpts{})
	e := newEnv(t, n, nil)
	e.enqueue(t, "alice@example.org", []string{"x@plain.example"}, testMessage("alice@example.org", "implicit-mx"))
	e.run(t)
	if len(s.messages()) != 1 {
		t.Fatal("implicit MX not used")
	}
}

// TestIPv6: an MX with only an AAAA record is reached over IPv6.
func TestIPv6(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.dns.Add("v6.example. 300 IN MX 10 mx.v6.example.", "mx.v6.example. 300 IN AAAA ::1")
	s := startSinkMaybe(t, "mx.v6.example", "::1", n.port)
	if s == nil {
		t.Skip("no IPv6 loopback on this machine")
	}
	e := newEnv(t, n, nil)
	e.enqueue(t, "alice@example.org", []string{"x@v6.example"}, testMessage("alice@example.org", "ipv6"))
	e.run(t)
	if len(s.messages()) != 1 {
		t.Fatalf("IPv6 MX got nothing; queue %+v", e.list(t))
	}
}

// TestSMTPUTF8: a message with a UTF-8 address goes with SMTPUTF8 to a
// server offering it and fails permanently (5.6.7) at one that does not.
func TestSMTPUTF8(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("utf.example", 10, "mx.utf.example", "127.0.0.2")
	n.mx("ascii.example", 10, "mx.ascii.example", "127.0.0.3")
	u := n.sink(t, "mx.utf.example", "127.0.0.2", sinkOpts{utf8: true})
	a := n.sink(t, "mx.ascii.example", "127.0.0.3", sinkOpts{})
	e := newEnv(t, n, nil)
	e.enqueue(t, "alice@example.org", []string{"jörg@utf.example", "jörg@ascii.example"}, testMessage("alice@example.org", "utf8"))
	e.enqueue(t, "alice@example.org", []string{"plain@ascii.example"}, testMessage("alice@example.org", "ascii"))
	e.run(t)
	if got := u.messages(); len(got) != 1 || !got[0].UTF8 {
		t.Fatalf("SMTPUTF8 server got %+v", got)
	}
	if got := a.messages(); len(got) != 1 || got[0].UTF8 || got[0].To[0] != "plain@ascii.example" {
		t.Fatalf("ASCII server got %+v", got)
	}
	reps := e.local.all()
	if len(reps) != 1 {
		t.Fatalf("%d reports, want 1 bounce", len(reps))
	}
	d := parseDSN(t, reps[0].Data)
	if len(d.perRcpt) != 1 || !strings.Contains(d.perRcpt[0], "Status: 5.6.7") {
		t.Errorf("bounce: %q", d.perRcpt)
	}
}

// TestSchedulerDeliversOnEnqueue: the live path, Start then Enqueue, with
// the real clock; the sink's arrival is the event waited on.
func TestSchedulerDeliversOnEnqueue(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("a.example", 10, "mx.a.example", "127.0.0.2")
	s := n.sink(t, "mx.a.example", "127.0.0.2", sinkOpts{})
	e := newEnv(t, n, func(o *Options) { o.Now = nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.q.Start(ctx)
	e.enqueue(t, "alice@example.org", []string{"x@a.example"}, testMessage("alice@example.org", "live"))
	s.wait(t, 1)
	e.enqueue(t, "alice@example.org", []string{"y@a.example"}, testMessage("alice@example.org", "live2"))
	s.wait(t, 2)
	if err := e.q.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSlowDestinationDoesNotBlockOthers: while one remote hangs in DATA,
// mail enqueued meanwhile for another domain is still delivered by the
// running scheduler.
func TestSlowDestinationDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("slow.example", 10, "mx.slow.example", "127.0.0.2")
	n.mx("fast.example", 10, "mx.fast.example", "127.0.0.3")
	slow := n.sink(t, "mx.slow.example", "127.0.0.2", sinkOpts{})
	fast := n.sink(t, "mx.fast.example", "127.0.0.3", sinkOpts{})
	inData, release := make(chan struct{}), make(chan struct{})
	slow.dataFn = func([]byte) error {
		close(inData)
		<-release
		return nil
	}
	e := newEnv(t, n, func(o *Options) { o.Now = nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.q.Start(ctx)
	e.enqueue(t, "alice@example.org", []string{"x@slow.example"}, testMessage("alice@example.org", "slow"))
	<-inData
	e.enqueue(t, "alice@example.org", []string{"y@fast.example"}, testMessage("alice@example.org", "fast"))
	fast.wait(t, 1)
	close(release)
	slow.wait(t, 1)
}
