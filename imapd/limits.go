package imapd

import (
	"net/netip"
	"sync"
)

// limits counts open connections per remote IP and logged-in sessions per
// account. A negative maximum means unlimited.
type limits struct {
	maxIP, maxAcct int

	mu     sync.Mutex
	perIP  map[netip.Addr]int
	perAcc map[string]int
}

func newLimits(maxIP, maxAcct int) *limits {
	return &limits{maxIP: maxIP, maxAcct: maxAcct, perIP: make(map[netip.Addr]int), perAcc: make(map[string]int)}
}

func (l *limits) acquireIP(a netip.Addr) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxIP >= 0 && l.perIP[a] >= l.maxIP {
		return nil, false
	}
	l.perIP[a]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.perIP[a]--; l.perIP[a] <= 0 {
			delete(l.perIP, a)
		}
	}, true
}

func (l *limits) acquireAccount(name string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxAcct >= 0 && l.perAcc[name] >= l.maxAcct {
		return nil, false
	}
	l.perAcc[name]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.perAcc[name]--; l.perAcc[name] <= 0 {
			delete(l.perAcc, name)
		}
	}, true
}
