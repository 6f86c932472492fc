package admin

import (
	"context"
	"errors"

	"postel/internal/control"
)

// QueueAdmin is what `postel queue` needs of the outbound queue; it returns
// printable text so this package does not depend on the queue's types.
type QueueAdmin interface {
	ListText(ctx context.Context) (string, error)
	Retry(ctx context.Context, id string) error
	RetryAll(ctx context.Context) error
	Remove(ctx context.Context, id string) error
}

// DKIMAdmin creates a domain's DKIM keys and returns the DNS records to
// publish, as printable text.
type DKIMAdmin interface {
	GenerateText(ctx context.Context, domain string) (string, error)
}

func (s *Service) handleQueue(ctx context.Context, req control.Request) (string, error) {
	if s.Queue == nil {
		return "", errors.New("the outbound queue is not available")
	}
	switch req.Cmd {
	case "queue.list":
		return s.Queue.ListText(ctx)
	case "queue.retry":
		if req.All {
			return "", s.Queue.RetryAll(ctx)
		}
		if len(req.Args) != 1 {
			return "", errors.New("queue retry takes an ID or --all")
		}
		return "", s.Queue.Retry(ctx, req.Args[0])
	case "queue.remove":
		if len(req.Args) != 1 {
			return "", errors.New("queue remove takes an ID")
		}
		return "", s.Queue.Remove(ctx, req.Args[0])
	}
	return "", errors.New("unknown queue command")
}

func (s *Service) handleDKIM(ctx context.Context, req control.Request) (string, error) {
	if s.DKIM == nil {
		return "", errors.New("DKIM keys are not available")
	}
	if req.Cmd != "dkim.generate" || len(req.Args) != 1 {
		return "", errors.New("usage: dkim generate DOMAIN")
	}
	return s.DKIM.GenerateText(ctx, req.Args[0])
}
