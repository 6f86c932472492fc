package main

import (
	"context"
	"log/slog"

	"postel/config"
	"postel/internal/admin"
)

// startServices starts the protocol listeners and the outbound queue.
// (Front ends are wired in as their packages land.)
func (s *server) startServices(svc *admin.Service) error {
	return nil
}

// attachOutbound opens the outbound queue and DKIM key store for the admin
// service when no server is running.
func attachOutbound(ctx context.Context, cfg config.Config, svc *admin.Service, logger *slog.Logger) (func(), error) {
	return func() {}, nil
}
