package imapd

import (
	"errors"
	"io"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"postel/storage"
)

// fetchBatch is how many messages one storage.Fetch call covers.
const fetchBatch = 256

// listThreshold: above this many messages, a FETCH that needs only index
// data (FLAGS, INTERNALDATE, RFC822.SIZE, UID) reads one List snapshot
// instead of many Fetch batches.
const listThreshold = 2048

// Fetch implements FETCH and UID FETCH (RFC 9051 6.4.5). Index data and the
// cached ENVELOPE/BODYSTRUCTURE come from storage; only body sections open
// the message file. Messages expunged by another session but still in this
// client's view are skipped (RFC 9051 leaves the choice to the server).
func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, o *imap.FetchOptions) error {
	v, mbox, err := s.selected()
	if err != nil {
		return err
	}
	refs, err := v.resolve(numSet)
	if err != nil || len(refs) == 0 {
		return err
	}

	// RFC 9051 6.4.5: BODY[...] and BINARY[...] without .PEEK set \Seen,
	// and the changed FLAGS are returned with the data.
	seenChanged := map[uint32]bool{}
	if !v.readOnly && wantsSeen(o) {
		metas, err := s.acct.StoreFlags(s.ctx, mbox, refUIDs(refs), storage.FlagsAdd, []string{storage.FlagSeen})
		if err != nil {
			return imapError(s.log, "fetch", err)
		}
		for _, m := range metas {
			v.own[m.UID] = m.ModSeq
			seenChanged[m.UID] = true
		}
	}

	needCache := o.Envelope || o.BodyStructure != nil
	if !needCache && len(refs) > listThreshold {
		_, metas, err := s.acct.List(s.ctx, mbox)
		if err != nil {
			return imapError(s.log, "fetch", err)
		}
		msgs := make([]storage.Message, len(metas))
		for i := range metas {
			msgs[i].MessageMeta = metas[i]
		}
		return s.fetchMerged(w, mbox, refs, msgs, o, seenChanged)
	}
	for len(refs) > 0 {
		n := min(len(refs), fetchBatch)
		batch := refs[:n]
		refs = refs[n:]
		msgs, err := s.acct.Fetch(s.ctx, mbox, refUIDs(batch))
		if err != nil {
			return imapError(s.log, "fetch", err)
		}
		if err := s.fetchMerged(w, mbox, batch, msgs, o, seenChanged); err != nil {
			return err
		}
	}
	return nil
}

// fetchMerged writes one FETCH response per ref found in msgs; both are
// in ascending UID order.
func (s *session) fetchMerged(w *imapserver.FetchWriter, mbox string, refs []msgRef, msgs []storage.Message, o *imap.FetchOptions, seenChanged map[uint32]bool) error {
	j := 0
	for _, ref := range refs {
		for j < len(msgs) && msgs[j].UID < ref.uid {
			j++
		}
		if j == len(msgs) {
			return nil
		}
		if msgs[j].UID != ref.uid {
			continue
		}
		if err := s.fetchOne(w, mbox, ref, &msgs[j], o, seenChanged[ref.uid]); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) fetchOne(w *imapserver.FetchWriter, mbox string, ref msgRef, m *storage.Message, o *imap.FetchOptions, seenChanged bool) error {
	var body io.ReadSeekCloser
	if len(o.BodySection) > 0 || len(o.BinarySection) > 0 || len(o.BinarySectionSize) > 0 {
		r, _, err := s.acct.Open(s.ctx, mbox, ref.uid)
		if errors.Is(err, storage.ErrNoMessage) {
			return nil // expunged meanwhile
		} else if err != nil {
			return imapError(s.log, "fetch", err)
		}
		defer r.Close()
		body = r
	}

	rw := w.CreateMessage(ref.seq)
	if o.UID {
		rw.WriteUID(imap.UID(ref.uid))
	}
	if o.Flags || seenChanged {
		rw.WriteFlags(toIMAPFlags(m.Flags))
	}
	if o.InternalDate {
		rw.WriteInternalDate(m.InternalDate)
	}
	if o.RFC822Size {
		rw.WriteRFC822Size(m.Size)
	}
	if o.Envelope {
		env := toIMAPEnvelope(m.Envelope)
		if env == nil {
			env = &imap.Envelope{}
		}
		rw.WriteEnvelope(env)
	}
	if o.BodyStructure != nil {
		rw.WriteBodyStructure(toIMAPBodyStructure(m.Structure, m.Size))
	}
	for _, sec := range o.BodySection {
		if err := writeBodySection(rw, body, m.Size, sec); err != nil {
			rw.Close()
			return err
		}
	}
	for _, sec := range o.BinarySection {
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			rw.Close()
			return err
		}
		data := imapserver.ExtractBinarySection(body, sec)
		if err := writeBytes(rw.WriteBinarySection(sec, int64(len(data))), data); err != nil {
			rw.Close()
			return err
		}
	}
	for _, sec := range o.BinarySectionSize {
		if _, err := body.Seek(0, io.SeekStart); err != nil {
			rw.Close()
			return err
		}
		rw.WriteBinarySectionSize(sec, imapserver.ExtractBinarySectionSize(body, sec))
	}
	return rw.Close()
}

// writeBodySection streams BODY[] (whole message, possibly partial) from
// the file, so RFC822.SIZE and BODY[] always agree, and uses the library's
// extractor for every other section (HEADER, HEADER.FIELDS[.NOT], TEXT,
// MIME, part numbers).
func writeBodySection(rw *imapserver.FetchResponseWriter, body io.ReadSeekCloser, size int64, sec *imap.FetchItemBodySection) error {
	if sec.Specifier == imap.PartSpecifierNone && len(sec.Part) == 0 {
		off, n := int64(0), size
		if p := sec.Partial; p != nil {
			off = min(p.Offset, size)
			n = min(p.Size, size-off)
		}
		if _, err := body.Seek(off, io.SeekStart); err != nil {
			return err
		}
		wc := rw.WriteBodySection(sec, n)
		if _, err := io.CopyN(wc, body, n); err != nil {
			wc.Close()
			return err
		}
		return wc.Close()
	}
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return err
	}
	data := imapserver.ExtractBodySection(body, sec)
	return writeBytes(rw.WriteBodySection(sec, int64(len(data))), data)
}

func writeBytes(wc io.WriteCloser, data []byte) error {
	if _, err := wc.Write(data); err != nil {
		wc.Close()
		return err
	}
	return wc.Close()
}

func wantsSeen(o *imap.FetchOptions) bool {
	for _, sec := range o.BodySection {
		if !sec.Peek {
			return true
		}
	}
	for _, sec := range o.BinarySection {
		if !sec.Peek {
			return true
		}
	}
	return false
}

func refUIDs(refs []msgRef) []uint32 {
	uids := make([]uint32, len(refs))
	for i, r := range refs {
		uids[i] = r.uid
	}
	return uids
}
