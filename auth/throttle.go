package auth

import (
	"net/netip"
	"sync"
	"time"
)

// Default throttling: three free failures, then 0.5 s, 1 s, 2 s, 4 s, 8 s,
// 8 s... before each further failure is answered; after ten failures the
// source or account is refused outright until fifteen quiet minutes pass.
const (
	defaultFree      = 3
	defaultBaseDelay = 500 * time.Millisecond
	defaultMaxDelay  = 8 * time.Second
	defaultLockout   = 10
	defaultWindow    = 15 * time.Minute

	// sweepEvery failures, entries idle for a whole Window are dropped, so
	// the tables stay proportional to recent attackers.
	sweepEvery = 1024
	// maxLoginKey bounds the length of an attacker-chosen account key.
	maxLoginKey = 256
)

func (o ThrottleOptions) withDefaults() ThrottleOptions {
	if o.Free <= 0 {
		o.Free = defaultFree
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = defaultBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = defaultMaxDelay
	}
	if o.Lockout <= 0 {
		o.Lockout = defaultLockout
	}
	if o.Window <= 0 {
		o.Window = defaultWindow
	}
	return o
}

// failures counts consecutive failures of one key. The count decays to zero
// once Window has passed since the last failure, so "Lockout failures within
// Window" means failures with no quiet gap of Window between them, and a
// lockout ends Window after the failure that triggered it.
type failures struct {
	n    int
	last time.Time
}

func (f failures) current(now time.Time, window time.Duration) int {
	if f.n == 0 || now.Sub(f.last) >= window {
		return 0
	}
	return f.n
}

// throttle tracks failed logins per remote network and per account name.
// Its mutex is held only for map updates, never while hashing or waiting.
type throttle struct {
	opts ThrottleOptions

	mu    sync.Mutex
	ips   map[netip.Prefix]failures
	accts map[string]failures
	fails int // since the last sweep
}

func newThrottle(o ThrottleOptions) *throttle {
	return &throttle{opts: o, ips: map[netip.Prefix]failures{}, accts: map[string]failures{}}
}

// ipKey groups a remote address: an IPv4 address by itself, IPv6 by its /64
// (one subscriber usually holds a whole /64, so per-address counting would
// be trivially evaded). An invalid address (caller did not know the peer)
// is counted as one shared unknown source.
func ipKey(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// acctKey bounds the account key; names are canonical when valid.
func acctKey(name string) string {
	if len(name) > maxLoginKey {
		return name[:maxLoginKey]
	}
	return name
}

// locked reports whether the remote network or the account is locked out.
func (t *throttle) locked(now time.Time, ip netip.Prefix, acct string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ips[ip].current(now, t.opts.Window) >= t.opts.Lockout ||
		t.accts[acct].current(now, t.opts.Window) >= t.opts.Lockout
}

// fail records a failure for both keys. It returns how long to wait before
// answering, and whether this failure started a lockout of either key.
func (t *throttle) fail(now time.Time, ip netip.Prefix, acct string) (delay time.Duration, lockedNow bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	bump := func(f failures) failures {
		f = failures{n: f.current(now, t.opts.Window) + 1, last: now}
		delay = max(delay, t.delayFor(f.n))
		lockedNow = lockedNow || f.n == t.opts.Lockout
		return f
	}
	t.ips[ip] = bump(t.ips[ip])
	t.accts[acct] = bump(t.accts[acct])
	if t.fails++; t.fails >= sweepEvery {
		t.sweep(now)
	}
	return delay, lockedNow
}

// success forgets an account's failures. The remote's failures stay: one
// good password must not wash out a spray of guesses at other accounts.
func (t *throttle) success(acct string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.accts, acct)
}

// delayFor returns the wait after the n-th consecutive failure:
// BaseDelay*2^(n-Free-1) for n > Free, capped at MaxDelay.
func (t *throttle) delayFor(n int) time.Duration {
	k := n - t.opts.Free - 1
	if k < 0 {
		return 0
	}
	d := t.opts.BaseDelay
	for ; k > 0 && d < t.opts.MaxDelay; k-- {
		d *= 2
	}
	return min(d, t.opts.MaxDelay)
}

func (t *throttle) sweep(now time.Time) {
	t.fails = 0
	for k, f := range t.ips {
		if f.current(now, t.opts.Window) == 0 {
			delete(t.ips, k)
		}
	}
	for k, f := range t.accts {
		if f.current(now, t.opts.Window) == 0 {
			delete(t.accts, k)
		}
	}
}
