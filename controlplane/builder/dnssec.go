package builder

import (
	cpdnssec "github.com/zonegrid/zonegrid/controlplane/dnssec"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// dnssecHeader is what the edges need to sign a zone: its keys (private
// parts still sealed: the builder never opens them) with their signing
// windows, and what CDS/CDNSKEY say. Nil when the zone is not signed.
func dnssecHeader(st *dnsv1.DnssecState) *snapshot.Dnssec {
	if !cpdnssec.Signed(st) {
		return nil
	}
	s := st.GetStatus()
	h := &snapshot.Dnssec{
		CdsDelete:   s == dnsv1.DnssecStatus_DNSSEC_STATUS_PENDING_DISABLED || s == dnsv1.DnssecStatus_DNSSEC_STATUS_DISABLED,
		UseNsec3:    st.GetUseNsec3(),
		MultiSigner: st.GetMultiSigner(),
	}
	for _, k := range st.GetKeys() {
		sk := &snapshot.DnssecKey{
			Flags: k.GetFlags(), Algorithm: k.GetAlgorithm(), PublicKey: k.GetPublicKey(), KeyTag: k.GetKeyTag(),
			SealedPrivateKey: k.GetSealedPrivateKey(),
		}
		if t := k.GetActivateOn(); t != nil {
			sk.ActivateUnix = t.GetSeconds()
		}
		if t := k.GetRetireOn(); t != nil {
			sk.RetireUnix = t.GetSeconds()
		}
		h.Keys = append(h.Keys, sk)
	}
	return h
}
