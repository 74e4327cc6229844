package dnsserver

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zonegrid/zonegrid/edge/xfrauth"
	"github.com/zonegrid/zonegrid/edge/zonecache"
	"github.com/zonegrid/zonegrid/pkg/notify"
)

// NOTIFY (RFC 1996) for secondary zones: a primary says the zone changed.
// The edge checks the message and its sender against the zone's transfer
// policy (edge/xfrauth, from the snapshot header), answers, and hands the
// accepted notice to a NotifySink, which forwards it to the control plane
// (edge/notify). The edge keeps no state of its own about it.
//
// Rules, in this order:
//
//   - not exactly one question, a question other than SOA, a message that
//     does not parse, a TSIG that is not the last record: FORMERR (what
//     BIND answers);
//   - a class other than IN, a zone the edge does not serve at exactly that
//     name: REFUSED;
//   - a TSIG that names another key than the zone's (or the zone has none):
//     NOTAUTH with TSIG error BADKEY, unsigned; a MAC that does not verify:
//     NOTAUTH, BADSIG, unsigned; a time outside the fudge: NOTAUTH,
//     BADTIME, signed (RFC 8945 5.2);
//   - a source outside the zone's primaries and the account's ACL ranges
//     (every zone but a secondary one with linked primaries has none):
//     REFUSED, signed when the request was;
//   - otherwise NOERROR with AA and the question echoed, signed with the
//     zone's key when the request was signed, and the notice goes on.
//
// An unsigned NOTIFY from an allowed source is accepted even when the zone
// links a key: a NOTIFY only makes the control plane ask the primary for
// its SOA, over TSIG; it carries nothing that is applied (BIND, for one,
// sends NOTIFY unsigned unless told otherwise). A signed one from a source
// outside the allowed ranges is still refused: the ranges are the rule,
// the key only proves more.

// NotifySink takes the NOTIFY messages the edge accepted. Accept runs on a
// socket's reader loop: it must not block.
type NotifySink interface {
	Accept(n notify.Notice)
}

// notifyConf is a Handler's NOTIFY configuration (WithNotify).
type notifyConf struct {
	zones   *zonecache.Set
	sink    NotifySink
	results *prometheus.CounterVec
	now     func() time.Time
}

// WithNotify makes the handler answer NOTIFY for the zones of zones and
// hand accepted ones to sink; without it NOTIFY gets NOTIMP. reg may be
// nil. Only Server calls the NOTIFY path (it needs the source address).
func WithNotify(zones *zonecache.Set, sink NotifySink, reg prometheus.Registerer) Option {
	results := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "zonegrid", Subsystem: "edge", Name: "notify_received_total",
		Help: "NOTIFY messages received, by result (accepted, refused, notauth, formerr, servfail).",
	}, []string{"result"})
	if reg != nil {
		reg.MustRegister(results)
	}
	return func(h *Handler) {
		h.notify = &notifyConf{zones: zones, sink: sink, results: results, now: time.Now}
	}
}

// isNotify reports whether query is a NOTIFY request (QR clear, opcode 4):
// one byte of the header, so a normal query pays one compare.
func isNotify(query []byte) bool {
	return len(query) >= headerLen && query[2]&(flagQR|opcodeMask) == dns.OpcodeNotify<<3
}

// wantsNotify says whether the server must route query to ServeNotify.
func (h *Handler) wantsNotify(query []byte) bool { return h.notify != nil && isNotify(query) }

// ServeNotify answers a NOTIFY from src (see the rules above) into out.
// It never panics on bad input and never blocks.
func (h *Handler) ServeNotify(query []byte, src netip.Addr, tcp bool, out []byte) []byte {
	nc := h.notify
	if nc == nil || !isNotify(query) {
		return h.Serve(context.Background(), query, tcp, out) // NOTIMP, or not a NOTIFY
	}
	result, b := h.notifyReply(nc, query, src, out)
	nc.results.WithLabelValues(result).Inc()
	return b
}

func (h *Handler) notifyReply(nc *notifyConf, query []byte, src netip.Addr, out []byte) (string, []byte) {
	qtype := uint16(0)
	fail := func(result string, rcode int) (string, []byte) {
		h.metrics.answered(rcode, qtype)
		return result, appendError(out[:0], query, rcode)
	}
	if binary.BigEndian.Uint16(query[4:]) != 1 {
		return fail("formerr", dns.RcodeFormatError)
	}
	req := new(dns.Msg)
	if err := req.Unpack(query); err != nil || len(req.Question) != 1 {
		return fail("formerr", dns.RcodeFormatError)
	}
	for i, rr := range req.Extra {
		// A TSIG anywhere but last is malformed (RFC 8945 5.1); miekg/dns
		// would read such a message as unsigned.
		if rr.Header().Rrtype == dns.TypeTSIG && i != len(req.Extra)-1 {
			return fail("formerr", dns.RcodeFormatError)
		}
	}
	q := req.Question[0]
	qtype = q.Qtype
	if q.Qtype != dns.TypeSOA {
		return fail("formerr", dns.RcodeFormatError)
	}
	if q.Qclass != dns.ClassINET {
		return fail("refused", dns.RcodeRefused)
	}
	if !h.ready.Load() {
		// The zones are not loaded yet: the primary should try again (or
		// another server) rather than be told we do not serve the zone.
		return fail("servfail", dns.RcodeServerFailure)
	}
	name := dns.CanonicalName(q.Name)
	z := nc.zones.Find(name)
	if z == nil || z.Name != name {
		return fail("refused", dns.RcodeRefused)
	}
	pol := z.Transfer
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Question = req.Question[:1]
	if req.IsEdns0() != nil {
		resp.SetEdns0(EDNSBufferSize, false)
	}
	var key *xfrauth.Key
	if t := req.IsTsig(); t != nil {
		key = pol.TSIG()
		if key == nil || dns.CanonicalName(t.Hdr.Name) != key.Name || dns.CanonicalName(t.Algorithm) != key.Algorithm {
			return h.tsigError(query, resp, t, nil, dns.RcodeBadKey, out)
		}
		// On a copy: miekg/dns lowers ARCOUNT in the buffer it verifies.
		err := dns.TsigVerify(append([]byte(nil), query...), key.Secret, "", false)
		switch {
		case errors.Is(err, dns.ErrTime):
			return h.tsigError(query, resp, t, key, dns.RcodeBadTime, out)
		case err != nil:
			return h.tsigError(query, resp, t, key, dns.RcodeBadSig, out)
		}
	}
	result := "accepted"
	if pol.NotifyAllowed(src) {
		resp.Authoritative = true
	} else {
		result = "refused"
		resp.Rcode = dns.RcodeRefused
	}
	b, err := h.packNotify(resp, req.IsTsig(), key, 0, out)
	if err != nil {
		return fail("servfail", dns.RcodeServerFailure)
	}
	h.metrics.answered(resp.Rcode, qtype)
	if result == "accepted" {
		// The name the zone is published under (its key), which is the
		// control plane's name for it; secondary zones are never partial,
		// so it is also the served name.
		zoneName := z.Key
		if zoneName == "" {
			zoneName = z.Name
		}
		n := notify.Notice{ZoneID: z.Header.GetZoneId(), Zone: zoneName, Source: src.String(), Signed: key != nil,
			Received: nc.now().UnixNano()}
		for _, rr := range req.Answer {
			if soa, ok := rr.(*dns.SOA); ok && dns.CanonicalName(soa.Hdr.Name) == name {
				n.Serial, n.HasSerial = soa.Serial, true
				break
			}
		}
		nc.sink.Accept(n)
	}
	return result, b
}

// tsigError answers NOTAUTH with a TSIG error (RFC 8945 5.2.2-5.2.3):
// BADKEY and BADSIG unsigned, BADTIME signed with the key and carrying our
// time.
func (h *Handler) tsigError(query []byte, resp *dns.Msg, reqTsig *dns.TSIG, key *xfrauth.Key, tsigErr uint16, out []byte) (string, []byte) {
	resp.Rcode = dns.RcodeNotAuth
	resp.Authoritative = false
	b, err := h.packNotify(resp, reqTsig, key, tsigErr, out)
	if err != nil {
		h.metrics.answered(dns.RcodeServerFailure, dns.TypeSOA)
		return "servfail", appendError(out[:0], query, dns.RcodeServerFailure)
	}
	h.metrics.answered(dns.RcodeNotAuth, dns.TypeSOA)
	return "notauth", b
}

// packNotify packs resp, with a TSIG when the request had one: signed with
// key over the request's MAC, or only carrying tsigErr when the key is
// unknown or the MAC was bad.
func (h *Handler) packNotify(resp *dns.Msg, reqTsig *dns.TSIG, key *xfrauth.Key, tsigErr uint16, out []byte) ([]byte, error) {
	if reqTsig == nil {
		return resp.PackBuffer(out[:cap(out)])
	}
	now := h.notify.now()
	name, alg, secret := reqTsig.Hdr.Name, reqTsig.Algorithm, ""
	if key != nil && tsigErr != dns.RcodeBadKey && tsigErr != dns.RcodeBadSig {
		name, alg, secret = key.Name, key.Algorithm, key.Secret
	}
	resp.SetTsig(name, alg, reqTsig.Fudge, now.Unix())
	t := resp.Extra[len(resp.Extra)-1].(*dns.TSIG)
	t.OrigId = reqTsig.OrigId
	t.Error = tsigErr
	if tsigErr == dns.RcodeBadTime {
		var ts [6]byte
		u := uint64(now.Unix())
		for i := range ts {
			ts[5-i] = byte(u >> (8 * i))
		}
		t.OtherLen, t.OtherData = 6, hex.EncodeToString(ts[:])
		// RFC 8945 5.2.3: the response's time is the request's; ours is in
		// Other Data.
		t.TimeSigned = reqTsig.TimeSigned
	}
	reqMAC := reqTsig.MAC
	if tsigErr == dns.RcodeBadKey || tsigErr == dns.RcodeBadSig {
		reqMAC = ""
	}
	b, _, err := dns.TsigGenerate(resp, secret, reqMAC, false)
	return b, err
}
