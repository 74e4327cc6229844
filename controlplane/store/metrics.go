package store

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the record group committer.
type metrics struct {
	groups      *prometheus.CounterVec // by outcome
	groupWrites prometheus.Histogram   // writes per committed group
	indexLoads  *prometheus.CounterVec // by kind
	queued      prometheus.Gauge       // writes waiting for their zone's committer
	// recordCounts counts the zones' records etcd counted for a group
	// (a walk of every key of the zone: 0.5 s on a million records).
	recordCounts prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		groups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "store", Name: "record_groups_total",
			Help: "Group commits of record writes by outcome (committed, conflict, error).",
		}, []string{"outcome"}),
		groupWrites: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "zonegrid", Subsystem: "store", Name: "record_group_writes",
			Help:    "Record writes committed per etcd transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		indexLoads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "store", Name: "record_index_loads_total",
			Help: "Reads of records into a validation index: full (a zone read whole: first write, or another writer changed it) or on_demand (one lookup or prefetch of a zone too large to preload).",
		}, []string{"kind"}),
		recordCounts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "store", Name: "record_counts_total",
			Help: "Zone record counts etcd was asked for by a record write group (its zonemark held no count: first write since an older version or a direct write).",
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "zonegrid", Subsystem: "store", Name: "record_writes_queued",
			Help: "Record writes waiting for their zone's committer.",
		}),
	}
	if reg != nil {
		m.groups = register(reg, m.groups)
		m.groupWrites = register(reg, m.groupWrites)
		m.indexLoads = register(reg, m.indexLoads)
		m.queued = register(reg, m.queued)
		m.recordCounts = register(reg, m.recordCounts)
	}
	return m
}

// register tolerates a second store on the same registry (tests, or two
// stores in one process) by sharing the existing collector.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
