package imapd

import (
	"reflect"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"postel/storage"
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
	if o.SelectSubscribed {
		return s.listSubscribed(w, infos, patterns, match, o)
	}
	hasChildren := parentsOf(infos)
	for _, mi := range infos {
		if !match(mi.Name) {
			continue
		}
		if o.SelectSpecialUse && mi.SpecialUse == "" {
			continue
		}
		data := s.listData(mi, hasChildren[mi.Name], o)
		if mi.Subscribed && o.ReturnSubscribed {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// listSubscribed answers LSUB and LIST (SUBSCRIBED ...). The subscription
// list, not the mailbox list, drives it: RFC 9051 6.3.9 requires a
// subscribed name whose mailbox is gone to be listed with \NonExistent
// (RFC 3501 6.3.9 keeps such names in LSUB, which we mark \Noselect,
// the only "not selectable" attribute an IMAP4rev1 client knows).
func (s *session) listSubscribed(w *imapserver.ListWriter, infos []storage.MailboxInfo, patterns []string, match func(string) bool, o *imap.ListOptions) error {
	// Only a "%" pattern makes LSUB list unsubscribed parents: an exact
	// LSUB "" "Work" must not make an unsubscribed "Work" look subscribed.
	pct := false
	for _, p := range patterns {
		pct = pct || strings.Contains(p, "%")
	}
	subs, err := s.acct.Subscriptions(s.ctx)
	if err != nil {
		return imapError(s.log, "list", err)
	}
	lsub := isLSUB(w)
	byName := make(map[string]storage.MailboxInfo, len(infos))
	for _, mi := range infos {
		byName[mi.Name] = mi
	}
	hasChildren := parentsOf(infos)
	subscribed := make(map[string]bool, len(subs))
	subChild := make(map[string]bool) // has a subscribed descendant
	for _, name := range subs {
		subscribed[name] = true
		for i := strings.LastIndexByte(name, delim); i > 0; i = strings.LastIndexByte(name[:i], delim) {
			subChild[name[:i]] = true
		}
	}

	// Candidates: every subscribed name, plus the parents of subscribed
	// names for LSUB's "%" rule and RECURSIVEMATCH's CHILDINFO.
	names := slices.Clone(subs)
	for p := range subChild {
		if !subscribed[p] {
			names = append(names, p)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "INBOX":
			return -1
		case b == "INBOX":
			return 1
		}
		return strings.Compare(a, b)
	})

	for _, name := range names {
		if !match(name) {
			continue
		}
		mi, exists := byName[name]
		if o.SelectSpecialUse && mi.SpecialUse == "" {
			continue
		}
		var data *imap.ListData
		switch {
		case subscribed[name] && exists:
			data = s.listData(mi, hasChildren[name], o)
			if !lsub {
				data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
			}
		case subscribed[name]:
			data = &imap.ListData{Mailbox: name, Delim: delim}
			if lsub {
				data.Attrs = []imap.MailboxAttr{imap.MailboxAttrNoSelect}
			} else {
				data.Attrs = []imap.MailboxAttr{imap.MailboxAttrNonExistent, imap.MailboxAttrSubscribed}
			}
		case lsub:
			// RFC 3501 6.3.9: "foo/bar" subscribed, "foo" not: LSUB "" "%"
			// returns "foo" with \Noselect. With "*" the child itself
			// matches, so the parent is left out.
			if !pct || matchesDescendant(name, subs, match) {
				continue
			}
			data = &imap.ListData{Mailbox: name, Delim: delim, Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}}
		case o.SelectRecursiveMatch:
			// RFC 5258 3.5: a parent of subscribed mailboxes with CHILDINFO.
			if exists {
				data = s.listData(mi, hasChildren[name], o)
			} else {
				data = &imap.ListData{Mailbox: name, Delim: delim, Attrs: []imap.MailboxAttr{imap.MailboxAttrNonExistent}}
			}
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		default:
			continue
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// listData is the LIST response of an existing mailbox.
func (s *session) listData(mi storage.MailboxInfo, hasChildren bool, o *imap.ListOptions) *imap.ListData {
	data := &imap.ListData{Mailbox: mi.Name, Delim: delim}
	if hasChildren {
		data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
	} else {
		data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
	}
	if mi.SpecialUse != "" {
		data.Attrs = append(data.Attrs, imap.MailboxAttr(mi.SpecialUse))
	}
	if o.ReturnStatus != nil {
		data.Status = s.statusData(mi, o.ReturnStatus)
	}
	return data
}

// parentsOf returns the names that have at least one existing child.
func parentsOf(infos []storage.MailboxInfo) map[string]bool {
	parents := make(map[string]bool)
	for _, mi := range infos {
		for i := strings.LastIndexByte(mi.Name, delim); i > 0; i = strings.LastIndexByte(mi.Name[:i], delim) {
			parents[mi.Name[:i]] = true
		}
	}
	return parents
}

// matchesDescendant reports whether a subscribed descendant of parent is
// itself listed by the patterns.
func matchesDescendant(parent string, subs []string, match func(string) bool) bool {
	for _, name := range subs {
		if strings.HasPrefix(name, parent+string(delim)) && match(name) {
			return true
		}
	}
	return false
}

// isLSUB reports whether w answers LSUB rather than LIST (SUBSCRIBED):
// the library passes both as SelectSubscribed and keeps the difference in
// an unexported field, but the two want different attributes for a
// subscribed name that does not exist. Reading the field through reflect
// is safe (no write, no unsafe); TestLSUBNonExistent pins the behaviour
// for the go-imap version in go.mod.
func isLSUB(w *imapserver.ListWriter) bool {
	f := reflect.ValueOf(w).Elem().FieldByName("lsub")
	return f.IsValid() && f.Kind() == reflect.Bool && f.Bool()
}
