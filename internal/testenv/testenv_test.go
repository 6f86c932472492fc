package testenv

import (
	"testing"
	"time"
)

func TestWaitFor(t *testing.T) {
	t.Parallel()
	start := time.Now()
	WaitFor(t, time.Second, "a condition that holds after 20ms", func() bool { return time.Since(start) > 20*time.Millisecond })
	if time.Since(start) < 20*time.Millisecond {
		t.Error("WaitFor returned before the condition held")
	}
	// A condition that never holds fails the test.
	ft := &fakeTB{TB: t}
	func() {
		defer func() { recover() }()
		WaitFor(ft, 30*time.Millisecond, "never", func() bool { return false })
	}()
	if !ft.failed {
		t.Error("WaitFor did not fail on timeout")
	}
}

// fakeTB records Fatalf instead of ending the real test.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}

func TestSyncBuffer(t *testing.T) {
	t.Parallel()
	var b SyncBuffer
	done := make(chan struct{})
	for range 4 {
		go func() { b.Write([]byte("ab")); done <- struct{}{} }()
	}
	for range 4 {
		<-done
	}
	if got := b.String(); got != "abababab" {
		t.Errorf("String() = %q", got)
	}
}
