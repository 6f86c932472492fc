package queue

import (
	"context"
	"runtime/debug"
	"sort"
	"sync"
)

// job is one message with its due recipients of one domain.
type job struct {
	m     *message
	rcpts []rcptRef
}

// RunOnce attempts every recipient due now and returns when those attempts
// have finished and their results, reports and clean-up are committed.
// Tests call it after moving Options.Now. Recipients another run is
// already attempting are left to it.
func (q *Queue) RunOnce(ctx context.Context) error {
	q.runMu.RLock()
	defer q.runMu.RUnlock()
	work, err := q.claim()
	if err != nil {
		return err
	}
	return q.deliver(ctx, work)
}

// claim collects the due recipients that no run is attempting yet, grouped
// by destination domain, and marks them in flight.
func (q *Queue) claim() (map[string][]job, error) {
	q.flightMu.Lock()
	defer q.flightMu.Unlock()
	now := q.opts.Now()
	msgs, err := q.loadAll()
	if err != nil {
		return nil, err
	}
	byDomain := map[string][]job{}
	for _, m := range msgs {
		per := map[string][]rcptRef{}
		var order []string
		for _, r := range m.rcpts {
			if r.rec.Status != stQueued || r.rec.NextTry.After(now) || q.inflight[string(r.key)] {
				continue
			}
			q.inflight[string(r.key)] = true
			d := domainOf(r.rec.Rcpt)
			if q.opts.Smarthost != nil {
				d = "" // one destination: the relay
			}
			if _, ok := per[d]; !ok {
				order = append(order, d)
			}
			per[d] = append(per[d], r)
		}
		for _, d := range order {
			byDomain[d] = append(byDomain[d], job{m: m, rcpts: per[d]})
		}
	}
	return byDomain, nil
}

// deliver attempts claimed work: per domain up to MaxPerDomain workers,
// each with one connection for all the messages it takes, under the
// queue-wide caps. Then it releases the claim and sends due reports.
func (q *Queue) deliver(ctx context.Context, byDomain map[string][]job) error {
	domains := make([]string, 0, len(byDomain))
	for d := range byDomain {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	var wg sync.WaitGroup
	for _, d := range domains {
		jobs := make(chan job, len(byDomain[d]))
		for _, j := range byDomain[d] {
			jobs <- j
		}
		close(jobs)
		for range min(q.opts.MaxPerDomain, len(byDomain[d])) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					// A bug in one delivery must not take the server down;
					// its recipients stay queued and are tried again.
					if p := recover(); p != nil {
						q.log.Error("delivery worker panic", "panic", p, "stack", string(debug.Stack()))
					}
				}()
				// Domain slot first, then a total slot: a worker waiting for
				// a busy domain does not hold a connection others could use.
				if !q.slots.acquire(ctx, d) {
					return
				}
				defer q.slots.release(d)
				select {
				case q.total <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-q.total }()
				q.worker(ctx, d, jobs)
			}()
		}
	}
	wg.Wait()
	q.flightMu.Lock()
	for _, js := range byDomain {
		for _, j := range js {
			for _, r := range j.rcpts {
				delete(q.inflight, string(r.key))
			}
		}
	}
	q.flightMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return q.finish(ctx)
}

// domainSlots caps connections per destination domain across concurrent
// runs. Entries live only while someone holds or waits for a slot.
type domainSlots struct {
	max int
	mu  sync.Mutex
	m   map[string]*domainSlot
}

type domainSlot struct {
	ch    chan struct{}
	users int
}

func (s *domainSlots) acquire(ctx context.Context, d string) bool {
	s.mu.Lock()
	sl := s.m[d]
	if sl == nil {
		sl = &domainSlot{ch: make(chan struct{}, s.max)}
		s.m[d] = sl
	}
	sl.users++
	s.mu.Unlock()
	select {
	case sl.ch <- struct{}{}:
		return true
	case <-ctx.Done():
		s.leave(d, sl)
		return false
	}
}

func (s *domainSlots) release(d string) {
	s.mu.Lock()
	sl := s.m[d]
	s.mu.Unlock()
	<-sl.ch
	s.leave(d, sl)
}

func (s *domainSlots) leave(d string, sl *domainSlot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sl.users--; sl.users == 0 {
		delete(s.m, d)
	}
}

// worker delivers jobs for one domain over one connection, opened at the
// first job and reopened after a connection is lost. If it cannot be
// opened, every job it takes fails the same way (no reconnect per message:
// the hosts were just tried).
func (q *Queue) worker(ctx context.Context, domain string, jobs <-chan job) {
	var s *session
	var connFail *result
	defer func() {
		if s != nil {
			s.close()
		}
	}()
	for j := range jobs {
		if ctx.Err() != nil {
			return
		}
		if s == nil && connFail == nil {
			s, connFail = q.connect(ctx, domain)
		}
		var res []result
		if connFail != nil {
			res = make([]result, len(j.rcpts))
			for i := range res {
				res[i] = *connFail
			}
		} else {
			var ok bool
			res, ok = q.send(s, j.m, j.rcpts)
			if !ok {
				// The next job reconnects; if that fails, connFail ends
				// the worker's attempts for this run.
				s.c.Close()
				s.cancel()
				s = nil
			}
		}
		if err := q.record(j.m, j.rcpts, res); err != nil {
			q.log.Error("recording delivery results failed", "id", j.m.id, "err", err)
		}
	}
}

// record commits the results of one attempt at once, so that a crash
// right after never re-sends to a recipient that was accepted.
func (q *Queue) record(m *message, rcpts []rcptRef, res []result) error {
	now := q.opts.Now()
	expired := !now.Before(m.meta.Created.Add(q.opts.Expire))
	for i := range rcpts {
		r, rec := res[i], &rcpts[i].rec
		rec.Attempts++
		rec.LastTry = now
		rec.RemoteMTA = r.remote
		switch {
		case r.ok:
			rec.Status = stDelivered
			rec.LastError = ""
			q.log.Info("delivered", "id", m.id, "rcpt", rec.Rcpt, "host", r.remote)
			continue
		case r.perm:
			rec.Status = stFailed
		case expired:
			// RFC 3463 4.4.7: delivery time expired; the last reply stays
			// the diagnostic.
			rec.Status = stFailed
			r.status = "4.4.7"
		default:
			// The last try happens at expiry, not up to 4 hours after it.
			rec.NextTry = now.Add(backoff(rec.Attempts))
			if deadline := m.meta.Created.Add(q.opts.Expire); rec.NextTry.After(deadline) {
				rec.NextTry = deadline
			}
		}
		rec.LastError = r.text
		rec.DSNStatus = r.status
		rec.SMTPReply = r.reply
		if rec.Status == stFailed && m.meta.From == "" {
			rec.Status = stReported // RFC 5321 6.1: never report on a report
		}
		q.log.Info("delivery failed", "id", m.id, "rcpt", rec.Rcpt, "host", r.remote,
			"permanent", rec.Status != stQueued, "err", r.text, "attempts", rec.Attempts)
	}
	return q.saveRcpts(rcpts)
}

// finish sends the reports that are due and removes finished messages.
// One at a time, so that concurrent runs never send a report twice.
func (q *Queue) finish(ctx context.Context) error {
	q.finishMu.Lock()
	defer q.finishMu.Unlock()
	msgs, err := q.loadAll()
	if err != nil {
		return err
	}
	now := q.opts.Now()
	for _, m := range msgs {
		var failed, pending []rcptRef
		done := true
		for _, r := range m.rcpts {
			switch r.rec.Status {
			case stFailed:
				failed = append(failed, r)
				done = false
			case stQueued:
				pending = append(pending, r)
				done = false
			}
		}
		if len(failed) > 0 {
			if err := q.report(ctx, m, failed, false); err != nil {
				q.log.Error("sending bounce failed", "id", m.id, "err", err)
			} else {
				for i := range failed {
					failed[i].rec.Status = stReported
				}
				if err := q.saveRcpts(failed); err != nil {
					return err
				}
				done = len(pending) == 0
			}
		}
		if len(pending) > 0 && !m.meta.DelayNotified && m.meta.From != "" &&
			!now.Before(m.meta.Created.Add(q.opts.DelayNotice)) {
			if err := q.report(ctx, m, pending, true); err != nil {
				q.log.Error("sending delay notice failed", "id", m.id, "err", err)
			} else if err := q.markDelayNotified(m.id); err != nil {
				return err
			}
		}
		if done {
			if err := q.deleteMessage(m.id); err != nil {
				return err
			}
		}
	}
	return nil
}
