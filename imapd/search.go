package imapd

import (
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"postel/storage"
)

// Search implements SEARCH and UID SEARCH (RFC 9051 6.4.4) with ESEARCH
// (RFC 4731) and SEARCHRES (RFC 5182). The library parses every key and
// CHARSET (US-ASCII, UTF-8); sequence sets are turned into UID ranges with
// this session's view, storage evaluates the program, and the result is
// cut back to the messages this client knows.
func (s *session) Search(kind imapserver.NumKind, c *imap.SearchCriteria, o *imap.SearchOptions) (*imap.SearchData, error) {
	v, mbox, err := s.selected()
	if err != nil {
		return nil, err
	}
	sc, err := v.searchCriteria(c)
	if err != nil {
		return nil, err
	}
	uids, err := s.acct.Search(s.ctx, mbox, sc)
	if err != nil {
		return nil, imapError(s.log, "search", err)
	}

	data := &imap.SearchData{}
	var seqs imap.SeqSet
	var uidSet imap.UIDSet
	var hits []uint32
	for _, uid := range uids {
		seq := v.seqOf(uid)
		if seq == 0 {
			continue // not announced to this client yet
		}
		hits = append(hits, uid)
		num := seq
		if kind == imapserver.NumKindUID {
			num = uid
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		data.Max = max(data.Max, num)
		data.Count++
		seqs.AddNum(seq)
		uidSet.AddNum(imap.UID(uid))
	}
	if kind == imapserver.NumKindUID {
		data.All = uidSet
	} else {
		data.All = seqs
	}
	if o.ReturnSave {
		// RFC 5182 2.1: MIN/MAX alone save only those messages.
		switch {
		case o.ReturnAll || o.ReturnCount || !(o.ReturnMin || o.ReturnMax):
			v.searchRes = hits
		default:
			var keep []uint32
			if o.ReturnMin && len(hits) > 0 {
				keep = append(keep, hits[0])
			}
			if o.ReturnMax && len(hits) > 0 {
				keep = append(keep, hits[len(hits)-1])
			}
			slices.Sort(keep)
			v.searchRes = slices.Compact(keep)
		}
	}
	return data, nil
}

// searchCriteria translates the library's criteria into storage's, with
// sequence numbers replaced by the UIDs they denote in this view.
func (v *view) searchCriteria(c *imap.SearchCriteria) (*storage.SearchCriteria, error) {
	sc := &storage.SearchCriteria{
		Since:      c.Since,
		Before:     c.Before,
		SentSince:  c.SentSince,
		SentBefore: c.SentBefore,
		Body:       c.Body,
		Text:       c.Text,
		Larger:     c.Larger,
		Smaller:    c.Smaller,
	}
	for _, f := range c.Flag {
		sc.Flag = append(sc.Flag, canonicalFlag(string(f)))
	}
	for _, f := range c.NotFlag {
		sc.NotFlag = append(sc.NotFlag, canonicalFlag(string(f)))
	}
	for _, h := range c.Header {
		sc.Header = append(sc.Header, storage.HeaderMatch{Field: h.Key, Value: h.Value})
	}
	if c.ModSeq != nil {
		sc.ModSeq = c.ModSeq.ModSeq
	}
	// Each SeqNum/UID set is ANDed: represent each as its own UID list, and
	// AND them through nested criteria.
	var sets [][]storage.UIDRange
	for _, set := range c.SeqNum {
		r, err := v.uidRanges(set)
		if err != nil {
			return nil, err
		}
		sets = append(sets, r)
	}
	for _, set := range c.UID {
		r, err := v.uidRanges(set)
		if err != nil {
			return nil, err
		}
		sets = append(sets, r)
	}
	if len(sets) > 0 {
		sc.UIDs = sets[0]
		for _, r := range sets[1:] {
			// x AND y == NOT(NOT x OR NOT y) is overkill: a nested Not of a
			// Not keeps storage's single UIDs field per level.
			sc.Not = append(sc.Not, storage.SearchCriteria{Not: []storage.SearchCriteria{{UIDs: r}}})
		}
	}
	for i := range c.Not {
		n, err := v.searchCriteria(&c.Not[i])
		if err != nil {
			return nil, err
		}
		sc.Not = append(sc.Not, *n)
	}
	for i := range c.Or {
		a, err := v.searchCriteria(&c.Or[i][0])
		if err != nil {
			return nil, err
		}
		b, err := v.searchCriteria(&c.Or[i][1])
		if err != nil {
			return nil, err
		}
		sc.Or = append(sc.Or, [2]storage.SearchCriteria{*a, *b})
	}
	return sc, nil
}

// uidRanges resolves a set against the view into exact UID ranges. An empty
// result becomes a range no message has (UID 2^32-1), so the key matches nothing.
func (v *view) uidRanges(set imap.NumSet) ([]storage.UIDRange, error) {
	none := []storage.UIDRange{{Start: 1<<32 - 1, Stop: 1<<32 - 1}}
	if len(v.uids) == 0 {
		// Apple Mail sends "UID SEARCH 1:* NOT DELETED" on every SELECT,
		// empty Trash included. "*" has no value there; rather than BAD
		// (as FETCH gets), the key matches nothing, which is the answer
		// the client wants.
		return none, nil
	}
	refs, err := v.resolve(set)
	if err != nil {
		return nil, err
	}
	var out []storage.UIDRange
	for i := 0; i < len(refs); {
		j := i
		// Consecutive sequence numbers are a contiguous UID range in
		// storage: UIDs between two known messages can only be ones
		// expunged before, never new ones.
		for j+1 < len(refs) && refs[j+1].seq == refs[j].seq+1 {
			j++
		}
		out = append(out, storage.UIDRange{Start: refs[i].uid, Stop: refs[j].uid})
		i = j + 1
	}
	if len(out) == 0 {
		out = none
	}
	return out, nil
}
