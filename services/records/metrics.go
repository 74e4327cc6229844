package records

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec
	written  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "records", Name: "requests_total",
			Help: "RecordService requests by method and gRPC code.",
		}, []string{"method", "code"}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "zonegrid", Subsystem: "records", Name: "records_written_total",
			Help: "Record puts and deletes committed to the store.",
		}, []string{"op"}),
	}
	if reg != nil {
		m.requests = register(reg, m.requests)
		m.written = register(reg, m.written)
	}
	return m
}

// register tolerates a second service on the same registry (tests, or two
// servers in one process) by sharing the existing collector.
func register(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
	}
	return c
}
