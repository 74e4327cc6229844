// Package dnsserver puts the answer engine on the wire: it parses queries,
// applies the protocol rules that do not depend on zone content (EDNS0,
// FORMERR, NOTIMP, truncation), and serves UDP and TCP. Its query path
// reads plain queries without unpacking a message (wire.go), reuses packed
// answers while what they depended on is unchanged (cache.go), and moves
// UDP datagrams in batches on one reader loop per socket (server.go).
package dnsserver

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zonegrid/zonegrid/edge/answer"
	"github.com/zonegrid/zonegrid/edge/dnssec"
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
	cache   *answerCache
	msgs    sync.Pool
	// notify answers NOTIFY (notify.go); nil: NOTIMP.
	notify *notifyConf
}

// exchange is the pooled state of one query: reused, so that a query
// allocates no messages.
type exchange struct {
	req, resp dns.Msg
	q         [1]dns.Question
	opt       dns.OPT
}

// Option configures a Handler.
type Option func(*Handler)

// WithAnswerCache sets the number of slots of the packed-answer cache
// (rounded up to a power of two); 0 turns it off. The default is
// DefaultCacheSlots.
func WithAnswerCache(slots int) Option {
	return func(h *Handler) { h.cache = newAnswerCache(slots) }
}

// NewHandler returns a Handler answering with engine; metrics may be nil.
func NewHandler(engine *answer.Engine, metrics *Metrics, opts ...Option) *Handler {
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	h := &Handler{
		engine:  engine,
		metrics: metrics,
		cache:   newAnswerCache(DefaultCacheSlots),
		msgs:    sync.Pool{New: func() any { return new(exchange) }},
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

// SetReady switches between answering (true) and SERVFAIL for everything
// (false, the state of a new Handler).
func (h *Handler) SetReady(ready bool) { h.ready.Store(ready) }

// Serve answers one query and returns the response packed into out (grown
// if needed), or nil when the packet must be dropped: shorter than a
// header or a response (answering those only helps reflection attacks). A
// query that cannot be parsed gets FORMERR, never longer than the query.
// tcp selects the size limit: 65535 over TCP, the client's EDNS0 size
// (capped at EDNSBufferSize) or 512 over UDP. It may wait on an upstream
// lookup (see ServeInline).
func (h *Handler) Serve(ctx context.Context, query []byte, tcp bool, out []byte) []byte {
	b, _ := h.serve(ctx, query, tcp, out, true, nil)
	return b
}

// ServeInline is Serve for a caller that must not wait: a query whose
// answer needs an upstream lookup is not answered but reported deferred
// (nil, true), to be passed to Serve on another goroutine.
func (h *Handler) ServeInline(ctx context.Context, query []byte, tcp bool, out []byte) (resp []byte, deferred bool) {
	return h.serve(ctx, query, tcp, out, false, nil)
}

// ServeInlineWildcard is ServeInline that also reports the zone of an
// answer synthesized from a wildcard ("" for any other answer), which the
// response rate limiter keys such answers by.
func (h *Handler) ServeInlineWildcard(ctx context.Context, query []byte, tcp bool, out []byte) (resp []byte, deferred bool, wildcardZone string) {
	resp, deferred = h.serve(ctx, query, tcp, out, false, &wildcardZone)
	return resp, deferred, wildcardZone
}

// serve answers query; when wild is not nil it receives the zone of a
// wildcard answer.
func (h *Handler) serve(ctx context.Context, query []byte, tcp bool, out []byte, upstream bool, wild *string) ([]byte, bool) {
	var q fastQuery
	if h.parse(query, &q) {
		return h.serveFast(ctx, query, &q, tcp, out, upstream, wild)
	}
	return h.serveSlow(ctx, query, tcp, out, upstream, wild)
}

// parse reads query into q and reports whether the fast path answers it.
func (h *Handler) parse(query []byte, q *fastQuery) bool {
	return h.ready.Load() && parseFast(query, q) // refuses responses and short packets
}

// serveSlow answers a query parse refused: drops, then the full parser.
func (h *Handler) serveSlow(ctx context.Context, query []byte, tcp bool, out []byte, upstream bool, wild *string) ([]byte, bool) {
	if len(query) < headerLen {
		h.metrics.dropped("short")
		return nil, false
	}
	if query[2]&flagQR != 0 { // a response, never answered
		h.metrics.dropped("response")
		return nil, false
	}
	return h.serveFull(ctx, query, tcp, out, upstream, wild)
}

// serveUDPParsed is ServeInlineWildcard over UDP for a reader loop that
// ran parse (fast reports its result) and prefetch on its batch.
func (h *Handler) serveUDPParsed(ctx context.Context, query []byte, q *fastQuery, fast bool, out []byte, wild *string) ([]byte, bool) {
	if fast {
		return h.serveFast(ctx, query, q, false, out, false, wild)
	}
	return h.serveSlow(ctx, query, false, out, false, wild)
}

// prefetch reads the cache slots and entries the parsed queries of a batch
// (qs[i] where fast[i]) will look up, all before the first is answered.
// Those reads miss the processor's caches at the rates the edge serves
// (the profile showed a hit stalled on the slot, then on the entry: most
// of the lookup's time); issued back to back in a short loop, the misses
// of the whole batch overlap instead of following one another.
func (h *Handler) prefetch(qs []fastQuery, fast []bool) {
	c := h.cache
	if c == nil {
		return
	}
	var sink uint64
	for i := range qs {
		if !fast[i] {
			continue
		}
		q := &qs[i]
		hs := keyHash(maphash.Bytes(c.seed, q.name()), q.qtype, q.qclass, q.do)
		if e := c.slots[hs&c.mask].Load(); e != nil {
			sink += e.hash
			if len(e.name) > 0 {
				sink += uint64(e.name[0]) // name and tail share their lines
			}
		}
	}
	runtime.KeepAlive(sink)
}

// serveFast answers a query parseFast read: from the answer cache when it
// holds a valid answer that fits, otherwise through the engine (filling
// the cache when the answer may be reused).
func (h *Handler) serveFast(ctx context.Context, query []byte, q *fastQuery, tcp bool, out []byte, upstream bool, wild *string) ([]byte, bool) {
	limit := q.limit(tcp)
	optLen := 0
	if q.edns {
		optLen = optRRLen
	}
	// The cache is keyed on the lower-cased question (parseFast made that
	// copy while reading the name: no second pass, no allocation), so that
	// every spelling of a name, as 0x20 resolvers vary it, shares one
	// entry. Every answer is packed for the lower-cased question and sent
	// with the question's bytes as the client spelled them (packAnswer):
	// the names compressed to the question then echo the client's case,
	// as NSD's and Knot's do, and a cached tail is right for any spelling.
	cache := h.cache
	if cache != nil {
		e := cache.get(q.name(), q.qtype, q.qclass, q.do)
		if e != nil && e.fullLen+optLen <= limit && h.engine.Unchanged(e.name, &e.info) && e.fresh() {
			h.metrics.cacheHits.Inc()
			h.metrics.answered(int(e.flags3&0x0f), q.qtype)
			if wild != nil && e.info.Wildcard {
				*wild = e.info.Zone
			}
			return appendCached(out[:0], query, q, e), false
		}
		h.metrics.cacheMisses.Inc()
	}

	x := h.msgs.Get().(*exchange)
	defer h.release(x)
	resp := &x.resp
	resp.Id = binary.BigEndian.Uint16(query)
	resp.Response = true
	resp.RecursionDesired = query[2]&flagRD != 0
	resp.CheckingDisabled = query[3]&flagCD != 0
	// Lower-cased: see above; the question goes out as asked (packAnswer).
	x.q[0] = dns.Question{Name: string(q.name()), Qtype: q.qtype, Qclass: q.qclass}
	resp.Question = x.q[:]
	info := h.engine.AnswerQueryDO(ctx, x.q[0], resp, upstream, q.do)
	if info.Deferred {
		return nil, true
	}
	if wild != nil && info.Wildcard {
		*wild = info.Zone
	}
	if q.edns {
		resp.Extra = append(resp.Extra, x.ourOPT(q.do))
	}
	truncate(resp, limit)
	fullLen := 0
	if info.Cacheable && cache != nil && !resp.Truncated {
		fullLen = resp.Len() - optLen // uncompressed: truncate left Compress off
	}
	b, err := packAnswer(resp, out, query, q.qEnd, q.mixed)
	if err != nil {
		// Every RR we serve was packed once already, so this is a bug;
		// SERVFAIL rather than silence tells the client to try elsewhere.
		h.metrics.answered(dns.RcodeServerFailure, q.qtype)
		return servfail(resp, out), false
	}
	maxLen := maxCachedAnswer
	if info.SigExpire != 0 {
		maxLen = maxCachedSigned
	}
	if fullLen > 0 && resp.Rcode <= 0x0f && len(b)-q.qEnd-optLen <= maxLen {
		cache.put(newCacheEntry(x.q[0], q.do, info, b, q.qEnd, optLen, fullLen))
	}
	h.metrics.answered(resp.Rcode, q.qtype)
	return b, false
}

// packAnswer packs resp, whose question is query's lower-cased, into out
// and puts query's question bytes (query[headerLen:qEnd], the same labels
// in the client's case) in its place when mixed. Names that the packer
// compressed to the question or to one of its suffixes (owner names, the
// zone part of CNAME targets and SOA names) then read in the client's case
// (RFC 4343 allows either; NSD and Knot answer so); names outside the
// question's suffixes keep the zone's spelling.
func packAnswer(resp *dns.Msg, out, query []byte, qEnd int, mixed bool) ([]byte, error) {
	resp.Compress = true
	b, err := resp.PackBuffer(out[:cap(out)])
	if err != nil {
		return nil, err
	}
	if mixed && len(b) >= qEnd {
		copy(b[headerLen:qEnd], query[headerLen:qEnd])
	}
	return b, nil
}

// newCacheEntry keeps the parts of packed answer b that do not depend on
// the query.
func newCacheEntry(q dns.Question, do bool, info answer.Info, b []byte, qEnd, optLen, fullLen int) *cacheEntry {
	ar := binary.BigEndian.Uint16(b[10:])
	if optLen > 0 {
		ar--
	}
	var staleAt int64
	if info.SigExpire != 0 {
		staleAt = dnssec.StaleAt(info.SigExpire)
	}
	// Name and tail in one allocation (cacheEntry.name).
	var kt strings.Builder
	kt.Grow(len(q.Name) + len(b) - optLen - qEnd)
	kt.WriteString(q.Name)
	kt.Write(b[qEnd : len(b)-optLen])
	nt := kt.String()
	return &cacheEntry{
		name: nt[:len(q.Name)], qtype: q.Qtype, qclass: q.Qclass, do: do, staleAt: staleAt, info: info,
		flags2: b[2] &^ flagRD, flags3: b[3] &^ flagCD,
		an: binary.BigEndian.Uint16(b[6:]), ns: binary.BigEndian.Uint16(b[8:]), ar: ar,
		fullLen: fullLen,
		tail:    nt[len(q.Name):],
	}
}

// appendCached writes the answer to query from a cache entry: header with
// the query's id, RD and CD, the question as the client sent it, the
// cached sections and, for an EDNS query, our OPT.
func appendCached(b, query []byte, q *fastQuery, e *cacheEntry) []byte {
	ar := e.ar
	if q.edns {
		ar++
	}
	b = append(b, query[0], query[1], e.flags2|query[2]&flagRD, e.flags3|query[3]&flagCD,
		0, 1, byte(e.an>>8), byte(e.an), byte(e.ns>>8), byte(e.ns), byte(ar>>8), byte(ar))
	b = append(b, query[headerLen:q.qEnd]...)
	b = append(b, e.tail...)
	if q.edns {
		b = appendOPT(b, q.do)
	}
	return b
}

// ourOPT returns the exchange's OPT record set up as ours: UDP size
// EDNSBufferSize, version 0, DO as asked, no options.
func (x *exchange) ourOPT(do bool) *dns.OPT {
	o := &x.opt
	*o = dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(EDNSBufferSize)
	if do {
		o.SetDo()
	}
	return o
}

// serveFull answers every query the fast path leaves: those the full
// parser accepts, and FORMERR for those it does not.
func (h *Handler) serveFull(ctx context.Context, query []byte, tcp bool, out []byte, upstream bool, wild *string) ([]byte, bool) {
	if query[2]&opcodeMask == 0 && binary.BigEndian.Uint16(query[4:]) != 1 {
		// A QUERY asks one question (RFC 1035 4.1.2, and RFC 9619 for
		// QDCOUNT > 1). The header decides: no unpacking, so that a flood
		// of these costs no allocation.
		return h.replyError(query, out, dns.RcodeFormatError, 0), false
	}
	x := h.msgs.Get().(*exchange)
	defer h.release(x)
	req, resp := &x.req, &x.resp
	if err := req.Unpack(query); err != nil {
		// RFC 1035 4.1.1, RCODE 1: "The name server was unable to
		// interpret the query." The header was readable (serve checked its
		// length), so the client gets an answer it can match by id.
		return h.replyError(query, out, dns.RcodeFormatError, 0), false
	}
	qtype := uint16(0)
	if len(req.Question) == 1 {
		qtype = req.Question[0].Qtype
	}
	if req.Opcode != dns.OpcodeQuery {
		// UPDATE, IQUERY, STATUS, DSO..., and NOTIFY unless WithNotify:
		// not implemented here (RFC 1035 4.1.1 RCODE 4), as NSD and Knot
		// answer them. Server sends NOTIFY to ServeNotify (notify.go).
		return h.replyError(query, out, dns.RcodeNotImplemented, qtype), false
	}
	reqOpt, ok := queryOPT(query, req)
	if !ok {
		return h.replyError(query, out, dns.RcodeFormatError, qtype), false
	}

	resp.Id = req.Id
	resp.Response = true
	resp.Opcode = req.Opcode
	resp.RecursionDesired = req.RecursionDesired
	resp.CheckingDisabled = req.CheckingDisabled
	resp.Question = append(resp.Question[:0], req.Question...)
	// As serveFast: packed lower-cased, sent as asked. ToLower returns the
	// name itself when it has no upper case (no allocation); the full
	// parser's names are ASCII (other bytes are escaped).
	resp.Question[0].Name = strings.ToLower(resp.Question[0].Name)

	switch {
	case reqOpt != nil && reqOpt.Version() != 0:
		// Before the options: their format is the unknown version's.
		resp.Rcode = dns.RcodeBadVers
	case reqOpt != nil && !optionsOK(reqOpt):
		return h.replyError(query, out, dns.RcodeFormatError, qtype), false
	case !h.ready.Load():
		resp.Rcode = dns.RcodeServerFailure
	default:
		info := h.engine.AnswerQueryDO(ctx, req.Question[0], resp, upstream, reqOpt != nil && reqOpt.Do())
		if info.Deferred {
			return nil, true
		}
		if wild != nil && info.Wildcard {
			*wild = info.Zone
		}
	}

	limit := MinUDPSize
	if reqOpt != nil {
		resp.Extra = append(resp.Extra, x.ourOPT(reqOpt.Do()))
		limit = min(max(int(reqOpt.UDPSize()), MinUDPSize), EDNSBufferSize)
	}
	if tcp {
		limit = dns.MaxMsgSize
	}
	truncate(resp, limit)
	// The question goes back as sent when it was read uncompressed (the
	// packer writes it the same length, lower-cased).
	qEnd := questionEnd(query)
	b, err := packAnswer(resp, out, query, qEnd, qEnd > 0 && resp.Question[0].Name != req.Question[0].Name)
	if err != nil {
		// Every RR we serve was packed once already, so this is a bug;
		// SERVFAIL rather than silence tells the client to try elsewhere.
		b = servfail(req, out)
		resp.Rcode = dns.RcodeServerFailure
	}
	h.metrics.answered(resp.Rcode, qtype)
	return b, false
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

// replyError answers query with a FORMERR or NOTIMP built from its bytes
// (appendError) and counts it.
func (h *Handler) replyError(query, out []byte, rcode int, qtype uint16) []byte {
	h.metrics.answered(rcode, qtype)
	return appendError(out[:0], query, rcode)
}

// queryOPT returns the query's OPT record, and false when the query is
// malformed for this server: QDCOUNT other than 1 (counted in the header:
// the parser forgives a count larger than the questions present), or an
// OPT record that is not alone, not in the additional section, or not
// owned by the root (RFC 6891 6.1.1 and 6.1.2).
func queryOPT(query []byte, req *dns.Msg) (*dns.OPT, bool) {
	if binary.BigEndian.Uint16(query[4:]) != 1 || len(req.Question) != 1 {
		return nil, false
	}
	for _, rrs := range [][]dns.RR{req.Answer, req.Ns} {
		for _, rr := range rrs {
			if rr.Header().Rrtype == dns.TypeOPT {
				return nil, false
			}
		}
	}
	var opt *dns.OPT
	for _, rr := range req.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			if opt != nil || o.Hdr.Name != "." {
				return nil, false
			}
			opt = o
		}
	}
	return opt, true
}

// optionsOK reports whether the options we read are well formed: a COOKIE
// must be 8 or 16 to 40 bytes long (RFC 7873 5.2.2). dns.Msg keeps the
// cookie hex-encoded, two characters a byte.
func optionsOK(opt *dns.OPT) bool {
	for _, o := range opt.Option {
		if c, ok := o.(*dns.EDNS0_COOKIE); ok && !cookieLenOK(len(c.Cookie)/2) {
			return false
		}
	}
	return true
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
	x.q[0] = dns.Question{}
	h.msgs.Put(x)
}

// Metrics are the query-path Prometheus metrics.
type Metrics struct {
	queries *prometheus.CounterVec
	drops   *prometheus.CounterVec
	// byCode caches the counters of queries by rcode and qtype: looking a
	// labelled counter up hashes its labels, a cost per query that an
	// array index does not have. Filled on first use.
	byCode                 [countedRcodes * countedQtypes]atomic.Pointer[prometheus.Counter]
	cacheHits, cacheMisses prometheus.Counter
	// TCP connections and response rate limiting (server.go).
	tcpOpen                prometheus.Gauge
	tcpRefused, tcpEvicted prometheus.Counter
	rrlDropped, rrlSlipped prometheus.Counter
}

// Bounds of Metrics.byCode; other codes take the slower path. Rcodes up
// to 16 (BADVERS) are the ones the edge sends.
const (
	countedRcodes = 17
	countedQtypes = 512
)

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, as in tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	cache := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "zonegrid", Subsystem: "edge", Name: "answer_cache_lookups_total",
		Help: "Packed-answer cache lookups, by result (hit, miss).",
	}, []string{"result"})
	tcpClosed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "zonegrid", Subsystem: "edge", Name: "tcp_connections_closed_total",
		Help: "TCP connections the edge closed itself: refused (the source holds its share, or every connection is busy) or evicted (idle longest when the table was full).",
	}, []string{"reason"})
	rrlTotal := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "zonegrid", Subsystem: "edge", Name: "rrl_responses_total",
		Help: "UDP responses over the response rate limit, by action (dropped, slipped: sent truncated).",
	}, []string{"action"})
	tcpOpen := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "zonegrid", Subsystem: "edge", Name: "tcp_connections_open",
		Help: "TCP connections open.",
	})
	m := &Metrics{
		tcpOpen:    tcpOpen,
		tcpRefused: tcpClosed.WithLabelValues("refused"),
		tcpEvicted: tcpClosed.WithLabelValues("evicted"),
		rrlDropped: rrlTotal.WithLabelValues("dropped"),
		rrlSlipped: rrlTotal.WithLabelValues("slipped"),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "queries_total",
			Help: "Queries answered, by response code and query type.",
		}, []string{"rcode", "qtype"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "dropped_packets_total",
			Help: "Packets dropped without an answer, by reason.",
		}, []string{"reason"}),
		cacheHits:   cache.WithLabelValues("hit"),
		cacheMisses: cache.WithLabelValues("miss"),
	}
	if reg != nil {
		reg.MustRegister(m.queries, m.drops, cache, tcpClosed, rrlTotal, tcpOpen)
	}
	return m
}

func (m *Metrics) answered(rcode int, qtype uint16) {
	i := -1
	if rcode >= 0 && rcode < countedRcodes && qtype < countedQtypes {
		i = rcode*countedQtypes + int(qtype)
		if c := m.byCode[i].Load(); c != nil {
			(*c).Inc()
			return
		}
	}
	rc := rcodeLabel(rcode)
	qt, ok := dns.TypeToString[qtype]
	if !ok {
		// Bounded label values: a client must not grow our series.
		qt = "OTHER"
	}
	c := m.queries.WithLabelValues(rc, qt)
	if i >= 0 {
		m.byCode[i].Store(&c)
	}
	c.Inc()
}

// rcodeLabel names a response code. 16 is BADVERS: dns.RcodeToString
// calls it BADSIG, its meaning in a TSIG record (RFC 8945), but the rcode
// of a response is the OPT record's extended RCODE, and 16 there is
// BADVERS (RFC 6891 9); the edge signs no messages (no TSIG).
func rcodeLabel(rcode int) string {
	if rcode == dns.RcodeBadVers {
		return "BADVERS"
	}
	if rc, ok := dns.RcodeToString[rcode]; ok {
		return rc
	}
	return "OTHER"
}

func (m *Metrics) dropped(reason string) { m.drops.WithLabelValues(reason).Inc() }
