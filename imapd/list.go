package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// maxWildcards bounds the backtracking of pattern matching.
const maxWildcards = 16

// List implements LIST and LSUB (RFC 9051 6.3.9) with LIST-EXTENDED
// (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154) and CHILDREN
// (RFC 3348).
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, o *imap.ListOptions) error {
	if o == nil {
		o = &imap.ListOptions{}
	}
	for _, p := range patterns {
		if strings.Count(p, "*")+strings.Count(p, "%") > maxWildcards {
			return &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug, Text: "Too many wildcards in pattern"}
		}
	}
	// RFC 9051 6.3.9: an empty pattern asks for the delimiter and root.
	// The library drops empty patterns, so "no pattern" is that case.
	if len(patterns) == 0 {
		if o.SelectSubscribed { // LSUB "" "" has no such special case
			return nil
		}
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim, Mailbox: ref})
	}
	infos, err := s.acct.Mailboxes(s.ctx)
	if err != nil {
		return imapError(s.log, "list", err)
	}
	hasChildren := make(map[string]bool)
	subChild := make(map[string]bool) // has a subscribed descendant
	for _, mi := range infos {
		for i := strings.LastIndexByte(mi.Name, delim); i > 0; i = strings.LastIndexByte(mi.Name[:i], delim) {
			parent := mi.Name[:i]
			hasChildren[parent] = true
			if mi.Subscribed {
				subChild[parent] = true
			}
		}
	}
	match := func(name string) bool {
		for _, p := range patterns {
			if imapserver.MatchList(name, delim, ref, p) {
				return true
			}
			// INBOX is case-insensitive (RFC 9051 5.1).
			if name == "INBOX" && imapserver.MatchList(name, delim, strings.ToUpper(ref), strings.ToUpper(p)) {
				return true
			}
		}
		return false
	}
	for _, mi := range infos {
		if !match(mi.Name) {
			continue
		}
		if o.SelectSpecialUse && mi.SpecialUse == "" {
			continue
		}
		var childInfo *imap.ListDataChildInfo
		if o.SelectSubscribed && !mi.Subscribed {
			// RFC 5258 3.5: with RECURSIVEMATCH a parent of subscribed
			// mailboxes is listed with CHILDINFO.
			if !(o.SelectRecursiveMatch && subChild[mi.Name]) {
				continue
			}
			childInfo = &imap.ListDataChildInfo{Subscribed: true}
		}
		data := &imap.ListData{Mailbox: mi.Name, Delim: delim, ChildInfo: childInfo}
		if hasChildren[mi.Name] {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if mi.Subscribed && (o.ReturnSubscribed || o.SelectSubscribed) {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		if mi.SpecialUse != "" {
			data.Attrs = append(data.Attrs, imap.MailboxAttr(mi.SpecialUse))
		}
		if o.ReturnStatus != nil {
			data.Status = s.statusData(mi, o.ReturnStatus)
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}
