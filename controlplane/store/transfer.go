package store

// Zone transfer objects (docs/ZONE_TRANSFERS.md): an account's TSIG keys,
// peers and ACLs, and the incoming/outgoing configuration of its zones.
//
// Keys (under <p>/data/ because the edges will need ACLs and peers to
// check NOTIFY and transfer requests; ParseDataKey maps them to
// KindUnknown, which the builder ignores):
//
//	<p>/data/transfer/accounts/<acct>/tsigs/<id>                       dns.v1.StoredTsig (secret sealed)
//	<p>/data/transfer/accounts/<acct>/peers/<id>                       dns.v1.Peer
//	<p>/data/transfer/accounts/<acct>/acls/<id>                        dns.v1.Acl
//	<p>/data/transfer/accounts/<acct>/peerlinks/<peer>/<zone>/<dir>    "" (the zone's <dir> config links the peer)
//	<p>/data/transfer/zones/<zone_id>/incoming                         dns.v1.IncomingTransfer (status empty)
//	<p>/data/transfer/zones/<zone_id>/outgoing                         dns.v1.OutgoingTransfer (status empty)
//
// The transfer worker's results change often and must not wake the
// builder, so they live outside data/:
//
//	<p>/xfr/status/<zone_id>/<dir>                                     dns.v1.TransferStatus
//
// The peerlinks index lets DeletePeer refuse a linked peer in the same
// transaction (a compare that the link range is empty) and lets
// UpdatePeer find the zones whose TSIG rule a change could break.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// TransferDirection is a zone's transfer direction: incoming (we are
// secondary) or outgoing (we are primary).
type TransferDirection string

// Transfer directions; the values are key segments.
const (
	TransferIncoming TransferDirection = "incoming"
	TransferOutgoing TransferDirection = "outgoing"
)

// ErrInUse is wrapped by deletions refused because another object links
// the one deleted (a peer linking a TSIG, a zone linking a peer).
var ErrInUse = errors.New("in use")

// Audit resource types of the transfer objects. A TSIG is audited without
// its secret.
const (
	AuditTsig             = "tsig"
	AuditPeer             = "transfer_peer"
	AuditACL              = "transfer_acl"
	AuditIncomingTransfer = "incoming_transfer"
	AuditOutgoingTransfer = "outgoing_transfer"
)

func (s *Store) xfrAcctPrefix(acct string) string {
	return s.prefix + "/data/transfer/accounts/" + acct + "/"
}
func (s *Store) tsigsPrefix(acct string) string { return s.xfrAcctPrefix(acct) + "tsigs/" }
func (s *Store) tsigKey(acct, id string) string { return s.tsigsPrefix(acct) + id }
func (s *Store) peersPrefix(acct string) string { return s.xfrAcctPrefix(acct) + "peers/" }
func (s *Store) peerKey(acct, id string) string { return s.peersPrefix(acct) + id }
func (s *Store) aclsPrefix(acct string) string  { return s.xfrAcctPrefix(acct) + "acls/" }
func (s *Store) aclKey(acct, id string) string  { return s.aclsPrefix(acct) + id }
func (s *Store) peerLinksPrefix(acct, peer string) string {
	return s.xfrAcctPrefix(acct) + "peerlinks/" + peer + "/"
}
func (s *Store) peerLinkKey(acct, peer, zoneID string, dir TransferDirection) string {
	return s.peerLinksPrefix(acct, peer) + zoneID + "/" + string(dir)
}
func (s *Store) xfrZonesPrefix() string { return s.prefix + "/data/transfer/zones/" }
func (s *Store) xfrZoneKey(zoneID string, dir TransferDirection) string {
	return s.xfrZonesPrefix() + zoneID + "/" + string(dir)
}
func (s *Store) xfrStatusPrefix(zoneID string) string {
	return s.prefix + "/xfr/status/" + zoneID + "/"
}
func (s *Store) xfrStatusKey(zoneID string, dir TransferDirection) string {
	return s.xfrStatusPrefix(zoneID) + string(dir)
}

// getOne reads key at rev (0: latest) into m; ErrNotFound (wrapped with
// what) when absent. It returns the key's mod revision and the read's
// revision.
func getOne[T proto.Message](ctx context.Context, s *Store, key string, rev int64, m T, what string) (T, int64, int64, error) {
	resp, err := s.getAt(ctx, key, rev)
	if err != nil {
		return m, 0, 0, err
	}
	if len(resp.Kvs) == 0 {
		return m, 0, resp.Header.Revision, fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	m, err = unmarshal(resp.Kvs[0].Value, m, what)
	return m, resp.Kvs[0].ModRevision, resp.Header.Revision, err
}

// listAll reads every value under prefix.
func listAll[T proto.Message](ctx context.Context, s *Store, prefix string, rev int64, newT func() T, what string) ([]T, int64, error) {
	resp, err := s.getAt(ctx, prefix, rev, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, err
	}
	out := make([]T, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		m, err := unmarshal(kv.Value, newT(), what)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, m)
	}
	return out, resp.Header.Revision, nil
}

// CountTransferObjects counts the account's objects of one kind ("tsigs",
// "peers", "acls"), for the services' per-account limits.
func (s *Store) CountTransferObjects(ctx context.Context, accountID, kind string) (int, error) {
	if !validID(accountID) {
		return 0, nil
	}
	resp, err := s.getAt(ctx, s.xfrAcctPrefix(accountID)+kind+"/", 0, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return int(resp.Count), nil
}

// commitAudited commits cmps and ops with one audit entry of changes,
// returning whether the compares held.
func (s *Store) commitAudited(ctx context.Context, in auditInput, cmps []clientv3.Cmp, ops []clientv3.Op) (bool, error) {
	audit, err := s.auditPut(ctx, in)
	if err != nil {
		return false, err
	}
	tr, err := s.commitWrite(ctx, cmps, append(ops, audit...))
	if err != nil {
		return false, fmt.Errorf("%s: etcd txn: %w", in.Op, err)
	}
	return tr.Succeeded, nil
}

// redactTsig is what the audit log and the API show of a stored TSIG.
func redactTsig(t *dnsv1.StoredTsig) *dnsv1.Tsig { return t.GetTsig() }

// CreateTsig stores a new TSIG key (its secret already sealed);
// ErrAlreadyExists if the id is taken.
func (s *Store) CreateTsig(ctx context.Context, t *dnsv1.StoredTsig) error {
	acct, id := t.GetTsig().GetAccountId(), t.GetTsig().GetId()
	if !validID(acct) || !validID(id) {
		return fmt.Errorf("create tsig %q of %q: invalid id", id, acct)
	}
	return s.createObject(ctx, "CreateTsig", acct, s.tsigKey(acct, id), t, AuditTsig, id, redactTsig(t), nil)
}

// createObject puts m at key if absent, with extra compares (the objects
// it links).
func (s *Store) createObject(ctx context.Context, op, acct, key string, m proto.Message, auditType, id string, audited proto.Message, cmps []clientv3.Cmp) error {
	v, err := marshal(m, auditType+" "+id)
	if err != nil {
		return err
	}
	ch, err := auditChange(auditType, id, nil, audited)
	if err != nil {
		return err
	}
	ok, err := s.commitAudited(ctx, auditInput{AccountID: acct, Op: op, Changes: []*dnsv1.AuditChange{ch}},
		append([]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)}, cmps...),
		[]clientv3.Op{clientv3.OpPut(key, v)})
	if err != nil {
		return err
	}
	if !ok {
		// A concurrent retry of the same request id committed first.
		if err := s.idemAttempt(ctx, 1); err != nil {
			return err
		}
		return fmt.Errorf("%s %s: %w", auditType, id, ErrConflict)
	}
	return nil
}

// GetTsig returns the account's TSIG key with its sealed secret, or
// ErrNotFound. The transfer worker opens the secret with
// services/transfers.OpenTsigSecret.
func (s *Store) GetTsig(ctx context.Context, accountID, id string) (*dnsv1.StoredTsig, error) {
	if !validID(accountID) || !validID(id) {
		return nil, fmt.Errorf("tsig %q: %w", id, ErrNotFound)
	}
	t, _, _, err := getOne(ctx, s, s.tsigKey(accountID, id), 0, &dnsv1.StoredTsig{}, "tsig "+id)
	return t, err
}

// ListTsigs returns the account's TSIG keys (sealed secrets included), by
// id.
func (s *Store) ListTsigs(ctx context.Context, accountID string) ([]*dnsv1.StoredTsig, error) {
	if !validID(accountID) {
		return nil, nil
	}
	l, _, err := listAll(ctx, s, s.tsigsPrefix(accountID), 0, func() *dnsv1.StoredTsig { return &dnsv1.StoredTsig{} }, "tsig")
	return l, err
}

// DeleteTsig deletes a TSIG key; ErrInUse while a peer links it. The
// compare on the peers' range makes a peer linked meanwhile fail the
// transaction (and the retry see it).
func (s *Store) DeleteTsig(ctx context.Context, accountID, id string) error {
	if !validID(accountID) || !validID(id) {
		return fmt.Errorf("tsig %q: %w", id, ErrNotFound)
	}
	key := s.tsigKey(accountID, id)
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return err
		}
		t, modRev, rev, err := getOne(ctx, s, key, 0, &dnsv1.StoredTsig{}, "tsig "+id)
		if err != nil {
			return err
		}
		peers, _, err := listAll(ctx, s, s.peersPrefix(accountID), rev, func() *dnsv1.Peer { return &dnsv1.Peer{} }, "peer")
		if err != nil {
			return err
		}
		for _, p := range peers {
			if p.GetTsigId() == id {
				return fmt.Errorf("tsig %s: peer %s (%s) links it: %w", id, p.GetId(), p.GetName(), ErrInUse)
			}
		}
		ch, err := auditChange(AuditTsig, id, redactTsig(t), nil)
		if err != nil {
			return err
		}
		ok, err := s.commitAudited(ctx, auditInput{AccountID: accountID, Op: "DeleteTsig", Changes: []*dnsv1.AuditChange{ch}},
			[]clientv3.Cmp{
				clientv3.Compare(clientv3.ModRevision(key), "=", modRev),
				clientv3.Compare(clientv3.ModRevision(s.peersPrefix(accountID)).WithPrefix(), "<", rev+1),
			},
			[]clientv3.Op{clientv3.OpDelete(key)})
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("delete tsig %s: %w", id, ErrConflict)
}

// tsigCmp is the compare that the account's TSIG id still exists as read
// at modRev.
func (s *Store) tsigCmp(acct, id string, modRev int64) clientv3.Cmp {
	return clientv3.Compare(clientv3.ModRevision(s.tsigKey(acct, id)), "=", modRev)
}

// CreatePeer stores a new peer; its TSIG, when set, must exist (checked
// in the same transaction): ErrNotFound naming it otherwise.
func (s *Store) CreatePeer(ctx context.Context, p *dnsv1.Peer) error {
	acct, id := p.GetAccountId(), p.GetId()
	if !validID(acct) || !validID(id) {
		return fmt.Errorf("create peer %q of %q: invalid id", id, acct)
	}
	var cmps []clientv3.Cmp
	if tid := p.GetTsigId(); tid != "" {
		if !validID(tid) {
			return fmt.Errorf("tsig %q: %w", tid, ErrNotFound)
		}
		_, modRev, _, err := getOne(ctx, s, s.tsigKey(acct, tid), 0, &dnsv1.StoredTsig{}, "tsig "+tid)
		if err != nil {
			return err
		}
		cmps = append(cmps, s.tsigCmp(acct, tid, modRev))
	}
	return s.createObject(ctx, "CreatePeer", acct, s.peerKey(acct, id), p, AuditPeer, id, p, cmps)
}

// GetPeer returns the account's peer, or ErrNotFound.
func (s *Store) GetPeer(ctx context.Context, accountID, id string) (*dnsv1.Peer, error) {
	if !validID(accountID) || !validID(id) {
		return nil, fmt.Errorf("peer %q: %w", id, ErrNotFound)
	}
	p, _, _, err := getOne(ctx, s, s.peerKey(accountID, id), 0, &dnsv1.Peer{}, "peer "+id)
	return p, err
}

// ListPeers returns the account's peers, by id.
func (s *Store) ListPeers(ctx context.Context, accountID string) ([]*dnsv1.Peer, error) {
	if !validID(accountID) {
		return nil, nil
	}
	l, _, err := listAll(ctx, s, s.peersPrefix(accountID), 0, func() *dnsv1.Peer { return &dnsv1.Peer{} }, "peer")
	return l, err
}

// PeerGroup is one zone configuration linking a peer, with the other peers
// it links: UpdatePeer's callback checks the TSIG rule on each.
type PeerGroup struct {
	ZoneID    string
	Direction TransferDirection
	Others    []*dnsv1.Peer
}

// UpdatePeer replaces a peer by what fn returns. fn gets the peer and the
// zone configurations linking it (read at one revision); the transaction
// fails, and fn runs again, if any of them, their peers, the peer's links
// or the new TSIG changed meanwhile.
func (s *Store) UpdatePeer(ctx context.Context, accountID, id string, fn func(cur *dnsv1.Peer, groups []PeerGroup) (*dnsv1.Peer, error)) (*dnsv1.Peer, error) {
	if !validID(accountID) || !validID(id) {
		return nil, fmt.Errorf("peer %q: %w", id, ErrNotFound)
	}
	key := s.peerKey(accountID, id)
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return nil, err
		}
		cur, modRev, rev, err := getOne(ctx, s, key, 0, &dnsv1.Peer{}, "peer "+id)
		if err != nil {
			return nil, err
		}
		linksPrefix := s.peerLinksPrefix(accountID, id)
		cmps := []clientv3.Cmp{
			clientv3.Compare(clientv3.ModRevision(key), "=", modRev),
			clientv3.Compare(clientv3.ModRevision(linksPrefix).WithPrefix(), "<", rev+1),
		}
		links, err := s.getAt(ctx, linksPrefix, rev, clientv3.WithPrefix(), clientv3.WithKeysOnly())
		if err != nil {
			return nil, err
		}
		var groups []PeerGroup
		seen := map[string]bool{id: true}
		for _, kv := range links.Kvs {
			zoneID, dir, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), linksPrefix), "/")
			if !ok {
				continue
			}
			d := TransferDirection(dir)
			cfgKey := s.xfrZoneKey(zoneID, d)
			peerIDs, cfgRev, err := s.linkedPeers(ctx, cfgKey, d, rev)
			if err != nil {
				return nil, err
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(cfgKey), "=", cfgRev))
			g := PeerGroup{ZoneID: zoneID, Direction: d}
			for _, pid := range peerIDs {
				if pid == id {
					continue
				}
				p, pRev, _, err := getOne(ctx, s, s.peerKey(accountID, pid), rev, &dnsv1.Peer{}, "peer "+pid)
				if errors.Is(err, ErrNotFound) {
					continue // cannot happen: a linked peer cannot be deleted
				}
				if err != nil {
					return nil, err
				}
				if !seen[pid] {
					seen[pid] = true
					cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.peerKey(accountID, pid)), "=", pRev))
				}
				g.Others = append(g.Others, p)
			}
			groups = append(groups, g)
		}
		before := protoClone(cur)
		next, err := fn(cur, groups)
		if err != nil {
			return nil, err
		}
		next.Id, next.AccountId = id, accountID
		if tid := next.GetTsigId(); tid != "" {
			if !validID(tid) {
				return nil, fmt.Errorf("tsig %q: %w", tid, ErrNotFound)
			}
			_, tRev, _, err := getOne(ctx, s, s.tsigKey(accountID, tid), rev, &dnsv1.StoredTsig{}, "tsig "+tid)
			if err != nil {
				return nil, err
			}
			cmps = append(cmps, s.tsigCmp(accountID, tid, tRev))
		}
		v, err := marshal(next, "peer "+id)
		if err != nil {
			return nil, err
		}
		ch, err := auditChange(AuditPeer, id, before, next)
		if err != nil {
			return nil, err
		}
		ok, err := s.commitAudited(ctx, auditInput{AccountID: accountID, Op: "UpdatePeer", Changes: []*dnsv1.AuditChange{ch}},
			cmps, []clientv3.Op{clientv3.OpPut(key, v)})
		if err != nil {
			return nil, err
		}
		if ok {
			return next, nil
		}
	}
	return nil, fmt.Errorf("update peer %s: %w", id, ErrConflict)
}

// linkedPeers reads the peer ids a zone configuration links and its mod
// revision (0 and no ids when absent).
func (s *Store) linkedPeers(ctx context.Context, key string, dir TransferDirection, rev int64) ([]string, int64, error) {
	resp, err := s.getAt(ctx, key, rev)
	if err != nil || len(resp.Kvs) == 0 {
		return nil, 0, err
	}
	var m interface{ GetPeers() []string }
	if dir == TransferIncoming {
		m, err = unmarshal(resp.Kvs[0].Value, &dnsv1.IncomingTransfer{}, key)
	} else {
		m, err = unmarshal(resp.Kvs[0].Value, &dnsv1.OutgoingTransfer{}, key)
	}
	if err != nil {
		return nil, 0, err
	}
	return m.GetPeers(), resp.Kvs[0].ModRevision, nil
}

// DeletePeer deletes a peer; ErrInUse while a zone links it (the link
// range is compared empty in the transaction).
func (s *Store) DeletePeer(ctx context.Context, accountID, id string) error {
	if !validID(accountID) || !validID(id) {
		return fmt.Errorf("peer %q: %w", id, ErrNotFound)
	}
	key := s.peerKey(accountID, id)
	linksPrefix := s.peerLinksPrefix(accountID, id)
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return err
		}
		p, modRev, rev, err := getOne(ctx, s, key, 0, &dnsv1.Peer{}, "peer "+id)
		if err != nil {
			return err
		}
		links, err := s.getAt(ctx, linksPrefix, rev, clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithLimit(1))
		if err != nil {
			return err
		}
		if len(links.Kvs) > 0 {
			zoneID, dir, _ := strings.Cut(strings.TrimPrefix(string(links.Kvs[0].Key), linksPrefix), "/")
			return fmt.Errorf("peer %s: the %s configuration of zone %s links it: %w", id, dir, zoneID, ErrInUse)
		}
		ch, err := auditChange(AuditPeer, id, p, nil)
		if err != nil {
			return err
		}
		ok, err := s.commitAudited(ctx, auditInput{AccountID: accountID, Op: "DeletePeer", Changes: []*dnsv1.AuditChange{ch}},
			[]clientv3.Cmp{
				clientv3.Compare(clientv3.ModRevision(key), "=", modRev),
				clientv3.Compare(clientv3.CreateRevision(linksPrefix).WithPrefix(), "=", 0),
			},
			[]clientv3.Op{clientv3.OpDelete(key)})
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("delete peer %s: %w", id, ErrConflict)
}

// CreateACL stores a new ACL.
func (s *Store) CreateACL(ctx context.Context, a *dnsv1.Acl) error {
	acct, id := a.GetAccountId(), a.GetId()
	if !validID(acct) || !validID(id) {
		return fmt.Errorf("create acl %q of %q: invalid id", id, acct)
	}
	return s.createObject(ctx, "CreateAcl", acct, s.aclKey(acct, id), a, AuditACL, id, a, nil)
}

// GetACL returns the account's ACL, or ErrNotFound.
func (s *Store) GetACL(ctx context.Context, accountID, id string) (*dnsv1.Acl, error) {
	if !validID(accountID) || !validID(id) {
		return nil, fmt.Errorf("acl %q: %w", id, ErrNotFound)
	}
	a, _, _, err := getOne(ctx, s, s.aclKey(accountID, id), 0, &dnsv1.Acl{}, "acl "+id)
	return a, err
}

// ListACLs returns the account's ACLs, by id.
func (s *Store) ListACLs(ctx context.Context, accountID string) ([]*dnsv1.Acl, error) {
	if !validID(accountID) {
		return nil, nil
	}
	l, _, err := listAll(ctx, s, s.aclsPrefix(accountID), 0, func() *dnsv1.Acl { return &dnsv1.Acl{} }, "acl")
	return l, err
}

// DeleteACL deletes an ACL (nothing links ACLs: they apply account-wide).
func (s *Store) DeleteACL(ctx context.Context, accountID, id string) error {
	if !validID(accountID) || !validID(id) {
		return fmt.Errorf("acl %q: %w", id, ErrNotFound)
	}
	key := s.aclKey(accountID, id)
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return err
		}
		a, modRev, _, err := getOne(ctx, s, key, 0, &dnsv1.Acl{}, "acl "+id)
		if err != nil {
			return err
		}
		ch, err := auditChange(AuditACL, id, a, nil)
		if err != nil {
			return err
		}
		ok, err := s.commitAudited(ctx, auditInput{AccountID: accountID, Op: "DeleteAcl", Changes: []*dnsv1.AuditChange{ch}},
			[]clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", modRev)},
			[]clientv3.Op{clientv3.OpDelete(key)})
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("delete acl %s: %w", id, ErrConflict)
}

// GetIncomingTransfer returns a zone's stored incoming configuration
// (without status), or ErrNotFound when it has none.
func (s *Store) GetIncomingTransfer(ctx context.Context, zoneID string) (*dnsv1.IncomingTransfer, error) {
	if !validID(zoneID) {
		return nil, fmt.Errorf("incoming transfer of %q: %w", zoneID, ErrNotFound)
	}
	m, _, _, err := getOne(ctx, s, s.xfrZoneKey(zoneID, TransferIncoming), 0, &dnsv1.IncomingTransfer{}, "incoming transfer of "+zoneID)
	return m, err
}

// GetOutgoingTransfer returns a zone's stored outgoing configuration
// (without status), or ErrNotFound when it has none.
func (s *Store) GetOutgoingTransfer(ctx context.Context, zoneID string) (*dnsv1.OutgoingTransfer, error) {
	if !validID(zoneID) {
		return nil, fmt.Errorf("outgoing transfer of %q: %w", zoneID, ErrNotFound)
	}
	m, _, _, err := getOne(ctx, s, s.xfrZoneKey(zoneID, TransferOutgoing), 0, &dnsv1.OutgoingTransfer{}, "outgoing transfer of "+zoneID)
	return m, err
}

// TransferZoneIDs lists the zones with a stored configuration of dir
// (incoming: the secondary zones the transfer worker serves, whatever
// their peers).
func (s *Store) TransferZoneIDs(ctx context.Context, dir TransferDirection) ([]string, error) {
	resp, err := s.getAt(ctx, s.xfrZonesPrefix(), 0, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, kv := range resp.Kvs {
		zoneID, d, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), s.xfrZonesPrefix()), "/")
		if ok && d == string(dir) {
			out = append(out, zoneID)
		}
	}
	return out, nil
}

// transferConfig is what UpdateIncomingTransfer and
// UpdateOutgoingTransfer store.
type transferConfig interface {
	proto.Message
	GetPeers() []string
}

// UpdateIncomingTransfer sets a zone's incoming configuration to what fn
// returns. fn gets the zone, the current configuration (nil when none)
// and the peers of peerIDs (the ones the next configuration links; each
// of the zone's account, else ErrNotFound naming it), all read at one
// revision; the transaction fails, and fn runs again, if the zone, the
// configuration or one of the peers changed meanwhile, so a peer deleted
// or given another TSIG concurrently cannot slip in.
func (s *Store) UpdateIncomingTransfer(ctx context.Context, zoneID string, peerIDs []string, fn func(z *dnsv1.Zone, cur *dnsv1.IncomingTransfer, peers []*dnsv1.Peer) (*dnsv1.IncomingTransfer, error)) (*dnsv1.IncomingTransfer, error) {
	return updateTransfer(ctx, s, zoneID, TransferIncoming, AuditIncomingTransfer, "UpdateIncoming", peerIDs,
		func() *dnsv1.IncomingTransfer { return &dnsv1.IncomingTransfer{} }, fn)
}

// UpdateOutgoingTransfer is UpdateIncomingTransfer for the outgoing
// configuration.
func (s *Store) UpdateOutgoingTransfer(ctx context.Context, zoneID string, peerIDs []string, fn func(z *dnsv1.Zone, cur *dnsv1.OutgoingTransfer, peers []*dnsv1.Peer) (*dnsv1.OutgoingTransfer, error)) (*dnsv1.OutgoingTransfer, error) {
	return updateTransfer(ctx, s, zoneID, TransferOutgoing, AuditOutgoingTransfer, "UpdateOutgoing", peerIDs,
		func() *dnsv1.OutgoingTransfer { return &dnsv1.OutgoingTransfer{} }, fn)
}

func updateTransfer[T transferConfig](ctx context.Context, s *Store, zoneID string, dir TransferDirection, auditType, op string, peerIDs []string, newT func() T, fn func(z *dnsv1.Zone, cur T, peers []*dnsv1.Peer) (T, error)) (T, error) {
	var zero T
	key := s.xfrZoneKey(zoneID, dir)
	for n := range maxAttempts {
		if err := s.idemAttempt(ctx, n); err != nil {
			return zero, err
		}
		zr, rev, err := s.getZoneRev(ctx, zoneID, 0)
		if err != nil {
			return zero, err
		}
		acct := zr.zone.GetAccountId()
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.zoneKey(zoneID)), "=", zr.modRev)}
		var cur T
		var curIDs []string
		var cfgRev int64
		resp, err := s.getAt(ctx, key, rev)
		if err != nil {
			return zero, err
		}
		if len(resp.Kvs) > 0 {
			if cur, err = unmarshal(resp.Kvs[0].Value, newT(), op+" "+zoneID); err != nil {
				return zero, err
			}
			cfgRev = resp.Kvs[0].ModRevision
			curIDs = cur.GetPeers()
		}
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", cfgRev))
		peers := make([]*dnsv1.Peer, 0, len(peerIDs))
		seen := map[string]bool{}
		for _, pid := range peerIDs {
			if seen[pid] {
				continue
			}
			seen[pid] = true
			if !validID(pid) {
				return zero, fmt.Errorf("peer %q: %w", pid, ErrNotFound)
			}
			p, pRev, _, err := getOne(ctx, s, s.peerKey(acct, pid), rev, &dnsv1.Peer{}, "peer "+pid)
			if err != nil {
				return zero, err
			}
			peers = append(peers, p)
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.peerKey(acct, pid)), "=", pRev))
		}
		var before proto.Message
		if cfgRev != 0 {
			before = protoClone(cur)
		}
		next, err := fn(zr.zone, cur, peers)
		if err != nil {
			return zero, err
		}
		v, err := marshal(next, op+" "+zoneID)
		if err != nil {
			return zero, err
		}
		ops := []clientv3.Op{clientv3.OpPut(key, v)}
		nextIDs := map[string]bool{}
		for _, pid := range next.GetPeers() {
			if !seen[pid] {
				return zero, fmt.Errorf("%s %s: peer %s was not read", op, zoneID, pid)
			}
			nextIDs[pid] = true
			ops = append(ops, clientv3.OpPut(s.peerLinkKey(acct, pid, zoneID, dir), ""))
		}
		for _, pid := range curIDs {
			if !nextIDs[pid] && validID(pid) {
				ops = append(ops, clientv3.OpDelete(s.peerLinkKey(acct, pid, zoneID, dir)))
			}
		}
		ch, err := auditChange(auditType, zoneID, before, next)
		if err != nil {
			return zero, err
		}
		ok, err := s.commitAudited(ctx, auditInput{AccountID: acct, ZoneID: zoneID, Op: op, Changes: []*dnsv1.AuditChange{ch}}, cmps, ops)
		if err != nil {
			return zero, err
		}
		if ok {
			return next, nil
		}
	}
	return zero, fmt.Errorf("%s %s: %w", op, zoneID, ErrConflict)
}

// GetTransferStatus returns what the transfer worker last reported for a
// zone and direction, or ErrNotFound when it reported nothing yet.
func (s *Store) GetTransferStatus(ctx context.Context, zoneID string, dir TransferDirection) (*dnsv1.TransferStatus, error) {
	if !validID(zoneID) {
		return nil, fmt.Errorf("transfer status of %q: %w", zoneID, ErrNotFound)
	}
	m, _, _, err := getOne(ctx, s, s.xfrStatusKey(zoneID, dir), 0, &dnsv1.TransferStatus{}, "transfer status of "+zoneID)
	return m, err
}

// PutTransferStatus records the transfer worker's status of a zone and
// direction (outside data/: the builder does not wake, no audit entry).
// ErrNotFound when the zone is gone, so a late report cannot outlive a
// purge.
func (s *Store) PutTransferStatus(ctx context.Context, zoneID string, dir TransferDirection, st *dnsv1.TransferStatus) error {
	if !validID(zoneID) || (dir != TransferIncoming && dir != TransferOutgoing) {
		return fmt.Errorf("transfer status of %q %q: invalid key", zoneID, dir)
	}
	v, err := marshal(st, "transfer status of "+zoneID)
	if err != nil {
		return err
	}
	tr, err := s.kv.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.zoneKey(zoneID)), ">", 0)).
		Then(clientv3.OpPut(s.xfrStatusKey(zoneID, dir), v)).
		Commit()
	if err != nil {
		return fmt.Errorf("transfer status of %s: etcd txn: %w", zoneID, err)
	}
	if !tr.Succeeded {
		return fmt.Errorf("transfer status of %s: zone: %w", zoneID, ErrNotFound)
	}
	return nil
}

// transferPurge returns what purging a zone of account acct adds to the
// purge's transaction: deleting its transfer configurations, their peer
// links and its status, with compares that the configurations did not
// change since read at rev.
func (s *Store) transferPurge(ctx context.Context, zoneID, acct string, rev int64) ([]clientv3.Cmp, []clientv3.Op, error) {
	var cmps []clientv3.Cmp
	ops := []clientv3.Op{clientv3.OpDelete(s.xfrStatusPrefix(zoneID), clientv3.WithPrefix())}
	for _, dir := range []TransferDirection{TransferIncoming, TransferOutgoing} {
		key := s.xfrZoneKey(zoneID, dir)
		ids, cfgRev, err := s.linkedPeers(ctx, key, dir, rev)
		if err != nil {
			return nil, nil, err
		}
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", cfgRev))
		ops = append(ops, clientv3.OpDelete(key))
		for _, pid := range ids {
			if validID(pid) {
				ops = append(ops, clientv3.OpDelete(s.peerLinkKey(acct, pid, zoneID, dir)))
			}
		}
	}
	return cmps, ops, nil
}
