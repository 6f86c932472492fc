package storage

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.etcd.io/bbolt"
)

// TestImportLegacyIndex: an account whose index is still a file in its
// directory (the layout before the store-wide index) keeps its UIDs,
// UIDVALIDITY, flags, mailboxes and subscriptions when the new store
// first opens it; the old file is renamed, not deleted.
func TestImportLegacyIndex(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	appendMsg(t, a, Inbox, "Subject: one\r\n\r\nx\r\n")
	uid := appendMsg(t, a, Inbox, "Subject: two\r\n\r\nx\r\n")
	if _, err := a.StoreFlags(t.Context(), Inbox, []uint32{uid}, FlagsAdd, []string{`\Seen`, "$Label1"}); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateMailbox(t.Context(), "Projects", ""); err != nil {
		t.Fatal(err)
	}
	if err := a.SetSubscribed(t.Context(), "Projects", true); err != nil {
		t.Fatal(err)
	}
	wantInfo, wantUIDs := listUIDs(t, a, Inbox)
	_, metas, err := a.List(t.Context(), Inbox)
	if err != nil {
		t.Fatal(err)
	}
	wantSubs, err := a.Subscriptions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Rewrite the store in the old layout: the account's buckets at the
	// top of a file in its directory, no store-wide index.
	legacy := filepath.Join(a.dir, legacyIndexFile)
	src, err := bbolt.Open(filepath.Join(dir, indexFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := bbolt.Open(legacy, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = src.View(func(stx *bbolt.Tx) error {
		return dst.Update(func(dtx *bbolt.Tx) error {
			return accountRoot(stx, []byte(acct)).ForEach(func(k, v []byte) error {
				b, err := dtx.CreateBucket(k)
				if err != nil {
					return err
				}
				return copyBucket(b, accountRoot(stx, []byte(acct)).Bucket(k))
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	dst.Close()
	if err := os.Remove(filepath.Join(dir, indexFile)); err != nil {
		t.Fatal(err)
	}

	a2 := testAccount(t, openTest(t, dir))
	info, uids := listUIDs(t, a2, Inbox)
	if info.UIDValidity != wantInfo.UIDValidity || info.UIDNext != wantInfo.UIDNext || !slices.Equal(uids, wantUIDs) {
		t.Fatalf("after import: %+v %v, want %+v %v", info, uids, wantInfo, wantUIDs)
	}
	_, metas2, err := a2.List(t.Context(), Inbox)
	if err != nil {
		t.Fatal(err)
	}
	if len(metas2) != len(metas) || !slices.Equal(metas2[1].Flags, metas[1].Flags) {
		t.Fatalf("flags after import: %+v, want %+v", metas2, metas)
	}
	subs, err := a2.Subscriptions(t.Context())
	if err != nil || !slices.Equal(subs, wantSubs) {
		t.Fatalf("subscriptions after import: %v %v, want %v", subs, err, wantSubs)
	}
	if _, err := os.Stat(legacy + ".imported"); err != nil {
		t.Fatalf("old index not kept as .imported: %v", err)
	}
	if _, err := os.Stat(legacy); !os.IsNotExist(err) {
		t.Fatalf("old index still in place: %v", err)
	}
}
