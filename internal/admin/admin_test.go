package admin

import (
	"strings"
	"testing"
	"time"

	"postel/queue"
)

func TestParseAndFormatSize(t *testing.T) {
	t.Parallel()
	good := map[string]int64{"0": 0, "unlimited": 0, "1024": 1024, "500M": 500 << 20, "2G": 2 << 30, "2GiB": 2 << 30, "10k": 10 << 10, "1T": 1 << 40}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "lots", "5X", "99999999999T"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	for n, want := range map[int64]string{500 << 20: "500M", 1 << 30: "1G", 1000: "1000"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNewPassword(t *testing.T) {
	t.Parallel()
	a, _ := NewPassword()
	b, _ := NewPassword()
	if len(a) != 20 || a == b || strings.ContainsAny(a, "0O1lI") {
		t.Errorf("passwords %q %q", a, b)
	}
}

func TestFormatQueue(t *testing.T) {
	t.Parallel()
	if got := formatQueue(nil); got != "queue is empty\n" {
		t.Errorf("empty: %q", got)
	}
	next := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	got := formatQueue([]queue.Entry{{ID: "q1", Recipient: "d@x.test", Status: "queued", Attempts: 2, NextTry: next, LastError: "451 4.3.0\n try later"}})
	for _, want := range []string{"ID", "q1", "<>", "d@x.test", "2026-11-26T01:00:00Z", "451 4.3.0 try later"} {
		if !strings.Contains(got, want) {
			t.Errorf("queue list lacks %q:\n%s", want, got)
		}
	}
}
