package auth

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/emersion/go-sasl"
)

// runSASL drives server with client the way a front end does: the client's
// initial response (if any) first, then challenge/response until done.
func runSASL(t *testing.T, client sasl.Client, server sasl.Server) error {
	t.Helper()
	_, ir, err := client.Start()
	must(t, err)
	resp := ir
	for i := 0; i < 5; i++ {
		challenge, done, err := server.Next(resp)
		if err != nil || done {
			return err
		}
		if resp, err = client.Next(challenge); err != nil {
			t.Fatalf("client.Next(%q): %v", challenge, err)
		}
	}
	t.Fatal("SASL exchange did not finish")
	return nil
}

func TestSASL(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	db.seed(t, []string{"example.com"}, []string{"bob@example.com", "ann@example.com"}, nil)
	const pw = "pw-bob@example.com"

	tests := []struct {
		name   string
		mech   string
		client sasl.Client
		want   error // nil = success as bob
	}{
		{"plain", "PLAIN", sasl.NewPlainClient("", "bob@example.com", pw), nil},
		{"plain lower-case mech", "plain", sasl.NewPlainClient("", "Bob@Example.com", pw), nil},
		{"plain authzid same", "PLAIN", sasl.NewPlainClient("bob@example.com", "bob@example.com", pw), nil},
		{"plain authzid other case", "PLAIN", sasl.NewPlainClient("BOB@example.com", "bob@example.com", pw), nil},
		{"plain authzid other user", "PLAIN", sasl.NewPlainClient("ann@example.com", "bob@example.com", pw), ErrBadCredentials},
		{"plain wrong password", "PLAIN", sasl.NewPlainClient("", "bob@example.com", "nope"), ErrBadCredentials},
		{"plain unknown user", "PLAIN", sasl.NewPlainClient("", "nobody@example.com", pw), ErrBadCredentials},
		{"login", "LOGIN", sasl.NewLoginClient("bob@example.com", pw), nil},
		{"login wrong password", "LOGIN", sasl.NewLoginClient("bob@example.com", "nope"), ErrBadCredentials},
	}
	for _, tt := range tests {
		var got []string
		srv, err := db.SASLServer(ctx, tt.mech, ip1, func(acct string) error {
			got = append(got, acct)
			return nil
		})
		must(t, err)
		err = runSASL(t, tt.client, srv)
		if tt.want == nil {
			if err != nil || !slices.Equal(got, []string{"bob@example.com"}) {
				t.Errorf("%s: err %v, success called with %q", tt.name, err, got)
			}
			continue
		}
		if !errors.Is(err, tt.want) || len(got) != 0 {
			t.Errorf("%s: err %v (want %v), success called with %q", tt.name, err, tt.want, got)
		}
	}
}

// Hand-built exchanges, as the wire delivers them.
func TestSASLHandBuilt(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	db.seed(t, []string{"example.com"}, []string{"bob@example.com"}, nil)
	const pw = "pw-bob@example.com"
	type step struct {
		resp      []byte
		challenge string
		done      bool
	}
	tests := []struct {
		name  string
		mech  string
		steps []step
		want  error // of the last step; nil = success
	}{
		{"plain without initial response", "PLAIN", []step{
			{nil, "", false},
			{[]byte("\x00bob@example.com\x00" + pw), "", true},
		}, nil},
		{"plain two fields", "PLAIN", []step{{[]byte("bob@example.com\x00" + pw), "", true}}, ErrInvalid},
		{"plain four fields", "PLAIN", []step{{[]byte("\x00bob@example.com\x00" + pw + "\x00x"), "", true}}, ErrInvalid},
		{"login without initial response", "LOGIN", []step{
			{nil, "Username:", false},
			{[]byte("bob@example.com"), "Password:", false},
			{[]byte(pw), "", true},
		}, nil},
		{"login with initial response", "LOGIN", []step{
			{[]byte("bob@example.com"), "Password:", false},
			{[]byte(pw), "", true},
		}, nil},
		{"login empty password", "LOGIN", []step{
			{[]byte("bob@example.com"), "Password:", false},
			{[]byte{}, "", true},
		}, ErrBadCredentials},
	}
	for _, tt := range tests {
		srv, err := db.SASLServer(ctx, tt.mech, ip1, nil)
		must(t, err)
		for i, st := range tt.steps {
			challenge, done, err := srv.Next(st.resp)
			if i == len(tt.steps)-1 {
				if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("%s: final error %v, want %v", tt.name, err, tt.want)
				}
			} else if err != nil {
				t.Errorf("%s: step %d: %v", tt.name, i, err)
				break
			}
			if err == nil && (string(challenge) != st.challenge || done != st.done) {
				t.Errorf("%s: step %d: challenge %q done %v, want %q %v", tt.name, i, challenge, done, st.challenge, st.done)
			}
		}
		// Nothing more is accepted after the exchange.
		if _, _, err := srv.Next([]byte("again")); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Next after the end succeeded", tt.name)
		}
	}
}

func TestSASLMechanisms(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	for _, mech := range []string{"CRAM-MD5", "XOAUTH2", "", "ANONYMOUS"} {
		if _, err := db.SASLServer(context.Background(), mech, ip1, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("SASLServer(%q): %v, want ErrInvalid", mech, err)
		}
	}
	if got := Mechanisms(); !slices.Equal(got, []string{"PLAIN", "LOGIN"}) {
		t.Errorf("Mechanisms = %q", got)
	}
}

// SASL logins go through Authenticate's throttling, and an error from the
// success callback reaches the caller unchanged.
func TestSASLThrottleAndCallbackError(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, withThrottle(smallThrottle))
	ctx := context.Background()
	db.seed(t, []string{"example.com"}, []string{"bob@example.com"}, nil)
	for i := 0; i < smallThrottle.Lockout; i++ {
		srv, _ := db.SASLServer(ctx, "PLAIN", ip1, nil)
		if err := runSASL(t, sasl.NewPlainClient("", "bob@example.com", "wrong"), srv); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	srv, _ := db.SASLServer(ctx, "LOGIN", ip2, nil)
	if err := runSASL(t, sasl.NewLoginClient("bob@example.com", "pw-bob@example.com"), srv); !errors.Is(err, ErrThrottled) {
		t.Errorf("after lockout: %v, want ErrThrottled", err)
	}

	errBusy := errors.New("too many sessions")
	db2 := newTestDB(t)
	db2.seed(t, []string{"example.com"}, []string{"bob@example.com"}, nil)
	srv, _ = db2.SASLServer(ctx, "PLAIN", ip1, func(string) error { return errBusy })
	if err := runSASL(t, sasl.NewPlainClient("", "bob@example.com", "pw-bob@example.com"), srv); err != errBusy {
		t.Errorf("callback error came back as %v", err)
	}
}
