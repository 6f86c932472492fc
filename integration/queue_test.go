package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"postel/internal/fakedns"
)

// TestQueueAdmin: a message for a host that does not answer stays in the
// queue; `postel queue list|retry|remove` see and manage it through the
// running server and on the stopped one.
func TestQueueAdmin(t *testing.T) {
	t.Parallel()
	dns := fakedns.Start(t)
	port := freePort(t, "127.0.0.4") // nothing listens there
	dns.Add("down.test. 300 IN MX 10 mx.down.test.", "mx.down.test. 300 IN A 127.0.0.4")
	in := newInstance(t, fmt.Sprintf("[outbound]\ndns_server = %q\nsmtp_port = %d\n", dns.Addr, port))
	in.mustPostel("", "domain", "add", "example.com")
	in.mustPostel("alice-pw-1\n", "user", "add", "alice@example.com", "--password-stdin")
	in.start()
	msg := "From: alice@example.com\r\nTo: dave@down.test\r\nSubject: queued\r\n\r\nhi\r\n"
	if err := submit(t, in.addr("submissions"), "alice@example.com", "alice-pw-1", "alice@example.com", []string{"dave@down.test"}, msg); err != nil {
		t.Fatal(err)
	}
	var id string
	waitFor(t, "a failed first attempt", 30*time.Second, func() bool {
		out := in.mustPostel("", "queue", "list")
		for _, l := range readLines(out) {
			if f := strings.Fields(l); len(f) > 4 && f[2] == "dave@down.test" && f[4] != "0" {
				id = f[0]
				return true
			}
		}
		return false
	})
	in.mustPostel("", "queue", "retry", id)
	in.mustPostel("", "queue", "retry", "--all")
	if _, err := in.postel("", "queue", "retry"); err == nil {
		t.Error("queue retry without ID or --all succeeded")
	}
	if _, err := in.postel("", "queue", "remove", "no-such-id"); err == nil || !strings.Contains(err.Error(), "no queued message") {
		t.Errorf("removing an unknown id: %v", err)
	}
	in.stop()
	// Stopped server: the CLI opens the queue itself.
	if out := in.mustPostel("", "queue", "list"); !strings.Contains(out, id) {
		t.Errorf("stopped: queue list lacks %s:\n%s", id, out)
	}
	in.mustPostel("", "queue", "remove", id)
	if out := in.mustPostel("", "queue", "list"); strings.Contains(out, id) {
		t.Errorf("after remove, queue list still has %s:\n%s", id, out)
	}
}
