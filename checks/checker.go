package checks

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"postel/checks/dkimverify"
)

// Action is what the SMTP server does with a message after the checks.
type Action int

const (
	// Accept delivers the message to the recipients' INBOX.
	Accept Action = iota
	// Junk delivers the message to the recipients' Junk mailbox.
	Junk
	// Reject refuses the message at the end of DATA with Verdict.Reject.
	Reject
)

// String returns the lower-case name used in logs.
func (a Action) String() string {
	switch a {
	case Accept:
		return "accept"
	case Junk:
		return "junk"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Rejection is an SMTP reply the server sends instead of accepting: a
// connection refused before the greeting, a message refused at MAIL or at
// the end of DATA. Message is safe to send to the client: it never carries
// internal error text.
type Rejection struct {
	Code     int    // 421, 451, 550, 554
	Enhanced [3]int // RFC 3463 enhanced status code, e.g. {5, 7, 1}
	Message  string
}

// Temporary reports whether the client should try again later (4xx).
func (r *Rejection) Temporary() bool { return r.Code >= 400 && r.Code < 500 }

// String formats the reply as it appears on the wire (without CRLF).
func (r *Rejection) String() string {
	return fmt.Sprintf("%d %d.%d.%d %s", r.Code, r.Enhanced[0], r.Enhanced[1], r.Enhanced[2], r.Message)
}

// Envelope is what the SMTP session knows about a message besides its
// bytes.
type Envelope struct {
	RemoteIP netip.Addr
	Helo     string   // EHLO/HELO argument as given
	MailFrom string   // reverse-path without angle brackets; "" for the null sender
	Rcpts    []string // forward-paths, for the log only
	TLS      bool     // the session runs over TLS (logged)
}

// Verdict is the outcome of CheckMessage.
type Verdict struct {
	Action Action
	// Reject is set when Action is Reject: the reply to send at the end of
	// DATA.
	Reject *Rejection
	// Header is the complete "Authentication-Results: ...\r\n" field,
	// folded, to prepend to the delivered message (also on Junk).
	Header string
}

// Rate is a per-IP limit: at most Count events in any window of length Per
// on average, with bursts of up to Count (a token bucket refilled at
// Count/Per). The zero Rate means no limit.
type Rate struct {
	Count int
	Per   time.Duration
}

func (r Rate) enabled() bool { return r.Count > 0 }

// Options configures a Checker.
type Options struct {
	// Hostname is our authserv-id in Authentication-Results (RFC 8601 2.5):
	// normally the host name the MX answers with. Required.
	Hostname string
	// Resolver answers every DNS query (SPF, DKIM, DMARC, DNSBL). Nil means
	// net.DefaultResolver; cmd passes dnsresolver.New(config).
	Resolver *net.Resolver
	// DNSBL lists the DNS blocklist zones to consult at connection time
	// (e.g. "zen.spamhaus.org"). Empty disables the check.
	DNSBL []string
	// IsLocalDomain reports whether a domain is one we host; mail claiming
	// to be From: such a domain (or a subdomain of its organizational
	// domain) must carry an aligned SPF or DKIM pass to reach an INBOX.
	// It is called with a lower-case A-label name without trailing dot.
	// Nil means no local domains.
	IsLocalDomain func(domain string) bool
	// Logger receives one line per message checked and one per refused
	// connection. Nil discards.
	Logger *slog.Logger
	// ConnRate limits new connections per client address (IPv4 /32, IPv6
	// /64). Zero: unlimited.
	ConnRate Rate
	// MsgRate limits messages per client address. Zero: unlimited.
	MsgRate Rate
	// Now is the clock for rate limits; nil means time.Now.
	Now func() time.Time
	// MaxDKIMSignatures bounds how many DKIM-Signature fields are verified
	// per message (each costs a DNS query and a public-key operation);
	// those aligned with the From: domain come first, the rest are
	// ignored. Zero means 5.
	MaxDKIMSignatures int
	// DKIMVerifyAll verifies every DKIM signature (up to
	// MaxDKIMSignatures) and reports each in Authentication-Results. By
	// default verification stops at the first signature that passes
	// aligned with the From: domain (RFC 6376 6.1 leaves that to the
	// verifier), which is all DMARC needs, and the signatures not verified
	// are left out of the header. The body is hashed once either way;
	// each extra signature costs a key lookup and a public-key operation
	// (30-45 us of CPU here), the bulk of the checks' cost.
	DKIMVerifyAll bool
	// SkipDKIMWhenSPFAligned leaves the DKIM signatures of a message
	// unverified when SPF passes aligned with the From: domain (under the
	// DMARC record's aspf=, relaxed without one): DMARC then passes
	// whatever the signatures say (RFC 7489 4.2: one aligned pass
	// suffices), so verifying them changes no decision, only what
	// Authentication-Results reports (no dkim results for such a
	// message). It saves the public-key operation on every message whose
	// sender's SPF aligns. The cost: SPF is then evaluated before DKIM
	// instead of alongside it, which adds the SPF lookups' latency when
	// they are not cached. Ignored with DKIMVerifyAll.
	SkipDKIMWhenSPFAligned bool
	// DNSCacheTTL is how long SPF, DKIM and DMARC answers (and "no such
	// record") are remembered; failures never are. Zero means one minute;
	// negative disables the cache. DNSBL answers are not cached here.
	DNSCacheTTL time.Duration
	// MessageTimeout bounds the DNS work of one CheckMessage (SPF may
	// take up to 10 sequential lookups); results not in by then are
	// temperror. Zero means 30 seconds.
	MessageTimeout time.Duration
	// DNSBLTimeout bounds the DNSBL lookups of one connection; zero means
	// 5 seconds. A zone that does not answer in time is not a listing.
	DNSBLTimeout time.Duration
}

// Checker runs the inbound checks. It is safe for concurrent use.
type Checker struct {
	authservID   string
	res          *net.Resolver
	dns          *dnsCache // SPF, DKIM and DMARC lookups
	zones        []string
	isLocal      func(string) bool
	log          *slog.Logger
	now          func() time.Time
	maxSigs      int
	verifyAll    bool
	spfFirst     bool // SkipDKIMWhenSPFAligned
	dnsblTimeout time.Duration
	msgTimeout   time.Duration
	connLimit    *limiter
	msgLimit     *limiter
	dkim         *dkimverify.Verifier
	// readers recycles the 4 KiB read buffer of each CheckMessage.
	readers sync.Pool
}

// New validates opts and returns a Checker.
func New(opts Options) (*Checker, error) {
	var errs []error
	id := strings.TrimSuffix(strings.TrimSpace(opts.Hostname), ".")
	if id == "" {
		errs = append(errs, errors.New("checks: Hostname (authserv-id) is required"))
	} else if !validToken(id) {
		errs = append(errs, fmt.Errorf("checks: Hostname %q is not a valid authserv-id", opts.Hostname))
	}
	var zones []string
	for _, z := range opts.DNSBL {
		z = strings.ToLower(strings.Trim(strings.TrimSpace(z), "."))
		if z == "" || strings.ContainsAny(z, " \t/@") {
			errs = append(errs, fmt.Errorf("checks: invalid DNSBL zone %q", z))
			continue
		}
		zones = append(zones, z)
	}
	for name, r := range map[string]Rate{"ConnRate": opts.ConnRate, "MsgRate": opts.MsgRate} {
		if r.Count < 0 || r.Count > 0 && r.Per <= 0 {
			errs = append(errs, fmt.Errorf("checks: %s needs Count >= 0 and, when Count > 0, Per > 0", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c := &Checker{
		authservID:   id,
		res:          opts.Resolver,
		zones:        zones,
		isLocal:      opts.IsLocalDomain,
		log:          opts.Logger,
		now:          opts.Now,
		maxSigs:      opts.MaxDKIMSignatures,
		verifyAll:    opts.DKIMVerifyAll,
		spfFirst:     opts.SkipDKIMWhenSPFAligned && !opts.DKIMVerifyAll,
		dnsblTimeout: opts.DNSBLTimeout,
		msgTimeout:   opts.MessageTimeout,
	}
	if c.res == nil {
		c.res = net.DefaultResolver
	}
	if c.isLocal == nil {
		c.isLocal = func(string) bool { return false }
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxSigs <= 0 {
		c.maxSigs = 5
	}
	if c.msgTimeout <= 0 {
		c.msgTimeout = 30 * time.Second
	}
	if c.dnsblTimeout <= 0 {
		c.dnsblTimeout = 5 * time.Second
	}
	ttl := opts.DNSCacheTTL
	if ttl == 0 {
		ttl = time.Minute
	}
	c.dns = newDNSCache(c.res, ttl, c.now)
	c.dkim = &dkimverify.Verifier{LookupTXT: c.dns.LookupTXT, Now: c.now}
	c.connLimit = newLimiter(opts.ConnRate)
	c.msgLimit = newLimiter(opts.MsgRate)
	return c, nil
}

// getReader returns a pooled 4 KiB bufio.Reader reading r; putReader
// gives it back once nothing reads it any more.
func (c *Checker) getReader(r io.Reader) *bufio.Reader {
	if br, ok := c.readers.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, 4096)
}

func (c *Checker) putReader(br *bufio.Reader) {
	br.Reset(nil)
	c.readers.Put(br)
}

// validToken reports whether s can stand unquoted as an RFC 2045 token
// (the authserv-id is a "value", and we only emit it as a token).
func validToken(s string) bool {
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?=`, r) {
			return false
		}
	}
	return s != ""
}
