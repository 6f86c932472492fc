package admin

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"postel/auth"
	"postel/dkim"
	"postel/internal/control"
)

// parseZone parses zone-file text and returns its records by type.
func parseZone(t *testing.T, text string) map[uint16][]dns.RR {
	t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(text), "", "")
	out := map[uint16][]dns.RR{}
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		out[rr.Header().Rrtype] = append(out[rr.Header().Rrtype], rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("not a zone: %v\n%s", err, text)
	}
	return out
}

// TestDomainRecords: the records printed for a domain are valid zone-file
// lines: MX to our host, SPF, both DKIM keys once generated, DMARC, and
// an SRV record per client service, "." for those not offered.
func TestDomainRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := auth.Open(auth.Options{Path: filepath.Join(t.TempDir(), "accounts.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.AddDomain(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	s := &Service{Accounts: db, DKIMDir: t.TempDir(), Host: &Host{
		Name:  "mx.example.com",
		Ports: map[string]int{"submissions": 465, "submission": 587, "imaps": 993, "pop3s": 995},
	}}
	records := func() (string, map[uint16][]dns.RR) {
		out, err := s.Handle(ctx, control.Request{Cmd: "domain.records", Args: []string{"Example.COM."}})
		if err != nil {
			t.Fatal(err)
		}
		return out, parseZone(t, out)
	}
	out, rrs := records()
	if mx := rrs[dns.TypeMX]; len(mx) != 1 || mx[0].(*dns.MX).Mx != "mx.example.com." || mx[0].Header().Name != "example.com." {
		t.Errorf("MX: %v", mx)
	}
	txt := map[string]string{}
	for _, rr := range rrs[dns.TypeTXT] {
		txt[rr.Header().Name] = strings.Join(rr.(*dns.TXT).Txt, "")
	}
	if txt["example.com."] != "v=spf1 mx -all" || txt["_dmarc.example.com."] != "v=DMARC1; p=quarantine" {
		t.Errorf("TXT: %v", txt)
	}
	if !strings.Contains(out, "postel dkim generate example.com") {
		t.Errorf("no hint to generate DKIM keys:\n%s", out)
	}
	for name, want := range map[string]uint16{
		"_submissions._tcp.example.com.": 465, "_submission._tcp.example.com.": 587,
		"_imaps._tcp.example.com.": 993, "_imap._tcp.example.com.": 0,
		"_pop3s._tcp.example.com.": 995, "_pop3._tcp.example.com.": 0,
	} {
		var found *dns.SRV
		for _, rr := range rrs[dns.TypeSRV] {
			if rr.Header().Name == name {
				found = rr.(*dns.SRV)
			}
		}
		switch {
		case found == nil:
			t.Errorf("no SRV for %s", name)
		case found.Port != want:
			t.Errorf("%s port %d, want %d", name, found.Port, want)
		case want == 0 && found.Target != ".":
			t.Errorf("%s target %s for a service not offered", name, found.Target)
		case want != 0 && found.Target != "mx.example.com.":
			t.Errorf("%s target %s", name, found.Target)
		}
	}

	// With keys, their records; with a smarthost, the SPF warning.
	gen, err := dkim.Generate(s.DKIMDir, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	s.Host.Smarthost = "relay.provider.example:465"
	out, rrs = records()
	for _, g := range gen {
		found := false
		for _, rr := range rrs[dns.TypeTXT] {
			if rr.Header().Name == g.Name && strings.Join(rr.(*dns.TXT).Txt, "") == g.Value {
				found = true
			}
		}
		if !found {
			t.Errorf("no DKIM record %s", g.Name)
		}
	}
	if !strings.Contains(out, "smarthost relay.provider.example:465") {
		t.Errorf("no smarthost warning:\n%s", out)
	}

	if _, err := s.Handle(ctx, control.Request{Cmd: "domain.records", Args: []string{"other.example"}}); err == nil || !strings.Contains(err.Error(), "not a local domain") {
		t.Errorf("unknown domain: %v", err)
	}
}
