package storage

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// Index layout (one bbolt file per account, see doc.go):
//
//	meta/    "uidvalidity" -> last UIDVALIDITY handed out (uint32)
//	         "nextid"      -> last mailbox id handed out (uint64)
//	names/   canonical name -> mailbox id (uint64 big endian)
//	subs/    canonical name -> "" (subscriptions are names, RFC 9051 6.3.7)
//	gone/    path relative to the account dir -> "" (files to unlink)
//	renames/ old dir -> new dir (directory renames in progress)
//	stamps/  mailbox id -> cur/ mtime at the last clean close (stamps.go)
//	mb/<id>/ "i" -> mboxInfo (JSON)
//	         m/  uid (uint32 BE) -> msgRec (compact binary, List reads it)
//	         c/  uid -> cached envelope and body structure (JSON, Fetch only)
var (
	bktMeta    = []byte("meta")
	bktNames   = []byte("names")
	bktSubs    = []byte("subs")
	bktGone    = []byte("gone")
	bktRenames = []byte("renames")
	bktMB      = []byte("mb")
	bktStamps  = []byte("stamps")
	bktMsgs    = []byte("m")
	bktCache   = []byte("c")
	keyInfo    = []byte("i")
	keyUIDVal  = []byte("uidvalidity")
	keyNextID  = []byte("nextid")
)

// mboxInfo is the per-mailbox record. Counters are maintained on every
// change so Status and Mailboxes never scan messages.
type mboxInfo struct {
	ID            uint64 `json:"id"`
	Name          string `json:"name"`
	SpecialUse    string `json:"special,omitempty"`
	UIDValidity   uint32 `json:"uidvalidity"`
	UIDNext       uint32 `json:"uidnext"`
	HighestModSeq uint64 `json:"modseq"`
	Messages      uint32 `json:"messages"`
	Unseen        uint32 `json:"unseen"`
	Deleted       uint32 `json:"deleted"`
	Size          int64  `json:"size"`
}

func uidKey(uid uint32) []byte {
	var k [4]byte
	binary.BigEndian.PutUint32(k[:], uid)
	return k[:]
}

func idKey(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}

// mbox is a mailbox opened inside one transaction.
type mbox struct {
	info  mboxInfo
	b     *bbolt.Bucket
	msgs  *bbolt.Bucket
	cache *bbolt.Bucket
	// bumped is set once this operation took its MODSEQ: one operation
	// gives all the messages it changes the same new MODSEQ.
	bumped bool
}

// loadMbox opens a mailbox by canonical name.
func loadMbox(tx *bbolt.Bucket, name string) (*mbox, error) {
	id := tx.Bucket(bktNames).Get([]byte(name))
	if id == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoMailbox, name)
	}
	return loadMboxID(tx, binary.BigEndian.Uint64(id))
}

func loadMboxID(tx *bbolt.Bucket, id uint64) (*mbox, error) {
	b := tx.Bucket(bktMB).Bucket(idKey(id))
	if b == nil {
		return nil, ErrNoMailbox
	}
	m := &mbox{b: b, msgs: b.Bucket(bktMsgs), cache: b.Bucket(bktCache)}
	if err := json.Unmarshal(b.Get(keyInfo), &m.info); err != nil {
		return nil, fmt.Errorf("storage: mailbox record %d: %w", id, err)
	}
	if m.msgs == nil || m.cache == nil {
		return nil, errCorrupt
	}
	// Messages are appended in UID order: pack pages full.
	m.msgs.FillPercent = 0.95
	m.cache.FillPercent = 0.95
	return m, nil
}

func (m *mbox) save() error {
	v, err := json.Marshal(&m.info)
	if err != nil {
		return err
	}
	return m.b.Put(keyInfo, v)
}

// modseq returns the MODSEQ of the current operation, taking a new one on
// first use.
func (m *mbox) modseq() uint64 {
	if !m.bumped {
		m.info.HighestModSeq++
		m.bumped = true
	}
	return m.info.HighestModSeq
}

func (m *mbox) get(uid uint32, withFile bool) (*msgRec, error) {
	v := m.msgs.Get(uidKey(uid))
	if v == nil {
		return nil, nil
	}
	r := new(msgRec)
	if err := unmarshalMsg(v, r, withFile); err != nil {
		return nil, err
	}
	return r, nil
}

// count adjusts the counters for a record entering (+1) or leaving (-1).
func (m *mbox) count(r *msgRec, sign int) {
	d := uint32(sign)
	m.info.Messages += d
	if r.flags.bits&bitSeen == 0 {
		m.info.Unseen += d
	}
	if r.flags.bits&bitDeleted != 0 {
		m.info.Deleted += d
	}
	m.info.Size += int64(sign) * r.size
}

// put stores a message record under a new or existing UID.
func (m *mbox) put(uid uint32, r *msgRec) error {
	return m.msgs.Put(uidKey(uid), r.marshal())
}

// add appends a new message with the next UID and this operation's MODSEQ.
func (m *mbox) add(r *msgRec, cache []byte) (uint32, error) {
	uid := m.info.UIDNext
	if uid == 0 || uid == ^uint32(0) {
		return 0, fmt.Errorf("storage: mailbox %s: UIDs exhausted", m.info.Name)
	}
	m.info.UIDNext++
	r.modseq = m.modseq()
	if err := m.put(uid, r); err != nil {
		return 0, err
	}
	if cache != nil {
		if err := m.cache.Put(uidKey(uid), cache); err != nil {
			return 0, err
		}
	}
	m.count(r, +1)
	return uid, nil
}

// remove deletes a message from the index and records its file in gone/
// so the file is unlinked after the commit (or by recovery after a crash,
// never resurrected as an unknown file).
func (m *mbox) remove(tx *bbolt.Bucket, uid uint32, r *msgRec) error {
	m.modseq()
	if err := m.msgs.Delete(uidKey(uid)); err != nil {
		return err
	}
	if err := m.cache.Delete(uidKey(uid)); err != nil {
		return err
	}
	m.count(r, -1)
	return tx.Bucket(bktGone).Put([]byte(goneKey(m.info.Name, r.file)), present)
}

// goneKey is the account-relative path of a message file.
func goneKey(mailbox, file string) string {
	d := encodeMailbox(mailbox)
	if d == "" {
		return "cur/" + file
	}
	return d + "/cur/" + file
}

// nextUIDValidity hands out a UIDVALIDITY that was never used in this
// account (RFC 9051 2.3.1.1): at least the current time, always growing.
func nextUIDValidity(tx *bbolt.Bucket) (uint32, error) {
	meta := tx.Bucket(bktMeta)
	var last uint32
	if v := meta.Get(keyUIDVal); len(v) == 4 {
		last = binary.BigEndian.Uint32(v)
	}
	v := uint32(time.Now().Unix())
	if v <= last {
		v = last + 1
	}
	return v, meta.Put(keyUIDVal, uidKey(v))
}

// createMbox makes a new empty mailbox record.
func createMbox(tx *bbolt.Bucket, name, special string) (*mbox, error) {
	names := tx.Bucket(bktNames)
	if names.Get([]byte(name)) != nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, name)
	}
	meta := tx.Bucket(bktMeta)
	var id uint64
	if v := meta.Get(keyNextID); len(v) == 8 {
		id = binary.BigEndian.Uint64(v)
	}
	id++
	if err := meta.Put(keyNextID, idKey(id)); err != nil {
		return nil, err
	}
	uv, err := nextUIDValidity(tx)
	if err != nil {
		return nil, err
	}
	b, err := tx.Bucket(bktMB).CreateBucket(idKey(id))
	if err != nil {
		return nil, err
	}
	m := &mbox{b: b, info: mboxInfo{ID: id, Name: name, SpecialUse: special, UIDValidity: uv, UIDNext: 1, HighestModSeq: 1}}
	if m.msgs, err = b.CreateBucket(bktMsgs); err != nil {
		return nil, err
	}
	if m.cache, err = b.CreateBucket(bktCache); err != nil {
		return nil, err
	}
	if err := names.Put([]byte(name), idKey(id)); err != nil {
		return nil, err
	}
	return m, m.save()
}

// initIndex creates the top-level buckets.
func initIndex(tx *bbolt.Bucket) error {
	for _, b := range [][]byte{bktMeta, bktNames, bktSubs, bktGone, bktRenames, bktMB, bktStamps} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// mailboxNames returns every mailbox name in order.
func mailboxNames(tx *bbolt.Bucket) []string {
	var out []string
	c := tx.Bucket(bktNames).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		out = append(out, string(k))
	}
	return out
}

// childNames returns the names strictly below parent.
func childNames(tx *bbolt.Bucket, parent string) []string {
	var out []string
	prefix := []byte(parent + "/")
	c := tx.Bucket(bktNames).Cursor()
	for k, _ := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, _ = c.Next() {
		out = append(out, string(k))
	}
	return out
}

func (m *mbox) status(tx *bbolt.Bucket) MailboxInfo {
	return MailboxInfo{
		Name:          m.info.Name,
		SpecialUse:    m.info.SpecialUse,
		Subscribed:    tx.Bucket(bktSubs).Get([]byte(m.info.Name)) != nil,
		UIDValidity:   m.info.UIDValidity,
		UIDNext:       m.info.UIDNext,
		HighestModSeq: m.info.HighestModSeq,
		Messages:      m.info.Messages,
		Unseen:        m.info.Unseen,
		Deleted:       m.info.Deleted,
		Size:          m.info.Size,
	}
}

// present is the value of set-like buckets (subs, gone).
var present = []byte{1}

func uidFromKey(k []byte) uint32 { return binary.BigEndian.Uint32(k) }
