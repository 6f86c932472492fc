package queue

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"postel/internal/dnsresolver"
)

// received is one message a sink accepted.
type received struct {
	From     string
	To       []string
	Data     []byte
	AuthUser string
	TLS      bool
	UTF8     bool
	Helo     string
	DKIM     []string // domains of the signatures the sink verified
}

// sink is a scriptable SMTP server standing in for a remote MX or relay.
type sink struct {
	name string
	addr string
	srv  *smtp.Server

	// Scripts; nil accepts. They run in the server's goroutines.
	rcptFn func(rcpt string) error
	dataFn func(msg []byte) error
	// AUTH PLAIN credentials; user "" offers no AUTH.
	user, pass string

	discard bool
	dkimDNS string

	mu    sync.Mutex
	msgs  []received
	rcpts int // RCPT commands seen
	got   chan struct{}
}

type sinkOpts struct {
	implicitTLS bool
	noTLS       bool
	utf8        bool
	cert        *tls.Certificate
	conns       *connCounter // shared across sinks to observe caps
	discard     bool         // keep envelopes only (benchmarks)
	// dkimDNS, if set, makes the sink verify every DKIM signature against
	// that DNS server, as a receiving MTA does, and refuse the message
	// (550 5.7.20, RFC 7372) unless there are two and all verify.
	dkimDNS string
}

// connCounter counts open and total connections accepted by sinks.
type connCounter struct {
	mu                sync.Mutex
	open, peak, total int
}

type countedListener struct {
	net.Listener
	c *connCounter
}

func (l countedListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.c.mu.Lock()
	l.c.open++
	l.c.total++
	l.c.peak = max(l.c.peak, l.c.open)
	l.c.mu.Unlock()
	return &countedConn{Conn: conn, c: l.c}, nil
}

type countedConn struct {
	net.Conn
	c    *connCounter
	once sync.Once
}

// Read counts the connection as closed once QUIT arrives: the client
// waits for the reply before it lets another connection start, so the
// count never shows a closing connection overlapping its successor.
func (c *countedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if bytes.Contains(bytes.ToUpper(b[:n]), []byte("QUIT\r\n")) {
		c.done()
	}
	return n, err
}

func (c *countedConn) Close() error {
	c.done()
	return c.Conn.Close()
}

func (c *countedConn) done() {
	c.once.Do(func() {
		c.c.mu.Lock()
		c.c.open--
		c.c.mu.Unlock()
	})
}

// startSink listens on ip:port. The certificate is self-signed for name
// unless opts.cert is given.
func startSink(t testing.TB, name, ip string, port int, o sinkOpts) *sink {
	t.Helper()
	s := &sink{name: name, got: make(chan struct{}, 1), discard: o.discard, dkimDNS: o.dkimDNS}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{s: s, conn: c}, nil
	}))
	srv.Domain = name
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.EnableSMTPUTF8 = o.utf8
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = 64 << 20
	srv.MaxRecipients = 1000
	if !o.noTLS {
		cert := o.cert
		if cert == nil {
			c := selfSigned(t, name)
			cert = &c
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("sink %s: %v", name, err)
	}
	if o.conns != nil {
		ln = countedListener{Listener: ln, c: o.conns}
	}
	if o.implicitTLS {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	s.addr = ln.Addr().String()
	s.srv = srv
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *sink) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *sink) rcptCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcpts
}

// wait waits for n messages in total, failing the test after a deadline.
func (s *sink) wait(t testing.TB, n int) []received {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if m := s.messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.got:
		case <-deadline:
			t.Fatalf("sink %s: %d messages, want %d", s.name, len(s.messages()), n)
		}
	}
}

type sinkSession struct {
	s        *sink
	conn     *smtp.Conn
	authUser string
	from     string
	utf8     bool
	to       []string
}

func (ss *sinkSession) AuthMechanisms() []string {
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *sinkSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.user || pass != ss.s.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		ss.authUser = user
		return nil
	}), nil
}

func (ss *sinkSession) Mail(from string, o *smtp.MailOptions) error {
	if ss.s.user != "" && ss.authUser == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	ss.from, ss.to = from, nil
	ss.utf8 = o != nil && o.UTF8
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	ss.s.rcpts++
	ss.s.mu.Unlock()
	if ss.s.rcptFn != nil {
		if err := ss.s.rcptFn(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.s.dataFn != nil {
		if err := ss.s.dataFn(data); err != nil {
			return err
		}
	}
	ss.s.mu.Lock()
	var verified []string
	if ss.s.dkimDNS != "" {
		r := dnsresolver.New(ss.s.dkimDNS)
		vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(data), &msgdkim.VerifyOptions{
			LookupTXT: func(name string) ([]string, error) { return r.LookupTXT(context.Background(), name) },
		})
		if err != nil || len(vs) != 2 {
			return smtpErr(550, [3]int{5, 7, 20}, "no valid DKIM signatures")
		}
		for _, v := range vs {
			if v.Err != nil {
				return smtpErr(550, [3]int{5, 7, 20}, "DKIM: "+v.Err.Error())
			}
			verified = append(verified, v.Domain)
		}
	}
	if ss.s.discard {
		data = nil
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.s.msgs = append(ss.s.msgs, received{From: ss.from, To: ss.to, Data: data, AuthUser: ss.authUser,
		TLS: isTLS, UTF8: ss.utf8, Helo: ss.conn.Hostname(), DKIM: verified})
	ss.s.mu.Unlock()
	select {
	case ss.s.got <- struct{}{}:
	default: // a wake-up is already pending
	}
	return nil
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

// smtpErr builds a reply for scripts.
func smtpErr(code int, enh [3]int, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode(enh), Message: msg}
}

// selfSigned returns a self-signed certificate for name and 127.0.0.0/8.
func selfSigned(t testing.TB, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// capture is a LocalDeliverer that keeps what it is given.
type capture struct {
	mu   sync.Mutex
	msgs []captured
	fail error
}

type captured struct {
	From, Rcpt string
	Data       []byte
}

func (c *capture) DeliverLocal(ctx context.Context, from, rcpt string, msg io.Reader) error {
	data, err := io.ReadAll(msg)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.msgs = append(c.msgs, captured{From: from, Rcpt: rcpt, Data: data})
	return nil
}

func (c *capture) all() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.msgs...)
}

var errDown = errors.New("down")

// startSinkMaybe is startSink for an address that may not exist here.
func startSinkMaybe(t *testing.T, name, ip string, port int) *sink {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return nil
	}
	ln.Close()
	return startSink(t, name, ip, port, sinkOpts{})
}

func readDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, err
}
