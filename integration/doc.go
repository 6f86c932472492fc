// Package integration runs the built postel binary the way an admin does
// (a config file, `postel serve`, the admin subcommands) and drives it with
// real clients: Go's SMTP and IMAP clients, python3, curl. It holds only
// tests.
package integration
