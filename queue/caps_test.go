package queue

import (
	"fmt"
	"strconv"
	"testing"
)

// TestConnectionCaps: many messages to one domain use at most
// MaxPerDomain connections, each carrying several messages; many domains
// in parallel stay under MaxConns in total.
func TestConnectionCaps(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	var cc connCounter
	const domains = 6
	var sinks []*sink
	for i := range domains {
		d := fmt.Sprintf("d%d.example", i)
		ip := "127.0.0." + strconv.Itoa(10+i)
		n.mx(d, 10, "mx."+d, ip)
		sinks = append(sinks, n.sink(t, "mx."+d, ip, sinkOpts{conns: &cc}))
	}
	e := newEnv(t, n, func(o *Options) {
		o.MaxPerDomain = 2
		o.MaxConns = 3
	})
	// 10 messages to d0 alone: at most 2 connections to it.
	for i := range 10 {
		e.enqueue(t, "alice@example.org", []string{"x@d0.example"}, testMessage("alice@example.org", fmt.Sprintf("one-domain-%d", i)))
	}
	e.run(t)
	if got := len(sinks[0].messages()); got != 10 {
		t.Fatalf("d0 got %d messages", got)
	}
	cc.mu.Lock()
	if cc.total > 2 || cc.peak > 2 {
		t.Errorf("one domain: %d connections, peak %d; want at most 2 (MaxPerDomain), reused for all messages", cc.total, cc.peak)
	}
	cc.total, cc.peak = 0, 0
	cc.mu.Unlock()

	// 3 messages to each of 6 domains: at most 3 at once (MaxConns).
	for i := range 3 {
		var rcpts []string
		for d := range domains {
			rcpts = append(rcpts, fmt.Sprintf("u%d@d%d.example", i, d))
		}
		e.enqueue(t, "alice@example.org", rcpts, testMessage("alice@example.org", fmt.Sprintf("many-%d", i)))
	}
	e.run(t)
	for d, s := range sinks {
		want := 3
		if d == 0 {
			want = 13
		}
		if got := len(s.messages()); got != want {
			t.Errorf("d%d got %d messages, want %d", d, got, want)
		}
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.peak > 3 {
		t.Errorf("peak %d connections, want at most 3 (MaxConns)", cc.peak)
	}
	if cc.total > domains*2 {
		t.Errorf("%d connections for %d domains", cc.total, domains)
	}
}
