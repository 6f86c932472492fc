// Package delivery puts a message into local mailboxes.
//
// It is the one place that turns a recipient address into local accounts
// (through auth's Resolve), checks quotas before a message is accepted,
// and writes a message through storage's two-phase Delivery with a
// Return-Path header (RFC 5321 4.4: added by the final delivery MTA).
// Return-Path fields that arrive with a message are removed from its
// header section first (they are bogus at best, forged at worst), so the
// stored message has exactly one, ours. StripReturnPath does the same
// for a copy that leaves through the outbound queue.
//
// smtpd uses an Agent for the local recipients of inbound and submitted
// mail; the outbound queue uses DeliverLocal to put bounces and delay
// notices into a local sender's INBOX.
//
// Invariant: Deliver returns nil only when every target's copy is durable
// (file fsynced and index committed by storage). When some targets failed
// it returns a *PartialError naming them; the copies that succeeded stay
// (SMTP cannot report per-recipient outcomes after DATA, so the caller
// answers 451 for the whole message and the sender retries: a duplicate is
// preferred to a silent loss).
package delivery
