package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrNotFound is returned by Retry and Remove for an unknown message id.
var ErrNotFound = errors.New("queue: no such message")

// Entry is one undelivered recipient of a queued message, as `postel queue
// list` shows it.
type Entry struct {
	ID        string // message id (Retry and Remove take it)
	Sender    string // envelope sender, "" for a report
	Recipient string
	Status    string // "queued", or "failed" while its bounce is pending
	Attempts  int
	Created   time.Time
	NextTry   time.Time
	LastError string
}

// List returns every recipient not yet delivered or reported, oldest
// message first.
func (q *Queue) List(ctx context.Context) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	msgs, err := q.loadAll()
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, m := range msgs {
		for _, r := range m.rcpts {
			if r.rec.Status != stQueued && r.rec.Status != stFailed {
				continue
			}
			out = append(out, Entry{
				ID: m.id, Sender: m.meta.From, Recipient: r.rec.Rcpt, Status: r.rec.Status,
				Attempts: r.rec.Attempts, Created: m.meta.Created, NextTry: r.rec.NextTry,
				LastError: r.rec.LastError,
			})
		}
	}
	return out, nil
}

// Retry makes every queued recipient of message id due now and wakes the
// scheduler.
func (q *Queue) Retry(ctx context.Context, id string) error {
	return q.retry(ctx, id)
}

// RetryAll makes every queued recipient due now.
func (q *Queue) RetryAll(ctx context.Context) error {
	return q.retry(ctx, "")
}

func (q *Queue) retry(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	msgs, err := q.loadAll()
	if err != nil {
		return err
	}
	now := q.opts.Now()
	var refs []rcptRef
	found := false
	for _, m := range msgs {
		if id != "" && m.id != id {
			continue
		}
		found = true
		for _, r := range m.rcpts {
			if r.rec.Status == stQueued {
				r.rec.NextTry = now
				refs = append(refs, r)
			}
		}
	}
	if id != "" && !found {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err := q.saveRcpts(refs); err != nil {
		return fmt.Errorf("queue: retry: %w", err)
	}
	q.poke()
	return nil
}

// Remove deletes message id and all its recipients without a bounce (the
// administrator's decision).
func (q *Queue) Remove(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	exists := false
	err := q.db.View(func(tx *bolt.Tx) error {
		exists = tx.Bucket(bucketMsg).Get([]byte(id)) != nil
		return nil
	})
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	// A delivery in progress keeps its open file and skips the vanished
	// records when it saves its results (saveRcpts).
	return q.deleteMessage(id)
}
