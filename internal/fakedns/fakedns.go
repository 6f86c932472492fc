// Package fakedns is a small authoritative DNS server on loopback for tests:
// the "fake internet" that outbound delivery and inbound checks resolve
// against. Records are given in zone-file syntax.
package fakedns

import (
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Server answers from an in-memory record set over UDP and TCP.
type Server struct {
	Addr string // "127.0.0.1:port", serving UDP and TCP

	mu      sync.Mutex
	records map[string][]dns.RR // by lower-case FQDN
	fail    map[string]bool     // names answered with SERVFAIL
	udp     *dns.Server
	tcp     *dns.Server
}

// TB is the part of testing.TB the server needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Start starts a server on 127.0.0.1 with a random port; it stops at the
// end of the test.
func Start(t TB) *Server {
	t.Helper()
	pc, ln, err := listenPair()
	if err != nil {
		t.Fatalf("fakedns: %v", err)
	}
	s := &Server{Addr: pc.LocalAddr().String(), records: map[string][]dns.RR{}, fail: map[string]bool{}}
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	startedU, startedT := make(chan struct{}), make(chan struct{})
	s.udp.NotifyStartedFunc = func() { close(startedU) }
	s.tcp.NotifyStartedFunc = func() { close(startedT) }
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-startedU
	<-startedT
	t.Cleanup(func() { s.udp.Shutdown(); s.tcp.Shutdown() })
	return s
}

// listenPair binds UDP on a random loopback port and TCP on the same
// port, trying new ports while another process holds the TCP one.
func listenPair() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 50 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
	}
	return nil, nil, lastErr
}

// Add adds records in zone-file syntax, one per argument, e.g.
// "example.com. 300 IN MX 10 mx.example.com." or
// `example.com. TXT "v=spf1 ip4:127.0.0.1 -all"`. It panics on a syntax
// error, which is a bug in the test.
func (s *Server) Add(records ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil || rr == nil {
			panic("fakedns: bad record " + r + ": " + errString(err))
		}
		name := strings.ToLower(rr.Header().Name)
		s.records[name] = append(s.records[name], rr)
	}
}

// Remove deletes every record of name (any type).
func (s *Server) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, strings.ToLower(dns.Fqdn(name)))
}

// Fail makes queries for name answer SERVFAIL (a temporary DNS error).
func (s *Server) Fail(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[strings.ToLower(dns.Fqdn(name))] = true
}

func errString(err error) string {
	if err == nil {
		return "empty record"
	}
	return err.Error()
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.Lock()
	fail := s.fail[name]
	rrs := s.records[name]
	exists := len(rrs) > 0 || s.hasBelow(name)
	var cname dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
			m.Answer = append(m.Answer, dns.Copy(rr))
		} else if rr.Header().Rrtype == dns.TypeCNAME {
			cname = dns.Copy(rr)
		}
	}
	s.mu.Unlock()
	switch {
	case fail:
		m.Answer = nil
		m.Rcode = dns.RcodeServerFailure
	case len(m.Answer) == 0 && cname != nil:
		m.Answer = append(m.Answer, cname)
		target := cname.(*dns.CNAME).Target
		s.mu.Lock()
		for _, rr := range s.records[strings.ToLower(target)] {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
		s.mu.Unlock()
	case !exists:
		m.Rcode = dns.RcodeNameError
	}
	if len(m.Answer) == 0 && m.Rcode == dns.RcodeSuccess || m.Rcode == dns.RcodeNameError {
		// A SOA in the authority section makes the negative answer cacheable
		// and lets resolvers tell NODATA/NXDOMAIN apart correctly.
		soa, _ := dns.NewRR(". 60 IN SOA ns. host. 1 60 60 60 60")
		m.Ns = append(m.Ns, soa)
	}
	w.WriteMsg(m)
}

// hasBelow reports whether some record lives under name (an empty
// non-terminal answers NODATA, not NXDOMAIN). Caller holds s.mu.
func (s *Server) hasBelow(name string) bool {
	suffix := "." + name
	for n := range s.records {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}
