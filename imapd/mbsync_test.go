package imapd

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"postel/internal/testenv"
	"postel/storage"
)

// TestMbsyncTwoWay runs isync's mbsync against the server over STARTTLS
// (Host localhost, our self-signed certificate as CertificateFile): all
// folders down to a local Maildir, then a change on each side, then a
// second sync that must carry both across.
func TestMbsyncTwoWay(t *testing.T) {
	t.Parallel()
	mbsync := testenv.RequireTool(t, "mbsync")
	e := newEnv(t)
	ctx := context.Background()
	a := e.account(t)
	if err := a.CreateMailbox(ctx, "Work/Projects", ""); err != nil {
		t.Fatal(err)
	}
	e.deliver(t, "INBOX", testMessage("inbox one", "1"))
	e.deliver(t, "INBOX", testMessage("inbox two", "2"))
	e.deliver(t, "Archive", testMessage("archived", "3"))
	e.deliver(t, "Work/Projects", testMessage("project", "4"))

	dir := t.TempDir()
	local := filepath.Join(dir, "mail")
	if err := os.MkdirAll(local, 0o700); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(e.addr)
	conf := fmt.Sprintf(`IMAPAccount test
Host localhost
Port %s
User %s
Pass "%s"
SSLType STARTTLS
CertificateFile %s
AuthMechs LOGIN

IMAPStore remote
Account test

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
`, port, testUser, testPass, e.certPEM, local, local)
	cfg := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() {
		t.Helper()
		cmd := exec.Command(mbsync, "-c", cfg, "-a")
		cmd.Env = append(os.Environ(), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mbsync: %v\n%s", err, out)
		}
		t.Logf("mbsync: %s", strings.TrimSpace(string(out)))
	}
	files := func(mbox string) []string {
		t.Helper()
		var l []string
		for _, sub := range []string{"cur", "new"} {
			ents, _ := os.ReadDir(filepath.Join(local, mbox, sub))
			for _, de := range ents {
				l = append(l, filepath.Join(local, mbox, sub, de.Name()))
			}
		}
		return l
	}

	run()
	for mbox, want := range map[string]int{"INBOX": 2, "Archive": 1, "Work/Projects": 1, "Sent": 0} {
		if got := len(files(mbox)); got != want {
			t.Errorf("local %s has %d messages, want %d", mbox, got, want)
		}
	}

	// Local side: a new message in Archive, and one INBOX message read.
	msg := testMessage("written locally", "5")
	if err := os.WriteFile(filepath.Join(local, "Archive", "new", "1764000000.local.host"), []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	in := files("INBOX")
	seenFile := in[0]
	base := filepath.Base(seenFile)
	if i := strings.Index(base, ":2,"); i >= 0 {
		base = base[:i]
	}
	if err := os.Rename(seenFile, filepath.Join(local, "INBOX", "cur", base+":2,S")); err != nil {
		t.Fatal(err)
	}
	// Server side: new mail, and a flag set by another client.
	e.deliver(t, "INBOX", testMessage("inbox three", "6"))
	if _, err := a.StoreFlags(ctx, "Archive", []uint32{1}, storage.FlagsAdd, []string{storage.FlagFlagged}); err != nil {
		t.Fatal(err)
	}

	run()
	if got := len(files("INBOX")); got != 3 {
		t.Errorf("local INBOX has %d messages, want 3", got)
	}
	flagged := 0
	for _, f := range files("Archive") {
		if i := strings.Index(f, ":2,"); i >= 0 && strings.Contains(f[i:], "F") {
			flagged++
		}
	}
	if flagged != 1 {
		t.Errorf("server-side \\Flagged did not reach the Maildir: %v", files("Archive"))
	}
	st, err := a.Status(ctx, "Archive")
	if err != nil || st.Messages != 2 {
		t.Errorf("server Archive: %v %+v, want 2 messages", err, st)
	}
	st, err = a.Status(ctx, "INBOX")
	if err != nil || st.Messages != 3 || st.Unseen != 2 {
		t.Errorf("server INBOX: %v messages=%d unseen=%d, want 3 and 2", err, st.Messages, st.Unseen)
	}
}
