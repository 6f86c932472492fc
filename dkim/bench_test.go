package dkim

import (
	"strings"
	"testing"
)

// BenchmarkSign: both signatures (Ed25519 + RSA-2048, relaxed/relaxed) of a
// 4 KiB message, the cost the queue adds to each Enqueue from a local
// domain.
//
//	go test -run '^$' -bench Sign -count 5 ./dkim/
func BenchmarkSign(b *testing.B) {
	dir := b.TempDir()
	if _, err := Generate(dir, "example.org"); err != nil {
		b.Fatal(err)
	}
	s := NewSigner(dir)
	msg := []byte(testMsg + strings.Repeat("Some body text of a typical message, seventy-odd characters long.\r\n", 60))
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Sign("example.org", msg); err != nil {
			b.Fatal(err)
		}
	}
}
