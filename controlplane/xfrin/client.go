// Package xfrin pulls secondary zones from their primaries: the SOA serial
// check, AXFR (RFC 5936) and IXFR (RFC 1995) over TCP, TSIG-signed when
// configured (RFC 8945), with miekg/dns's transfer and TSIG support; the
// serial arithmetic of RFC 1982; and applying a transfer to the store as
// one atomic write of the zone's read-only records. The worker that
// schedules transfers (refresh interval, NOTIFY, one owner per zone) is
// built on it.
package xfrin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// Primary is one server a secondary zone is transferred from.
type Primary struct {
	// Addr is host:port.
	Addr string
	// IXFR asks for incremental transfers when a serial is held (the
	// peer's ixfr_enable); AXFR otherwise, and as the fallback.
	IXFR bool
	// TSIG signs every query and requires signed answers; nil for none.
	TSIG *TSIG
}

// TSIG is a transaction signature key.
type TSIG struct {
	// Name in domain-name syntax, matched exactly by the primary.
	Name string
	// Algorithm: dns.HmacSHA256 (default), dns.HmacSHA1, dns.HmacSHA512.
	Algorithm string
	// Secret, base64.
	Secret string
}

func (t *TSIG) name() string { return dns.CanonicalName(t.Name) }

func (t *TSIG) algorithm() string {
	if t.Algorithm == "" {
		return dns.HmacSHA256
	}
	return dns.CanonicalName(t.Algorithm)
}

// Limits bound one transfer: a primary that stalls or sends far more than
// expected ends with an error and leaves the zone as it was.
type Limits struct {
	// MaxRecords is the most records one transfer may carry (every RR of
	// the stream, the SOAs included); 0 = 20,000, what one store write
	// (one etcd transaction) holds, as for a zone-file import.
	MaxRecords int
	// Timeout bounds the whole transfer; 0 = 2 min. A read waiting longer
	// than a tenth of it (at least 5 s) for the next message fails too.
	Timeout time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxRecords <= 0 {
		l.MaxRecords = 20_000
	}
	if l.Timeout <= 0 {
		l.Timeout = 2 * time.Minute
	}
	return l
}

// Result is one transfer.
type Result struct {
	// Serial is the primary's serial after the transfer.
	Serial uint32
	// SOA is the primary's SOA record.
	SOA *dns.SOA
	// UpToDate: the zone held already is current (IXFR answered with one
	// SOA whose serial is not newer); nothing else is set but Serial.
	UpToDate bool
	// Full: Records is the whole zone (without its SOA): an AXFR, or an
	// IXFR answered in AXFR form.
	Full    bool
	Records []dns.RR
	// Incremental: every difference sequence of an IXFR, in order.
	Diffs []Diff
	// Method is "AXFR" or "IXFR", what was asked.
	Method string
}

// Diff is one IXFR difference sequence: from serial From to To, Deleted
// then Added (SOAs not included).
type Diff struct {
	From, To       uint32
	Deleted, Added []dns.RR
}

// ErrTransfer wraps every failure of a transfer whose stream was wrong
// (as opposed to a network failure): bad sequences, serials going
// backwards, limits exceeded, TSIG failures.
var ErrTransfer = errors.New("zone transfer failed")

// Newer reports whether serial a is newer than b in RFC 1982 arithmetic
// (SERIAL_BITS 32); equal serials and the undefined half-way pair are not
// newer.
func Newer(a, b uint32) bool {
	return a != b && (a-b) < 1<<31
}

// SerialOf asks the primary for the zone's SOA (over TCP: the answer is
// small, but a primary behind a firewall for transfers allows TCP) and
// returns its serial.
func SerialOf(ctx context.Context, p Primary, zone string) (uint32, error) {
	zone = dns.CanonicalName(zone)
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeSOA)
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	if p.TSIG != nil {
		c.TsigSecret = map[string]string{p.TSIG.name(): p.TSIG.Secret}
		m.SetTsig(p.TSIG.name(), p.TSIG.algorithm(), 300, time.Now().Unix())
	}
	resp, _, err := c.ExchangeContext(ctx, m, p.Addr)
	if err != nil {
		return 0, fmt.Errorf("ask %s for the SOA of %s: %w", p.Addr, zone, err)
	}
	if resp.Rcode != dns.RcodeSuccess {
		return 0, fmt.Errorf("%w: %s answered %s for the SOA of %s", ErrTransfer, p.Addr, dns.RcodeToString[resp.Rcode], zone)
	}
	for _, rr := range resp.Answer {
		if soa, ok := rr.(*dns.SOA); ok && dns.CanonicalName(soa.Hdr.Name) == zone {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("%w: %s has no SOA for %s (not authoritative?)", ErrTransfer, p.Addr, zone)
}

// Fetch transfers the zone from p. With have (the serial held) and p.IXFR
// it asks for IXFR, else AXFR. An IXFR that fails is not retried as AXFR
// here: the worker decides (it falls back to AXFR).
func Fetch(ctx context.Context, p Primary, zone string, have *uint32, lim Limits) (*Result, error) {
	lim = lim.withDefaults()
	zone = dns.CanonicalName(zone)
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	m := new(dns.Msg)
	method := "AXFR"
	if have != nil && p.IXFR {
		method = "IXFR"
		// The SOA only carries the serial, but its names must be names:
		// miekg/dns servers (and others) answer FORMERR to empty ones.
		m.SetIxfr(zone, *have, ".", ".")
	} else {
		m.SetAxfr(zone)
	}
	t := &dns.Transfer{DialTimeout: 5 * time.Second, ReadTimeout: max(lim.Timeout/10, 5*time.Second), WriteTimeout: 5 * time.Second}
	if p.TSIG != nil {
		t.TsigSecret = map[string]string{p.TSIG.name(): p.TSIG.Secret}
		m.SetTsig(p.TSIG.name(), p.TSIG.algorithm(), 300, time.Now().Unix())
	}
	conn, err := (&net.Dialer{Timeout: t.DialTimeout}).DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s of %s from %s: %w", method, zone, p.Addr, err)
	}
	// The deadline ends a stalled primary's transfer when ctx does.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	t.Conn = &dns.Conn{Conn: conn}
	defer t.Conn.Close()
	env, err := t.In(m, p.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s of %s from %s: %w", method, zone, p.Addr, err)
	}
	var rrs []dns.RR
	for e := range env {
		if e.Error != nil {
			// Drain: In's goroutine stops once the channel is read to the end.
			for range env {
			}
			return nil, fmt.Errorf("%w: %s of %s from %s: %w", ErrTransfer, method, zone, p.Addr, e.Error)
		}
		if len(rrs)+len(e.RR) > lim.MaxRecords {
			for range env {
			}
			return nil, fmt.Errorf("%w: %s of %s from %s: more than %d records", ErrTransfer, method, zone, p.Addr, lim.MaxRecords)
		}
		rrs = append(rrs, e.RR...)
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s of %s from %s: %w", method, zone, p.Addr, ctx.Err())
	}
	res, err := parse(zone, rrs, have)
	if err != nil {
		return nil, fmt.Errorf("%w: %s of %s from %s: %w", ErrTransfer, method, zone, p.Addr, err)
	}
	res.Method = method
	return res, nil
}

// parse reads a transfer's records: AXFR form (SOA, records, SOA) or IXFR
// form (SOA new; then sequences SOA old, deletions, SOA new, additions;
// then SOA new), or one SOA (up to date).
func parse(zone string, rrs []dns.RR, have *uint32) (*Result, error) {
	if len(rrs) == 0 {
		return nil, errors.New("empty answer")
	}
	first, ok := rrs[0].(*dns.SOA)
	if !ok || dns.CanonicalName(first.Hdr.Name) != zone {
		return nil, errors.New("the answer does not start with the zone's SOA")
	}
	res := &Result{Serial: first.Serial, SOA: first}
	for _, rr := range rrs {
		if !dns.IsSubDomain(zone, dns.CanonicalName(rr.Header().Name)) {
			return nil, fmt.Errorf("record %s is outside the zone", rr.Header().Name)
		}
	}
	if len(rrs) == 1 {
		if have != nil && !Newer(first.Serial, *have) {
			res.UpToDate = true
			return res, nil
		}
		return nil, errors.New("a lone SOA with a newer serial: the transfer is incomplete")
	}
	last, ok := rrs[len(rrs)-1].(*dns.SOA)
	if !ok || last.Serial != first.Serial {
		return nil, errors.New("the answer does not end with the zone's SOA: the transfer is incomplete")
	}
	if have != nil && Newer(*have, first.Serial) {
		return nil, fmt.Errorf("the primary's serial %d is older than the %d held", first.Serial, *have)
	}
	if _, isSOA := rrs[1].(*dns.SOA); !isSOA || len(rrs) == 2 {
		// AXFR form.
		res.Full = true
		for _, rr := range rrs[1 : len(rrs)-1] {
			if rr.Header().Rrtype == dns.TypeSOA {
				return nil, errors.New("an SOA inside a full transfer")
			}
			res.Records = append(res.Records, rr)
		}
		return res, nil
	}
	// IXFR form: rrs[1:len-1] are sequences, which only answer an IXFR
	// request (found by FuzzParseTransfer: without a serial held the
	// chain could not be checked).
	if have == nil {
		return nil, errors.New("an incremental answer to a request for the whole zone")
	}
	seq := rrs[1 : len(rrs)-1]
	prev := *have
	for i := 0; i < len(seq); {
		from, ok := seq[i].(*dns.SOA)
		if !ok {
			return nil, errors.New("an IXFR difference sequence does not start with an SOA")
		}
		if from.Serial != prev {
			return nil, fmt.Errorf("an IXFR sequence starts at serial %d, expected %d", from.Serial, prev)
		}
		d := Diff{From: from.Serial}
		i++
		for i < len(seq) && seq[i].Header().Rrtype != dns.TypeSOA {
			d.Deleted = append(d.Deleted, seq[i])
			i++
		}
		if i == len(seq) {
			return nil, errors.New("an IXFR sequence has deletions but no new SOA")
		}
		to := seq[i].(*dns.SOA)
		if !Newer(to.Serial, from.Serial) {
			return nil, fmt.Errorf("an IXFR sequence goes from serial %d back to %d", from.Serial, to.Serial)
		}
		d.To = to.Serial
		i++
		for i < len(seq) && seq[i].Header().Rrtype != dns.TypeSOA {
			d.Added = append(d.Added, seq[i])
			i++
		}
		res.Diffs = append(res.Diffs, d)
		prev = d.To
	}
	if prev != first.Serial {
		return nil, fmt.Errorf("the IXFR sequences end at serial %d, not the primary's %d", prev, first.Serial)
	}
	return res, nil
}
