// Package notify forwards the NOTIFY messages an edge accepted
// (edge/dnsserver answers them) to the control plane over NATS, at most a
// few per second per zone, so that a NOTIFY flood from an allowed address
// costs the control plane a few refreshes and never slows the edge.
package notify

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	pkgnotify "github.com/zonegrid/zonegrid/pkg/notify"
)

// DefaultInterval is the least time between two notices forwarded for
// one zone: two per second from each edge.
const DefaultInterval = 500 * time.Millisecond

// Publisher is what the forwarder publishes with: *nats.Conn. Publish must
// not block for long (a NATS connection buffers, and fails when its
// buffer is full rather than wait).
type Publisher interface {
	Publish(subject string, data []byte) error
}

// Config configures a Forwarder.
type Config struct {
	Publisher Publisher
	// Edge names this edge in the notices (e.g. its NATS client name).
	Edge string
	// Interval is the least time between two notices of one zone;
	// DefaultInterval when 0.
	Interval   time.Duration
	Registerer prometheus.Registerer
	Log        *zap.Logger
}

// Forwarder hands accepted notices to the control plane. It implements
// dnsserver.NotifySink and is safe for concurrent use.
type Forwarder struct {
	cfg       Config
	c         *pkgnotify.Coalescer[pkgnotify.Notice]
	forwarded prometheus.Counter
	dropped   *prometheus.CounterVec
}

// New returns a Forwarder.
func New(cfg Config) *Forwarder {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	f := &Forwarder{
		cfg: cfg,
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "notify_forwarded_total",
			Help: "Accepted NOTIFY notices published to the control plane.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "edge", Name: "notify_dropped_total",
			Help: "Accepted NOTIFY notices not published, by reason (coalesced: another notice of the zone within the interval stands for it; publish_error).",
		}, []string{"reason"}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(f.forwarded, f.dropped)
	}
	f.c = &pkgnotify.Coalescer[pkgnotify.Notice]{Interval: cfg.Interval, Emit: f.publish}
	return f
}

// Accept forwards n now, or at the end of the zone's interval (the last
// of those that arrived meanwhile). It does not block.
func (f *Forwarder) Accept(n pkgnotify.Notice) {
	n.Edge = f.cfg.Edge
	if f.c.Offer(n.Zone, n) == pkgnotify.Replaced {
		// It took the place of one waiting for the interval's end: one
		// notice (the newer) stands for both.
		f.dropped.WithLabelValues("coalesced").Inc()
	}
}

func (f *Forwarder) publish(_ string, n pkgnotify.Notice) {
	b, err := pkgnotify.Marshal(n)
	if err == nil {
		err = f.cfg.Publisher.Publish(pkgnotify.Subject(n.Zone), b)
	}
	if err != nil {
		f.dropped.WithLabelValues("publish_error").Inc()
		f.cfg.Log.Warn("NOTIFY notice not forwarded: the zone refreshes at its next scheduled check",
			zap.String("zone", n.Zone), zap.String("zone_id", n.ZoneID), zap.String("source", n.Source), zap.Error(err))
		return
	}
	f.forwarded.Inc()
	f.cfg.Log.Debug("NOTIFY forwarded", zap.String("zone", n.Zone), zap.String("zone_id", n.ZoneID),
		zap.String("source", n.Source), zap.Uint32("serial", n.Serial), zap.Bool("signed", n.Signed))
}
