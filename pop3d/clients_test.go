package pop3d

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"postel/internal/testenv"
)

// runClient runs an external client with a deadline and returns stdout.
func runClient(t *testing.T, name string, args ...string) string {
	t.Helper()
	return runClientEnv(t, nil, name, args...)
}

// runClientEnv is runClient with extra environment variables.
func runClientEnv(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\nstdout: %s\nstderr: %s", name, args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// readOut reads OUTDIR/1..n.
func readOut(t *testing.T, dir string, n int) []string {
	t.Helper()
	var got []string
	for i := 1; i <= n; i++ {
		b, err := os.ReadFile(filepath.Join(dir, itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	return got
}

type poplibResult struct {
	Welcome    string   `json:"welcome"`
	CapaBefore []string `json:"capa_before"`
	Capa       []string `json:"capa"`
	Auth       string   `json:"auth"`
	Stat       []int    `json:"stat"`
	List       []string `json:"list"`
	UIDL       []string `json:"uidl"`
	Octets     []int    `json:"octets"`
	Top        []string `json:"top"`
	Quit       string   `json:"quit"`
}

// TestPythonPoplib drives the server with Python's poplib in every mode:
// USER/PASS on loopback, STLS, POP3_SSL, and AUTH PLAIN after STLS, then
// downloads and deletes everything and checks the store is empty.
func TestPythonPoplib(t *testing.T) {
	t.Parallel()
	python := testenv.RequireTool(t, "python3")
	for _, mode := range []string{"plain", "stls", "ssl", "sasl"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newRealEnv(t, nil)
			msgs := testMessages()
			for _, m := range msgs {
				e.deliver(t, realUser, m)
			}
			stored := e.stored(t, realUser)
			addr := e.plainAddr
			if mode == "ssl" {
				addr = e.tlsAddr
			}
			host, port, _ := strings.Cut(addr, ":")
			out := t.TempDir()
			raw := runClient(t, python, "testdata/poplib_client.py", mode, host, port, e.certPath, realUser, realPass, out, "1")
			var res poplibResult
			if err := json.Unmarshal([]byte(raw), &res); err != nil {
				t.Fatalf("%v: %s", err, raw)
			}
			if got := readOut(t, out, len(stored)); !slices.Equal(got, stored) {
				t.Errorf("poplib bodies differ from storage")
			}
			total := 0
			for i, b := range stored {
				total += len(b)
				if res.Octets[i] != len(b) {
					t.Errorf("message %d: poplib counted %d octets, stored %d", i+1, res.Octets[i], len(b))
				}
				if want := itoa(i+1) + " " + itoa(len(b)); res.List[i] != want {
					t.Errorf("LIST line %q, want %q", res.List[i], want)
				}
			}
			if res.Stat[0] != len(stored) || res.Stat[1] != total {
				t.Errorf("STAT %v, want %d %d", res.Stat, len(stored), total)
			}
			if len(res.UIDL) != len(stored) || !strings.HasPrefix(res.Top[0], "From: ") {
				t.Errorf("UIDL %q, TOP %q", res.UIDL, res.Top)
			}
			wantCapa := []string{"AUTH-RESP-CODE", "EXPIRE", "IMPLEMENTATION", "PIPELINING", "RESP-CODES", "SASL", "TOP", "UIDL", "USER"}
			switch mode {
			case "plain":
				wantCapa = append(wantCapa, "STLS")
				slices.Sort(wantCapa)
			case "stls", "sasl":
				if !slices.Contains(res.CapaBefore, "STLS") {
					t.Errorf("STLS not offered before TLS: %q", res.CapaBefore)
				}
			}
			if !slices.Equal(res.Capa, wantCapa) {
				t.Errorf("CAPA %q, want %q", res.Capa, wantCapa)
			}
			if !strings.HasPrefix(res.Quit, "+OK") {
				t.Errorf("QUIT: %q", res.Quit)
			}
			if left := e.stored(t, realUser); len(left) != 0 {
				t.Errorf("%d messages left after DELE+QUIT", len(left))
			}
		})
	}
}

// TestCurl fetches every message with curl over plain POP3 (AUTH PLAIN,
// with and without SASL-IR), STLS with a verified certificate and pop3s,
// compares the bodies byte for byte with storage, and deletes with DELE.
func TestCurl(t *testing.T) {
	t.Parallel()
	curl := testenv.RequireTool(t, "curl")
	e := newRealEnv(t, nil)
	for _, m := range testMessages() {
		e.deliver(t, realUser, m)
	}
	stored := e.stored(t, realUser)
	base := []string{"-s", "-S", "--max-time", "30", "-u", realUser + ":" + realPass}
	modes := map[string][]string{
		"plain":         {"pop3://" + e.plainAddr},
		"plain-sasl-ir": {"--sasl-ir", "pop3://" + e.plainAddr},
		"stls":          {"--ssl-reqd", "--cacert", e.certPath, "pop3://" + e.plainAddr},
		"pop3s":         {"-k", "--sasl-ir", "pop3s://" + e.tlsAddr},
	}
	for name, args := range modes {
		url := args[len(args)-1]
		opts := append(slices.Clone(base), args[:len(args)-1]...)
		list := runClient(t, curl, append(opts, url+"/")...)
		var want strings.Builder
		for i, b := range stored {
			want.WriteString(itoa(i+1) + " " + itoa(len(b)) + "\r\n")
		}
		if list != want.String() {
			t.Errorf("%s: curl LIST = %q, want %q", name, list, want.String())
		}
		for i, b := range stored {
			got := runClient(t, curl, append(opts, url+"/"+itoa(i+1))...)
			if got != b {
				t.Errorf("%s: curl RETR %d: %d octets differ from the %d stored", name, i+1, len(got), len(b))
			}
		}
	}
	// curl used AUTH PLAIN both with an initial response and after "+ ".
	if logs := e.logs.String(); !strings.Contains(logs, `"C: AUTH <redacted>"`) || !strings.Contains(logs, `"C: <redacted>"`) {
		t.Error("curl did not exercise both AUTH PLAIN forms")
	}
	// DELE over curl (custom command, no transfer), then QUIT expunges.
	runClient(t, curl, append(slices.Clone(base), "-X", "DELE", "-I", "pop3://"+e.plainAddr+"/1")...)
	if left := e.stored(t, realUser); len(left) != len(stored)-1 || left[0] != stored[1] {
		t.Errorf("after curl DELE 1: %d messages left", len(left))
	}
}
