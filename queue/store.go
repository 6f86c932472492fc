package queue

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket layout of queue.db:
//
//	msg:  <id>                -> msgRecord (JSON)
//	rcpt: <id> 0x00 <%04d i>  -> rcptRecord (JSON)
//
// The separator sorts before every id character, so a cursor seek to
// <id>0x00 finds exactly one message's recipients.
var (
	bucketMsg  = []byte("msg")
	bucketRcpt = []byte("rcpt")
)

// msgRecord is the per-message record.
type msgRecord struct {
	From          string    `json:"from"` // envelope sender, "" for reports
	Created       time.Time `json:"created"`
	Size          int64     `json:"size"`
	UTF8          bool      `json:"utf8,omitempty"`           // needs SMTPUTF8
	DelayNotified bool      `json:"delay_notified,omitempty"` // delay notice sent
}

// Recipient states.
const (
	stQueued    = "queued"    // to be tried at NextTry
	stDelivered = "delivered" // a remote said 2xx: never send again
	stFailed    = "failed"    // permanent failure, report not yet sent
	stReported  = "reported"  // failed and reported (or null sender)
)

// rcptRecord is the per-recipient record.
type rcptRecord struct {
	Rcpt      string    `json:"rcpt"`
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	NextTry   time.Time `json:"next_try"`
	LastTry   time.Time `json:"last_try,omitzero"`
	LastError string    `json:"last_error,omitempty"` // "550 5.1.1 text" or a local description
	DSNStatus string    `json:"dsn_status,omitempty"` // RFC 3463 code for reports
	RemoteMTA string    `json:"remote_mta,omitempty"` // host that gave LastError
	SMTPReply bool      `json:"smtp_reply,omitempty"` // LastError is the remote's reply
}

func rcptKey(id string, i int) []byte {
	return fmt.Appendf(nil, "%s\x00%04d", id, i)
}

func rcptPrefix(id string) []byte {
	return append([]byte(id), 0)
}

func idOfKey(k []byte) string {
	if i := bytes.IndexByte(k, 0); i >= 0 {
		return string(k[:i])
	}
	return string(k)
}

// init creates the buckets and deletes message files that have no record:
// they were written by an Enqueue that crashed before its commit, so no
// client was ever told they were accepted.
func (q *Queue) init() error {
	known := map[string]bool{}
	err := q.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMsg, bucketRcpt} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMsg).ForEach(func(k, _ []byte) error {
			known[string(k)] = true
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("queue: init db: %w", err)
	}
	ents, err := os.ReadDir(q.msgDir)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	for _, e := range ents {
		if !known[e.Name()] {
			q.log.Info("removing unacknowledged message file", "file", e.Name())
			os.Remove(filepath.Join(q.msgDir, e.Name()))
		}
	}
	return nil
}

func getJSON(b *bolt.Bucket, k []byte, v any) (bool, error) {
	data := b.Get(k)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("queue: corrupt record %q: %w", k, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}

// rcptRef names one recipient record.
type rcptRef struct {
	key []byte
	rec rcptRecord
}

// message is a message with some of its recipients, as loaded for work.
type message struct {
	id    string
	meta  msgRecord
	rcpts []rcptRef
}

// loadAll returns every message with all its recipients, in id order.
func (q *Queue) loadAll() ([]*message, error) {
	var out []*message
	err := q.db.View(func(tx *bolt.Tx) error {
		mb, rb := tx.Bucket(bucketMsg), tx.Bucket(bucketRcpt)
		return mb.ForEach(func(k, v []byte) error {
			m := &message{id: string(k)}
			if err := json.Unmarshal(v, &m.meta); err != nil {
				return fmt.Errorf("queue: corrupt message record %q: %w", k, err)
			}
			c := rb.Cursor()
			p := rcptPrefix(m.id)
			for rk, rv := c.Seek(p); rk != nil && bytes.HasPrefix(rk, p); rk, rv = c.Next() {
				var r rcptRecord
				if err := json.Unmarshal(rv, &r); err != nil {
					return fmt.Errorf("queue: corrupt recipient record %q: %w", rk, err)
				}
				m.rcpts = append(m.rcpts, rcptRef{key: bytes.Clone(rk), rec: r})
			}
			out = append(out, m)
			return nil
		})
	})
	return out, err
}

// nextDue returns the earliest NextTry of a queued recipient that no run
// is attempting.
func (q *Queue) nextDue() (time.Time, bool, error) {
	var next time.Time
	found := false
	q.flightMu.Lock()
	defer q.flightMu.Unlock()
	err := q.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRcpt).ForEach(func(k, v []byte) error {
			if q.inflight[string(k)] {
				return nil
			}
			var r rcptRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if r.Status == stQueued && (!found || r.NextTry.Before(next)) {
				next, found = r.NextTry, true
			}
			return nil
		})
	})
	return next, found, err
}

// saveRcpts writes updated recipient records in one transaction. Records
// whose message has meanwhile been removed (queue remove) are skipped.
func (q *Queue) saveRcpts(refs []rcptRef) error {
	if len(refs) == 0 {
		return nil
	}
	// Batch shares one commit (one fsync) among the workers recording at
	// the same moment; the function is idempotent, as Batch requires.
	return q.db.Batch(func(tx *bolt.Tx) error {
		rb := tx.Bucket(bucketRcpt)
		for _, r := range refs {
			if rb.Get(r.key) == nil {
				continue
			}
			if err := putJSON(rb, r.key, r.rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteMessage removes a message's records, then its file: a crash in
// between leaves an orphan file that init removes.
func (q *Queue) deleteMessage(id string) error {
	err := q.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMsg).Delete([]byte(id)); err != nil {
			return err
		}
		c := tx.Bucket(bucketRcpt).Cursor()
		p := rcptPrefix(id)
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Seek(p) {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue: delete %s: %w", id, err)
	}
	if err := os.Remove(q.msgPath(id)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("queue: %w", err)
	}
	return nil
}

func (q *Queue) msgPath(id string) string {
	return filepath.Join(q.msgDir, id)
}
