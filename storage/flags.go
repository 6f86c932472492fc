package storage

import (
	"sort"
	"strings"
)

// System flags are kept as a bit mask in the index; keywords as strings.
const (
	bitSeen uint8 = 1 << iota
	bitAnswered
	bitFlagged
	bitDeleted
	bitDraft
)

var systemFlags = [...]struct {
	name string
	bit  uint8
}{
	{FlagAnswered, bitAnswered},
	{FlagDeleted, bitDeleted},
	{FlagDraft, bitDraft},
	{FlagFlagged, bitFlagged},
	{FlagSeen, bitSeen},
}

// maxKeywords bounds the keywords on one message so a client cannot grow
// an index record without limit.
const maxKeywords = 64

// flagSet is the index form of a message's flags.
type flagSet struct {
	bits     uint8
	keywords []string // sorted, unique (case-insensitive), no system flags
}

// parseFlags normalises client flags: system flags get their canonical
// spelling (RFC 9051 2.3.2: flags are case-insensitive), \Recent and other
// unknown backslash flags are dropped (the server owns them), keywords
// that are not IMAP atoms are dropped, duplicates are removed.
func parseFlags(flags []string) flagSet {
	var fs flagSet
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			for _, s := range systemFlags {
				if strings.EqualFold(f, s.name) {
					fs.bits |= s.bit
				}
			}
			continue
		}
		if !isAtom(f) {
			continue
		}
		fs.addKeyword(f)
	}
	return fs
}

func (fs *flagSet) hasKeyword(k string) bool {
	for _, x := range fs.keywords {
		if strings.EqualFold(x, k) {
			return true
		}
	}
	return false
}

func (fs *flagSet) addKeyword(k string) {
	if fs.hasKeyword(k) || len(fs.keywords) >= maxKeywords {
		return
	}
	fs.keywords = append(fs.keywords, k)
	sort.Strings(fs.keywords)
}

func (fs *flagSet) removeKeyword(k string) {
	out := fs.keywords[:0]
	for _, x := range fs.keywords {
		if !strings.EqualFold(x, k) {
			out = append(out, x)
		}
	}
	fs.keywords = out
}

// apply returns fs changed by op with the flags in arg.
func (fs flagSet) apply(op FlagOp, arg flagSet) flagSet {
	switch op {
	case FlagsReplace:
		return flagSet{bits: arg.bits, keywords: append([]string(nil), arg.keywords...)}
	case FlagsAdd:
		out := flagSet{bits: fs.bits | arg.bits, keywords: append([]string(nil), fs.keywords...)}
		for _, k := range arg.keywords {
			out.addKeyword(k)
		}
		return out
	case FlagsRemove:
		out := flagSet{bits: fs.bits &^ arg.bits, keywords: append([]string(nil), fs.keywords...)}
		for _, k := range arg.keywords {
			out.removeKeyword(k)
		}
		return out
	}
	return fs
}

func (fs flagSet) equal(o flagSet) bool {
	if fs.bits != o.bits || len(fs.keywords) != len(o.keywords) {
		return false
	}
	for i := range fs.keywords {
		if fs.keywords[i] != o.keywords[i] {
			return false
		}
	}
	return true
}

// list returns the flags as sorted strings (MessageMeta.Flags).
func (fs flagSet) list() []string {
	n := len(fs.keywords)
	for _, s := range systemFlags {
		if fs.bits&s.bit != 0 {
			n++
		}
	}
	if n == 0 {
		return []string{}
	}
	out := make([]string, 0, n)
	for _, s := range systemFlags {
		if fs.bits&s.bit != 0 {
			out = append(out, s.name)
		}
	}
	out = append(out, fs.keywords...)
	sort.Strings(out)
	return out
}

// has reports whether fs holds flag f (system flag or keyword).
func (fs flagSet) has(f string) bool {
	if strings.HasPrefix(f, `\`) {
		for _, s := range systemFlags {
			if strings.EqualFold(f, s.name) {
				return fs.bits&s.bit != 0
			}
		}
		return false
	}
	return fs.hasKeyword(f)
}

// maildirInfo returns the Maildir "2," info flags (sorted ASCII letters),
// mirrored in file names for other Maildir tools. The index stays the
// authority.
func (fs flagSet) maildirInfo() string {
	var b []byte
	if fs.bits&bitDraft != 0 {
		b = append(b, 'D')
	}
	if fs.bits&bitFlagged != 0 {
		b = append(b, 'F')
	}
	if fs.bits&bitAnswered != 0 {
		b = append(b, 'R')
	}
	if fs.bits&bitSeen != 0 {
		b = append(b, 'S')
	}
	if fs.bits&bitDeleted != 0 {
		b = append(b, 'T')
	}
	return ":2," + string(b)
}

// flagsFromMaildirInfo reads the flags of a file that arrived from outside.
func flagsFromMaildirInfo(file string) flagSet {
	var fs flagSet
	i := strings.Index(file, ":2,")
	if i < 0 {
		return fs
	}
	for _, c := range file[i+3:] {
		switch c {
		case 'D':
			fs.bits |= bitDraft
		case 'F':
			fs.bits |= bitFlagged
		case 'R':
			fs.bits |= bitAnswered
		case 'S':
			fs.bits |= bitSeen
		case 'T':
			fs.bits |= bitDeleted
		}
	}
	return fs
}

// isAtom reports whether s is an IMAP atom usable as a keyword
// (RFC 9051 9: atom-char excludes specials, SP, CTL, "]").
func isAtom(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case '(', ')', '{', '%', '*', '"', '\\', ']':
			return false
		}
	}
	return true
}
