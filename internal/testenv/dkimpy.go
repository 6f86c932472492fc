package testenv

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

//go:embed dkimpy.py
var dkimpyScript []byte

// Dkimpy runs dkimpy.py (dkimpy, Debian's python3-dkim: another DKIM
// implementation to check ours against) on one request, described in the
// script, and decodes its JSON answer into out. Messages travel as
// Latin1 strings so that every byte survives JSON.
func Dkimpy(t testing.TB, req, out any) {
	t.Helper()
	py := PythonOf(t, "dkimsign")
	dir := t.TempDir() // also the working directory: nothing there shadows the dkim module
	script := filepath.Join(dir, "dkimpy.py")
	if err := os.WriteFile(script, dkimpyScript, 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, script)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	res, err := cmd.Output()
	if err != nil {
		t.Fatalf("dkimpy: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(res, out); err != nil {
		t.Fatalf("dkimpy answer %q: %v", res, err)
	}
}

// Latin1 carries message bytes through JSON unchanged (dkimpy.py encodes
// them back with latin-1); FromLatin1 undoes it.
func Latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// FromLatin1 returns the bytes of a Latin1 string.
func FromLatin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return b
}
