// Package storage is Postel's mail store: one standard Maildir per mailbox
// plus a bbolt index with one bucket tree per account. It owns every byte
// under Options.Dir; the front ends (smtpd, imapd, pop3d) and the queue
// use only this API.
//
// # Layout
//
//	Dir/.tmp/                       delivery bodies before Commit (emptied on Open)
//	Dir/postel-index.db             the index: bucket "accounts", in it one bucket per account
//	Dir/<account>/                  INBOX Maildir (cur/ new/ tmp/), Maildir++ root
//	Dir/<account>/.Sent/            other mailboxes, Maildir++ style
//	Dir/<account>/.a.b/             mailbox "a/b"
//	Dir/<account>/postel-deleted/   mailboxes being deleted (emptied on open)
//
// The account directory is the account name with anything outside
// [a-z0-9@._+-] (and a leading '.') written as %XX. A mailbox name maps to
// "." plus its levels joined by "."; inside a level '.', '%', '/', '\',
// ':', '~', control bytes and shell-hostile characters are %XX escaped, so
// the mapping is reversible and a directory name never contains a
// separator and is never "." or "..". This is the Maildir++ layout
// (Courier, Dovecot with LAYOUT=maildir++ and UTF-8 names), so other
// Maildir tools read the tree. A name whose encoding would not fit one
// directory name (255 bytes) is refused with ErrBadName.
//
// # Names
//
// Mailbox names are data: CanonicalName validates them (no empty, "." or
// ".." levels, no leading/trailing/double "/", no control characters,
// valid UTF-8, <= 255 bytes a level and 1000 in all), normalises them to
// NFC and spells a case-insensitive first level "INBOX" as "INBOX". NFC
// uses golang.org/x/text/unicode/norm, and charset conversion for search
// and RFC 2047 words uses golang.org/x/text/encoding/htmlindex;
// golang.org/x/sys/unix (already bbolt's dependency) provides syncfs(2).
// These are the exceptions to "bbolt and the standard library only".
//
// # Index
//
// One bbolt file holds every account's index, each in its own bucket
// (named by the canonical account name) with the same layout a file per
// account would have. One file is what lets deliveries to different
// accounts share an index commit: with a file per account, 16 clients
// sending to 16 users paid 16 commits (two fsyncs each) where one
// suffices (DESIGN.md invariant 2; benchmarks/storage.md). The cost is
// one writer for the whole store, which the group commit turns into
// batches anyway. An account directory still holding the per-account
// index file of an earlier version is imported into the store's index
// on first open (migrate.go), keeping UIDs and flags.
//
// Mailboxes are keyed by an internal id, so RENAME rewrites one record
// per mailbox and no message. Per mailbox: UIDVALIDITY, UIDNEXT,
// HIGHESTMODSEQ, special use and counters (messages, unseen, deleted,
// size); subscriptions are a separate name set. Per message a compact
// binary record (UID, flags, internal date, size, MODSEQ, file name) that
// List decodes, and apart from it the cached envelope and body structure
// (JSON) that only Fetch reads. The index is the authority for flags;
// the standard ones are mirrored in the file name's ":2," info when a file
// is written and renamed after each flag change, in the background once
// the change is committed (filenames.go), so that other Maildir tools see
// them. A name lagging behind the index is only
// cosmetic: readers and recovery find a file by its base name.
// UIDs only grow; every operation takes one new MODSEQ for the mailboxes
// it changes, expunges included.
//
// # Durability and group commit
//
// A message is written once to Dir/.tmp by the delivering goroutine
// (no fsync) and queued with the store's committer (commit.go), shared by
// every account: requests queued while a batch is being prepared go into
// the next one. For each batch the committer
//
//  1. makes every new body of the batch durable with one syncfs(2) of
//     the file system (bodysync.go), instead of one fsync per body;
//  2. only then hard links each body into its targets' cur/ (a copy when
//     links are impossible), so no directory entry ever names a body that
//     a crash could leave incomplete;
//  3. makes those directory entries durable with the next syncfs
//     (shared with the next batch's bodies; an fsync per directory where
//     bodies are fsynced one by one), in parallel with one bbolt
//     transaction (one fsync pair) holding the index records of the
//     whole batch;
//  4. publishes the changes and releases the callers.
//
// Steps 1-2 and 3-4 run on two goroutines, so one batch's bodies are
// synced and linked while the previous batch's index commit is on its
// way to disk; batches are committed and published strictly in order.
//
// Commit, Append, Copy and Move return only after all of it, so an
// acknowledged message has its bytes, its directory entry and its index
// record on disk. A crash before step 2 leaves only files in Dir/.tmp,
// which Open discards; a crash between 2 and 3 can leave complete bodies
// in cur/ without a record (recovery adopts them; they were never
// acknowledged, so at worst a retry duplicates one) or an index record
// without a durable directory entry (recovery expunges it). A function of
// a batch that fails is dropped and the rest re-run, so each target is
// all or nothing; a failed body sync fails every request of the batch
// whose body it could not confirm, before anything is linked.
//
// syncfs flushes every dirty page of the file system holding Options.Dir,
// not just the bodies: cheap on a dedicated mail server, but on a file
// system shared with a busy workload (builds, databases) each delivery
// batch also waits for that workload's writeback. Batches of fewer than
// syncfsMinBatch (2) bodies fsync their files instead, as does every
// batch where syncfs is unavailable (non-Linux builds, or ENOSYS at run
// time). syncfs reports writeback errors only since Linux 5.8; on older
// kernels, which would return success regardless, the store fsyncs each
// body instead (kernelAtLeast, checked at Open). An error fails the whole batch (SMTP 451, the client retries) and is never
// acknowledged. Copy and Move only link existing, already durable files,
// and Append uses the same batched path as deliveries.
//
// Expunged messages leave the index first, with their files recorded in
// a "gone" set; the files are unlinked after the commit and the set is
// cleared in a later commit. Recovery unlinks files still in the set, so
// an expunged message never comes back.
//
// # Sharing and change events
//
// Store.Account returns one *Account per name, shared by every session.
// Changes are published by the committer after the commit, in commit
// order, to every Subscription; each subscription has an unbounded queue
// drained by its own goroutine, so a slow reader never blocks a commit.
// Change.ModSeq is the mailbox's HIGHESTMODSEQ after the change: a reader
// that took a List snapshot ignores changes at or below its
// HighestModSeq. No lock is held during network I/O (there is none here)
// and no account lock is held while waiting for a subscriber.
//
// The namespace lock (Account.ns) is taken shared by operations that
// touch message files and exclusively by mailbox create, delete and
// rename, so directories never move under a file operation.
//
// # Recovery
//
// On Account open (recover.go): mailbox tmp/ directories and
// postel-deleted are emptied, an interrupted rename is finished from its
// journal, files left in the gone set are unlinked, Maildir++ folders
// created by other tools (".Name" directories with a canonical encoding)
// become mailboxes, then each mailbox's
// files are matched to index records by Maildir base name (the part
// before ':'): a record without a file is expunged with a new MODSEQ, a
// file without a record (dropped into new/ or cur/ from outside, or
// linked by a delivery whose commit a crash interrupted) gets the next
// UID and is moved to cur/. Because the index commit is the last step of
// every delivery, an acknowledged message is never lost, and because
// matching is by base name, no message is indexed twice.
//
// A clean close stores each mailbox's cur/ modification time (stamps.go);
// the next open deletes the stamps in its first transaction and skips
// scanning a cur/ whose mtime is unchanged, so a restart does not list
// 100,000 file names. After a crash there are no stamps and everything
// is scanned.
package storage
