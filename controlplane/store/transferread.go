package store

import (
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Reads of the transfer objects at a revision, for the zone builder: it
// compiles a zone's Transfer header (who may NOTIFY it, who may transfer
// it out, the linked key still sealed) at the batch's revision, so that
// the header is consistent with the rest of the snapshot.

// TransferConfigAt returns a zone's incoming and outgoing configurations
// at rev (0: latest), each nil when absent. One range read.
func (s *Store) TransferConfigAt(ctx context.Context, zoneID string, rev int64) (*dnsv1.IncomingTransfer, *dnsv1.OutgoingTransfer, error) {
	if !validID(zoneID) {
		return nil, nil, fmt.Errorf("transfer configuration of %q: %w", zoneID, ErrNotFound)
	}
	prefix := s.xfrZonesPrefix() + zoneID + "/"
	resp, err := s.getAt(ctx, prefix, rev, clientv3.WithPrefix())
	if err != nil {
		return nil, nil, fmt.Errorf("transfer configuration of %s: %w", zoneID, err)
	}
	var in *dnsv1.IncomingTransfer
	var out *dnsv1.OutgoingTransfer
	for _, kv := range resp.Kvs {
		switch TransferDirection(strings.TrimPrefix(string(kv.Key), prefix)) {
		case TransferIncoming:
			if in, err = unmarshal(kv.Value, &dnsv1.IncomingTransfer{}, "incoming transfer of "+zoneID); err != nil {
				return nil, nil, err
			}
		case TransferOutgoing:
			if out, err = unmarshal(kv.Value, &dnsv1.OutgoingTransfer{}, "outgoing transfer of "+zoneID); err != nil {
				return nil, nil, err
			}
		}
	}
	return in, out, nil
}

// TransferObjects is what an account's transfer configuration links: its
// peers by id, its ACLs, and its TSIG keys by id (secrets still sealed).
type TransferObjects struct {
	Peers map[string]*dnsv1.Peer
	ACLs  []*dnsv1.Acl
	Tsigs map[string]*dnsv1.StoredTsig
}

// TransferObjectsAt reads an account's peers, ACLs and TSIG keys at rev:
// three range reads at once (the builder waits on them when it publishes a
// zone with a transfer configuration; the per-account limit bounds each).
func (s *Store) TransferObjectsAt(ctx context.Context, accountID string, rev int64) (*TransferObjects, error) {
	if !validID(accountID) {
		return nil, fmt.Errorf("transfer objects of %q: %w", accountID, ErrNotFound)
	}
	var (
		peers []*dnsv1.Peer
		acls  []*dnsv1.Acl
		tsigs []*dnsv1.StoredTsig
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		if peers, _, err = listAll(gctx, s, s.peersPrefix(accountID), rev, func() *dnsv1.Peer { return &dnsv1.Peer{} }, "peer"); err != nil {
			return fmt.Errorf("peers of account %s: %w", accountID, err)
		}
		return nil
	})
	g.Go(func() (err error) {
		if acls, _, err = listAll(gctx, s, s.aclsPrefix(accountID), rev, func() *dnsv1.Acl { return &dnsv1.Acl{} }, "acl"); err != nil {
			return fmt.Errorf("acls of account %s: %w", accountID, err)
		}
		return nil
	})
	g.Go(func() (err error) {
		if tsigs, _, err = listAll(gctx, s, s.tsigsPrefix(accountID), rev, func() *dnsv1.StoredTsig { return &dnsv1.StoredTsig{} }, "tsig"); err != nil {
			return fmt.Errorf("tsigs of account %s: %w", accountID, err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	o := &TransferObjects{Peers: make(map[string]*dnsv1.Peer, len(peers)), ACLs: acls, Tsigs: make(map[string]*dnsv1.StoredTsig, len(tsigs))}
	for _, p := range peers {
		o.Peers[p.GetId()] = p
	}
	for _, t := range tsigs {
		o.Tsigs[t.GetTsig().GetId()] = t
	}
	return o, nil
}

// TransferZoneNamesOfAccountAt returns the names of the account's zones
// that have a transfer configuration (either direction) at rev: the zones
// whose Transfer header a change of the account's TSIG keys, peers or
// ACLs may change. Two range reads, the second keys only.
func (s *Store) TransferZoneNamesOfAccountAt(ctx context.Context, accountID string, rev int64) ([]string, error) {
	if !validID(accountID) {
		return nil, nil
	}
	zones, err := s.getAt(ctx, s.accountZonesPrefix(accountID), rev, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("zones of account %s: %w", accountID, err)
	}
	if len(zones.Kvs) == 0 {
		return nil, nil
	}
	cfgs, err := s.getAt(ctx, s.xfrZonesPrefix(), rev, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("transfer configurations: %w", err)
	}
	with := make(map[string]bool, len(cfgs.Kvs))
	for _, kv := range cfgs.Kvs {
		if id, _, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), s.xfrZonesPrefix()), "/"); ok {
			with[id] = true
		}
	}
	var names []string
	prefix := s.accountZonesPrefix(accountID)
	for _, kv := range zones.Kvs {
		if with[string(kv.Value)] {
			names = append(names, strings.TrimPrefix(string(kv.Key), prefix))
		}
	}
	return names, nil
}
