package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// postmaster is the reserved local part every mail domain must accept
// (RFC 5321 4.5.1), compared case-insensitively.
const postmaster = "postmaster"

// Resolve maps a recipient address to the local accounts that receive it.
// The domain is compared case-insensitively (and in A-label form); local
// parts are compared case-insensitively too, since users are stored
// lower-case. In order:
//
//  1. a user with exactly this address: [user];
//  2. an alias: its targets;
//  3. "base+tag@dom": the user or alias "base@dom";
//  4. the domain's catch-all "@dom": its targets;
//  5. "postmaster@dom" with none of the above: the domain's oldest user
//     (earliest Created, then address), else the oldest user of any local
//     domain — RFC 5321 4.5.1 requires postmaster to be deliverable and an
//     explicit alias is better but must not be mandatory;
//  6. otherwise ErrNoSuchUser.
//
// The bare "postmaster" (RFC 5321 4.5.1, RCPT TO:<Postmaster>) resolves to
// the first explicit postmaster user or alias of the local domains in
// sorted order, else as postmaster@ the first domain that resolves it.
// ErrNotLocal when the domain is not ours (address literals such as
// "[192.0.2.1]" never are); ErrInvalid when the address has no domain or
// the domain is malformed. It reads only memory.
func (db *DB) Resolve(ctx context.Context, address string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := db.view()
	a := strings.TrimSpace(address)
	if strings.EqualFold(a, postmaster) {
		return st.resolveBarePostmaster()
	}
	i := strings.LastIndexByte(a, '@')
	if i < 0 {
		return nil, fmt.Errorf("%w: address %q has no domain", ErrInvalid, address)
	}
	if lit := a[i+1:]; strings.HasPrefix(lit, "[") && strings.HasSuffix(lit, "]") {
		// RFC 5321 4.1.3 address literal: a valid destination, never ours.
		return nil, fmt.Errorf("%w: %s", ErrNotLocal, lit)
	}
	domain, err := canonicalDomain(a[i+1:])
	if err != nil {
		return nil, err
	}
	if _, ok := st.domains[domain]; !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotLocal, domain)
	}
	local, err := canonicalLocal(a[:i], localRecipient)
	if err != nil {
		// Local domain, but no account can have such a local part.
		return nil, fmt.Errorf("%w: %v", ErrNoSuchUser, err)
	}
	if rcpts := st.resolve(local, domain); rcpts != nil {
		return rcpts, nil
	}
	return nil, fmt.Errorf("%w: %s@%s", ErrNoSuchUser, local, domain)
}

// resolve applies steps 1-5 of Resolve to a canonical local part of a local
// domain; nil means nobody receives it. The result is a fresh slice.
func (st *state) resolve(local, domain string) []string {
	if r := st.lookup(local + "@" + domain); r != nil {
		return r
	}
	if base, _, ok := strings.Cut(local, "+"); ok && base != "" {
		if r := st.lookup(base + "@" + domain); r != nil {
			return r
		}
	}
	if rec, ok := st.aliases["@"+domain]; ok {
		return slices.Clone(rec.Targets)
	}
	if local == postmaster {
		if u := st.oldestUser(domain); u != "" {
			return []string{u}
		}
		if u := st.oldestUser(""); u != "" {
			return []string{u}
		}
	}
	return nil
}

// lookup returns the receivers of an exact user or alias address.
func (st *state) lookup(addr string) []string {
	if _, ok := st.users[addr]; ok {
		return []string{addr}
	}
	if rec, ok := st.aliases[addr]; ok {
		return slices.Clone(rec.Targets)
	}
	return nil
}

// oldestUser returns the earliest-created user of domain ("" = any domain),
// ties broken by address; "" if there is none.
func (st *state) oldestUser(domain string) string {
	best := ""
	var bestRec userRecord
	for a, rec := range st.users {
		if domain != "" && domainOf(a) != domain {
			continue
		}
		if best == "" || rec.Created.Before(bestRec.Created) ||
			rec.Created.Equal(bestRec.Created) && a < best {
			best, bestRec = a, rec
		}
	}
	return best
}

func (st *state) resolveBarePostmaster() ([]string, error) {
	domains := make([]string, 0, len(st.domains))
	for d := range st.domains {
		domains = append(domains, d)
	}
	slices.Sort(domains)
	// An explicit postmaster user or alias in any domain beats the
	// catch-all and oldest-user fallbacks of an earlier-sorting domain.
	for _, d := range domains {
		if r := st.lookup(postmaster + "@" + d); r != nil {
			return r, nil
		}
	}
	for _, d := range domains {
		if r := st.resolve(postmaster, d); r != nil {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: postmaster (no users)", ErrNoSuchUser)
}

// CanSendAs reports whether account may use address as envelope sender or
// From:. The rule is "you may send as what you receive": account must be an
// existing user and address must Resolve to a set that contains it. That
// covers the account's own address, its +tag forms, every alias (single or
// multi-target) that reaches it and the postmaster fallback. It also means
// the target of a catch-all may send as any address of that domain that is
// not a user or an alias of someone else — the addresses whose mail it
// already receives — which is how catch-all owners hand out per-vendor
// addresses and reply from them. Foreign domains, the null sender and
// addresses without a domain are never allowed.
func (db *DB) CanSendAs(ctx context.Context, account, address string) bool {
	acct, err := canonicalAddress(account)
	if err != nil {
		return false
	}
	if _, ok := db.view().users[acct]; !ok {
		return false
	}
	if !strings.Contains(address, "@") {
		return false
	}
	rcpts, err := db.Resolve(ctx, address)
	return err == nil && slices.Contains(rcpts, acct)
}
