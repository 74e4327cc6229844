// Package transfers implements dns.v1.ZoneTransferService: the objects of
// zone transfers (docs/ZONE_TRANSFERS.md). Per account: TSIG keys (the
// secret sealed with the control plane's key-encryption key, shown once),
// peer DNS servers and ACLs. Per zone: the incoming configuration of a
// secondary zone (refresh interval, linked primaries) and the outgoing
// one of a full zone (enabled, linked secondaries), each with the status
// the transfer worker (controlplane/xfrin) reports.
package transfers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/miekg/dns"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/pkg/dnsname"
	"github.com/zonegrid/zonegrid/pkg/keyseal"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
	"github.com/zonegrid/zonegrid/services/idempotency"
	"github.com/zonegrid/zonegrid/services/status"
)

// Limits. MaxLinkedPeers is the documents' ("The maximum number of linked
// peers per zone is 30"); the refresh bounds and the per-account count are
// ours (the documents are silent).
const (
	MaxLinkedPeers     = 30
	DefaultAutoRefresh = 86400
	MinAutoRefresh     = 60
	MaxAutoRefresh     = 2592000 // 30 days
	MaxPerAccount      = 1000    // TSIGs, peers and ACLs, each
	MaxNameLen         = 100     // peer and ACL names
	DefaultPort        = 53
)

// Algorithms maps the accepted TSIG algorithm names to miekg/dns's, and
// the number of random bytes a generated secret gets (the hash's output
// size, RFC 8945 section 6.1's recommendation).
var Algorithms = map[string]int{
	dns.HmacSHA256: 32,
	dns.HmacSHA1:   20,
	dns.HmacSHA512: 64,
}

// Service implements dns.v1.ZoneTransferService.
type Service struct {
	dnsv1.UnimplementedZoneTransferServiceServer
	st   *store.Store
	ring *keyseal.Ring
	now  func() time.Time
	log  *zap.Logger
}

// New returns the service. ring seals TSIG secrets (the control plane's
// --dnssec-kek-file ring); without one CreateTsig is refused.
func New(st *store.Store, ring *keyseal.Ring, log *zap.Logger) *Service {
	if log == nil {
		log = zap.NewNop()
	}
	return &Service{st: st, ring: ring, now: time.Now, log: log}
}

// TsigSecretContext binds a sealed TSIG secret to its account and key: a
// blob copied to another key does not open.
func TsigSecretContext(accountID, tsigID string) []byte {
	return keyseal.TSIGContext(accountID, tsigID)
}

// OpenTsigSecret returns the raw secret of a stored TSIG (base64-encode it
// for miekg/dns's TsigSecret map). For the transfer worker.
func OpenTsigSecret(ring *keyseal.Ring, t *dnsv1.StoredTsig) ([]byte, error) {
	if ring == nil {
		return nil, errors.New("tsig secret: no key-encryption key (--dnssec-kek-file)")
	}
	plain, err := ring.Open(t.GetSealedSecret(), TsigSecretContext(t.GetTsig().GetAccountId(), t.GetTsig().GetId()))
	if err != nil {
		return nil, fmt.Errorf("open secret of tsig %s: %w", t.GetTsig().GetId(), err)
	}
	return plain, nil
}

var accountIDRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func account(id string) error {
	if !accountIDRe.MatchString(id) {
		return status.InvalidArgument("account_id", "must be 1-64 characters of letters, digits, '-' and '_'")
	}
	return nil
}

// objectID validates an object id given in field; an id that cannot exist
// is NotFound, like one that does not.
func objectID(field, id string) error {
	if id == "" {
		return status.InvalidArgument(field, "is required")
	}
	if !store.ValidID(id) {
		return grpcstatus.Errorf(codes.NotFound, "%s: %q not found", field, id)
	}
	return nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b)
}

// TsigName validates and normalizes a TSIG name: domain-name syntax, lower
// case, fully qualified (RFC 8945 4.2; both sides must use the same name).
func TsigName(field, n string) (string, error) {
	if n == "" {
		return "", status.InvalidArgument(field, "is required")
	}
	nn, err := dnsname.Normalize(n)
	if err != nil {
		return "", status.InvalidArgument(field, "must be in domain-name syntax: "+err.Error())
	}
	if nn == "." || strings.Contains(nn, "*") {
		return "", status.InvalidArgument(field, "must be in domain-name syntax, e.g. transfer.example.com")
	}
	return nn, nil
}

// Algorithm validates a TSIG algorithm name ("" is hmac-sha256) and
// returns miekg/dns's name.
func Algorithm(a string) (string, error) {
	if a == "" {
		return dns.HmacSHA256, nil
	}
	fq := dns.Fqdn(strings.ToLower(a))
	if _, ok := Algorithms[fq]; !ok {
		return "", status.InvalidArgument("algorithm", "must be hmac-sha256, hmac-sha1 or hmac-sha512")
	}
	return fq, nil
}

// name validates an object's display name.
func name(field, n string) (string, error) {
	n = strings.TrimSpace(n)
	switch {
	case n == "":
		return "", status.InvalidArgument(field, "is required")
	case !utf8.ValidString(n) || utf8.RuneCountInString(n) > MaxNameLen:
		return "", status.InvalidArgument(field, fmt.Sprintf("must be at most %d characters", MaxNameLen))
	case strings.ContainsFunc(n, unicode.IsControl):
		return "", status.InvalidArgument(field, "must not hold control characters")
	}
	return n, nil
}

// PeerIP validates a peer address: a unicast IPv4 or IPv6 address, given
// back in canonical form.
func PeerIP(field, s string) (string, error) {
	if s == "" {
		return "", status.InvalidArgument(field, "is required")
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", status.InvalidArgument(field, "must be an IPv4 or IPv6 address")
	}
	a = a.Unmap()
	if a.IsUnspecified() || a.IsMulticast() || (a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
		return "", status.InvalidArgument(field, "must be a unicast address")
	}
	return a.String(), nil
}

// IPRange validates an ACL range: a CIDR of at most /24 for IPv4 and /64
// for IPv6 (the documents' "limited to a maximum of /24 for IPv4 and /64
// for IPv6": prefix lengths 24-32 and 64-128), given back masked.
func IPRange(field, s string) (string, error) {
	if s == "" {
		return "", status.InvalidArgument(field, "is required")
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if a, aerr := netip.ParseAddr(s); aerr == nil && a.Zone() == "" {
			p = netip.PrefixFrom(a, a.BitLen()) // a single address
		} else {
			return "", status.InvalidArgument(field, "must be a CIDR range such as 192.0.2.0/24 or 2001:db8::/64")
		}
	}
	if p.Addr().Is4In6() {
		return "", status.InvalidArgument(field, "must be an IPv4 range in IPv4 notation")
	}
	if p.Addr().Is4() && p.Bits() < 24 {
		return "", status.InvalidArgument(field, "an IPv4 range may be at most a /24")
	}
	if p.Addr().Is6() && p.Bits() < 64 {
		return "", status.InvalidArgument(field, "an IPv6 range may be at most a /64")
	}
	return p.Masked().String(), nil
}

// fail maps an error to the client's status: ErrInUse is
// FailedPrecondition, the rest as status.Failed.
func (s *Service) fail(op string, err error) error {
	if errors.Is(err, store.ErrInUse) {
		return status.FailedPrecondition("IN_USE", op, err.Error())
	}
	return status.Failed(s.log, "zone transfer service", op, err)
}

// limit refuses a creation beyond MaxPerAccount objects of kind.
func (s *Service) limit(ctx context.Context, acct, kind string) error {
	n, err := s.st.CountTransferObjects(ctx, acct, kind)
	if err != nil {
		return s.fail("count "+kind, err)
	}
	if n >= MaxPerAccount {
		return status.FailedPrecondition("LIMIT", "account_id", fmt.Sprintf("the account already has %d %s, the most it may hold", n, kind))
	}
	return nil
}

// CreateTsig creates a TSIG key; the secret is sealed before it is stored
// and returned once.
func (s *Service) CreateTsig(ctx context.Context, req *dnsv1.CreateTsigRequest) (*dnsv1.CreateTsigResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	n, err := TsigName("name", req.GetName())
	if err != nil {
		return nil, err
	}
	alg, err := Algorithm(req.GetAlgorithm())
	if err != nil {
		return nil, err
	}
	var secret []byte
	if req.GetSecret() != "" {
		if secret, err = base64.StdEncoding.DecodeString(req.GetSecret()); err != nil || len(secret) == 0 {
			return nil, status.InvalidArgument("secret", "must be base64")
		}
		if len(secret) < 16 || len(secret) > 256 {
			return nil, status.InvalidArgument("secret", "must be 16 to 256 bytes once decoded")
		}
	}
	if s.ring == nil {
		return nil, status.FailedPrecondition("TSIG_KEK", "account_id", "this control plane has no key-encryption key (--dnssec-kek-file, which seals every secret of the platform): TSIG secrets cannot be stored")
	}
	if err := s.limit(ctx, req.GetAccountId(), "tsigs"); err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.ZoneTransferService_CreateTsig_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.CreateTsigResponse, error) {
		if secret == nil {
			secret = make([]byte, Algorithms[alg])
			_, _ = rand.Read(secret)
		}
		t := &dnsv1.Tsig{Id: newID(), AccountId: req.GetAccountId(), Name: n, Algorithm: alg, CreatedOn: timestamppb.New(s.now())}
		sealed, err := s.ring.Seal(secret, TsigSecretContext(t.GetAccountId(), t.GetId()))
		if err != nil {
			return nil, s.fail("seal tsig secret", err)
		}
		// A retry is answered without the secret: it is stored sealed
		// only, never in the request id's remembered response.
		if err := idempotency.Respond(ctx, &dnsv1.CreateTsigResponse{Tsig: t, SecretWithheld: true}); err != nil {
			return nil, s.fail("create tsig", err)
		}
		if err := s.st.CreateTsig(ctx, &dnsv1.StoredTsig{Tsig: t, SealedSecret: sealed}); err != nil {
			return nil, s.fail("create tsig", err)
		}
		s.log.Info("tsig created", zap.String("account_id", t.GetAccountId()), zap.String("tsig_id", t.GetId()), zap.String("name", n), zap.String("algorithm", alg))
		return &dnsv1.CreateTsigResponse{Tsig: t, Secret: base64.StdEncoding.EncodeToString(secret)}, nil
	})
}

// GetTsig returns a TSIG key without its secret.
func (s *Service) GetTsig(ctx context.Context, req *dnsv1.GetTsigRequest) (*dnsv1.GetTsigResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	if err := objectID("tsig_id", req.GetTsigId()); err != nil {
		return nil, err
	}
	t, err := s.st.GetTsig(ctx, req.GetAccountId(), req.GetTsigId())
	if err != nil {
		return nil, s.fail("get tsig", err)
	}
	return &dnsv1.GetTsigResponse{Tsig: t.GetTsig()}, nil
}

// ListTsigs lists the account's TSIG keys without their secrets.
func (s *Service) ListTsigs(ctx context.Context, req *dnsv1.ListTsigsRequest) (*dnsv1.ListTsigsResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	l, err := s.st.ListTsigs(ctx, req.GetAccountId())
	if err != nil {
		return nil, s.fail("list tsigs", err)
	}
	out := &dnsv1.ListTsigsResponse{}
	for _, t := range l {
		out.Tsigs = append(out.Tsigs, t.GetTsig())
	}
	return out, nil
}

// DeleteTsig deletes a TSIG key no peer links.
func (s *Service) DeleteTsig(ctx context.Context, req *dnsv1.DeleteTsigRequest) (*dnsv1.DeleteTsigResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	if err := objectID("tsig_id", req.GetTsigId()); err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.ZoneTransferService_DeleteTsig_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.DeleteTsigResponse, error) {
		resp := &dnsv1.DeleteTsigResponse{TsigId: req.GetTsigId()}
		if err := idempotency.Respond(ctx, resp); err != nil {
			return nil, s.fail("delete tsig", err)
		}
		if err := s.st.DeleteTsig(ctx, req.GetAccountId(), req.GetTsigId()); err != nil {
			return nil, s.fail("tsig_id", err)
		}
		s.log.Info("tsig deleted", zap.String("account_id", req.GetAccountId()), zap.String("tsig_id", req.GetTsigId()))
		return resp, nil
	})
}

// peerFields validates the settable fields of p into a new peer.
func peerFields(p *dnsv1.Peer) (*dnsv1.Peer, error) {
	if p == nil {
		return nil, status.InvalidArgument("peer", "is required")
	}
	n, err := name("peer.name", p.GetName())
	if err != nil {
		return nil, err
	}
	ip, err := PeerIP("peer.ip", p.GetIp())
	if err != nil {
		return nil, err
	}
	port := p.GetPort()
	if port == 0 {
		port = DefaultPort
	}
	if port > 65535 {
		return nil, status.InvalidArgument("peer.port", "must be 1 to 65535")
	}
	if tid := p.GetTsigId(); tid != "" && !store.ValidID(tid) {
		return nil, grpcstatus.Errorf(codes.NotFound, "peer.tsig_id: %q not found", tid)
	}
	return &dnsv1.Peer{Name: n, Ip: ip, Port: port, IxfrEnable: p.GetIxfrEnable(), TsigId: p.GetTsigId()}, nil
}

// notFoundIn names field in a store NotFound (a linked object missing).
func notFoundIn(field string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return grpcstatus.Errorf(codes.NotFound, "%s: %v", field, err)
	}
	return err
}

// CreatePeer creates a peer DNS server.
func (s *Service) CreatePeer(ctx context.Context, req *dnsv1.CreatePeerRequest) (*dnsv1.CreatePeerResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	p, err := peerFields(req.GetPeer())
	if err != nil {
		return nil, err
	}
	if err := s.limit(ctx, req.GetAccountId(), "peers"); err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.ZoneTransferService_CreatePeer_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.CreatePeerResponse, error) {
		now := timestamppb.New(s.now())
		p.Id, p.AccountId, p.CreatedOn, p.ModifiedOn = newID(), req.GetAccountId(), now, now
		resp := &dnsv1.CreatePeerResponse{Peer: p}
		if err := idempotency.Respond(ctx, resp); err != nil {
			return nil, s.fail("create peer", err)
		}
		if err := s.st.CreatePeer(ctx, p); err != nil {
			return nil, s.fail("create peer", notFoundIn("peer.tsig_id", err))
		}
		s.log.Info("transfer peer created", zap.String("account_id", p.GetAccountId()), zap.String("peer_id", p.GetId()), zap.String("ip", p.GetIp()))
		return resp, nil
	})
}

// GetPeer returns a peer.
func (s *Service) GetPeer(ctx context.Context, req *dnsv1.GetPeerRequest) (*dnsv1.GetPeerResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	if err := objectID("peer_id", req.GetPeerId()); err != nil {
		return nil, err
	}
	p, err := s.st.GetPeer(ctx, req.GetAccountId(), req.GetPeerId())
	if err != nil {
		return nil, s.fail("get peer", err)
	}
	return &dnsv1.GetPeerResponse{Peer: p}, nil
}

// ListPeers lists the account's peers.
func (s *Service) ListPeers(ctx context.Context, req *dnsv1.ListPeersRequest) (*dnsv1.ListPeersResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	l, err := s.st.ListPeers(ctx, req.GetAccountId())
	if err != nil {
		return nil, s.fail("list peers", err)
	}
	return &dnsv1.ListPeersResponse{Peers: l}, nil
}

// SameTsig checks the documents' rule on the peers one zone links: "If
// you link more than one peer to a zone and at least one of them has TSIG
// configured, all peers are expected to also use the same TSIG." It
// returns the offending peer's id, or "".
func SameTsig(peers []*dnsv1.Peer) string {
	tsig := ""
	for _, p := range peers {
		if p.GetTsigId() != "" {
			tsig = p.GetTsigId()
			break
		}
	}
	if tsig == "" {
		return ""
	}
	for _, p := range peers {
		if p.GetTsigId() != tsig {
			return p.GetId()
		}
	}
	return ""
}

// UpdatePeer replaces a peer's fields; a TSIG change that breaks the
// same-TSIG rule of a zone linking the peer is refused.
func (s *Service) UpdatePeer(ctx context.Context, req *dnsv1.UpdatePeerRequest) (*dnsv1.UpdatePeerResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	if err := objectID("peer_id", req.GetPeerId()); err != nil {
		return nil, err
	}
	upd, err := peerFields(req.GetPeer())
	if err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.ZoneTransferService_UpdatePeer_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.UpdatePeerResponse, error) {
		var resp *dnsv1.UpdatePeerResponse
		_, err := s.st.UpdatePeer(ctx, req.GetAccountId(), req.GetPeerId(), func(cur *dnsv1.Peer, groups []store.PeerGroup) (*dnsv1.Peer, error) {
			next := &dnsv1.Peer{Id: cur.GetId(), AccountId: cur.GetAccountId(), CreatedOn: cur.GetCreatedOn(), ModifiedOn: timestamppb.New(s.now()),
				Name: upd.GetName(), Ip: upd.GetIp(), Port: upd.GetPort(), IxfrEnable: upd.GetIxfrEnable(), TsigId: upd.GetTsigId()}
			for _, g := range groups {
				if SameTsig(append([]*dnsv1.Peer{next}, g.Others...)) != "" {
					return nil, status.InvalidArgument("peer.tsig_id", fmt.Sprintf("the %s transfers of zone %s link this peer with others: all of a zone's peers must use the same TSIG", g.Direction, g.ZoneID))
				}
			}
			resp = &dnsv1.UpdatePeerResponse{Peer: next}
			return next, idempotency.Respond(ctx, resp)
		})
		if err != nil {
			// The store names what it did not find ("peer <id>: ..." or
			// "tsig <id>: ..."): a missing TSIG is the request's field.
			if errors.Is(err, store.ErrNotFound) && strings.HasPrefix(err.Error(), "tsig ") {
				err = notFoundIn("peer.tsig_id", err)
			}
			return nil, s.fail("update peer", err)
		}
		s.log.Info("transfer peer updated", zap.String("account_id", req.GetAccountId()), zap.String("peer_id", req.GetPeerId()))
		return resp, nil
	})
}

// DeletePeer deletes a peer no zone links.
func (s *Service) DeletePeer(ctx context.Context, req *dnsv1.DeletePeerRequest) (*dnsv1.DeletePeerResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	if err := objectID("peer_id", req.GetPeerId()); err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.ZoneTransferService_DeletePeer_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.DeletePeerResponse, error) {
		resp := &dnsv1.DeletePeerResponse{PeerId: req.GetPeerId()}
		if err := idempotency.Respond(ctx, resp); err != nil {
			return nil, s.fail("delete peer", err)
		}
		if err := s.st.DeletePeer(ctx, req.GetAccountId(), req.GetPeerId()); err != nil {
			return nil, s.fail("peer_id", err)
		}
		s.log.Info("transfer peer deleted", zap.String("account_id", req.GetAccountId()), zap.String("peer_id", req.GetPeerId()))
		return resp, nil
	})
}

// CreateAcl creates an ACL.
func (s *Service) CreateAcl(ctx context.Context, req *dnsv1.CreateAclRequest) (*dnsv1.CreateAclResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	if req.GetAcl() == nil {
		return nil, status.InvalidArgument("acl", "is required")
	}
	n, err := name("acl.name", req.GetAcl().GetName())
	if err != nil {
		return nil, err
	}
	r, err := IPRange("acl.ip_range", req.GetAcl().GetIpRange())
	if err != nil {
		return nil, err
	}
	if err := s.limit(ctx, req.GetAccountId(), "acls"); err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.ZoneTransferService_CreateAcl_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.CreateAclResponse, error) {
		a := &dnsv1.Acl{Id: newID(), AccountId: req.GetAccountId(), Name: n, IpRange: r, CreatedOn: timestamppb.New(s.now())}
		resp := &dnsv1.CreateAclResponse{Acl: a}
		if err := idempotency.Respond(ctx, resp); err != nil {
			return nil, s.fail("create acl", err)
		}
		if err := s.st.CreateACL(ctx, a); err != nil {
			return nil, s.fail("create acl", err)
		}
		s.log.Info("transfer acl created", zap.String("account_id", a.GetAccountId()), zap.String("acl_id", a.GetId()), zap.String("ip_range", r))
		return resp, nil
	})
}

// GetAcl returns an ACL.
func (s *Service) GetAcl(ctx context.Context, req *dnsv1.GetAclRequest) (*dnsv1.GetAclResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	if err := objectID("acl_id", req.GetAclId()); err != nil {
		return nil, err
	}
	a, err := s.st.GetACL(ctx, req.GetAccountId(), req.GetAclId())
	if err != nil {
		return nil, s.fail("get acl", err)
	}
	return &dnsv1.GetAclResponse{Acl: a}, nil
}

// ListAcls lists the account's ACLs.
func (s *Service) ListAcls(ctx context.Context, req *dnsv1.ListAclsRequest) (*dnsv1.ListAclsResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	l, err := s.st.ListACLs(ctx, req.GetAccountId())
	if err != nil {
		return nil, s.fail("list acls", err)
	}
	return &dnsv1.ListAclsResponse{Acls: l}, nil
}

// DeleteAcl deletes an ACL.
func (s *Service) DeleteAcl(ctx context.Context, req *dnsv1.DeleteAclRequest) (*dnsv1.DeleteAclResponse, error) {
	if err := account(req.GetAccountId()); err != nil {
		return nil, err
	}
	if err := objectID("acl_id", req.GetAclId()); err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.ZoneTransferService_DeleteAcl_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.DeleteAclResponse, error) {
		resp := &dnsv1.DeleteAclResponse{AclId: req.GetAclId()}
		if err := idempotency.Respond(ctx, resp); err != nil {
			return nil, s.fail("delete acl", err)
		}
		if err := s.st.DeleteACL(ctx, req.GetAccountId(), req.GetAclId()); err != nil {
			return nil, s.fail("delete acl", err)
		}
		s.log.Info("transfer acl deleted", zap.String("account_id", req.GetAccountId()), zap.String("acl_id", req.GetAclId()))
		return resp, nil
	})
}

func zoneID(id string) error {
	if id == "" {
		return status.InvalidArgument("zone_id", "is required")
	}
	if !store.ValidID(id) {
		return grpcstatus.Errorf(codes.NotFound, "zone_id: %q not found", id)
	}
	return nil
}

// peerIDs validates a list of linked peer ids: at most MaxLinkedPeers,
// each well-formed, no duplicates.
func peerIDs(ids []string) error {
	if len(ids) > MaxLinkedPeers {
		return status.InvalidArgument("peers", fmt.Sprintf("a zone links at most %d peers", MaxLinkedPeers))
	}
	seen := map[string]bool{}
	for i, id := range ids {
		f := fmt.Sprintf("peers[%d]", i)
		if id == "" {
			return status.InvalidArgument(f, "is empty")
		}
		if !store.ValidID(id) {
			return grpcstatus.Errorf(codes.NotFound, "%s: peer %q not found", f, id)
		}
		if seen[id] {
			return status.InvalidArgument(f, "peer "+id+" is listed twice")
		}
		seen[id] = true
	}
	return nil
}

// checkPeers applies the same-TSIG rule to the peers a zone links.
func checkPeers(peers []*dnsv1.Peer) error {
	if bad := SameTsig(peers); bad != "" {
		i := slices.IndexFunc(peers, func(p *dnsv1.Peer) bool { return p.GetId() == bad })
		return status.InvalidArgument(fmt.Sprintf("peers[%d]", i), "peer "+bad+" does not use the TSIG the other linked peers use: all of a zone's peers must use the same TSIG")
	}
	return nil
}

// transferStatus reads the worker's status of a zone and direction and fills the
// states the worker does not report: no peers/disabled, pending.
func (s *Service) transferStatus(ctx context.Context, zoneID string, dir store.TransferDirection, applicable, active bool) (*dnsv1.TransferStatus, error) {
	switch {
	case !applicable:
		msg := "not a secondary zone: incoming transfers apply to secondary zones only"
		if dir == store.TransferOutgoing {
			msg = "not a full zone: outgoing transfers apply to full zones only"
		}
		return &dnsv1.TransferStatus{State: dnsv1.TransferState_TRANSFER_STATE_NOT_APPLICABLE, Message: msg}, nil
	case !active:
		msg := "no linked peers"
		if dir == store.TransferOutgoing {
			msg = "outgoing transfers are disabled"
		}
		return &dnsv1.TransferStatus{State: dnsv1.TransferState_TRANSFER_STATE_DISABLED, Message: msg}, nil
	}
	st, err := s.st.GetTransferStatus(ctx, zoneID, dir)
	if errors.Is(err, store.ErrNotFound) {
		return &dnsv1.TransferStatus{State: dnsv1.TransferState_TRANSFER_STATE_PENDING, Message: "waiting for the transfer worker"}, nil
	}
	return st, err
}

func isSecondary(z *dnsv1.Zone) bool { return z.GetType() == dnsv1.ZoneType_ZONE_TYPE_SECONDARY }
func isFull(z *dnsv1.Zone) bool {
	return z.GetType() == dnsv1.ZoneType_ZONE_TYPE_FULL || z.GetType() == dnsv1.ZoneType_ZONE_TYPE_UNSPECIFIED
}

// GetIncoming returns a zone's incoming configuration and status.
func (s *Service) GetIncoming(ctx context.Context, req *dnsv1.GetIncomingRequest) (*dnsv1.GetIncomingResponse, error) {
	if err := zoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	z, err := s.st.GetZone(ctx, req.GetZoneId())
	if err != nil {
		return nil, s.fail("get incoming", err)
	}
	in, err := s.st.GetIncomingTransfer(ctx, z.GetId())
	if errors.Is(err, store.ErrNotFound) {
		in, err = &dnsv1.IncomingTransfer{ZoneId: z.GetId(), AutoRefreshSeconds: DefaultAutoRefresh}, nil
	}
	if err != nil {
		return nil, s.fail("get incoming", err)
	}
	in.ZoneName = z.GetName()
	if in.Status, err = s.transferStatus(ctx, z.GetId(), store.TransferIncoming, isSecondary(z), len(in.GetPeers()) > 0); err != nil {
		return nil, s.fail("get incoming status", err)
	}
	return &dnsv1.GetIncomingResponse{Incoming: in}, nil
}

// UpdateIncoming sets a secondary zone's refresh interval and primaries.
func (s *Service) UpdateIncoming(ctx context.Context, req *dnsv1.UpdateIncomingRequest) (*dnsv1.UpdateIncomingResponse, error) {
	if err := zoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	refresh := req.GetAutoRefreshSeconds()
	if refresh == 0 {
		refresh = DefaultAutoRefresh
	}
	if refresh < MinAutoRefresh || refresh > MaxAutoRefresh {
		return nil, status.InvalidArgument("auto_refresh_seconds", fmt.Sprintf("must be %d to %d seconds", MinAutoRefresh, MaxAutoRefresh))
	}
	if err := peerIDs(req.GetPeers()); err != nil {
		return nil, err
	}
	if req.GetDnssecPresigned() {
		if err := s.notSignedLive(ctx, req.GetZoneId()); err != nil {
			return nil, err
		}
	}
	return idempotency.Do(ctx, s.st, dnsv1.ZoneTransferService_UpdateIncoming_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.UpdateIncomingResponse, error) {
		var resp *dnsv1.UpdateIncomingResponse
		presignedChanged := false
		next, err := s.st.UpdateIncomingTransfer(ctx, req.GetZoneId(), req.GetPeers(), func(z *dnsv1.Zone, cur *dnsv1.IncomingTransfer, peers []*dnsv1.Peer) (*dnsv1.IncomingTransfer, error) {
			if !isSecondary(z) {
				return nil, status.FailedPrecondition("ZONE_TYPE", "zone_id", "incoming transfers apply to secondary zones only; this zone's setup is "+z.GetType().String())
			}
			if err := checkPeers(peers); err != nil {
				return nil, err
			}
			// Also when primaries are linked again to a pre-signed zone: a
			// forced transfer asked while none was linked was dropped.
			presignedChanged = cur.GetDnssecPresigned() != req.GetDnssecPresigned() ||
				(req.GetDnssecPresigned() && len(cur.GetPeers()) == 0)
			next := &dnsv1.IncomingTransfer{ZoneId: z.GetId(), AutoRefreshSeconds: refresh, Peers: slices.Clone(req.GetPeers()), ModifiedOn: timestamppb.New(s.now()),
				DnssecPresigned: req.GetDnssecPresigned()}
			shown := protoCloneIncoming(next)
			shown.ZoneName = z.GetName()
			// The status goes into the remembered response too, so that a
			// retry answers the same.
			st, err := s.transferStatus(ctx, z.GetId(), store.TransferIncoming, true, len(next.GetPeers()) > 0)
			if err != nil {
				return nil, err
			}
			shown.Status = st
			resp = &dnsv1.UpdateIncomingResponse{Incoming: shown}
			return next, idempotency.Respond(ctx, resp)
		})
		if err != nil {
			return nil, s.fail("update incoming", s.peerNotFound(err))
		}
		if presignedChanged && len(next.GetPeers()) > 0 {
			// The signatures of records an IXFR would not carry again must
			// come (or go) with the whole zone: presigned.go.
			if err := s.st.RequestForceAxfr(ctx, next.GetZoneId(), s.now()); err != nil {
				return nil, s.fail("update incoming: force axfr", err)
			}
		}
		s.log.Info("incoming transfers updated", zap.String("zone_id", next.GetZoneId()), zap.Int("peers", len(next.GetPeers())), zap.Uint32("auto_refresh_seconds", refresh),
			zap.Bool("dnssec_presigned", next.GetDnssecPresigned()), zap.Bool("presigned_changed", presignedChanged))
		return resp, nil
	})
}

// peerNotFound names the peers field in a NotFound of a linked peer (the
// zone's own NotFound passes as is).
func (s *Service) peerNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) && strings.HasPrefix(err.Error(), "peer ") {
		return notFoundIn("peers", err)
	}
	return err
}

func protoCloneIncoming(m *dnsv1.IncomingTransfer) *dnsv1.IncomingTransfer {
	return &dnsv1.IncomingTransfer{ZoneId: m.GetZoneId(), ZoneName: m.GetZoneName(), AutoRefreshSeconds: m.GetAutoRefreshSeconds(), Peers: slices.Clone(m.GetPeers()), ModifiedOn: m.GetModifiedOn(),
		DnssecPresigned: m.GetDnssecPresigned()}
}

// GetOutgoing returns a zone's outgoing configuration and status.
func (s *Service) GetOutgoing(ctx context.Context, req *dnsv1.GetOutgoingRequest) (*dnsv1.GetOutgoingResponse, error) {
	if err := zoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	z, err := s.st.GetZone(ctx, req.GetZoneId())
	if err != nil {
		return nil, s.fail("get outgoing", err)
	}
	out, err := s.st.GetOutgoingTransfer(ctx, z.GetId())
	if errors.Is(err, store.ErrNotFound) {
		out, err = &dnsv1.OutgoingTransfer{ZoneId: z.GetId()}, nil
	}
	if err != nil {
		return nil, s.fail("get outgoing", err)
	}
	out.ZoneName = z.GetName()
	if out.Status, err = s.transferStatus(ctx, z.GetId(), store.TransferOutgoing, isFull(z), out.GetEnabled()); err != nil {
		return nil, s.fail("get outgoing status", err)
	}
	return &dnsv1.GetOutgoingResponse{Outgoing: out}, nil
}

// UpdateOutgoing enables or disables a full zone's outgoing transfers and
// sets its linked peers.
func (s *Service) UpdateOutgoing(ctx context.Context, req *dnsv1.UpdateOutgoingRequest) (*dnsv1.UpdateOutgoingResponse, error) {
	if err := zoneID(req.GetZoneId()); err != nil {
		return nil, err
	}
	if err := peerIDs(req.GetPeers()); err != nil {
		return nil, err
	}
	return idempotency.Do(ctx, s.st, dnsv1.ZoneTransferService_UpdateOutgoing_FullMethodName, req.GetRequestId(), req, func(ctx context.Context) (*dnsv1.UpdateOutgoingResponse, error) {
		var resp *dnsv1.UpdateOutgoingResponse
		next, err := s.st.UpdateOutgoingTransfer(ctx, req.GetZoneId(), req.GetPeers(), func(z *dnsv1.Zone, _ *dnsv1.OutgoingTransfer, peers []*dnsv1.Peer) (*dnsv1.OutgoingTransfer, error) {
			if !isFull(z) {
				return nil, status.FailedPrecondition("ZONE_TYPE", "zone_id", "outgoing transfers apply to full zones only; this zone's setup is "+z.GetType().String())
			}
			if err := checkPeers(peers); err != nil {
				return nil, err
			}
			next := &dnsv1.OutgoingTransfer{ZoneId: z.GetId(), Enabled: req.GetEnabled(), Peers: slices.Clone(req.GetPeers()), ModifiedOn: timestamppb.New(s.now())}
			st, err := s.transferStatus(ctx, z.GetId(), store.TransferOutgoing, true, next.GetEnabled())
			if err != nil {
				return nil, err
			}
			shown := &dnsv1.OutgoingTransfer{ZoneId: z.GetId(), ZoneName: z.GetName(), Enabled: next.GetEnabled(), Peers: slices.Clone(next.GetPeers()), ModifiedOn: next.GetModifiedOn(), Status: st}
			resp = &dnsv1.UpdateOutgoingResponse{Outgoing: shown}
			return next, idempotency.Respond(ctx, resp)
		})
		if err != nil {
			return nil, s.fail("update outgoing", s.peerNotFound(err))
		}
		s.log.Info("outgoing transfers updated", zap.String("zone_id", next.GetZoneId()), zap.Bool("enabled", next.GetEnabled()), zap.Int("peers", len(next.GetPeers())))
		return resp, nil
	})
}
