package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"

	"postel/storage"
)

// The FETCH data below comes from storage's cached envelope and body
// structure: nothing here parses a message.

func toIMAPFlags(flags []string) []imap.Flag {
	out := make([]imap.Flag, 0, len(flags))
	for _, f := range flags {
		out = append(out, imap.Flag(f))
	}
	return out
}

// fromIMAPFlags drops \Recent, which clients may not set (RFC 3501 2.3.2)
// and RFC 9051 removed.
func fromIMAPFlags(flags []imap.Flag) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if strings.EqualFold(string(f), `\Recent`) {
			continue
		}
		out = append(out, canonicalFlag(string(f)))
	}
	return out
}

// canonicalFlag spells system flags the standard way; keywords are kept.
func canonicalFlag(f string) string {
	for _, sf := range []string{storage.FlagSeen, storage.FlagAnswered, storage.FlagFlagged, storage.FlagDeleted, storage.FlagDraft} {
		if strings.EqualFold(f, sf) {
			return sf
		}
	}
	return f
}

func toIMAPEnvelope(e *storage.Envelope) *imap.Envelope {
	if e == nil {
		return nil
	}
	return &imap.Envelope{
		Date:      e.Date,
		Subject:   e.Subject,
		From:      toIMAPAddrs(e.From),
		Sender:    toIMAPAddrs(e.Sender),
		ReplyTo:   toIMAPAddrs(e.ReplyTo),
		To:        toIMAPAddrs(e.To),
		Cc:        toIMAPAddrs(e.Cc),
		Bcc:       toIMAPAddrs(e.Bcc),
		InReplyTo: msgIDList(e.InReplyTo),
		MessageID: strings.Trim(e.MessageID, "<>"),
	}
}

func toIMAPAddrs(l []storage.Address) []imap.Address {
	if len(l) == 0 {
		return nil
	}
	out := make([]imap.Address, len(l))
	for i, a := range l {
		out[i] = imap.Address{Name: a.Name, Mailbox: a.Mailbox, Host: a.Host}
	}
	return out
}

// msgIDList splits a raw "<a@b> <c@d>" list into ids without brackets; the
// library puts the brackets back.
func msgIDList(raw string) []string {
	var ids []string
	for {
		i := strings.IndexByte(raw, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(raw[i:], '>')
		if j < 0 {
			break
		}
		if id := raw[i+1 : i+j]; id != "" {
			ids = append(ids, id)
		}
		raw = raw[i+j+1:]
	}
	if ids == nil && strings.TrimSpace(raw) != "" {
		ids = []string{strings.TrimSpace(raw)}
	}
	return ids
}

// toIMAPBodyStructure converts the cached structure. A nil structure (a
// message storage could not parse) is reported as text/plain of its size.
func toIMAPBodyStructure(bs *storage.BodyStructure, size int64) imap.BodyStructure {
	if bs == nil {
		return &imap.BodyStructureSinglePart{Type: "text", Subtype: "plain", Encoding: "7bit", Size: clampU32(size), Text: &imap.BodyStructureText{}}
	}
	if strings.EqualFold(bs.Type, "multipart") {
		mp := &imap.BodyStructureMultiPart{
			Subtype: bs.Subtype,
			Extended: &imap.BodyStructureMultiPartExt{
				Params:      bs.Params,
				Disposition: disposition(bs),
				Language:    bs.Language,
				Location:    bs.Location,
			},
		}
		for _, c := range bs.Children {
			mp.Children = append(mp.Children, toIMAPBodyStructure(c, 0))
		}
		if len(mp.Children) == 0 {
			// RFC 9051 body-type-mpart needs at least one part.
			mp.Children = []imap.BodyStructure{toIMAPBodyStructure(nil, 0)}
		}
		return mp
	}
	enc := bs.Encoding
	if enc == "" {
		enc = "7bit"
	}
	sp := &imap.BodyStructureSinglePart{
		Type:        bs.Type,
		Subtype:     bs.Subtype,
		Params:      bs.Params,
		ID:          bs.ID,
		Description: bs.Description,
		Encoding:    enc,
		Size:        clampU32(bs.Size),
		Extended: &imap.BodyStructureSinglePartExt{
			Disposition: disposition(bs),
			Language:    bs.Language,
			Location:    bs.Location,
		},
	}
	switch {
	case strings.EqualFold(bs.Type, "message") && (strings.EqualFold(bs.Subtype, "rfc822") || strings.EqualFold(bs.Subtype, "global")):
		env := toIMAPEnvelope(bs.Envelope)
		if env == nil {
			env = &imap.Envelope{}
		}
		sp.MessageRFC822 = &imap.BodyStructureMessageRFC822{
			Envelope:      env,
			BodyStructure: toIMAPBodyStructure(bs.Body, 0),
			NumLines:      bs.Lines,
		}
	case strings.EqualFold(bs.Type, "text"):
		sp.Text = &imap.BodyStructureText{NumLines: bs.Lines}
	}
	return sp
}

func disposition(bs *storage.BodyStructure) *imap.BodyStructureDisposition {
	if bs.Disposition == "" {
		return nil
	}
	return &imap.BodyStructureDisposition{Value: bs.Disposition, Params: bs.DispositionParams}
}

func clampU32(n int64) uint32 {
	if n < 0 {
		return 0
	}
	if n > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(n)
}
