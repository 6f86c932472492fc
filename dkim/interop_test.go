package dkim

import (
	"strings"
	"testing"

	"postel/internal/testenv"
)

// TestDkimpyVerifiesOurSignatures: both signatures our signer adds
// (Ed25519 and RSA-SHA256) verify with another implementation, dkimpy
// (Debian's python3-dkim), on messages a receiver must not be picky
// about: folded headers, trailing white space, an empty body, 8-bit text.
func TestDkimpyVerifiesOurSignatures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	recs, err := Generate(dir, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]string{}
	for _, r := range recs {
		records[strings.TrimSuffix(r.Name, ".")] = r.Value
	}
	s := NewSigner(dir)
	msgs := []string{
		testMsg,
		strings.Replace(testMsg, "Subject: hello\r\n", "Subject: a long subject\r\n\tfolded  over   lines \r\n", 1),
		strings.Replace(testMsg, "Hello Bob.\r\n", "trailing space \r\n\ttab\r\n\r\n\r\n", 1),
		strings.TrimSuffix(testMsg, "Hello Bob.\r\n"),
		strings.Replace(testMsg, "Hello Bob.", "Gr\xfc\xdfe, caf\xc3\xa9", 1),
	}
	var signed []string
	for _, m := range msgs {
		out, err := s.SignMessage("example.org", []byte(m))
		if err != nil {
			t.Fatal(err)
		}
		signed = append(signed, testenv.Latin1(out))
	}
	var verdicts [][]bool
	testenv.Dkimpy(t, map[string]any{"op": "verify", "records": records, "messages": signed}, &verdicts)
	for i, v := range verdicts {
		if len(v) != 2 || !v[0] || !v[1] {
			t.Errorf("message %d: dkimpy verdicts %v, want two passes\n%s", i, v, testenv.FromLatin1(signed[i]))
		}
	}
	// The check has teeth: a changed body fails.
	changed := testenv.Latin1(append(testenv.FromLatin1(signed[0]), "P.S.\r\n"...))
	testenv.Dkimpy(t, map[string]any{"op": "verify", "records": records, "messages": []string{changed}}, &verdicts)
	if len(verdicts) != 1 || len(verdicts[0]) != 2 || verdicts[0][0] || verdicts[0][1] {
		t.Errorf("changed body: dkimpy verdicts %v, want two failures", verdicts)
	}
}
