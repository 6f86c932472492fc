package storage_test

import (
	"testing"

	"postel/storage"
	"postel/storage/storagetest"
)

func openStore(t *testing.T) *storage.Store {
	s, err := storage.Open(storage.Options{
		Dir: t.TempDir(),
		Quota: func(account string) int64 {
			if account == storagetest.QuotaAccount {
				return storagetest.QuotaBytes
			}
			return 0
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the storage conformance suite against the store.
func TestConformance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, openStore)
}
