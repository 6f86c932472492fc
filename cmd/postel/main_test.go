package main

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestCommandParsing(t *testing.T) {
	t.Parallel()
	var gotArgs []string
	var gotOpts cmdOpts
	cases := []struct {
		args    []string
		wantErr string
		want    []string
		stdin   bool
		config  string
	}{
		{args: []string{"user", "add", "bob@example.com", "--password-stdin", "--config", "f.toml"}, want: []string{"bob@example.com"}, stdin: true, config: "f.toml"},
		{args: []string{"user", "add", "--config=f.toml", "bob@example.com"}, want: []string{"bob@example.com"}, config: "f.toml"},
		{args: []string{"alias", "add", "a@x", "b@x", "c@x"}, want: []string{"a@x", "b@x", "c@x"}},
		{args: []string{"user", "add"}, wantErr: "usage: postel user add ADDRESS"},
		{args: []string{"user", "quota", "bob@x"}, wantErr: "usage: postel user quota ADDRESS SIZE"},
		{args: []string{"user", "add", "--bogus", "x"}, wantErr: "flag provided but not defined"},
		{args: []string{"nope"}, wantErr: `unknown command "nope"`},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		o := &cmdOpts{stdout: &out}
		cmds := commands()
		for i := range cmds {
			cmds[i].run = func(o *cmdOpts, args []string) error { gotArgs, gotOpts = args, *o; return nil }
		}
		err := runWith(o, cmds, tc.args)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err = %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if strings.Join(gotArgs, " ") != strings.Join(tc.want, " ") || gotOpts.passwordStdin != tc.stdin || gotOpts.config != tc.config {
			t.Errorf("%v: args %v stdin %v config %q", tc.args, gotArgs, gotOpts.passwordStdin, gotOpts.config)
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {}, {"user", "add", "--help"}, {"queue", "--help"}} {
		var out bytes.Buffer
		err := run(&cmdOpts{stdout: &out}, args)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "usage: postel") {
			t.Errorf("%v: err %v out %q", args, err, out.String())
		}
	}
}

func TestReadPassword(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"pw\n": "pw", "pw\r\nrest": "pw", "pw": "pw", "\n": "", "": ""} {
		got, err := readPassword(strings.NewReader(in))
		if got != want || (want == "") != (err != nil) {
			t.Errorf("readPassword(%q) = %q, %v", in, got, err)
		}
	}
}
