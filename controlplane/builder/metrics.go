package builder

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	zonesPublished    *prometheus.CounterVec
	accountsPublished prometheus.Counter
	publishSeconds    prometheus.Histogram
	lagRevisions      prometheus.Gauge
	publishedRevision prometheus.Gauge
	leader            prometheus.Gauge
	fullRebuilds      prometheus.Counter
	badRecords        prometheus.Counter
	skipped           prometheus.Counter
	fullRewrites      prometheus.Counter
	reconciles        *prometheus.CounterVec
	reconcileFixed    *prometheus.CounterVec
	cacheLookups      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		zonesPublished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zonegrid_builder_zones_published_total",
			Help: "Zone snapshots published, by how: kv (inline), object (object store), delta, deleted.",
		}, []string{"how"}),
		accountsPublished: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zonegrid_builder_accounts_published_total",
			Help: "Account snapshots published.",
		}),
		publishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "zonegrid_builder_publish_batch_seconds",
			Help:    "Time to compile and publish one batch of changes.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		lagRevisions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zonegrid_builder_lag_revisions",
			Help: "etcd revisions seen but not yet published when the last batch started.",
		}),
		publishedRevision: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zonegrid_builder_published_revision",
			Help: "Last etcd revision whose changes are published.",
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zonegrid_builder_leader",
			Help: "1 while this process is the publishing builder.",
		}),
		fullRebuilds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zonegrid_builder_full_rebuilds_total",
			Help: "Full rebuilds of every zone (first start, compacted history).",
		}),
		badRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zonegrid_builder_bad_records_total",
			Help: "Records skipped because they did not compile.",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zonegrid_builder_skipped_total",
			Help: "Zones or accounts skipped because their stored data cannot be published.",
		}),
		fullRewrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "zonegrid_builder_full_rewrites_total",
			Help: "Background rewrites of the full snapshot of a zone published as deltas.",
		}),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zonegrid_builder_reconciles_total",
			Help: "Comparisons of what NATS holds with etcd, by result (ok, repaired, failed).",
		}, []string{"result"}),
		reconcileFixed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zonegrid_builder_reconcile_republished_total",
			Help: "Zones and accounts republished by a reconcile, by reason (missing, older, divergent, object_missing, refill, account).",
		}, []string{"reason"}),
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zonegrid_builder_cache_lookups_total",
			Help: "Compiles whose zone data came from the builder's in-memory zone cache (hit) or from etcd (miss).",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.zonesPublished, m.accountsPublished, m.publishSeconds, m.lagRevisions,
			m.publishedRevision, m.leader, m.fullRebuilds, m.badRecords, m.skipped, m.fullRewrites,
			m.reconciles, m.reconcileFixed, m.cacheLookups)
	}
	return m
}
