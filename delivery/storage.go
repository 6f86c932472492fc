package delivery

import (
	"context"

	"postel/storage"
)

// Storage adapts a *storage.Store to Mailstore.
func Storage(s *storage.Store) Mailstore { return storeAdapter{s} }

type storeAdapter struct{ s *storage.Store }

func (a storeAdapter) BeginDelivery(ctx context.Context) (Tx, error) {
	d, err := a.s.BeginDelivery(ctx)
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (a storeAdapter) Usage(ctx context.Context, account string) (int64, error) {
	acct, err := a.s.Account(ctx, account)
	if err != nil {
		return 0, err
	}
	return acct.Usage(ctx)
}
