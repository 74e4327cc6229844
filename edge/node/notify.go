package node

import (
	"errors"
	"os"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/edge/notify"
)

// noticeConn is the forwarder's publisher: the NATS connection exists only
// once Start connects, after the handler (which holds the forwarder) was
// built in New. A notice accepted before that is not forwarded (counted).
type noticeConn struct{ nc atomic.Pointer[nats.Conn] }

func (c *noticeConn) Publish(subject string, data []byte) error {
	nc := c.nc.Load()
	if nc == nil {
		return errors.New("not connected to NATS yet")
	}
	return nc.Publish(subject, data)
}

// newNotices returns the forwarder of accepted NOTIFY messages
// (edge/notify) and the connection slot Start fills.
func newNotices(log *zap.Logger, reg prometheus.Registerer) (*notify.Forwarder, *noticeConn) {
	conn := &noticeConn{}
	host, _ := os.Hostname()
	return notify.New(notify.Config{Publisher: conn, Edge: host, Registerer: reg, Log: log}), conn
}
