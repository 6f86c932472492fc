package imapd

import (
	"context"
	"runtime/debug"
	"sync"

	"postel/storage"
)

// hub fans one account's storage change events out to the views of the
// sessions that have one of its mailboxes selected. There is one hub per
// account with at least one logged-in session; it holds the account's only
// Subscription in this server.
type hub struct {
	srv  *Server
	name string
	acct *storage.Account
	sub  *storage.Subscription
	refs int // guarded by srv.mu

	mu    sync.Mutex
	views map[*view]struct{}
}

// acquireHub returns the account's hub, starting it on first use.
func (s *Server) acquireHub(ctx context.Context, name string) (*hub, error) {
	// Store.Account returns the one shared object per user (opening it on
	// first use, which may take a while): call it outside s.mu so a slow
	// first login does not hold up everyone else's.
	acct, err := s.opts.Store.Account(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.hubs[name]; h != nil {
		h.refs++
		return h, nil
	}
	h := &hub{srv: s, name: name, acct: acct, sub: acct.Subscribe(), refs: 1, views: make(map[*view]struct{})}
	s.hubs[name] = h
	go h.run()
	return h, nil
}

// releaseHub drops a reference; the last one closes the subscription.
func (s *Server) releaseHub(h *hub) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.refs--; h.refs > 0 {
		return
	}
	delete(s.hubs, h.name)
	h.sub.Close()
}

func (h *hub) run() {
	defer func() {
		if v := recover(); v != nil {
			h.srv.log.Error("imap hub panic", "account", h.name, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	for c := range h.sub.C() {
		h.mu.Lock()
		for v := range h.views {
			v.push(c)
		}
		h.mu.Unlock()
	}
}

func (h *hub) add(v *view) {
	h.mu.Lock()
	h.views[v] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) remove(v *view) {
	h.mu.Lock()
	delete(h.views, v)
	h.mu.Unlock()
}
