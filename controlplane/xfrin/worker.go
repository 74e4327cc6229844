package xfrin

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/store"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// DefaultRefresh is a secondary zone's refresh interval when its incoming
// configuration sets none (docs/ZONE_TRANSFERS.md).
const DefaultRefresh = 86400 * time.Second

// TsigOpener returns the secret (raw bytes) of a stored TSIG key; the
// server gives services/transfers.OpenTsigSecret with its key ring.
type TsigOpener func(*dnsv1.StoredTsig) ([]byte, error)

// WorkerConfig configures the incoming-transfer worker.
type WorkerConfig struct {
	OpenTsig   TsigOpener
	Limits     Limits
	Registerer prometheus.Registerer
}

// Worker keeps secondary zones equal to their primaries. Like the DNSSEC
// worker it has no loop of its own: the zone lifecycle worker calls Step
// while it holds its election, so one control plane owns every secondary
// zone's refresh at a time, and a new leader carries on from the status
// stored in etcd.
type Worker struct {
	st  *store.Store
	cfg WorkerConfig
	log *zap.Logger

	transfers *prometheus.CounterVec
	// locks holds a *sync.Mutex per zone id: a zone is refreshed by one
	// caller at a time (the scheduled Step, a NOTIFY request taken by
	// controlplane/notifyin, RefreshSecondary), never twice at once.
	locks sync.Map
}

// lockZone locks the zone's refresh and returns the unlock.
func (w *Worker) lockZone(zoneID string) func() {
	m, _ := w.locks.LoadOrStore(zoneID, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// NewWorker returns the worker.
func NewWorker(st *store.Store, cfg WorkerConfig, log *zap.Logger) *Worker {
	if log == nil {
		log = zap.NewNop()
	}
	w := &Worker{st: st, cfg: cfg, log: log,
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zonegrid_xfrin_attempts_total", Help: "Incoming zone transfer attempts, by method (soa, axfr, ixfr) and result (ok, uptodate, error).",
		}, []string{"method", "result"}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(w.transfers)
	}
	return w
}

// Step refreshes every secondary zone whose refresh is due at now.
func (w *Worker) Step(ctx context.Context, now time.Time) error {
	ids, err := w.st.TransferZoneIDs(ctx, store.TransferIncoming)
	if err != nil {
		return err
	}
	forced, err := w.st.ForceAxfrRequests(ctx)
	if err != nil {
		return err
	}
	// NOTIFY requests controlplane/notifyin did not take at once (no
	// leader then, or it failed) are taken here.
	notified, err := w.st.NotifyRequests(ctx)
	if err != nil {
		return err
	}
	failed := 0
	for _, id := range ids {
		rev, axfr := forced[id]
		nrev, notify := notified[id]
		err := w.refresh(ctx, id, now, axfr || notify, axfr)
		if err == nil && axfr {
			err = w.st.ClearForceAxfr(ctx, id, rev)
		}
		if err == nil && notify {
			err = w.st.ClearNotifyRequest(ctx, id, nrev)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failed++
			w.log.Warn("secondary zone refresh failed", zap.String("zone_id", id), zap.Error(err))
		}
	}
	if failed > 0 {
		return fmt.Errorf("incoming transfers: %d of %d zones failed", failed, len(ids))
	}
	return nil
}

// Refresh checks the zone's primaries when its refresh is due (or always,
// with force: a NOTIFY or an operator's request) and transfers what is
// newer. The outcome is stored as the zone's incoming transfer status;
// the error is for what kept the worker from recording it.
func (w *Worker) Refresh(ctx context.Context, zoneID string, now time.Time, force bool) error {
	return w.refresh(ctx, zoneID, now, force, false)
}

// refresh is Refresh; with axfr the whole zone is transferred whatever
// the serials say ("force AXFR").
func (w *Worker) refresh(ctx context.Context, zoneID string, now time.Time, force, axfr bool) error {
	defer w.lockZone(zoneID)()
	in, err := w.st.GetIncomingTransfer(ctx, zoneID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(in.GetPeers()) == 0 {
		return nil
	}
	z, err := w.st.GetZone(ctx, zoneID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if z.GetType() != dnsv1.ZoneType_ZONE_TYPE_SECONDARY || z.GetStatus() == dnsv1.ZoneStatus_ZONE_STATUS_DELETED {
		return nil
	}
	status, err := w.st.GetTransferStatus(ctx, zoneID, store.TransferIncoming)
	if errors.Is(err, store.ErrNotFound) {
		status, err = &dnsv1.TransferStatus{}, nil
	}
	if err != nil {
		return err
	}
	prev := status.GetState() // events.go: alerts on a change of state
	refresh := time.Duration(in.GetAutoRefreshSeconds()) * time.Second
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	if last := status.GetLastCheckTime(); !force && last != nil && now.Before(last.AsTime().Add(refresh)) {
		return nil
	}
	var have *uint32
	if status.GetLastTransferTime() != nil && !axfr {
		s := status.GetSerial()
		have = &s
	}
	peers := map[string]*dnsv1.PeerTransferStatus{}
	for _, p := range status.GetPeers() {
		peers[p.GetPeerId()] = p
	}
	ts := timestamppb.New(now)
	attempted, failed := 0, 0
	var messages []string
	for _, pid := range in.GetPeers() {
		ps := peers[pid]
		if ps == nil {
			ps = &dnsv1.PeerTransferStatus{PeerId: pid}
			peers[pid] = ps
		}
		attempted++
		msg, serial, newHave, err := w.fromPeer(ctx, z, pid, have, now)
		if err != nil {
			failed++
			ps.LastError, ps.LastErrorTime = err.Error(), ts
			messages = append(messages, fmt.Sprintf("peer %s: %v", pid, err))
			continue
		}
		ps.LastError, ps.LastSuccessTime, ps.Serial = "", ts, serial
		messages = append(messages, fmt.Sprintf("peer %s: %s", pid, msg))
		if newHave != nil {
			have = newHave
			status.Serial, status.LastTransferTime = *newHave, ts
		}
		break // one primary that answered is enough this round
	}
	status.Peers = status.Peers[:0]
	for _, pid := range in.GetPeers() {
		if p := peers[pid]; p != nil {
			status.Peers = append(status.Peers, p)
		}
	}
	switch {
	case failed == 0:
		status.State = dnsv1.TransferState_TRANSFER_STATE_OK
	case failed < attempted: // a later primary answered
		status.State = dnsv1.TransferState_TRANSFER_STATE_DEGRADED
	default:
		status.State = dnsv1.TransferState_TRANSFER_STATE_FAILING
	}
	status.Message = strings.Join(messages, "; ")
	status.LastCheckTime, status.UpdatedOn = ts, ts
	if err := w.emit(ctx, z, prev, status, now); err != nil {
		return err
	}
	if err := w.st.PutTransferStatus(ctx, zoneID, store.TransferIncoming, status); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// fromPeer checks one primary and transfers from it when it is newer. It
// returns what happened, the primary's serial, and the serial now held
// when a transfer was applied.
func (w *Worker) fromPeer(ctx context.Context, z *dnsv1.Zone, peerID string, have *uint32, now time.Time) (string, uint32, *uint32, error) {
	p, err := w.primary(ctx, z.GetAccountId(), peerID)
	if err != nil {
		return "", 0, nil, err
	}
	serial, err := SerialOf(ctx, p, z.GetName())
	if err != nil {
		w.transfers.WithLabelValues("soa", "error").Inc()
		return "", 0, nil, err
	}
	if have != nil && !Newer(serial, *have) {
		w.transfers.WithLabelValues("soa", "uptodate").Inc()
		if serial != *have {
			return fmt.Sprintf("serial %d is older than the %d held: kept the zone as it is", serial, *have), serial, nil, nil
		}
		return fmt.Sprintf("up to date at serial %d", serial), serial, nil, nil
	}
	res, err := Fetch(ctx, p, z.GetName(), have, w.cfg.Limits)
	if err != nil && p.IXFR && have != nil {
		// IXFR refused or broken: AXFR, as RFC 1995 allows.
		w.transfers.WithLabelValues("ixfr", "error").Inc()
		w.log.Info("IXFR failed, falling back to AXFR", zap.String("zone", z.GetName()), zap.String("peer", peerID), zap.Error(err))
		p.IXFR = false
		res, err = Fetch(ctx, p, z.GetName(), have, w.cfg.Limits)
	}
	method := "axfr"
	if p.IXFR && have != nil {
		method = "ixfr"
	}
	if err != nil {
		w.transfers.WithLabelValues(method, "error").Inc()
		return "", serial, nil, err
	}
	if res.UpToDate {
		w.transfers.WithLabelValues(method, "uptodate").Inc()
		return fmt.Sprintf("up to date at serial %d", res.Serial), res.Serial, nil, nil
	}
	a, err := Apply(ctx, w.st, z.GetId(), res, now)
	if err != nil {
		w.transfers.WithLabelValues(method, "error").Inc()
		return "", res.Serial, nil, err
	}
	w.transfers.WithLabelValues(method, "ok").Inc()
	w.log.Info("zone transferred", zap.String("zone", z.GetName()), zap.String("peer", peerID), zap.String("method", res.Method),
		zap.Uint32("serial", res.Serial), zap.Int("put", a.Put), zap.Int("deleted", a.Deleted), zap.Int("skipped", len(a.Skipped)))
	msg := fmt.Sprintf("%s to serial %d: %d records written, %d deleted", res.Method, res.Serial, a.Put, a.Deleted)
	if len(a.Skipped) > 0 {
		msg += fmt.Sprintf(", %d skipped (%s)", len(a.Skipped), a.Skipped[0])
	}
	s := res.Serial
	return msg, res.Serial, &s, nil
}

// primary turns a peer into a Primary, its TSIG secret opened.
func (w *Worker) primary(ctx context.Context, accountID, peerID string) (Primary, error) {
	peer, err := w.st.GetPeer(ctx, accountID, peerID)
	if err != nil {
		return Primary{}, fmt.Errorf("peer %s: %w", peerID, err)
	}
	port := peer.GetPort()
	if port == 0 {
		port = 53
	}
	p := Primary{Addr: net.JoinHostPort(peer.GetIp(), strconv.Itoa(int(port))), IXFR: peer.GetIxfrEnable()}
	if tid := peer.GetTsigId(); tid != "" {
		t, err := w.st.GetTsig(ctx, accountID, tid)
		if err != nil {
			return Primary{}, fmt.Errorf("tsig %s of peer %s: %w", tid, peerID, err)
		}
		if w.cfg.OpenTsig == nil {
			return Primary{}, fmt.Errorf("tsig %s of peer %s: no key to open it with", tid, peerID)
		}
		secret, err := w.cfg.OpenTsig(t)
		if err != nil {
			return Primary{}, err
		}
		p.TSIG = &TSIG{Name: t.GetTsig().GetName(), Algorithm: t.GetTsig().GetAlgorithm(), Secret: base64.StdEncoding.EncodeToString(secret)}
	}
	return p, nil
}
