package storagetest

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"postel/storage"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func testSearch(t *testing.T, open Opener) {
	a := account(t, open(t), "bob@example.com")
	c := ctx(t)
	add := func(subject, from, date, body string, internal time.Time, flags ...string) {
		t.Helper()
		m := "From: " + from + "\r\nTo: bob@example.com\r\nSubject: " + subject + "\r\nDate: " + date +
			"\r\nX-Tag: " + strings.ToUpper(subject) + "\r\n\r\n" + body + "\r\n"
		_, _, err := a.Append(c, "INBOX", strings.NewReader(m), flags, internal)
		must(t, err)
	}
	add("alpha report", "alice@example.org", "Mon, 05 Jan 2026 10:00:00 +0000", "quarterly numbers", day(2026, 1, 5), `\Seen`)
	add("beta", "Bob Builder <bob@example.net>", "Tue, 10 Feb 2026 10:00:00 +0000", "nothing here", day(2026, 2, 10), `\Flagged`, "$Work")
	add("gamma report", "carol@example.org", "Sun, 15 Mar 2026 23:30:00 +0000", strings.Repeat("long text ", 200), day(2026, 3, 15), `\Seen`, `\Deleted`)
	add("delta", "=?UTF-8?B?w4RsaWNl?= <ae@example.org>", "Wed, 01 Apr 2026 10:00:00 +0000", "Grüße", day(2026, 4, 1))
	_, err := a.StoreFlags(c, "INBOX", []uint32{4}, storage.FlagsAdd, []string{`\Answered`})
	must(t, err)
	st, _ := a.Status(c, "INBOX")

	cases := []struct {
		name string
		c    storage.SearchCriteria
		want []uint32
	}{
		{"all", storage.SearchCriteria{}, []uint32{1, 2, 3, 4}},
		{"uid range", storage.SearchCriteria{UIDs: []storage.UIDRange{{Start: 2, Stop: 3}}}, []uint32{2, 3}},
		{"uid star", storage.SearchCriteria{UIDs: []storage.UIDRange{{Start: 3, Stop: 0}}}, []uint32{3, 4}},
		{"uid beyond star", storage.SearchCriteria{UIDs: []storage.UIDRange{{Start: 10, Stop: 0}}}, []uint32{4}},
		{"uid reversed", storage.SearchCriteria{UIDs: []storage.UIDRange{{Start: 3, Stop: 1}}}, []uint32{1, 2, 3}},
		{"uid set", storage.SearchCriteria{UIDs: []storage.UIDRange{{Start: 1, Stop: 1}, {Start: 4, Stop: 4}}}, []uint32{1, 4}},
		{"seen", storage.SearchCriteria{Flag: []string{`\Seen`}}, []uint32{1, 3}},
		{"unseen", storage.SearchCriteria{NotFlag: []string{`\seen`}}, []uint32{2, 4}},
		{"keyword", storage.SearchCriteria{Flag: []string{"$work"}}, []uint32{2}},
		{"deleted+seen", storage.SearchCriteria{Flag: []string{`\Seen`, `\Deleted`}}, []uint32{3}},
		{"since", storage.SearchCriteria{Since: day(2026, 2, 10)}, []uint32{2, 3, 4}},
		{"before", storage.SearchCriteria{Before: day(2026, 2, 10)}, []uint32{1}},
		{"on", storage.SearchCriteria{Since: day(2026, 3, 15), Before: day(2026, 3, 16)}, []uint32{3}},
		{"sentsince", storage.SearchCriteria{SentSince: day(2026, 3, 15)}, []uint32{3, 4}},
		{"sentbefore", storage.SearchCriteria{SentBefore: day(2026, 2, 11)}, []uint32{1, 2}},
		{"larger", storage.SearchCriteria{Larger: 1000}, []uint32{3}},
		{"smaller", storage.SearchCriteria{Smaller: 1000}, []uint32{1, 2, 4}},
		{"modseq", storage.SearchCriteria{ModSeq: st.HighestModSeq}, []uint32{4}},
		{"subject", storage.SearchCriteria{Header: []storage.HeaderMatch{{Field: "Subject", Value: "REPORT"}}}, []uint32{1, 3}},
		{"from name", storage.SearchCriteria{Header: []storage.HeaderMatch{{Field: "from", Value: "builder"}}}, []uint32{2}},
		{"from decoded", storage.SearchCriteria{Header: []storage.HeaderMatch{{Field: "From", Value: "älice"}}}, []uint32{4}},
		{"has header", storage.SearchCriteria{Header: []storage.HeaderMatch{{Field: "X-Tag", Value: ""}}}, []uint32{1, 2, 3, 4}},
		{"missing header", storage.SearchCriteria{Header: []storage.HeaderMatch{{Field: "X-None", Value: ""}}}, []uint32{}},
		{"body", storage.SearchCriteria{Body: []string{"QUARTERLY"}}, []uint32{1}},
		{"body not header", storage.SearchCriteria{Body: []string{"alpha"}}, []uint32{}},
		{"body utf8", storage.SearchCriteria{Body: []string{"grüsse"}}, []uint32{}},
		{"body utf8 exact", storage.SearchCriteria{Body: []string{"GRÜSSE"}}, []uint32{}},
		{"body utf8 ß", storage.SearchCriteria{Body: []string{"grüße"}}, []uint32{4}},
		{"text header", storage.SearchCriteria{Text: []string{"gamma"}}, []uint32{3}},
		{"text body", storage.SearchCriteria{Text: []string{"nothing"}}, []uint32{2}},
		{"not", storage.SearchCriteria{Not: []storage.SearchCriteria{{Flag: []string{`\Seen`}}}}, []uint32{2, 4}},
		{"or", storage.SearchCriteria{Or: [][2]storage.SearchCriteria{{{Flag: []string{`\Flagged`}}, {Flag: []string{`\Answered`}}}}}, []uint32{2, 4}},
		{"and of or and not", storage.SearchCriteria{
			Or:  [][2]storage.SearchCriteria{{{Header: []storage.HeaderMatch{{Field: "Subject", Value: "report"}}}, {Flag: []string{`\Answered`}}}},
			Not: []storage.SearchCriteria{{UIDs: []storage.UIDRange{{Start: 3, Stop: 3}}}},
		}, []uint32{1, 4}},
		{"nested not or", storage.SearchCriteria{Not: []storage.SearchCriteria{{Or: [][2]storage.SearchCriteria{{{Larger: 1000}, {Body: []string{"nothing"}}}}}}}, []uint32{1, 4}},
	}
	for _, tc := range cases {
		got, err := a.Search(c, "INBOX", &tc.c)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(got) != len(tc.want) || (len(got) > 0 && !equalU(got, tc.want)) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := a.Search(c, "Nope", &storage.SearchCriteria{}); err == nil {
		t.Error("search in missing mailbox succeeded")
	}
}

func equalU(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testSearchBodyEncodings(t *testing.T, open Opener) {
	a := account(t, open(t), "bob@example.com")
	c := ctx(t)
	b64 := base64.StdEncoding.EncodeToString([]byte("The secret word is pineapple, in base64.\r\n"))
	msgs := []string{
		// 1: multipart with a base64 text part and a QP part.
		"From: a@example.org\r\nSubject: mixed\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n" +
			"preamble mentions banana\r\n--XX\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			b64[:20] + "\r\n" + b64[20:] + "\r\n--XX\r\n" +
			"Content-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
			"<p>Caf=E9 cr=E8me, soft=\r\nbreak</p>\r\n--XX--\r\nepilogue\r\n",
		// 2: a plain message mentioning none of it.
		"From: b@example.org\r\nSubject: plain\r\n\r\nnothing to see\r\n",
		// 3: an attached message/rfc822 whose body mentions kiwi.
		"From: c@example.org\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
			"Content-Type: message/rfc822\r\n\r\nSubject: inner =?UTF-8?Q?k=C3=A4se?=\r\n\r\nkiwi inside\r\n--b--\r\n",
		// 4: an 8-bit windows-1252 body.
		"From: d@example.org\r\nSubject: w\r\nContent-Type: text/plain; charset=windows-1252\r\n\r\nna\xefve \x80uro\r\n",
	}
	for _, m := range msgs {
		_, _, err := a.Append(c, "INBOX", strings.NewReader(m), nil, time.Time{})
		must(t, err)
	}
	for _, tc := range []struct {
		body string
		want []uint32
	}{
		{"PINEAPPLE", []uint32{1}},
		{"café crème", []uint32{1}},
		{"softbreak", []uint32{1}},
		{"banana", []uint32{}}, // the preamble is not a body part
		{"kiwi inside", []uint32{3}},
		{"käse", []uint32{3}},
		{"naïve €uro", []uint32{4}},
		{"nothing", []uint32{2}},
	} {
		got, err := a.Search(c, "INBOX", &storage.SearchCriteria{Body: []string{tc.body}})
		must(t, err)
		if !equalU(got, tc.want) {
			t.Errorf("BODY %q: got %v, want %v", tc.body, got, tc.want)
		}
	}
}
