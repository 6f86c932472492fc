// Command postel is the Postel mail server and its admin tool.
//
//	postel serve [--config FILE]
//	postel config check --config FILE
//	postel domain add|list|records|remove ...
//	postel user add|list|remove|passwd|quota ...
//	postel alias add|list|remove ...
//	postel queue list|retry|remove ...
//	postel dkim generate DOMAIN
//
// Business logic lives in the packages; this command parses arguments,
// reads the config and wires objects together.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// command is one leaf of the command tree.
type command struct {
	path    string // "user add"
	args    string // usage of positional arguments
	help    string
	minArgs int
	maxArgs int // -1 = any
	flags   func(fs *flag.FlagSet, o *cmdOpts)
	run     func(o *cmdOpts, args []string) error
}

// cmdOpts holds every flag any command takes.
type cmdOpts struct {
	config        string
	passwordStdin bool
	all           bool
	stdin         io.Reader
	stdout        io.Writer
}

func configFlag(fs *flag.FlagSet, o *cmdOpts) {
	fs.StringVar(&o.config, "config", "", "config `FILE` (default: the development default, data in ./data)")
}

func passwordFlags(fs *flag.FlagSet, o *cmdOpts) {
	configFlag(fs, o)
	fs.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of standard input (default: generate and print one)")
}

func commands() []command {
	admin := func(cmd string) func(o *cmdOpts, args []string) error {
		return func(o *cmdOpts, args []string) error { return runAdmin(o, cmd, args) }
	}
	return []command{
		{path: "serve", help: "run the mail server (without --config: the development default on loopback ports, data in ./data)", maxArgs: 0, flags: configFlag, run: runServe},
		{path: "config check", help: "check a config file and report every problem", maxArgs: 0, flags: configFlag, run: runConfigCheck},
		{path: "domain add", args: "DOMAIN", help: "add a local domain", minArgs: 1, maxArgs: 1, flags: configFlag, run: admin("domain.add")},
		{path: "domain list", help: "list local domains", flags: configFlag, run: admin("domain.list")},
		{path: "domain records", args: "DOMAIN", help: "print the DNS records the domain needs (MX, SPF, DKIM, DMARC, SRV for mail clients)", minArgs: 1, maxArgs: 1, flags: configFlag, run: admin("domain.records")},
		{path: "domain remove", args: "DOMAIN", help: "remove a domain that has no users or aliases", minArgs: 1, maxArgs: 1, flags: configFlag, run: admin("domain.remove")},
		{path: "user add", args: "ADDRESS", help: "add a user (mail account)", minArgs: 1, maxArgs: 1, flags: passwordFlags, run: admin("user.add")},
		{path: "user list", help: "list users with their quotas", flags: configFlag, run: admin("user.list")},
		{path: "user remove", args: "ADDRESS", help: "remove a user (its mail stays on disk)", minArgs: 1, maxArgs: 1, flags: configFlag, run: admin("user.remove")},
		{path: "user passwd", args: "ADDRESS", help: "set a user's password", minArgs: 1, maxArgs: 1, flags: passwordFlags, run: admin("user.passwd")},
		{path: "user quota", args: "ADDRESS SIZE", help: "set a user's quota (e.g. 2G, 500M, unlimited)", minArgs: 2, maxArgs: 2, flags: configFlag, run: admin("user.quota")},
		{path: "alias add", args: "ADDRESS TARGET...", help: "deliver ADDRESS (or @domain, a catch-all) to local users", minArgs: 2, maxArgs: -1, flags: configFlag, run: admin("alias.add")},
		{path: "alias list", help: "list aliases", flags: configFlag, run: admin("alias.list")},
		{path: "alias remove", args: "ADDRESS", help: "remove an alias", minArgs: 1, maxArgs: 1, flags: configFlag, run: admin("alias.remove")},
		{path: "queue list", help: "list queued outbound messages per recipient", flags: configFlag, run: admin("queue.list")},
		{path: "queue retry", args: "ID", help: "retry a queued message now (or --all)", maxArgs: 1, flags: func(fs *flag.FlagSet, o *cmdOpts) {
			configFlag(fs, o)
			fs.BoolVar(&o.all, "all", false, "retry every queued message")
		}, run: admin("queue.retry")},
		{path: "queue remove", args: "ID", help: "remove a queued message without delivering it", minArgs: 1, maxArgs: 1, flags: configFlag, run: admin("queue.remove")},
		{path: "dkim generate", args: "DOMAIN", help: "create DKIM keys (Ed25519 and RSA-2048) and print the DNS records to publish", minArgs: 1, maxArgs: 1, flags: configFlag, run: admin("dkim.generate")},
	}
}

func main() {
	o := &cmdOpts{stdin: os.Stdin, stdout: os.Stdout}
	if err := run(o, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "postel: %v\n", err)
		}
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(1)
	}
}

// run finds the command named by the leading words of args and runs it.
func run(o *cmdOpts, args []string) error { return runWith(o, commands(), args) }

func runWith(o *cmdOpts, cmds []command, args []string) error {
	var words []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		words = append(words, a)
	}
	// The longest command path that prefixes the words wins.
	var best *command
	for i := range cmds {
		p := strings.Fields(cmds[i].path)
		if len(p) <= len(words) && strings.Join(words[:len(p)], " ") == cmds[i].path {
			if best == nil || len(p) > len(strings.Fields(best.path)) {
				best = &cmds[i]
			}
		}
	}
	if best == nil {
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" ||
			(len(words) > 0 && len(words) < len(args) && isHelp(args[len(words)])) {
			usage(o.stdout, cmds, words)
			return flag.ErrHelp
		}
		return fmt.Errorf("unknown command %q (see postel --help)", strings.Join(words, " "))
	}
	rest := args[len(strings.Fields(best.path)):]
	fs := flag.NewFlagSet("postel "+best.path, flag.ContinueOnError)
	fs.SetOutput(o.stdout)
	if best.flags != nil {
		best.flags(fs, o)
	}
	fs.Usage = func() {
		fmt.Fprintf(o.stdout, "usage: postel %s [flags] %s\n\n%s\n\nflags:\n", best.path, best.args, best.help)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, rest)
	if err != nil {
		return err
	}
	if len(pos) < best.minArgs || (best.maxArgs >= 0 && len(pos) > best.maxArgs) {
		return fmt.Errorf("usage: postel %s %s", best.path, best.args)
	}
	return best.run(o, pos)
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

// parseInterspersed lets flags come before or after positional arguments
// (`postel user add bob@example.com --password-stdin --config FILE`).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func usage(w io.Writer, cmds []command, prefix []string) {
	fmt.Fprintln(w, "usage: postel COMMAND [flags] [arguments]\n\ncommands:")
	p := strings.Join(prefix, " ")
	matched := false
	for _, c := range cmds {
		matched = matched || strings.HasPrefix(c.path, p)
	}
	if !matched {
		p = ""
	}
	for _, c := range cmds {
		if p == "" || strings.HasPrefix(c.path, p) {
			fmt.Fprintf(w, "  %-28s %s\n", strings.TrimSpace(c.path+" "+c.args), c.help)
		}
	}
	fmt.Fprintln(w, "\nEvery command takes --config FILE and --help.")
}
