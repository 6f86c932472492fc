package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

// ErrLocked is returned by Open when another process (normally a running
// `postel serve`) holds the database; bbolt allows one process at a time.
var ErrLocked = errors.New("auth: database is in use by another process")

// Bucket names. Keys are canonical addresses (or domains, or "@domain" for
// catch-alls); values are JSON so that the file can be inspected with
// standard bbolt tools.
var (
	bucketMeta    = []byte("meta")
	bucketDomains = []byte("domains")
	bucketUsers   = []byte("users")
	bucketAliases = []byte("aliases")

	keyVersion = []byte("version")
)

const schemaVersion = "1"

// openTimeout bounds the wait for bbolt's file lock.
const openTimeout = time.Second

type domainRecord struct {
	Created time.Time `json:"created"`
}

type userRecord struct {
	Hash    string    `json:"hash"` // PHC argon2id string
	Quota   int64     `json:"quota"`
	Created time.Time `json:"created"`
}

type aliasRecord struct {
	Targets []string  `json:"targets"`
	Created time.Time `json:"created"`
}

// state is an immutable in-memory copy of the whole database. Readers load
// it without locks; writers build a new one after each commit and swap it
// in, so a reader sees either the state before a change or after it.
type state struct {
	domains map[string]domainRecord
	users   map[string]userRecord
	aliases map[string]aliasRecord
}

// DB is the account database. It is safe for concurrent use.
type DB struct {
	bolt  *bbolt.DB
	log   *slog.Logger
	now   func() time.Time
	hash  HashParams
	sleep func(ctx context.Context, d time.Duration) error

	wmu   sync.Mutex // serialises writers: bbolt update plus state swap
	state atomic.Pointer[state]

	thr     *throttle
	hashSem chan struct{}
	dummy   string // see newDummyHash
}

// Open opens or creates the database at opts.Path (creating its directory
// with owner-only permissions if needed). It returns an error wrapping
// ErrLocked if another process has it open.
func Open(opts Options) (*DB, error) {
	if opts.Path == "" {
		return nil, fmt.Errorf("%w: empty database path", ErrInvalid)
	}
	hp := opts.Hash.withDefaults()
	if err := hp.validate(); err != nil {
		return nil, err
	}
	dummy, err := newDummyHash(hp)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o700); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	b, err := bbolt.Open(opts.Path, 0o600, &bbolt.Options{Timeout: openTimeout})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrLocked, opts.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: opening %s: %w", opts.Path, err)
	}
	db := &DB{
		dummy:   dummy,
		bolt:    b,
		log:     opts.Logger,
		now:     opts.Now,
		hash:    hp,
		sleep:   sleepCtx,
		thr:     newThrottle(opts.Throttle.withDefaults()),
		hashSem: make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
	}
	if db.log == nil {
		db.log = slog.Default()
	}
	if db.now == nil {
		db.now = time.Now
	}
	if err := db.init(); err != nil {
		b.Close()
		return nil, err
	}
	return db, nil
}

// init creates the buckets of a new file, checks the schema version of an
// old one, and loads the in-memory state.
func (db *DB) init() error {
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketDomains, bucketUsers, bucketAliases} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keyVersion); {
		case v == nil:
			return meta.Put(keyVersion, []byte(schemaVersion))
		case string(v) != schemaVersion:
			return fmt.Errorf("auth: database schema version %q, want %q", v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("auth: initialising database: %w", err)
	}
	st, err := db.load()
	if err != nil {
		return err
	}
	db.state.Store(st)
	return nil
}

// Close closes the database. Calls after Close fail.
func (db *DB) Close() error {
	return db.bolt.Close()
}

// load reads the whole database into a fresh state.
func (db *DB) load() (*state, error) {
	st := &state{
		domains: map[string]domainRecord{},
		users:   map[string]userRecord{},
		aliases: map[string]aliasRecord{},
	}
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		if err := loadBucket(tx, bucketDomains, st.domains); err != nil {
			return err
		}
		if err := loadBucket(tx, bucketUsers, st.users); err != nil {
			return err
		}
		return loadBucket(tx, bucketAliases, st.aliases)
	})
	if err != nil {
		return nil, fmt.Errorf("auth: loading database: %w", err)
	}
	return st, nil
}

func loadBucket[T any](tx *bbolt.Tx, name []byte, into map[string]T) error {
	return tx.Bucket(name).ForEach(func(k, v []byte) error {
		var rec T
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("bucket %s key %q: %w", name, k, err)
		}
		into[string(k)] = rec
		return nil
	})
}

// view returns the current state. It never blocks.
func (db *DB) view() *state { return db.state.Load() }

// update runs fn in a bbolt write transaction with the current state for
// validation (consistent, since writers are serialised), then reloads the
// state after the commit is on disk.
func (db *DB) update(ctx context.Context, fn func(tx *bbolt.Tx, st *state) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	st := db.view()
	if err := db.bolt.Update(func(tx *bbolt.Tx) error { return fn(tx, st) }); err != nil {
		return err
	}
	ns, err := db.load()
	if err != nil {
		return err
	}
	db.state.Store(ns)
	return nil
}

func putJSON(tx *bbolt.Tx, bucket []byte, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put([]byte(key), b)
}

func del(tx *bbolt.Tx, bucket []byte, key string) error {
	return tx.Bucket(bucket).Delete([]byte(key))
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
