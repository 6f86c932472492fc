package checks

import (
	"bufio"
	"bytes"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func strip(t testing.TB, msg, id string) string {
	t.Helper()
	out, err := io.ReadAll(StripAuthResults(strings.NewReader(msg), id))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestStripAuthResults(t *testing.T) {
	t.Parallel()
	const body = "\r\nAuthentication-Results: mx.ours.example; spf=pass\r\nbody text\r\n"
	tests := []struct{ name, in, want string }{
		{"forged ours removed",
			"Authentication-Results: mx.ours.example; dkim=pass header.d=bank.example\r\nFrom: a@b\r\n" + body,
			"From: a@b\r\n" + body},
		{"other authserv-id kept",
			"Authentication-Results: mx.google.example; dkim=pass\r\nFrom: a@b\r\n" + body,
			"Authentication-Results: mx.google.example; dkim=pass\r\nFrom: a@b\r\n" + body},
		{"case-insensitive name and id, folded",
			"From: a@b\r\nauthentication-results: MX.Ours.Example;\r\n\tspf=pass smtp.mailfrom=x@y;\r\n\tdmarc=pass\r\nTo: c@d\r\n" + body,
			"From: a@b\r\nTo: c@d\r\n" + body},
		{"space before colon, comment before id",
			"Authentication-Results : (forged) mx.ours.example. 1; spf=pass\r\nTo: c@d\r\n" + body,
			"To: c@d\r\n" + body},
		{"quoted id",
			"Authentication-Results: \"mx.ours\\.example\"; spf=pass\r\nTo: c@d\r\n" + body,
			"To: c@d\r\n" + body},
		{"prefix of our id is another id",
			"Authentication-Results: mx.ours.example.evil; spf=pass\r\n" + body,
			"Authentication-Results: mx.ours.example.evil; spf=pass\r\n" + body},
		{"id on the continuation line",
			"Authentication-Results:\r\n mx.ours.example; spf=pass\r\nTo: c@d\r\n" + body,
			"To: c@d\r\n" + body},
		{"bare LF line ends",
			"Authentication-Results: mx.ours.example; spf=pass\nTo: c@d\n\nAuthentication-Results: mx.ours.example; x\n",
			"To: c@d\n\nAuthentication-Results: mx.ours.example; x\n"},
		{"last field at EOF without body",
			"To: c@d\r\nAuthentication-Results: mx.ours.example; spf=pass",
			"To: c@d\r\n"},
		{"ARC-Authentication-Results is another field",
			"ARC-Authentication-Results: i=1; mx.ours.example; spf=pass\r\n" + body,
			"ARC-Authentication-Results: i=1; mx.ours.example; spf=pass\r\n" + body},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := strip(t, tc.in, testHost); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			// Byte-at-a-time readers must give the same result.
			out, err := io.ReadAll(iotest.OneByteReader(StripAuthResults(iotest.OneByteReader(strings.NewReader(tc.in)), testHost)))
			if err != nil || string(out) != tc.want {
				t.Errorf("one byte at a time: %q, %v", out, err)
			}
		})
	}
}

// TestStripLongFields: fields longer than the read buffer stream through,
// and a huge Authentication-Results whose id cannot be found is dropped.
func TestStripLongFields(t *testing.T) {
	t.Parallel()
	long := "X-Long: " + strings.Repeat("a", 100<<10) + "\r\n"
	in := long + "Authentication-Results: (" + strings.Repeat("c", 40<<10) + ") mx.ours.example; spf=pass\r\n" +
		"Authentication-Results: other.example; " + strings.Repeat("x=y ", 10<<10) + "\r\n\r\nbody\r\n"
	want := long + "Authentication-Results: other.example; " + strings.Repeat("x=y ", 10<<10) + "\r\n\r\nbody\r\n"
	if got := strip(t, in, testHost); got != want {
		t.Errorf("long fields: got %d bytes, want %d", len(got), len(want))
	}
}

func TestStripReadError(t *testing.T) {
	t.Parallel()
	r := StripAuthResults(iotest.TimeoutReader(strings.NewReader("To: a@b\r\nSubject: x\r\n")), testHost)
	_, err := io.ReadAll(bufio.NewReaderSize(r, 16))
	if err != iotest.ErrTimeout {
		t.Errorf("err = %v, want the reader's error", err)
	}
}

func TestAuthservID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		id       string
		complete bool
	}{
		{" mx.example; spf=pass", "mx.example", true},
		{" mx.example 1; spf=pass", "mx.example", true},
		{" (a (nested) comment) mx.example;", "mx.example", true},
		{` (\) escaped) mx.example;`, "mx.example", true},
		{` "quoted id"; none`, "quoted id", true},
		{"\r\n\tmx.example;", "mx.example", true},
		{" (unterminated mx.example;", "", false},
		{` "unterminated`, "unterminated", false},
		{"", "", true},
		{" ;", "", true},
		{" mx.example(comment);", "mx.example", true},
	}
	for _, tc := range tests {
		id, complete := authservID(tc.in)
		if id != tc.id || complete != tc.complete {
			t.Errorf("authservID(%q) = %q, %v; want %q, %v", tc.in, id, complete, tc.id, tc.complete)
		}
	}
}

// FuzzStripAuthResults checks the stripper against the header parser:
// no field claiming our id survives, the body is untouched, stripping
// twice changes nothing, and a message without such fields is unchanged.
func FuzzStripAuthResults(f *testing.F) {
	f.Add("Authentication-Results: mx.ours.example; spf=pass\r\nFrom: a@b\r\n\r\nbody\r\n")
	f.Add("From: a@b\r\nAuthentication-Results: (c) \"mx.ours.example\"; x\r\n y\r\n\r\n")
	f.Add("authentication-results :\r\n\tMX.OURS.EXAMPLE\nX: y\n\nAuthentication-Results: mx.ours.example\n")
	f.Add(" leading continuation\r\nAuthentication-Results: other; x\r\n")
	f.Add("From: =?utf-8?q?A?= <a@b.example>, c@d.example\r\nFrom: x@y\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		out := strip(t, in, testHost)
		fields, raw, err := readHeader(bufio.NewReader(strings.NewReader(out)))
		if err != nil {
			t.Fatal(err)
		}
		for _, fl := range fields {
			if strings.EqualFold(fl.Name, "Authentication-Results") {
				if id, _ := authservID(fl.Value); strings.EqualFold(strings.TrimSuffix(id, "."), testHost) {
					t.Fatalf("field %q survived in %q", fl.Value, out)
				}
			}
		}
		_, inRaw, _ := readHeader(bufio.NewReader(strings.NewReader(in)))
		if in[len(inRaw):] != out[len(raw):] {
			t.Fatalf("body changed: %q -> %q", in[len(inRaw):], out[len(raw):])
		}
		if again := strip(t, out, testHost); again != out {
			t.Fatalf("not idempotent: %q -> %q", out, again)
		}
		if !bytes.Contains(bytes.ToLower([]byte(in)), []byte("authentication-results")) && out != in {
			t.Fatalf("changed a message without the field: %q -> %q", in, out)
		}
		// The header parsers must not panic on the same input.
		inFields, inRaw2, _ := readHeader(bufio.NewReader(strings.NewReader(in)))
		parseFrom(inFields)
		dkimSignatures(inFields, inRaw2)
	})
}

// FuzzReadHeader checks the header parser and the From:/tag parsers that
// read network input: raw is exactly the prefix consumed, fields are
// never empty-named unless the line had no name, and a From: domain is
// always a normalised name.
func FuzzReadHeader(f *testing.F) {
	f.Add("From: Alice <alice@Example.COM>\r\nDKIM-Signature: v=1; d=example.com;\r\n s=sel; b=abc\r\n\r\nbody")
	f.Add("From: a@b.example\nFrom: c@d.example\n\n")
	f.Add("From: =?utf-8?b?w6k=?= <x@xn--bcher-kva.example>, \"q\\\"x\" <y@bücher.example>\r\n\r\n")
	f.Add(" cont\r\nno colon\r\n:empty name\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		fields, raw, err := readHeader(bufio.NewReaderSize(strings.NewReader(in), 16))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(in, string(raw)) {
			t.Fatalf("raw %q is not a prefix of the input", raw)
		}
		prevEnd := 0
		for _, fl := range fields {
			if strings.ContainsAny(fl.Name, "\n:") {
				t.Fatalf("bad field name %q", fl.Name)
			}
			// The spans DKIM hashes fields by: in order, inside raw, each
			// starting with its field's name.
			if fl.Start < prevEnd || fl.End <= fl.Start || fl.End > len(raw) ||
				!strings.HasPrefix(strings.TrimSpace(string(raw[fl.Start:fl.End])), fl.Name) {
				t.Fatalf("field %q span [%d,%d) after %d in %q", fl.Name, fl.Start, fl.End, prevEnd, raw)
			}
			prevEnd = fl.End
		}
		fh := parseFrom(fields)
		if fh.Domain != "" && (fh.Domain != strings.ToLower(fh.Domain) || strings.ContainsAny(fh.Domain, " \t\r\n@<>;") || strings.HasSuffix(fh.Domain, ".")) {
			t.Fatalf("From: domain %q not normalised", fh.Domain)
		}
		if fh.Domain == "" && fh.Problem == "" {
			t.Fatalf("no domain and no problem: %+v", fh)
		}
		_, _, sigs := dkimSignatures(fields, raw)
		for _, s := range sigs {
			if strings.ContainsAny(s.Domain+s.Selector+s.BPrefix, " \t\r\n") {
				t.Fatalf("signature %+v", s)
			}
		}
	})
}

// TestMayHaveAuthResults: the fast check finds the field in any case at
// the start of a header line, and never misses one the filter would
// remove: where it says no, StripAuthResults changes nothing.
func TestMayHaveAuthResults(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want bool
	}{
		{"From: a@b\r\nAuthentication-Results: mx.example.com; spf=pass\r\n\r\nbody\r\n", true},
		{"From: a@b\r\nauthentication-RESULTS:mx.example.com; none\r\n\r\nbody\r\n", true},
		{"Authentication-Results: mx.example.com; none\r\n\r\n", true},
		{"From: a@b\nAuthentication-Results: mx.example.com; none\n\nbody\n", true},
		{"From: a@b\r\nX-Authentication-Results: mx.example.com; none\r\n\r\nbody\r\n", false},
		{"From: a@b\r\nSubject: x\r\n Authentication-Results: mx.example.com; none\r\n\r\nbody\r\n", false},
		{"From: a@b\r\n\r\nAuthentication-Results: mx.example.com; in the body\r\n", false},
		{"From: a@b\r\nSubject: no body", false},
		{"", false},
	} {
		if got := MayHaveAuthResults([]byte(c.msg)); got != c.want {
			t.Errorf("MayHaveAuthResults(%q) = %v, want %v", c.msg, got, c.want)
		}
		if !c.want {
			out, err := io.ReadAll(StripAuthResults(strings.NewReader(c.msg), "mx.example.com"))
			if err != nil || string(out) != c.msg {
				t.Errorf("StripAuthResults changed %q to %q (%v)", c.msg, out, err)
			}
		}
	}
}

// TestReadHeaderLinearInFolds: a field folded into many short lines costs
// memory (and time) in proportion to its length. Appending each line to
// the field's string made it quadratic: 200,000 folds took 51 s of CPU,
// a cheap way for a sender to stall the MX. Not parallel: it reads the
// process's allocation counter.
func TestReadHeaderLinearInFolds(t *testing.T) {
	msg := "Subject: x\r\n" + strings.Repeat(" y\r\n", 40000) + "\r\nbody"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fields, _, err := readHeader(bufio.NewReader(strings.NewReader(msg)))
	runtime.ReadMemStats(&after)
	if err != nil || len(fields) != 1 || len(fields[0].Value) != len(" x")+40000*len("\r\n y") {
		t.Fatalf("fields %d, err %v", len(fields), err)
	}
	// Quadratic, this would be about 40,000 copies of 80 KB on average.
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(64*len(msg)); got > limit {
		t.Errorf("reading a %d-byte header allocated %d bytes, more than %d", len(msg), got, limit)
	}
}
