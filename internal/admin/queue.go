package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"postel/dkim"
	"postel/internal/control"
	"postel/queue"
)

// QueueAdmin is what `postel queue` needs of the outbound queue
// (*queue.Queue).
type QueueAdmin interface {
	List(ctx context.Context) ([]queue.Entry, error)
	Retry(ctx context.Context, id string) error
	RetryAll(ctx context.Context) error
	Remove(ctx context.Context, id string) error
}

func (s *Service) handleQueue(ctx context.Context, req control.Request) (string, error) {
	if s.Queue == nil {
		return "", errors.New("the outbound queue is not available")
	}
	switch req.Cmd {
	case "queue.list":
		entries, err := s.Queue.List(ctx)
		if err != nil {
			return "", err
		}
		return formatQueue(entries), nil
	case "queue.retry":
		if req.All {
			return "", s.Queue.RetryAll(ctx)
		}
		if len(req.Args) != 1 {
			return "", errors.New("queue retry takes an ID or --all")
		}
		return "", queueErr(s.Queue.Retry(ctx, req.Args[0]), req.Args[0])
	case "queue.remove":
		if len(req.Args) != 1 {
			return "", errors.New("queue remove takes an ID")
		}
		return "", queueErr(s.Queue.Remove(ctx, req.Args[0]), req.Args[0])
	}
	return "", errors.New("unknown queue command")
}

func queueErr(err error, id string) error {
	if errors.Is(err, queue.ErrNotFound) {
		return fmt.Errorf("no queued message %s", id)
	}
	return err
}

// formatQueue prints one line per undelivered recipient.
func formatQueue(entries []queue.Entry) string {
	if len(entries) == 0 {
		return "queue is empty\n"
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSENDER\tRECIPIENT\tSTATUS\tATTEMPTS\tNEXT TRY\tLAST ERROR")
	for _, e := range entries {
		sender := e.Sender
		if sender == "" {
			sender = "<>"
		}
		next := "-"
		if !e.NextTry.IsZero() {
			next = e.NextTry.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, sender, e.Recipient, e.Status, e.Attempts, next, oneLine(e.LastError))
	}
	w.Flush()
	return b.String()
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func (s *Service) handleDKIM(_ context.Context, req control.Request) (string, error) {
	if s.DKIMDir == "" {
		return "", errors.New("DKIM keys are not available")
	}
	if req.Cmd != "dkim.generate" || len(req.Args) != 1 {
		return "", errors.New("usage: dkim generate DOMAIN")
	}
	domain := strings.ToLower(strings.TrimSuffix(req.Args[0], "."))
	if s.Accounts != nil {
		ds, err := s.Accounts.Domains(context.Background())
		if err != nil {
			return "", err
		}
		if !contains(ds, domain) {
			return "", fmt.Errorf("domain %s is not a local domain (postel domain add %s)", domain, domain)
		}
	}
	recs, err := dkim.Generate(s.DKIMDir, domain)
	note := "Keys created. Publish these DNS TXT records, then mail from " + domain + " is signed with both:\n\n"
	if errors.Is(err, dkim.ErrExists) {
		recs, err = dkim.Records(s.DKIMDir, domain)
		note = "Keys for " + domain + " already exist; their DNS TXT records are:\n\n"
	}
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(note)
	for _, r := range recs {
		b.WriteString(r.Zone())
		b.WriteString("\n")
	}
	return b.String(), nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
