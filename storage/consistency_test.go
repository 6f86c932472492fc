package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// checkConsistency verifies the invariants between index and Maildirs:
// counters equal a recount, every record's file exists with the indexed
// size, no unindexed file sits in cur/ or new/, UIDs are below UIDNEXT
// and MODSEQs at most HIGHESTMODSEQ.
func checkConsistency(t *testing.T, a *Account) {
	t.Helper()
	err := a.view(func(tx *bbolt.Bucket) error {
		for _, name := range mailboxNames(tx) {
			m, err := loadMbox(tx, name)
			if err != nil {
				return err
			}
			var n, unseen, deleted uint32
			var size int64
			files := map[string]bool{}
			var r msgRec
			c := m.msgs.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if err := unmarshalMsg(v, &r, true); err != nil {
					return err
				}
				uid := uidFromKey(k)
				if uid >= m.info.UIDNext || r.modseq > m.info.HighestModSeq || r.modseq == 0 {
					t.Errorf("%s UID %d: UIDNEXT %d, MODSEQ %d of %d", name, uid, m.info.UIDNext, r.modseq, m.info.HighestModSeq)
				}
				n++
				if r.flags.bits&bitSeen == 0 {
					unseen++
				}
				if r.flags.bits&bitDeleted != 0 {
					deleted++
				}
				size += r.size
				fi, err := os.Stat(filepath.Join(a.mboxDir(name), "cur", r.file))
				if err != nil || fi.Size() != r.size {
					t.Errorf("%s UID %d: file %s: %v (size %v, indexed %d)", name, uid, r.file, err, fi, r.size)
				}
				files[r.file] = true
			}
			if n != m.info.Messages || unseen != m.info.Unseen || deleted != m.info.Deleted || size != m.info.Size {
				t.Errorf("%s counters %+v, recount %d/%d/%d/%d", name, m.info, n, unseen, deleted, size)
			}
			for _, sub := range []string{"cur", "new"} {
				names, _ := readNames(filepath.Join(a.mboxDir(name), sub))
				for _, f := range names {
					if sub == "new" || !files[f] {
						t.Errorf("%s: unindexed file %s/%s", name, sub, f)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentOperationsConsistency runs deliveries, flag changes,
// copies, moves, expunges and mailbox renames at once, then checks that
// index and files agree, before and after a reopen.
func TestConcurrentOperationsConsistency(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	ctx := context.Background()
	if err := a.CreateMailbox(ctx, "Work", ""); err != nil {
		t.Fatal(err)
	}
	boxes := []string{"INBOX", "Archive", "Trash"}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := 0; i < 40; i++ {
				mb := boxes[rng.IntN(len(boxes))]
				uids := []uint32{uint32(rng.IntN(30) + 1), uint32(rng.IntN(30) + 1)}
				var err error
				switch rng.IntN(7) {
				case 0, 1:
					_, _, err = a.Append(ctx, mb, strings.NewReader(fmt.Sprintf("Subject: %d-%d\r\n\r\n%s\r\n", w, i, strings.Repeat("x", rng.IntN(500)))), nil, time.Time{})
				case 2:
					_, err = a.StoreFlags(ctx, mb, uids, FlagOp(rng.IntN(3)), []string{`\Seen`, `\Deleted`, "$k"}[:rng.IntN(3)+1])
				case 3:
					_, _, _, err = a.Copy(ctx, mb, uids, boxes[rng.IntN(len(boxes))])
				case 4:
					_, _, _, err = a.Move(ctx, mb, uids, boxes[rng.IntN(len(boxes))])
				case 5:
					_, err = a.Expunge(ctx, mb, nil)
				case 6:
					if w == 0 {
						from, to := "Work", "Work2"
						if i%2 == 1 {
							from, to = to, from
						}
						err = a.RenameMailbox(ctx, from, to)
					} else {
						err = a.Delete(ctx, mb, uids[:1])
					}
				}
				if err != nil {
					t.Errorf("worker %d op %d: %v", w, i, err)
				}
			}
		}()
	}
	wg.Wait()
	checkConsistency(t, a)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkConsistency(t, testAccount(t, openTest(t, dir)))
}
