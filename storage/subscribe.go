package storage

import "sync"

// Subscription delivers an account's changes in commit order. Its queue
// is unbounded: the committer appends and never waits for the reader.
type Subscription struct {
	acct *Account
	c    chan Change

	mu     sync.Mutex
	queue  []Change
	closed bool
	notify chan struct{}
	done   chan struct{}
	once   sync.Once
}

// Subscribe returns a subscription to this account's change events. Call
// Close when done. On a closed account the channel is closed at once.
func (a *Account) Subscribe() *Subscription {
	s := &Subscription{acct: a, c: make(chan Change), notify: make(chan struct{}, 1), done: make(chan struct{})}
	a.subsMu.Lock()
	if a.subs == nil {
		a.subsMu.Unlock()
		close(s.c)
		s.once.Do(func() { close(s.done) })
		return s
	}
	a.subs[s] = struct{}{}
	a.subsMu.Unlock()
	go s.pump()
	return s
}

// C returns the channel of changes. The publisher never blocks on it.
func (s *Subscription) C() <-chan Change { return s.c }

// Close ends the subscription and closes C.
func (s *Subscription) Close() {
	s.acct.subsMu.Lock()
	if s.acct.subs != nil {
		delete(s.acct.subs, s)
	}
	s.acct.subsMu.Unlock()
	s.once.Do(func() { close(s.done) })
}

func (s *Subscription) push(ch []Change) {
	s.mu.Lock()
	s.queue = append(s.queue, ch...)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// pump moves queued changes to the channel in order.
func (s *Subscription) pump() {
	defer close(s.c)
	for {
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, ch := range q {
			select {
			case s.c <- ch:
			case <-s.done:
				return
			}
		}
		if len(q) > 0 {
			continue
		}
		select {
		case <-s.notify:
		case <-s.done:
			return
		}
	}
}

// publish hands committed changes to every subscription (in commit order:
// only the committer goroutine calls it).
func (a *Account) publish(ch []Change) {
	a.subsMu.Lock()
	for s := range a.subs {
		s.push(ch)
	}
	a.subsMu.Unlock()
}

// closeSubs ends every subscription (account closed).
func (a *Account) closeSubs() {
	a.subsMu.Lock()
	subs := a.subs
	a.subs = nil
	a.subsMu.Unlock()
	for s := range subs {
		s.once.Do(func() { close(s.done) })
	}
}
