package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// BenchDir returns a fresh directory for one round of a benchmark that
// writes many files. Unlike b.TempDir it is not removed when the round
// ends but when the process does (RemoveBenchDirs, from TestMain).
//
// Why: the testing package runs a benchmark function several times with a
// growing b.N, and b.TempDir deletes each round's files before the next
// round starts. On ext4 without a journal (this project's CI machine),
// the inode allocator skips every inode freed in the last 60 to 360
// seconds (fs/ext4/ialloc.c, recently_deleted), checking each one in the
// buffer cache: after a round deleted thousands of message files, every
// file the next round creates costs up to 0.5 ms of kernel CPU
// (measured with perf, benchmarks/storage.md). The measured round would
// then time the previous round's cleanup, not the code under test.
func BenchDir(b testing.TB) string {
	b.Helper()
	benchDirs.Lock()
	defer benchDirs.Unlock()
	if benchDirs.root == "" {
		root, err := os.MkdirTemp("", "postel-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchDirs.root = root
	}
	dir, err := os.MkdirTemp(benchDirs.root, "round-")
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

// RemoveBenchDirs deletes every directory BenchDir made. TestMain calls it
// after m.Run. With POSTEL_BENCH_KEEP set it keeps them (and says where),
// so that a series of benchmark processes compared with each other does
// not slow the next one down by deleting files (see BenchDir).
func RemoveBenchDirs() {
	benchDirs.Lock()
	if os.Getenv("POSTEL_BENCH_KEEP") != "" && benchDirs.root != "" {
		fmt.Fprintf(os.Stderr, "benchmark files kept in %s\n", benchDirs.root)
		benchDirs.root = ""
	}
	defer benchDirs.Unlock()
	if benchDirs.root != "" {
		_ = os.RemoveAll(benchDirs.root)
		benchDirs.root = ""
	}
}

var benchDirs struct {
	sync.Mutex
	root string
}
