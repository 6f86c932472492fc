package imapd

import (
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"

	"postel/internal/testenv"
)

// imaplibScript drives Python's imaplib through LOGIN, LIST, SELECT,
// APPEND, SEARCH, FETCH, STORE and EXPUNGE, and prints what it parsed as
// JSON for the Go side to check.
const imaplibScript = `
import imaplib, json, sys
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
out = {}
m = imaplib.IMAP4(host, port)
out["login"] = m.login(user, pw)[0]
typ, lst = m.list()
out["list"] = [l.decode() for l in lst]
typ, d = m.select("INBOX")
out["select"] = [typ, d[0].decode()]
msg = b"From: py@example.org\r\nSubject: from python\r\n\r\nhello imaplib\r\n"
typ, d = m.append("INBOX", "(\\Flagged)", imaplib.Time2Internaldate(1764000000), msg)
out["append"] = [typ, d[0].decode()]
m.noop()
typ, d = m.search(None, "SUBJECT", '"from python"')
out["search"] = [typ, d[0].decode()]
num = d[0].split()[-1]
typ, d = m.fetch(num, "(FLAGS RFC822.SIZE BODY.PEEK[])")
out["fetch_meta"] = d[0][0].decode()
out["fetch_body"] = d[0][1].decode()
typ, d = m.uid("SEARCH", None, "ALL")
out["uid_search"] = d[0].decode()
typ, d = m.store(num, "+FLAGS", "(\\Deleted \\Seen)")
out["store"] = [typ, d[0].decode()]
typ, d = m.expunge()
out["expunge"] = [typ, [x.decode() for x in d if x]]
typ, d = m.status("INBOX", "(MESSAGES UNSEEN)")
out["status"] = d[0].decode()
m.logout()
print(json.dumps(out))
`

func TestPythonImaplib(t *testing.T) {
	t.Parallel()
	py := testenv.RequireTool(t, "python3")
	e := newEnv(t)
	e.deliver(t, "INBOX", testMessage("first", "x"))
	host, port, _ := net.SplitHostPort(e.addr)
	cmd := exec.Command(py, "-c", imaplibScript, host, port, testUser, testPass)
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, outb)
	}
	var out map[string]any
	if err := json.Unmarshal(outb, &out); err != nil {
		t.Fatalf("output %s: %v", outb, err)
	}
	str := func(k string) string { b, _ := json.Marshal(out[k]); return string(b) }
	checks := map[string]string{
		"login":      `"OK"`,
		"select":     `["OK","1"]`,
		"search":     `["OK","2"]`,
		"uid_search": `"1 2"`,
		"expunge":    `["OK",["2"]]`,
	}
	for k, want := range checks {
		if got := str(k); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	if l := str("list"); !strings.Contains(l, `\\Sent`) || !strings.Contains(l, ` INBOX"`) {
		t.Errorf("list = %s", l)
	}
	if a := str("append"); !strings.Contains(a, "APPENDUID") {
		t.Errorf("append = %s", a)
	}
	if f := out["fetch_meta"].(string); !strings.Contains(f, `\Flagged`) || !strings.Contains(f, "RFC822.SIZE 61") {
		t.Errorf("fetch meta = %q", f)
	}
	if b := out["fetch_body"].(string); !strings.HasSuffix(b, "hello imaplib\r\n") {
		t.Errorf("fetch body = %q", b)
	}
	if s := str("store"); !strings.Contains(s, `\\Deleted`) {
		t.Errorf("store = %s", s)
	}
	if s := out["status"].(string); !strings.Contains(s, "MESSAGES 1") || !strings.Contains(s, "UNSEEN 1") {
		t.Errorf("status = %q", s)
	}
}
