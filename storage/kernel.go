package storage

import (
	"strconv"
	"strings"
)

// kernelAtLeast reports whether a kernel release string such as
// "6.1.0-28-amd64" or "5.8.0" is at least major.minor. An unparsable
// release is treated as too old, the safe answer.
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, err := strconv.Atoi(parts[0])
	if err != nil {
		return false
	}
	minDigits := parts[1]
	if i := strings.IndexFunc(minDigits, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minDigits = minDigits[:i]
	}
	mnr, err := strconv.Atoi(minDigits)
	if err != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}
