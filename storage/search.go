package storage

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// Search returns the UIDs (ascending) of messages matching c (RFC 9051
// 6.4.4). Flags, dates, sizes, UIDs and MODSEQ come from the index; SENT*
// from the cached envelope; HEADER, BODY and TEXT read the message file
// and search its decoded text (MIME parts, quoted-printable, base64,
// charsets converted to UTF-8), case-insensitively.
func (a *Account) Search(ctx context.Context, mailbox string, c *SearchCriteria) ([]uint32, error) {
	name, err := CanonicalName(mailbox)
	if err != nil {
		return nil, err
	}
	if c == nil {
		c = &SearchCriteria{}
	}
	needEnv, needFile := c.needs()
	a.ns.RLock()
	defer a.ns.RUnlock()
	var cands []*searchMsg
	var maxUID uint32
	err = a.view(func(tx *bbolt.Bucket) error {
		cands = cands[:0]
		m, err := loadMbox(tx, name)
		if err != nil {
			return err
		}
		if k, _ := m.msgs.Cursor().Last(); k != nil {
			maxUID = uidFromKey(k)
		}
		cur := m.msgs.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			sm := &searchMsg{uid: uidFromKey(k)}
			if err := unmarshalMsg(v, &sm.rec, needFile); err != nil {
				return err
			}
			if needEnv {
				var cc cached
				if b := m.cache.Get(k); b != nil && json.Unmarshal(b, &cc) == nil {
					sm.env = cc.Envelope
				}
			}
			cands = append(cands, sm)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s := &searcher{maxUID: maxUID, cur: filepath.Join(a.mboxDir(name), "cur")}
	out := []uint32{}
	for i, sm := range cands {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if s.match(sm, c) {
			out = append(out, sm.uid)
		}
		sm.body = nil // release file contents as we go
	}
	return out, nil
}

type searchMsg struct {
	uid uint32
	rec msgRec
	env *Envelope

	loaded bool
	body   []byte // raw file, read on first need
	hdr    header
	text   string // decoded body text, lower case
	hasTxt bool
}

type searcher struct {
	maxUID uint32
	cur    string
}

// needs reports whether c uses the envelope or the message file.
func (c *SearchCriteria) needs() (env, file bool) {
	env = !c.SentSince.IsZero() || !c.SentBefore.IsZero()
	file = len(c.Header) > 0 || len(c.Body) > 0 || len(c.Text) > 0
	for i := range c.Not {
		e, f := c.Not[i].needs()
		env, file = env || e, file || f
	}
	for i := range c.Or {
		for j := range c.Or[i] {
			e, f := c.Or[i][j].needs()
			env, file = env || e, file || f
		}
	}
	return env, file
}

// day reduces a time to its calendar date (RFC 9051: dates disregard time
// and time zone).
func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (s *searcher) match(m *searchMsg, c *SearchCriteria) bool {
	if len(c.UIDs) > 0 && !s.inRanges(m.uid, c.UIDs) {
		return false
	}
	idate := day(time.Unix(0, m.rec.date).UTC())
	if !c.Since.IsZero() && idate.Before(day(c.Since)) {
		return false
	}
	if !c.Before.IsZero() && !idate.Before(day(c.Before)) {
		return false
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		sent := idate
		if m.env != nil && !m.env.Date.IsZero() {
			sent = day(m.env.Date)
		}
		if !c.SentSince.IsZero() && sent.Before(day(c.SentSince)) {
			return false
		}
		if !c.SentBefore.IsZero() && !sent.Before(day(c.SentBefore)) {
			return false
		}
	}
	for _, f := range c.Flag {
		if !m.rec.flags.has(f) {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if m.rec.flags.has(f) {
			return false
		}
	}
	if c.Larger > 0 && m.rec.size <= c.Larger {
		return false
	}
	if c.Smaller > 0 && m.rec.size >= c.Smaller {
		return false
	}
	if c.ModSeq > 0 && m.rec.modseq < c.ModSeq {
		return false
	}
	for _, hm := range c.Header {
		if !s.headerMatch(m, hm) {
			return false
		}
	}
	for _, b := range c.Body {
		if !strings.Contains(s.bodyText(m), strings.ToLower(b)) {
			return false
		}
	}
	for _, t := range c.Text {
		if !s.textMatch(m, strings.ToLower(t)) {
			return false
		}
	}
	for i := range c.Not {
		if s.match(m, &c.Not[i]) {
			return false
		}
	}
	for i := range c.Or {
		if !s.match(m, &c.Or[i][0]) && !s.match(m, &c.Or[i][1]) {
			return false
		}
	}
	return true
}

// inRanges: Stop (or Start) 0 is "*", the largest UID in the mailbox;
// a range may be given in either order (RFC 9051 9, seq-range).
func (s *searcher) inRanges(uid uint32, rs []UIDRange) bool {
	for _, r := range rs {
		lo, hi := r.Start, r.Stop
		if lo == 0 {
			lo = s.maxUID
		}
		if hi == 0 {
			hi = s.maxUID
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		if uid >= lo && uid <= hi {
			return true
		}
	}
	return false
}

func (s *searcher) load(m *searchMsg) {
	if m.loaded {
		return
	}
	m.loaded = true
	var b []byte
	_ = byCurrentName(s.cur, m.rec.file, func(path string) (err error) {
		b, err = os.ReadFile(path)
		return err
	})
	m.body = b
	m.hdr, _ = splitMessage(b)
}

func (s *searcher) headerMatch(m *searchMsg, hm HeaderMatch) bool {
	s.load(m)
	key := strings.ToLower(hm.Field)
	want := strings.ToLower(hm.Value)
	for _, f := range m.hdr {
		if f.key != key {
			continue
		}
		if want == "" || strings.Contains(strings.ToLower(decodeHeader(f.value)), want) ||
			strings.Contains(strings.ToLower(f.value), want) {
			return true
		}
	}
	return false
}

func (s *searcher) bodyText(m *searchMsg) string {
	if !m.hasTxt {
		s.load(m)
		m.text = strings.ToLower(extractText(m.body))
		m.hasTxt = true
	}
	return m.text
}

func (s *searcher) textMatch(m *searchMsg, want string) bool {
	s.load(m)
	for _, f := range m.hdr {
		if strings.Contains(strings.ToLower(f.key+": "+decodeHeader(f.value)), want) {
			return true
		}
	}
	return strings.Contains(s.bodyText(m), want)
}
