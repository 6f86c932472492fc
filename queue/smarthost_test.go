package queue

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
)

// TestSmarthostAuth: with a smarthost every recipient, whatever its domain,
// goes to the relay, which verifies TLS (our test CA) and requires AUTH
// PLAIN; both implicit TLS and STARTTLS.
func TestSmarthostAuth(t *testing.T) {
	t.Parallel()
	for _, implicit := range []bool{true, false} {
		name := map[bool]string{true: "implicit-tls", false: "starttls"}[implicit]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n := newFakeNet(t)
			n.dns.Add("relay.example. 300 IN A 127.0.0.5")
			cert := selfSigned(t, "relay.example")
			relay := n.sink(t, "relay.example", "127.0.0.5", sinkOpts{implicitTLS: implicit, cert: &cert})
			relay.user, relay.pass = "postel", "s3cret"
			pool := x509.NewCertPool()
			pool.AddCert(cert.Leaf)
			sh := &Smarthost{Host: "relay.example", Port: n.port, Username: "postel", Password: "s3cret", ImplicitTLS: implicit}
			e := newEnv(t, n, func(o *Options) {
				o.Smarthost = sh
				o.SmarthostTLS = &tls.Config{RootCAs: pool}
			})
			e.enqueue(t, "alice@example.org", []string{"x@a.example", "y@b.example"}, testMessage("alice@example.org", "via-relay"))
			e.run(t)
			got := relay.messages()
			if len(got) != 1 || len(got[0].To) != 2 || got[0].AuthUser != "postel" || !got[0].TLS {
				t.Fatalf("relay got %+v", got)
			}
			if l := e.list(t); len(l) != 0 {
				t.Errorf("queue: %+v", l)
			}

			// Wrong password: our configuration problem, so retried, not bounced.
			sh.Password = "wrong"
			e.enqueue(t, "alice@example.org", []string{"z@a.example"}, testMessage("alice@example.org", "bad-auth"))
			e.run(t)
			l := e.list(t)
			if len(l) != 1 || l[0].Status != "queued" || !strings.Contains(l[0].LastError, "535") {
				t.Errorf("after bad auth: %+v", l)
			}
			if len(e.local.all()) != 0 {
				t.Error("bounced because of our credentials")
			}
		})
	}
}

// TestSmarthostUnverifiedCertFails: a relay whose certificate does not
// verify is not given the password.
func TestSmarthostUnverifiedCertFails(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.dns.Add("relay.example. 300 IN A 127.0.0.5")
	relay := n.sink(t, "relay.example", "127.0.0.5", sinkOpts{})
	relay.user, relay.pass = "postel", "s3cret"
	e := newEnv(t, n, func(o *Options) {
		o.Smarthost = &Smarthost{Host: "relay.example", Port: n.port, Username: "postel", Password: "s3cret"}
	})
	e.enqueue(t, "alice@example.org", []string{"x@a.example"}, testMessage("alice@example.org", "untrusted"))
	e.run(t)
	if len(relay.messages()) != 0 {
		t.Fatal("delivered to an unverified relay")
	}
	if l := e.list(t); len(l) != 1 || l[0].Status != "queued" {
		t.Errorf("queue: %+v", l)
	}
}

// TestOpportunisticTLSFallback: an MX whose STARTTLS handshake fails still
// gets the mail in plaintext; one without STARTTLS too.
func TestOpportunisticTLSFallback(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("broken-tls.example", 10, "mx.broken-tls.example", "127.0.0.2")
	n.mx("no-tls.example", 10, "mx.no-tls.example", "127.0.0.3")
	broken := n.sink(t, "mx.broken-tls.example", "127.0.0.2", sinkOpts{})
	// A certificate with no usable key makes the server's handshake fail.
	broken.srv.TLSConfig = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return nil, errDown
	}}
	plain := n.sink(t, "mx.no-tls.example", "127.0.0.3", sinkOpts{noTLS: true})
	e := newEnv(t, n, nil)
	e.enqueue(t, "alice@example.org", []string{"x@broken-tls.example", "y@no-tls.example"}, testMessage("alice@example.org", "tls-fallback"))
	e.run(t)
	if got := broken.messages(); len(got) != 1 || got[0].TLS {
		t.Errorf("broken-TLS MX got %+v", got)
	}
	if got := plain.messages(); len(got) != 1 || got[0].TLS {
		t.Errorf("no-TLS MX got %+v", got)
	}
}
