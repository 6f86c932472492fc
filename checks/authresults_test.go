package checks

import (
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
)

// TestAuthResultsFormat: writeResult writes each result exactly as
// go-msgauth's authres.Format would, for values that need no quoting,
// need quoting, hold quotes, letters outside ASCII, bytes that are not
// UTF-8, or are empty (left out).
func TestAuthResultsFormat(t *testing.T) {
	t.Parallel()
	values := []string{
		"", "pass", "alice@example.com", "example.com", "sel-2026", "AbCd+/0123=", "AbCd+/0123",
		"body hash did not verify", `say "hi"`, "a;b", "x(y)", "é@bücher.example", "tab\there",
		"\xff\xfe", "postmaster@[127.0.0.1]", "a=b", "~user#1",
	}
	for _, v := range values {
		for _, r := range []authres.Result{
			&authres.SPFResult{Value: "pass", From: v},
			&authres.SPFResult{Value: "none", Helo: v},
			&authres.DMARCResult{Value: "fail", Reason: v, From: "example.org"},
			&authres.DMARCResult{Value: "pass", Reason: "aligned", From: v},
			&authres.GenericResult{Method: "dkim", Value: "fail", Params: map[string]string{
				"reason": v, "header.b": "AbCd+/0123", "header.d": v, "header.s": "sel"}},
			&authres.GenericResult{Method: "dkim", Value: "pass", Params: map[string]string{
				"header.b": v, "header.d": "d.example", "header.s": v}},
		} {
			want := strings.TrimSpace(strings.TrimPrefix(authres.Format("x", []authres.Result{r}), "x; "))
			var b strings.Builder
			switch r := r.(type) {
			case *authres.SPFResult:
				if r.Helo != "" || r.From == "" {
					writeResult(&b, "spf", string(r.Value), arParam{key: "smtp.helo", value: r.Helo})
				} else {
					writeResult(&b, "spf", string(r.Value), arParam{key: "smtp.mailfrom", value: r.From})
				}
			case *authres.DMARCResult:
				writeResult(&b, "dmarc", string(r.Value), arParam{key: "reason", value: r.Reason}, arParam{key: "header.from", value: r.From})
			case *authres.GenericResult:
				writeResult(&b, "dkim", string(r.Value), arParam{key: "reason", value: r.Params["reason"]},
					arParam{key: "header.b", value: r.Params["header.b"]}, arParam{key: "header.d", value: r.Params["header.d"]},
					arParam{key: "header.s", value: r.Params["header.s"]})
			}
			if got := strings.TrimPrefix(b.String(), ";\r\n\t"); got != want {
				t.Errorf("value %q: got %q, authres.Format %q", v, got, want)
			}
		}
	}
	var b strings.Builder
	writeResult(&b, "dkim", "none")
	if want := strings.TrimSpace(strings.TrimPrefix(authres.Format("x", []authres.Result{&authres.DKIMResult{Value: "none"}}), "x; ")); b.String() != ";\r\n\t"+want {
		t.Errorf("dkim=none: %q, want %q", b.String(), want)
	}
}
