// Package dnsserver puts the answer engine on the wire: it parses queries,
// applies the protocol rules that do not depend on zone content (EDNS0,
// FORMERR, NOTIMP, truncation), and serves UDP and TCP.
package dnsserver

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zonegrid/zonegrid/edge/answer"
)

// Sizes of EDNS0 and plain DNS messages.
const (
	// EDNSBufferSize is the UDP payload size the edge advertises and the
	// most it sends over UDP (the DNS flag day 2020 value, which avoids
	// IP fragmentation).
	EDNSBufferSize = 1232
	// MinUDPSize is the limit for clients without EDNS0 (RFC 1035).
	MinUDPSize = 512
	headerLen  = 12
)

// Handler turns query bytes into response bytes. It is safe for concurrent
// use and is what the listeners and the fuzz test call.
type Handler struct {
	// ready is false until the edge has loaded its zones: until then every
	// query gets SERVFAIL (try another server), not a wrong REFUSED.
	ready   atomic.Bool
	engine  *answer.Engine
	metrics *Metrics
	msgs    sync.Pool
}

type exchange struct {
	req, resp dns.Msg
}

// NewHandler returns a Handler answering with engine; metrics may be nil.
func NewHandler(engine *answer.Engine, metrics *Metrics) *Handler {
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &Handler{
		engine:  engine,
		metrics: metrics,
		msgs:    sync.Pool{New: func() any { return new(exchange) }},
	}
}

// SetReady switches between answering (true) and SERVFAIL for everything
// (false, the state of a new Handler).
func (h *Handler) SetReady(ready bool) { h.ready.Store(ready) }

// Serve answers one query and returns the response packed into out (grown
// if needed), or nil when the packet must be dropped: too short, a
// response, or unparsable (answering those only helps reflection attacks).
// tcp selects the size limit: 65535 over TCP, the client's EDNS0 size
// (capped at EDNSBufferSize) or 512 over UDP.
func (h *Handler) Serve(ctx context.Context, query []byte, tcp bool, out []byte) []byte {
	if len(query) < headerLen {
		h.metrics.dropped("short")
		return nil
	}
	if query[2]&0x80 != 0 { // QR: a response, never answered
		h.metrics.dropped("response")
		return nil
	}
	x := h.msgs.Get().(*exchange)
	defer h.release(x)
	req, resp := &x.req, &x.resp
	if err := req.Unpack(query); err != nil {
		h.metrics.dropped("unparsable")
		return nil
	}

	resp.Id = req.Id
	resp.Response = true
	resp.Opcode = req.Opcode
	resp.RecursionDesired = req.RecursionDesired
	resp.CheckingDisabled = req.CheckingDisabled
	resp.Question = append(resp.Question[:0], req.Question...)

	var reqOpt *dns.OPT
	nOpt := 0
	for _, rr := range req.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			reqOpt = o
			nOpt++
		}
	}
	qtype := uint16(0)
	if len(req.Question) == 1 {
		qtype = req.Question[0].Qtype
	}
	switch {
	case req.Opcode != dns.OpcodeQuery:
		resp.Rcode = dns.RcodeNotImplemented
	case len(req.Question) != 1 || nOpt > 1 || (reqOpt != nil && reqOpt.Hdr.Name != "."):
		resp.Rcode = dns.RcodeFormatError
	case reqOpt != nil && reqOpt.Version() != 0:
		resp.Rcode = dns.RcodeBadVers
	case !h.ready.Load():
		resp.Rcode = dns.RcodeServerFailure
	default:
		h.engine.Answer(ctx, req.Question[0], resp)
	}

	limit := MinUDPSize
	if reqOpt != nil {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(EDNSBufferSize)
		if reqOpt.Do() {
			o.SetDo()
		}
		resp.Extra = append(resp.Extra, o)
		limit = min(max(int(reqOpt.UDPSize()), MinUDPSize), EDNSBufferSize)
	}
	if tcp {
		limit = dns.MaxMsgSize
	}
	truncate(resp, limit)
	resp.Compress = true
	b, err := resp.PackBuffer(out[:cap(out)])
	if err != nil {
		// Every RR we serve was packed once already, so this is a bug;
		// SERVFAIL rather than silence tells the client to try elsewhere.
		b = servfail(req, out)
		resp.Rcode = dns.RcodeServerFailure
	}
	h.metrics.answered(resp.Rcode, qtype)
	return b
}

// truncate makes resp fit size even uncompressed (some clients and tools
// measure it that way; a TC answer is only a hint to retry over TCP, so
// the records lost to this are of no consequence), setting TC when records
// had to go. The OPT record always stays.
func truncate(resp *dns.Msg, size int) {
	resp.Compress = false
	if resp.Len() <= size {
		return
	}
	resp.Truncate(size)
	resp.Compress = false
	for resp.Len() > size {
		switch {
		case len(resp.Extra) > 0 && resp.Extra[len(resp.Extra)-1].Header().Rrtype != dns.TypeOPT:
			resp.Extra = resp.Extra[:len(resp.Extra)-1]
		case len(resp.Extra) > 1:
			resp.Extra = append(resp.Extra[:len(resp.Extra)-2], resp.Extra[len(resp.Extra)-1])
		case len(resp.Ns) > 0:
			resp.Ns = resp.Ns[:len(resp.Ns)-1]
		case len(resp.Answer) > 0:
			resp.Answer = resp.Answer[:len(resp.Answer)-1]
		default:
			return
		}
		resp.Truncated = true
	}
}

func servfail(req *dns.Msg, out []byte) []byte {
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	b, err := m.PackBuffer(out[:cap(out)])
	if err != nil {
		return nil
	}
	return b
}

// release resets the pooled messages, keeping the slices' capacity.
func (h *Handler) release(x *exchange) {
	clear(x.resp.Answer)
	clear(x.resp.Ns)
	clear(x.resp.Extra)
	x.resp = dns.Msg{
		Question: x.resp.Question[:0],
		Answer:   x.resp.Answer[:0],
		Ns:       x.resp.Ns[:0],
		Extra:    x.resp.Extra[:0],
	}
	x.req = dns.Msg{}
	h.msgs.Put(x)
}

// Metrics are the query-path Prometheus metrics.
type Metrics struct {
	queries *prometheus.CounterVec
	drops   *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, as in tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "queries_total",
			Help: "Queries answered, by response code and query type.",
		}, []string{"rcode", "qtype"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "dropped_packets_total",
			Help: "Packets dropped without an answer, by reason.",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.queries, m.drops)
	}
	return m
}

func (m *Metrics) answered(rcode int, qtype uint16) {
	rc, ok := dns.RcodeToString[rcode]
	if !ok {
		rc = "OTHER"
	}
	qt, ok := dns.TypeToString[qtype]
	if !ok {
		// Bounded label values: a client must not grow our series.
		qt = "OTHER"
	}
	m.queries.WithLabelValues(rc, qt).Inc()
}

func (m *Metrics) dropped(reason string) { m.drops.WithLabelValues(reason).Inc() }
