// Package config reads Postel's one TOML configuration file.
//
// Load decodes the file into plain structs on top of Default(), rejects
// unknown keys (naming each with its line) and then Validate reports every
// bad value at once. Only cmd/postel imports this package: the servers take
// their own Options structs, filled in by cmd.
package config
