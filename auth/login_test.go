package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

var (
	ip1 = netip.MustParseAddr("192.0.2.1")
	ip2 = netip.MustParseAddr("192.0.2.2")
	ip3 = netip.MustParseAddr("192.0.2.3")
)

// smallThrottle: 2 free failures, 10/20/40 ms delays, lockout at 6.
var smallThrottle = ThrottleOptions{Free: 2, BaseDelay: 10 * time.Millisecond, MaxDelay: 40 * time.Millisecond, Lockout: 6, Window: 15 * time.Minute}

func withThrottle(o ThrottleOptions) func(*Options) {
	return func(opts *Options) { opts.Throttle = o }
}

const ms = time.Millisecond

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	db.seed(t, []string{"example.com"}, []string{"bob@example.com"}, map[string][]string{"sales@example.com": {"bob@example.com"}})
	const pw = "pw-bob@example.com"

	for _, user := range []string{"bob@example.com", "BOB@Example.COM", " bob@example.com "} {
		acct, err := db.Authenticate(ctx, user, pw, ip1)
		if err != nil || acct != "bob@example.com" {
			t.Errorf("Authenticate(%q) = %q, %v", user, acct, err)
		}
	}
	for _, tt := range []struct{ user, pw string }{
		{"bob@example.com", "wrong"},
		{"bob@example.com", ""},
		{"bob@example.com", pw + "x"},
		{"bob@example.com", pw[:len(pw)-1]},
		{"nobody@example.com", pw},
		{"nobody@example.com", ""},
		{"sales@example.com", pw}, // an alias is not an account
		{"bob", pw},
		{"", ""},
		{"bob@example.com\x00", pw},
	} {
		acct, err := db.Authenticate(ctx, tt.user, tt.pw, ip2)
		if !errors.Is(err, ErrBadCredentials) || acct != "" {
			t.Errorf("Authenticate(%q, %q) = %q, %v; want ErrBadCredentials", tt.user, tt.pw, acct, err)
		}
	}
	// A password longer than storable is wrong even if its prefix matches.
	long := make([]byte, maxPassword+10)
	copy(long, pw)
	if _, err := db.Authenticate(ctx, "bob@example.com", string(long), ip3); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("overlong password: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.Authenticate(cctx, "bob@example.com", pw, ip1); !errors.Is(err, context.Canceled) {
		t.Errorf("Authenticate with cancelled ctx: %v", err)
	}
}

func TestDelayFor(t *testing.T) {
	t.Parallel()
	thr := newThrottle(ThrottleOptions{}.withDefaults())
	want := []time.Duration{0, 0, 0, 500 * ms, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, w := range want {
		if got := thr.delayFor(i + 1); got != w {
			t.Errorf("delayFor(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := thr.delayFor(1000); got != 8*time.Second {
		t.Errorf("delayFor(1000) = %v", got)
	}
	if d := (ThrottleOptions{}).withDefaults(); d != (ThrottleOptions{Free: 3, BaseDelay: 500 * ms, MaxDelay: 8 * time.Second, Lockout: 10, Window: 15 * time.Minute}) {
		t.Errorf("defaults = %+v", d)
	}
}

// fail n times as user from ip and return the delays requested.
func failN(t *testing.T, db *testDB, n int, user string, ip netip.Addr) []time.Duration {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := db.Authenticate(context.Background(), user, "wrong", ip); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d of %s from %v: %v", i+1, user, ip, err)
		}
	}
	return db.slept.take()
}

func TestThrottleGrowsThenLocksOut(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, withThrottle(smallThrottle))
	ctx := context.Background()
	db.seed(t, []string{"example.com"}, []string{"bob@example.com"}, nil)
	const pw = "pw-bob@example.com"

	got := failN(t, db, 6, "bob@example.com", ip1)
	if want := []time.Duration{10 * ms, 20 * ms, 40 * ms, 40 * ms}; !slices.Equal(got, want) {
		t.Fatalf("delays = %v, want %v", got, want)
	}
	// Locked: even the right password is refused, without waiting.
	for _, ip := range []netip.Addr{ip1, ip2} { // ip2: the account lock applies from anywhere
		if _, err := db.Authenticate(ctx, "bob@example.com", pw, ip); !errors.Is(err, ErrThrottled) {
			t.Errorf("right password while locked from %v: %v, want ErrThrottled", ip, err)
		}
	}
	if d := db.slept.take(); len(d) != 0 {
		t.Errorf("refusals while locked waited %v", d)
	}
	// Refusals during the lockout do not extend it.
	db.clock.Advance(15*time.Minute - time.Second)
	if _, err := db.Authenticate(ctx, "bob@example.com", pw, ip2); !errors.Is(err, ErrThrottled) {
		t.Errorf("just before the window ends: %v, want ErrThrottled", err)
	}
	db.clock.Advance(time.Second)
	if acct, err := db.Authenticate(ctx, "bob@example.com", pw, ip1); err != nil || acct != "bob@example.com" {
		t.Errorf("after the window: %q, %v", acct, err)
	}
	// Counting starts over: the next failures are free again.
	if got := failN(t, db, 2, "bob@example.com", ip3); len(got) != 0 {
		t.Errorf("delays after the window = %v, want none", got)
	}
}

func TestThrottleWindowDecay(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, withThrottle(smallThrottle))
	db.seed(t, []string{"example.com"}, []string{"bob@example.com"}, nil)
	// Five failures, each 14 minutes apart: no quiet window, so they add
	// up to a delay; then a 15-minute pause forgets them.
	var got []time.Duration
	for i := 0; i < 5; i++ {
		got = append(got, failN(t, db, 1, "bob@example.com", ip1)...)
		db.clock.Advance(14 * time.Minute)
	}
	if want := []time.Duration{10 * ms, 20 * ms, 40 * ms}; !slices.Equal(got, want) {
		t.Errorf("delays = %v, want %v", got, want)
	}
	db.clock.Advance(time.Minute)
	if got := failN(t, db, 2, "bob@example.com", ip1); len(got) != 0 {
		t.Errorf("after a quiet window delays = %v, want none", got)
	}
}

func TestThrottlePerIPAcrossAccounts(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, withThrottle(smallThrottle))
	ctx := context.Background()
	db.seed(t, []string{"example.com"}, []string{"bob@example.com", "ann@example.com"}, nil)

	// A password spray from one address: one guess per account name.
	var got []time.Duration
	for i := 0; i < 6; i++ {
		got = append(got, failN(t, db, 1, fmt.Sprintf("user%d@example.com", i), ip1)...)
	}
	if want := []time.Duration{10 * ms, 20 * ms, 40 * ms, 40 * ms}; !slices.Equal(got, want) {
		t.Errorf("spray delays = %v, want %v", got, want)
	}
	if _, err := db.Authenticate(ctx, "bob@example.com", "pw-bob@example.com", ip1); !errors.Is(err, ErrThrottled) {
		t.Errorf("locked source, right password: %v, want ErrThrottled", err)
	}
	// Other sources and the accounts themselves are unaffected.
	if _, err := db.Authenticate(ctx, "bob@example.com", "pw-bob@example.com", ip2); err != nil {
		t.Errorf("bob from another address: %v", err)
	}
}

func TestThrottleIPv6Prefix(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, withThrottle(smallThrottle))
	db.seed(t, []string{"example.com"}, nil, nil)
	// Different accounts so only the source key accumulates.
	a := netip.MustParseAddr("2001:db8:1:2::1")
	b := netip.MustParseAddr("2001:db8:1:2:ffff::9")
	c := netip.MustParseAddr("2001:db8:1:3::1")
	failN(t, db, 1, "x1@example.com", a)
	failN(t, db, 1, "x2@example.com", b)
	if got := failN(t, db, 1, "x3@example.com", a); !slices.Equal(got, []time.Duration{10 * ms}) {
		t.Errorf("third failure in one /64: delays %v, want [10ms]", got)
	}
	if got := failN(t, db, 1, "x4@example.com", c); len(got) != 0 {
		t.Errorf("other /64: delays %v, want none", got)
	}
	// IPv4-mapped IPv6 is the IPv4 address.
	v4 := netip.MustParseAddr("198.51.100.7")
	mapped := netip.AddrFrom16(v4.As16())
	failN(t, db, 2, "y1@example.com", v4)
	if got := failN(t, db, 1, "y2@example.com", mapped); !slices.Equal(got, []time.Duration{10 * ms}) {
		t.Errorf("mapped address: delays %v, want [10ms]", got)
	}
}

func TestSuccessResetsAccountNotIP(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, withThrottle(smallThrottle))
	ctx := context.Background()
	db.seed(t, []string{"example.com"}, []string{"bob@example.com"}, nil)
	const pw = "pw-bob@example.com"

	// Account: two failures from ip1, success from ip2, failure from ip3:
	// with the account count reset, the third failure is free.
	failN(t, db, 2, "bob@example.com", ip1)
	must(t, second(db.Authenticate(ctx, "bob@example.com", pw, ip2)))
	if got := failN(t, db, 1, "bob@example.com", ip3); len(got) != 0 {
		t.Errorf("failure after success: delays %v, want none", got)
	}

	// Source: ip1 has two failures; a success from ip1 does not reset them,
	// so its next failure waits.
	must(t, second(db.Authenticate(ctx, "bob@example.com", pw, ip1)))
	if got := failN(t, db, 1, "bob@example.com", ip1); !slices.Equal(got, []time.Duration{10 * ms}) {
		t.Errorf("source failure after success: delays %v, want [10ms]", got)
	}
}

func second(_ string, err error) error { return err }

func TestThrottleCancelDuringDelay(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, withThrottle(ThrottleOptions{Free: 1, BaseDelay: time.Hour, MaxDelay: time.Hour}))
	db.seed(t, []string{"example.com"}, []string{"bob@example.com"}, nil)
	failN(t, db, 1, "bob@example.com", ip1)

	waiting := make(chan struct{})
	db.sleep = func(ctx context.Context, d time.Duration) error {
		close(waiting)
		return sleepCtx(ctx, d) // the real sleep: an hour unless cancelled
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := db.Authenticate(ctx, "bob@example.com", "wrong", ip1)
		done <- err
	}()
	<-waiting
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, ErrBadCredentials) || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled delay: %v, want ErrBadCredentials and context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Authenticate did not return after ctx was cancelled")
	}
}

// While one failed login waits out its delay, nothing else is blocked.
func TestThrottleDelayHoldsNoLock(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, withThrottle(ThrottleOptions{Free: 1, BaseDelay: time.Hour, MaxDelay: time.Hour}))
	ctx := context.Background()
	db.seed(t, []string{"example.com"}, []string{"bob@example.com", "ann@example.com"}, nil)
	failN(t, db, 1, "bob@example.com", ip1)

	waiting, release := make(chan struct{}), make(chan struct{})
	db.sleep = func(ctx context.Context, d time.Duration) error {
		close(waiting)
		<-release
		return nil
	}
	done := make(chan error, 1)
	go func() {
		_, err := db.Authenticate(ctx, "bob@example.com", "wrong", ip1)
		done <- err
	}()
	<-waiting
	if acct, err := db.Authenticate(ctx, "ann@example.com", "pw-ann@example.com", ip2); err != nil || acct != "ann@example.com" {
		t.Errorf("concurrent login: %q, %v", acct, err)
	}
	must(t, db.AddUser(ctx, "carl@example.com", "pw"))
	if db.thr.locked(db.clock.Now(), ipKey(ip1), "bob@example.com") {
		t.Error("throttle reports a lockout too early")
	}
	close(release)
	if err := <-done; !errors.Is(err, ErrBadCredentials) {
		t.Errorf("delayed failure: %v", err)
	}
}

func TestThrottleSweep(t *testing.T) {
	t.Parallel()
	thr := newThrottle(smallThrottle)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < sweepEvery-1; i++ {
		thr.fail(now, ipKey(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})), fmt.Sprint("u", i))
	}
	if len(thr.ips) != sweepEvery-1 || len(thr.accts) != sweepEvery-1 {
		t.Fatalf("tables: %d ips, %d accounts", len(thr.ips), len(thr.accts))
	}
	// One more failure a window later sweeps every idle entry.
	thr.fail(now.Add(smallThrottle.Window), ipKey(ip1), "bob")
	if len(thr.ips) != 1 || len(thr.accts) != 1 {
		t.Errorf("after sweep: %d ips, %d accounts, want 1 each", len(thr.ips), len(thr.accts))
	}
}
