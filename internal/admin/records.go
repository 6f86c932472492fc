package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"postel/dkim"
	"postel/internal/control"
)

// Host describes this server for the DNS records a domain needs
// (`postel domain records`).
type Host struct {
	// Name is the host name the MX record points to and clients connect
	// to: the config's hostname, which the TLS certificate must name.
	Name string
	// Ports of the services mail clients look up (RFC 6186, RFC 8314),
	// by SRV service name: "submissions", "submission", "imaps", "imap",
	// "pop3s", "pop3". 0 or missing: the service is not offered.
	Ports map[string]int
	// Smarthost is set when outbound mail leaves through a relay, whose
	// addresses SPF must then allow instead of this host's.
	Smarthost string
}

// srvServices lists the client services in the order RFC 8314 prefers
// them: implicit TLS first.
var srvServices = []string{"submissions", "submission", "imaps", "imap", "pop3s", "pop3"}

// domainRecords prints, as zone-file lines with comments, every DNS record
// a local domain needs for mail to reach this server, for its mail to be
// accepted elsewhere, and for mail clients to find their settings.
func (s *Service) domainRecords(ctx context.Context, req control.Request) (string, error) {
	if len(req.Args) != 1 {
		return "", errors.New("usage: domain records DOMAIN")
	}
	if s.Host == nil || s.Host.Name == "" {
		return "", errors.New("the server's host name is not known")
	}
	domain := strings.ToLower(strings.TrimSuffix(req.Args[0], "."))
	ds, err := s.Accounts.Domains(ctx)
	if err != nil {
		return "", err
	}
	if !contains(ds, domain) {
		return "", fmt.Errorf("domain %s is not a local domain (postel domain add %s)", domain, domain)
	}
	hostName := strings.ToLower(strings.TrimSuffix(s.Host.Name, "."))
	host := hostName + "."
	zone := domain + "."
	var b strings.Builder
	line := func(name, typ, data string) {
		fmt.Fprintf(&b, "%-40s 3600 IN %-5s %s\n", name, typ, data)
	}
	fmt.Fprintf(&b, "; DNS records for %s, served by %s. Publish them in the zone of %s.\n", domain, hostName, domain)
	b.WriteString("\n; Mail for the domain comes to this server (RFC 5321 5.1):\n")
	line(zone, "MX", "10 "+host)
	b.WriteString("\n; Who may send mail from the domain (SPF, RFC 7208):\n")
	if s.Host.Smarthost != "" {
		fmt.Fprintf(&b, "; outbound mail leaves through the smarthost %s: replace \"mx\" by what its\n; provider documents (often an include:), or receivers will reject your mail.\n", s.Host.Smarthost)
	}
	line(zone, "TXT", `"v=spf1 mx -all"`)
	b.WriteString("\n; The keys that sign the domain's mail (DKIM, RFC 6376, RFC 8463):\n")
	recs, err := s.dkimRecords(domain)
	switch {
	case errors.Is(err, dkim.ErrNoKeys):
		fmt.Fprintf(&b, "; none yet: run `postel dkim generate %s` and publish what it prints.\n", domain)
	case err != nil:
		return "", err
	default:
		for _, r := range recs {
			b.WriteString(r.Zone() + "\n")
		}
	}
	b.WriteString("\n; What receivers do with mail that fails both (DMARC, RFC 7489). Move to\n; p=reject once your mail is seen to pass everywhere:\n")
	line("_dmarc."+zone, "TXT", `"v=DMARC1; p=quarantine"`)
	b.WriteString("\n; Where mail clients find the servers (RFC 6186, RFC 8314; \".\" = not offered):\n")
	for i, svc := range srvServices {
		// Lower priority numbers are tried first: implicit TLS before
		// STARTTLS for each protocol.
		if port := s.Host.Ports[svc]; port > 0 {
			line("_"+svc+"._tcp."+zone, "SRV", fmt.Sprintf("%d 1 %d %s", i%2, port, host))
		} else {
			line("_"+svc+"._tcp."+zone, "SRV", "0 0 0 .")
		}
	}
	fmt.Fprintf(&b, "\n; And outside the domain's zone: %s needs an A (and AAAA) record, and the\n; server's addresses a PTR record naming %s (reverse DNS, from your provider).\n", hostName, hostName)
	return b.String(), nil
}

// dkimRecords returns the DKIM TXT records of domain's keys.
func (s *Service) dkimRecords(domain string) ([]dkim.Record, error) {
	if s.DKIMDir == "" {
		return nil, dkim.ErrNoKeys
	}
	return dkim.Records(s.DKIMDir, domain)
}
