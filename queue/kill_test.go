package queue

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestKill9DuringEnqueue runs a child process that enqueues in a loop and
// reports each id Enqueue returned, kills it with SIGKILL mid-stream, and
// checks that every acknowledged message is in the reopened queue with its
// file: DESIGN.md invariant 2 for the queue.
func TestKill9DuringEnqueue(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$")
	cmd.Env = append(os.Environ(), "POSTEL_QUEUE_CHILD_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "queued "); ok {
			acked = append(acked, id)
			if len(acked) == 25 {
				break
			}
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if len(acked) < 25 {
		t.Fatalf("child acknowledged only %d messages", len(acked))
	}
	q, err := Open(Options{Dir: dir, Hostname: "mail.example.org", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	l, err := q.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range l {
		have[e.ID] = true
	}
	for _, id := range acked {
		if !have[id] {
			t.Errorf("acknowledged message %s lost", id)
		}
		if _, err := os.Stat(filepath.Join(dir, "msg", id)); err != nil {
			t.Errorf("file of %s: %v", id, err)
		}
	}
	// Files without records (the enqueue the kill interrupted) are gone.
	ents, _ := os.ReadDir(filepath.Join(dir, "msg"))
	if len(ents) != len(have) {
		t.Errorf("%d message files for %d messages", len(ents), len(have))
	}
}

// TestKill9Child is the child of TestKill9DuringEnqueue; alone it skips.
func TestKill9Child(t *testing.T) {
	dir := os.Getenv("POSTEL_QUEUE_CHILD_DIR")
	if dir == "" {
		t.Skip("helper process for TestKill9DuringEnqueue")
	}
	q, err := Open(Options{Dir: dir, Hostname: "mail.example.org", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		id, err := q.Enqueue(context.Background(), "alice@example.org", []string{"x@a.example", "y@b.example"},
			strings.NewReader(testMessage("alice@example.org", fmt.Sprintf("kill-%d", i))))
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("queued", id) // stdout is unbuffered: the parent sees it now
	}
}
