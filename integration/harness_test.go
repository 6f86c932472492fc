package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"postel/internal/testenv"
)

// binary is the postel binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "postel-integration")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "postel")
	build := exec.Command("go", "build", "-o", binary, "../cmd/postel")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building postel:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is one data directory with its config; the server can be
// started, killed and restarted on it.
type instance struct {
	t       *testing.T
	dir     string
	config  string
	cmd     *exec.Cmd
	addrs   map[string]string // listener name -> actual address
	log     *testenv.SyncBuffer
	stopped chan struct{}
}

// newInstance writes a config with every listener on 127.0.0.1:0 plus
// extra TOML lines (e.g. an [outbound] table).
func newInstance(t *testing.T, extra string) *instance {
	t.Helper()
	dir := t.TempDir()
	if !strings.Contains(extra, "[inbound]") {
		// Loopback clients send fast and the test has no DNS: no rate
		// limits or SPF/DKIM/DMARC unless a test asks for them.
		extra += "\n[inbound]\nchecks = false\nconnections_per_minute = 0\nmessages_per_minute = 0\n"
	}
	cfg := fmt.Sprintf(`hostname = "mail.example.test"
data_dir = %q
log_level = "info"
[listen]
smtp = "127.0.0.1:0"
submission = "127.0.0.1:0"
submissions = "127.0.0.1:0"
imap = "127.0.0.1:0"
imaps = "127.0.0.1:0"
pop3 = "127.0.0.1:0"
pop3s = "127.0.0.1:0"
%s
`, filepath.Join(dir, "data"), extra)
	path := filepath.Join(dir, "postel.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, dir: dir, config: path}
	t.Cleanup(func() { in.kill() })
	return in
}

// postel runs an admin command and returns its stdout; stdin may be "".
func (in *instance) postel(stdin string, args ...string) (string, error) {
	if !containsString(args, "--config") {
		args = append(args, "--config", in.config)
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// mustPostel is postel that fails the test on error.
func (in *instance) mustPostel(stdin string, args ...string) string {
	in.t.Helper()
	out, err := in.postel(stdin, args...)
	if err != nil {
		in.t.Fatalf("postel %s: %v", strings.Join(args, " "), err)
	}
	return out
}

var listeningRE = regexp.MustCompile(`msg=listening listener=(\w+) addr=(\S+)`)

// start runs `postel serve` and waits until the control socket answers and
// every listener has logged its address.
func (in *instance) start() {
	in.t.Helper()
	in.log = &testenv.SyncBuffer{}
	in.cmd = exec.Command(binary, "serve", "--config", in.config)
	in.cmd.Stdout = in.log
	in.cmd.Stderr = in.log
	if err := in.cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	in.stopped = make(chan struct{})
	go func() { in.cmd.Wait(); close(in.stopped) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if strings.Contains(in.log.String(), "postel started") {
			m := listeningRE.FindAllStringSubmatch(in.log.String(), -1)
			in.addrs = map[string]string{}
			for _, x := range m {
				in.addrs[x[1]] = x[2]
			}
			return
		}
		select {
		case <-in.stopped:
			in.t.Fatalf("postel serve exited early:\n%s", in.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("postel serve did not start in time:\n%s", in.log.String())
		}
	}
}

// addr returns the address of a listener ("smtp", "imap", ...).
func (in *instance) addr(name string) string {
	a, ok := in.addrs[name]
	if !ok {
		in.t.Fatalf("no listener %q in %v", name, in.addrs)
	}
	return a
}

// stop sends SIGTERM and waits for a clean exit.
func (in *instance) stop() {
	in.t.Helper()
	if in.cmd == nil {
		return
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.stopped:
	case <-time.After(30 * time.Second):
		in.t.Fatalf("postel did not stop on SIGTERM:\n%s", in.log.String())
	}
	if code := in.cmd.ProcessState.ExitCode(); code != 0 {
		in.t.Errorf("postel exited with %d:\n%s", code, in.log.String())
	}
	in.cmd = nil
}

// kill sends SIGKILL (a crash) and waits for the process to be gone.
func (in *instance) kill() {
	if in.cmd == nil {
		return
	}
	in.cmd.Process.Kill()
	<-in.stopped
	in.cmd = nil
}

// readLines returns the non-empty lines of s.
func readLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// setListen changes one listener's address in the config file (before
// start).
func (in *instance) setListen(name, addr string) {
	in.t.Helper()
	b, err := os.ReadFile(in.config)
	if err != nil {
		in.t.Fatal(err)
	}
	old := fmt.Sprintf("%s = \"127.0.0.1:0\"\n", name)
	if !strings.Contains(string(b), old) {
		in.t.Fatalf("config has no %q", old)
	}
	s := strings.Replace(string(b), old, fmt.Sprintf("%s = %q\n", name, addr), 1)
	if err := os.WriteFile(in.config, []byte(s), 0o600); err != nil {
		in.t.Fatal(err)
	}
}

// setTopLevel adds a top-level key line to the config (before start).
func (in *instance) setTopLevel(line string) {
	in.t.Helper()
	b, err := os.ReadFile(in.config)
	if err != nil {
		in.t.Fatal(err)
	}
	if err := os.WriteFile(in.config, []byte(line+"\n"+string(b)), 0o600); err != nil {
		in.t.Fatal(err)
	}
}
