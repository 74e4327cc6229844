package transfers

import (
	"context"
	"errors"

	cpdnssec "github.com/zonegrid/zonegrid/controlplane/dnssec"
	"github.com/zonegrid/zonegrid/controlplane/store"
	"github.com/zonegrid/zonegrid/services/status"
)

// Pre-signed DNSSEC ("DNSSEC for Secondary DNS": "Your primary DNS
// provider signs records and transfers out the signatures. Cloudflare then
// serves these records and signatures as is, without doing any signing").
// IncomingTransfer.dnssec_presigned makes the transfer worker keep the
// RRSIG, NSEC, NSEC3, NSEC3PARAM and DNSKEY records it receives
// (controlplane/xfrin), the record API refuse overrides
// (services/records) and the zone builder serve the zone without them
// (controlplane/builder/override.go). A change of the flag asks for a full
// transfer (AXFR): an IXFR carries only what changed at the primary, not
// the signatures of every record.

// notSignedLive refuses pre-signing a zone that the edges sign live (its
// DNSSEC status pending to disabled): the two would put two sets of keys
// and signatures on one zone. Checked before the write, not in its
// transaction: enabling DNSSEC meanwhile is the DNSSEC service's to refuse.
func (s *Service) notSignedLive(ctx context.Context, zoneID string) error {
	st, err := s.st.GetDnssec(ctx, zoneID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the write reports the missing zone
	}
	if err != nil {
		return s.fail("update incoming: read dnssec", err)
	}
	if cpdnssec.Signed(st) {
		return status.FailedPrecondition("DNSSEC_LIVE_SIGNING", "dnssec_presigned",
			"the zone is signed live (DNSSEC status "+st.GetStatus().String()+"): disable DNSSEC and wait until it is deleted before serving the primary's signatures")
	}
	return nil
}
