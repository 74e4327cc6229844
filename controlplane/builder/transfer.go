package builder

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	"go.uber.org/zap"

	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// transferHeader is what the edges need to check a NOTIFY for the zone or
// a transfer request for it (docs/ZONE_TRANSFERS.md), read at rev:
//
//   - a secondary zone with linked primaries: NOTIFY is accepted from the
//     primaries' addresses and the account's ACL ranges ("additional
//     NOTIFY IPs"), checked against the primaries' TSIG key when signed;
//   - a full zone with outgoing transfers enabled: transfers out to the
//     linked peers and the ACL ranges, with the peers' key.
//
// The key's secret is copied sealed as stored (sealed under the KEK with
// keyseal.TSIGContext(account, key id), which the edge opens): the
// builder never sees it in the clear and NATS never carries it so. Nil
// when the zone neither receives NOTIFY nor transfers out. A linked key
// or peer missing at rev (the store's referential checks make this a
// bug) gives nil too: refusing everything is safer than accepting a zone
// unsigned whose owner asked for a key.
func (b *Builder) transferHeader(ctx context.Context, z *dnsv1.Zone, rev int64) (*snapshot.Transfer, error) {
	switch z.GetType() {
	case dnsv1.ZoneType_ZONE_TYPE_SECONDARY, dnsv1.ZoneType_ZONE_TYPE_FULL:
	default:
		return nil, nil
	}
	in, out, err := b.st.TransferConfigAt(ctx, z.GetId(), rev)
	if err != nil {
		return nil, fmt.Errorf("transfer header of zone %s: %w", z.GetId(), err)
	}
	return b.transferHeaderFrom(ctx, z, in, out, rev)
}

// transferHeaderFrom is transferHeader given the zone's transfer
// configuration at rev (read ahead with its other data, publish.go).
func (b *Builder) transferHeaderFrom(ctx context.Context, z *dnsv1.Zone, in *dnsv1.IncomingTransfer, out *dnsv1.OutgoingTransfer, rev int64) (*snapshot.Transfer, error) {
	var peerIDs []string
	outgoing := false
	switch z.GetType() {
	case dnsv1.ZoneType_ZONE_TYPE_SECONDARY:
		// No primary: nothing to refresh from, so no NOTIFY to take.
		if len(in.GetPeers()) == 0 {
			return nil, nil
		}
		peerIDs = in.GetPeers()
	case dnsv1.ZoneType_ZONE_TYPE_FULL:
		if !out.GetEnabled() {
			return nil, nil
		}
		peerIDs, outgoing = out.GetPeers(), true
	default:
		return nil, nil
	}
	objs, err := b.st.TransferObjectsAt(ctx, z.GetAccountId(), rev)
	if err != nil {
		return nil, fmt.Errorf("transfer header of zone %s: %w", z.GetId(), err)
	}
	var sources []string
	tsigID := ""
	for _, id := range peerIDs {
		p := objs.Peers[id]
		if p == nil {
			b.log.Error("zone links a missing transfer peer: NOTIFY and transfers refused",
				zap.String("zone_id", z.GetId()), zap.String("peer", id), zap.Int64("revision", rev))
			return nil, nil
		}
		sources = append(sources, p.GetIp())
		if tsigID == "" {
			tsigID = p.GetTsigId() // one key per zone (the service's rule)
		}
	}
	for _, a := range objs.ACLs {
		sources = append(sources, a.GetIpRange())
	}
	t := &snapshot.Transfer{Outgoing: outgoing}
	if outgoing {
		t.TransferTo = canonicalPrefixes(sources)
	} else {
		t.NotifyFrom = canonicalPrefixes(sources)
	}
	if tsigID != "" {
		k := objs.Tsigs[tsigID]
		if k == nil {
			b.log.Error("zone links a missing TSIG key: NOTIFY and transfers refused",
				zap.String("zone_id", z.GetId()), zap.String("tsig", tsigID), zap.Int64("revision", rev))
			return nil, nil
		}
		t.Tsig = &snapshot.TransferTsig{
			Id: k.GetTsig().GetId(), AccountId: k.GetTsig().GetAccountId(),
			Name: k.GetTsig().GetName(), Algorithm: k.GetTsig().GetAlgorithm(),
			SealedSecret: k.GetSealedSecret(),
		}
	}
	return t, nil
}

// canonicalPrefixes turns addresses and ranges into sorted, unique CIDR
// prefixes (an address becomes a /32 or /128), so that the same
// configuration always gives the same header bytes. Entries that do not
// parse are dropped: the service stores canonical forms only.
func canonicalPrefixes(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		var p netip.Prefix
		if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		} else if p, err = netip.ParsePrefix(s); err != nil {
			continue
		}
		out = append(out, p.Masked().String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// addTransferAccounts marks, for every account whose TSIG keys, peers or
// ACLs changed in the batch, the names of its zones that have a transfer
// configuration: their Transfer header is recompiled. Read at the batch's
// revision; zones without a configuration are not touched.
func (b *Builder) addTransferAccounts(ctx context.Context, bt *batch) error {
	for acct := range bt.xfrAccounts {
		names, err := b.st.TransferZoneNamesOfAccountAt(ctx, acct, bt.rev)
		if err != nil {
			return err
		}
		for _, n := range names {
			bt.names[n] = true
			bt.headers[n] = true
		}
	}
	return nil
}

// addTransferAccount records an account's transfer object change.
func (bt *batch) addTransferAccount(acct string) {
	if bt.xfrAccounts == nil {
		bt.xfrAccounts = map[string]bool{}
	}
	bt.xfrAccounts[acct] = true
}
