package storagetest

import (
	"strings"
	"testing"
	"time"

	"postel/storage"
)

func fetchOne(t *testing.T, a *storage.Account, raw string) storage.Message {
	t.Helper()
	_, uid, err := a.Append(ctx(t), "INBOX", strings.NewReader(raw), nil, time.Time{})
	must(t, err)
	ms, err := a.Fetch(ctx(t), "INBOX", []uint32{uid})
	must(t, err)
	if len(ms) != 1 || ms[0].Structure == nil || ms[0].Envelope == nil {
		t.Fatalf("Fetch %d: %+v", uid, ms)
	}
	return ms[0]
}

func testBodyStructure(t *testing.T, open Opener) {
	a := account(t, open(t), "bob@example.com")
	text := "Hello\r\nWorld\r\n"
	html := "<b>Hi</b>"
	inner := "From: x@example.org\r\nSubject: =?UTF-8?Q?inn=C3=A9r?=\r\n\r\nline1\r\nline2\r\nline3\r\n"
	raw := "From: a@example.org\r\nSubject: structure\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n" +
		"--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n" +
		"--inner\r\nContent-Type: text/plain; charset=UTF-8; format=flowed\r\n\r\n" + text +
		"\r\n--inner\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\n" + html +
		"\r\n--inner--\r\n" +
		"\r\n--outer\r\nContent-Type: message/rfc822\r\nContent-Description: forwarded\r\n\r\n" + inner +
		"\r\n--outer\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\nContent-Disposition: attachment; filename=\"r.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\nContent-ID: <part4@x>\r\nContent-Language: en, de\r\n\r\nAAAA\r\n" +
		"--outer--\r\n"
	m := fetchOne(t, a, raw)
	bs := m.Structure
	if bs.Type != "multipart" || bs.Subtype != "mixed" || len(bs.Children) != 3 || bs.Params["boundary"] != "outer" {
		t.Fatalf("top %+v", bs)
	}
	alt := bs.Children[0]
	if alt.Type != "multipart" || alt.Subtype != "alternative" || len(alt.Children) != 2 {
		t.Fatalf("alternative %+v", alt)
	}
	tp := alt.Children[0]
	if tp.Type != "text" || tp.Subtype != "plain" || tp.Size != int64(len(text)) || tp.Lines != 2 ||
		tp.Params["charset"] != "UTF-8" || tp.Params["format"] != "flowed" || tp.Encoding != "7bit" {
		t.Errorf("text part %+v", tp)
	}
	hp := alt.Children[1]
	if hp.Subtype != "html" || hp.Size != int64(len(html)) || hp.Lines != 1 || hp.Encoding != "quoted-printable" || hp.Params["charset"] != "us-ascii" {
		t.Errorf("html part %+v", hp)
	}
	mp := bs.Children[1]
	if mp.Type != "message" || mp.Subtype != "rfc822" || mp.Size != int64(len(inner)) || mp.Lines != 6 || mp.Description != "forwarded" {
		t.Errorf("message part %+v", mp)
	}
	if mp.Envelope == nil || mp.Envelope.Subject != "innér" || mp.Body == nil || mp.Body.Lines != 3 {
		t.Errorf("embedded message %+v / %+v", mp.Envelope, mp.Body)
	}
	att := bs.Children[2]
	if att.Type != "application" || att.Subtype != "pdf" || att.Disposition != "attachment" ||
		att.DispositionParams["filename"] != "r.pdf" || att.Encoding != "base64" || att.ID != "<part4@x>" ||
		len(att.Language) != 2 || att.Size != 4 || att.Params["name"] != "r.pdf" {
		t.Errorf("attachment %+v", att)
	}
	// A message without MIME headers is text/plain us-ascii.
	m = fetchOne(t, a, "Subject: s\r\n\r\nbody")
	if m.Structure.Type != "text" || m.Structure.Subtype != "plain" || m.Structure.Params["charset"] != "us-ascii" || m.Structure.Lines != 1 || m.Structure.Size != 4 {
		t.Errorf("default structure %+v", m.Structure)
	}
}

func testMalformedMIME(t *testing.T, open Opener) {
	a := account(t, open(t), "bob@example.com")
	for _, raw := range []string{
		"",
		"\r\n",
		"no colon line\r\n\r\nbody",
		"Content-Type: multipart/mixed\r\n\r\nno boundary",
		"Content-Type: multipart/mixed; boundary=zz\r\n\r\nno parts at all",
		"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nunterminated",
		"Content-Type: ;;;==\r\nFrom: <<<@>>>\r\nDate: yesterday\r\nSubject: =?bogus?Q?x?=\r\n\r\nx",
		"Content-Type: message/rfc822\r\n\r\n",
		"Content-Type: text/plain; charset=\"unterminated\r\n\r\nx",
		"From: a@b\r\n continuation first?\r\n\tmore\r\n\r\n",
		strings.Repeat("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n", 100),
	} {
		m := fetchOne(t, a, raw)
		if m.Size != int64(len(raw)) {
			t.Errorf("%q: size %d", trunc(raw), m.Size)
		}
	}
}
