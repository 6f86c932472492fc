package storage

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"postel/internal/testenv"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// crashChildEnv makes the test binary act as a delivering child process
// that TestCrashRecovery kills with SIGKILL.
const crashChildEnv = "POSTEL_STORAGE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	code := m.Run()
	testenv.RemoveBenchDirs()
	os.Exit(code)
}

// crashChild delivers from several goroutines forever and prints
// "ack <subject> <uid> <uid>" after each Commit returns, and "batch <n>"
// when the largest batch of bodies made durable together grows.
func crashChild(dir string) {
	s, err := Open(Options{Dir: dir})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var batch int64
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				subject := fmt.Sprintf("pid%d-g%d-%d", os.Getpid(), g, i)
				d, err := s.BeginDelivery(context.Background())
				if err != nil {
					os.Exit(3)
				}
				_, _ = io.WriteString(d, crashBody(subject))
				res, err := d.Commit(context.Background(), []Target{{Account: acct, Mailbox: "INBOX"}, {Account: "carol@example.com", Mailbox: "INBOX"}}, time.Time{})
				if err != nil || res[0].Err != nil || res[1].Err != nil {
					os.Exit(4)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %s %d %d\n", subject, res[0].UID, res[1].UID)
				if mb := s.bodies.maxBatch.Load(); mb > batch {
					batch = mb
					fmt.Fprintf(out, "batch %d\n", mb)
				}
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// crashBody is the message the crash child delivers with a subject
// "pid<p>-g<g>-<i>": goroutine g writes 200*g body bytes.
func crashBody(subject string) string {
	g := 0
	if f := strings.Split(subject, "-"); len(f) == 3 {
		g, _ = strconv.Atoi(strings.TrimPrefix(f[1], "g"))
	}
	return fmt.Sprintf("Subject: %s\r\n\r\n%s\r\n", subject, strings.Repeat("z", 200*g))
}

// TestCrashRecovery kills a delivering process with SIGKILL at an
// arbitrary point, several times, and checks that every acknowledged
// message is present exactly once under the UID it was given, that no
// message appears twice, and that UIDs never go backwards. The child's
// deliveries share body syncs (batches of several bodies per syncfs,
// checked where syncfs exists), so kills land between a batch's syncfs,
// its links and its index commit too.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	acked := map[string][2]uint32{}
	var maxUID uint32
	maxBatch := 0
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		n := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && f[0] == "batch" {
				if b, _ := strconv.Atoi(f[1]); b > maxBatch {
					maxBatch = b
				}
				continue
			}
			if len(f) != 4 || f[0] != "ack" {
				t.Fatalf("child said %q", sc.Text())
			}
			u1, _ := strconv.Atoi(f[2])
			u2, _ := strconv.Atoi(f[3])
			acked[f[1]] = [2]uint32{uint32(u1), uint32(u2)}
			if n++; n == 60+round*37 {
				_ = cmd.Process.Kill() // SIGKILL mid-stream
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // acks written before the kill
		_ = cmd.Wait()

		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		for i, name := range []string{acct, "carol@example.com"} {
			a, err := s.Account(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			checkConsistency(t, a)
			info, ms, err := a.List(context.Background(), "INBOX")
			if err != nil {
				t.Fatal(err)
			}
			uids := make([]uint32, len(ms))
			for j, m := range ms {
				uids[j] = m.UID
			}
			fetched, err := a.Fetch(context.Background(), "INBOX", uids)
			if err != nil {
				t.Fatal(err)
			}
			bySubject := map[string]uint32{}
			for _, m := range fetched {
				subj := m.Envelope.Subject
				if old, dup := bySubject[subj]; dup {
					t.Fatalf("round %d %s: %q twice (UIDs %d, %d)", round, name, subj, old, m.UID)
				}
				bySubject[subj] = m.UID
				// Every message, acknowledged or adopted by recovery,
				// is complete: never a body cut short by the kill.
				if got, want := body(t, a, "INBOX", m.UID), crashBody(subj); got != want {
					t.Fatalf("round %d %s: UID %d (%q) is %d bytes, want %d", round, name, m.UID, subj, len(got), len(want))
				}
			}
			for subj, u := range acked {
				if got, ok := bySubject[subj]; !ok || got != u[i] {
					t.Fatalf("round %d %s: acknowledged %q (UID %d) lost or moved: %d %v", round, name, subj, u[i], got, ok)
				}
			}
			if i == 0 {
				if info.UIDNext <= maxUID {
					t.Fatalf("UIDNEXT %d went backwards (had %d)", info.UIDNext, maxUID)
				}
				maxUID = info.UIDNext
			}
			if int(info.Messages) != len(ms) || info.Messages < uint32(len(acked)) {
				t.Fatalf("%s: status %d messages, list %d, acked %d", name, info.Messages, len(ms), len(acked))
			}
		}
		s.Close()
	}
	if haveSyncfs && maxBatch < 2 {
		t.Errorf("largest body batch %d: the batched path was not exercised", maxBatch)
	}
	t.Logf("largest body batch %d", maxBatch)
}
