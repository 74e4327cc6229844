// Package dnssec signs a zone's answers live at the edge: it opens the
// zone's sealed keys (pkg/keyseal) once per key, chooses the signing ZSK by
// time, prepares the apex DNSKEY, CDS and CDNSKEY sets with their KSK
// signatures, signs RRsets with the ZSK, and builds the NSEC records of
// compact denial of existence (RFC 9824). It knows nothing of zones' data:
// edge/answer decides what to sign, this package how.
package dnssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/pkg/keyseal"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Signature validity. A signature made at t is valid from t-InceptionSkew
// (clocks of validators run behind) to t+Validity. Answers carrying
// signatures are reused (the packed-answer cache, the apex sets) for at
// most Reuse, so every signature a client receives has at least
// Validity-Reuse (3 days) left: more than any TTL we serve, and time for an
// operator to notice a stuck edge before a signature expires.
const (
	InceptionSkew = time.Hour
	Validity      = 4 * 24 * time.Hour
	Reuse         = 24 * time.Hour
)

// Key flags and the one algorithm the platform uses.
const (
	FlagsKSK  = 257
	FlagsZSK  = 256
	Algorithm = dns.ECDSAP256SHA256
	// TypeNXNAME is the pseudo-type of RFC 9824 that marks a compact
	// NXDOMAIN answer; miekg/dns does not know it.
	TypeNXNAME uint16 = 128
	// KeyTTL is the TTL of the DNSKEY, CDS and CDNSKEY sets (as the
	// control plane's DNSKEY TTL).
	KeyTTL = 3600
)

// ErrKey is returned when a zone's keys cannot be used: not opened with the
// KEKs given, or inconsistent with the public key published.
var ErrKey = errors.New("dnssec key unusable")

// Opener opens zones' sealed keys with the edge's key-encryption keys and
// keeps the opened keys of each zone, so that a new version of a zone with
// the same keys costs no decryption.
type Opener struct {
	ring *keyseal.Ring
	mu   sync.Mutex
	// opened holds, per zone id, the keys opened for its last version.
	opened map[string][]openedKey
}

type openedKey struct {
	tag    uint16
	flags  uint32
	sealed [sha256.Size]byte
	priv   *ecdsa.PrivateKey
}

// NewOpener returns an Opener using ring.
func NewOpener(ring *keyseal.Ring) *Opener {
	return &Opener{ring: ring, opened: make(map[string][]openedKey)}
}

// LoadOpener reads the KEK files (the same as the control plane's
// --dnssec-kek-file) and returns an Opener.
func LoadOpener(paths ...string) (*Opener, error) {
	ring, err := keyseal.LoadFiles(paths...)
	if err != nil {
		return nil, fmt.Errorf("dnssec: load key-encryption keys: %w", err)
	}
	return NewOpener(ring), nil
}

// Forget drops the keys kept for a zone (deleted, or no longer signed).
func (o *Opener) Forget(zoneID string) {
	o.mu.Lock()
	delete(o.opened, zoneID)
	o.mu.Unlock()
}

// key is one opened key of a zone.
type key struct {
	rr               *dns.DNSKEY
	tag              uint16
	priv             crypto.Signer
	activate, retire int64
}

// Zone is what signs one version of a zone. It is safe for concurrent use.
type Zone struct {
	name string
	// ksk is the current KSK: the one CDS and CDNSKEY advertise (and the
	// fallback signer). ksks are every KSK of the header: all of them sign
	// the DNSKEY, CDS and CDNSKEY sets, so that during a KSK rollover by
	// double signature (RFC 6781 4.1.2) a resolver holding either DS
	// validates the key set.
	ksk     key
	ksks    []key
	zsks    []key
	dnskey  []dns.RR
	cds     []dns.RR
	cdnskey []dns.RR
	nsec3   bool
	apex    atomic.Pointer[apexSigs]
	mu      sync.Mutex // one apex re-signing at a time
	// soa is the signature of the negative answers' SOA, the same in
	// every denial: one ECDSA signature less per NXDOMAIN or NODATA.
	soa atomic.Pointer[soaSig]
	// stored keeps the signatures of the version's own RRsets
	// (SignStored), at most MaxStoredSigs.
	smu    sync.Mutex
	stored map[storedKey]storedSig
}

// MaxStoredSigs bounds the signatures a zone version keeps for its own
// RRsets (about 300 bytes each): past it the table starts over, so a
// large zone costs at most a few MiB and still serves its hot sets.
const MaxStoredSigs = 1 << 14

// storedKey identifies one of a version's own RRsets by its owner and
// type (a version holds one set of each; zone data is never modified, and
// each version has its own Zone) and its size.
type storedKey struct {
	owner  string
	rrtype uint16
	n      int
}

type storedSig struct {
	sig  *dns.RRSIG
	made int64
	tag  uint16
}

type soaSig struct {
	soa  *dns.SOA
	sig  *dns.RRSIG
	made int64
	tag  uint16
}

// apexSigs are the KSK signatures of the apex key sets, one per KSK.
type apexSigs struct {
	dnskey, cds, cdnskey []*dns.RRSIG
	made                 int64 // unix seconds
}

// Prepare opens the keys of a zone version (zoneID, served under zoneName,
// lower-case and fully qualified) and builds its signer: the DNSKEY set
// (every key of d, plus apexKeys, the zone's own apex DNSKEY records, when
// d is multi-signer), CDS and CDNSKEY (the KSK's, or the RFC 8078 delete
// values when d.cds_delete) and their KSK signatures. It returns an error
// wrapping ErrKey when a key does not open or does not match its public
// part; the caller then serves the zone unsigned.
func (o *Opener) Prepare(zoneID, zoneName string, d *snapshot.Dnssec, apexKeys []dns.RR, now time.Time) (*Zone, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	prev := o.opened[zoneID]
	var kept []openedKey
	z := &Zone{name: zoneName, nsec3: d.GetUseNsec3()}
	haveKSK := false
	for _, k := range d.GetKeys() {
		rr := &dns.DNSKEY{
			Hdr:   dns.RR_Header{Name: zoneName, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: KeyTTL},
			Flags: uint16(k.GetFlags()), Protocol: 3, Algorithm: uint8(k.GetAlgorithm()), PublicKey: k.GetPublicKey(),
		}
		tag := rr.KeyTag()
		if k.GetAlgorithm() != uint32(Algorithm) || (k.GetFlags() != FlagsKSK && k.GetFlags() != FlagsZSK) {
			return nil, fmt.Errorf("zone %s key %d: algorithm %d flags %d not supported: %w", zoneID, tag, k.GetAlgorithm(), k.GetFlags(), ErrKey)
		}
		if uint32(tag) != k.GetKeyTag() {
			return nil, fmt.Errorf("zone %s key %d: published key tag %d: %w", zoneID, tag, k.GetKeyTag(), ErrKey)
		}
		sum := sha256.Sum256(k.GetSealedPrivateKey())
		var priv *ecdsa.PrivateKey
		for _, p := range prev {
			if p.tag == tag && p.flags == k.GetFlags() && p.sealed == sum {
				priv = p.priv
				break
			}
		}
		if priv == nil {
			var err error
			if priv, err = o.open(zoneID, tag, k); err != nil {
				return nil, err
			}
			if err := matches(priv, rr); err != nil {
				return nil, fmt.Errorf("zone %s key %d: %w", zoneID, tag, err)
			}
		}
		kept = append(kept, openedKey{tag: tag, flags: k.GetFlags(), sealed: sum, priv: priv})
		kk := key{rr: rr, tag: tag, priv: priv, activate: k.GetActivateUnix(), retire: k.GetRetireUnix()}
		z.dnskey = append(z.dnskey, rr)
		if k.GetFlags() == FlagsKSK {
			// The current KSK, as the control plane chooses it
			// (controlplane/dnssec.KSK): among the KSKs not retired, the
			// one activated last, the later one on a tie. A retired KSK
			// still signs the key sets until the control plane removes it
			// (resolvers may hold its DS), but CDS/CDNSKEY leave it.
			z.ksks = append(z.ksks, kk)
			cur := k.GetRetireUnix() == 0 && (!haveKSK || z.ksk.retire != 0 || kk.activate >= z.ksk.activate)
			if !haveKSK || cur {
				z.ksk, haveKSK = kk, true
			}
			continue
		}
		z.zsks = append(z.zsks, kk)
	}
	if !haveKSK {
		return nil, fmt.Errorf("zone %s: no KSK: %w", zoneID, ErrKey)
	}
	o.opened[zoneID] = kept
	if d.GetMultiSigner() {
		for _, rr := range apexKeys {
			k, ok := rr.(*dns.DNSKEY)
			if !ok || containsKey(z.dnskey, k) {
				continue
			}
			c := *k
			c.Hdr.Name, c.Hdr.Ttl = zoneName, KeyTTL
			z.dnskey = append(z.dnskey, &c)
		}
	}
	if d.GetCdsDelete() {
		z.cds = []dns.RR{&dns.CDS{DS: dns.DS{Hdr: dns.RR_Header{Name: zoneName, Rrtype: dns.TypeCDS, Class: dns.ClassINET, Ttl: KeyTTL},
			Digest: "00"}}}
		z.cdnskey = []dns.RR{&dns.CDNSKEY{DNSKEY: dns.DNSKEY{Hdr: dns.RR_Header{Name: zoneName, Rrtype: dns.TypeCDNSKEY, Class: dns.ClassINET, Ttl: KeyTTL},
			Protocol: 3, PublicKey: "AA=="}}}
	} else {
		ds := z.ksk.rr.ToDS(dns.SHA256)
		if ds == nil {
			return nil, fmt.Errorf("zone %s: DS of the KSK: %w", zoneID, ErrKey)
		}
		z.cds = []dns.RR{ds.ToCDS()}
		z.cdnskey = []dns.RR{z.ksk.rr.ToCDNSKEY()}
		z.cds[0].Header().Ttl, z.cdnskey[0].Header().Ttl = KeyTTL, KeyTTL
	}
	if _, err := z.apexSigs(now); err != nil {
		return nil, fmt.Errorf("zone %s: sign the apex key sets: %w", zoneID, err)
	}
	return z, nil
}

// open decrypts one sealed private key.
func (o *Opener) open(zoneID string, tag uint16, k *snapshot.DnssecKey) (*ecdsa.PrivateKey, error) {
	der, err := o.ring.Open(k.GetSealedPrivateKey(), keyseal.DNSSECKeyContext(zoneID, tag, k.GetFlags()))
	if err != nil {
		return nil, fmt.Errorf("open key %d of zone %s: %w: %w", tag, zoneID, ErrKey, err)
	}
	defer clear(der)
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("decode key %d of zone %s: %w: %w", tag, zoneID, ErrKey, err)
	}
	ec, ok := priv.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key %d of zone %s: type %T: %w", tag, zoneID, priv, ErrKey)
	}
	return ec, nil
}

// matches checks that priv is the private half of the published key, so
// that a mix-up shows at load, not as bogus answers.
func matches(priv *ecdsa.PrivateKey, rr *dns.DNSKEY) error {
	pub, err := priv.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil || len(pub) != 65 {
		return fmt.Errorf("public key of the private key: %w", ErrKey)
	}
	if base64.StdEncoding.EncodeToString(pub[1:]) != rr.PublicKey {
		return fmt.Errorf("private key does not match the published DNSKEY: %w", ErrKey)
	}
	return nil
}

func containsKey(set []dns.RR, k *dns.DNSKEY) bool {
	for _, rr := range set {
		o := rr.(*dns.DNSKEY)
		if o.Flags == k.Flags && o.Algorithm == k.Algorithm && o.Protocol == k.Protocol && o.PublicKey == k.PublicKey {
			return true
		}
	}
	return false
}

// Name returns the zone name the signer signs for.
func (z *Zone) Name() string { return z.name }

// zsk returns the ZSK signing at now: among the ZSKs whose window
// [activate, retire) holds now (0 = open), the one activated last. With none
// (a zone published before its first ZSK activates) the KSK signs: it is in
// the DNSKEY set, so validators accept it.
func (z *Zone) zsk(now int64) *key {
	var best *key
	for i := range z.zsks {
		k := &z.zsks[i]
		if (k.activate != 0 && now < k.activate) || (k.retire != 0 && now >= k.retire) {
			continue
		}
		if best == nil || k.activate > best.activate {
			best = k
		}
	}
	if best == nil {
		return &z.ksk
	}
	return best
}

// ZSKTag returns the key tag of the ZSK signing at now.
func (z *Zone) ZSKTag(now time.Time) uint16 { return z.zsk(now.Unix()).tag }

// Sign signs rrset (one RRset: same owner, type and class) with the ZSK
// active at now. An owner starting with "*." is a wildcard: pass the
// wildcard's records, or copies owned by the wildcard, and rename the
// RRSIG to the query name (RFC 4035 5.3.4 reconstructs the owner from its
// Labels field).
func (z *Zone) Sign(rrset []dns.RR, now time.Time) (*dns.RRSIG, error) {
	return sign(z.zsk(now.Unix()), z.name, rrset, now)
}

// SignStored is Sign for one of the zone version's own RRsets, passed as
// the version holds them (the records of its owner and type, none added,
// left out or changed: the owner and type identify the set; the caller
// checks that it is the stored one, edge/answer's stored). Its signature is reused for up to Reuse
// while the signing ZSK is the same, so an answer that left the
// packed-answer cache (evicted by other questions) costs a copy instead of
// an ECDSA signature. The RRSIG returned is the caller's to modify.
func (z *Zone) SignStored(rrset []dns.RR, now time.Time) (*dns.RRSIG, error) {
	k := z.zsk(now.Unix())
	h := rrset[0].Header()
	key, t := storedKey{owner: h.Name, rrtype: h.Rrtype, n: len(rrset)}, now.Unix()
	z.smu.Lock()
	c, ok := z.stored[key]
	z.smu.Unlock()
	if ok && c.tag == k.tag && t >= c.made && t-c.made < int64(Reuse/time.Second) {
		return copySig(c.sig), nil
	}
	sig, err := sign(k, z.name, rrset, now)
	if err != nil {
		return nil, err
	}
	z.smu.Lock()
	if z.stored == nil || len(z.stored) >= MaxStoredSigs {
		z.stored = make(map[storedKey]storedSig)
	}
	z.stored[key] = storedSig{sig: sig, made: t, tag: k.tag}
	z.smu.Unlock()
	return copySig(sig), nil
}

func copySig(s *dns.RRSIG) *dns.RRSIG {
	c := *s
	return &c
}

// SignSOA is Sign for the SOA record of negative answers, reusing its
// signature for up to Reuse while the record and the ZSK are the same.
func (z *Zone) SignSOA(soa *dns.SOA, now time.Time) (*dns.RRSIG, error) {
	k := z.zsk(now.Unix())
	if c := z.soa.Load(); c != nil && c.soa == soa && c.tag == k.tag && now.Unix()-c.made < int64(Reuse/time.Second) && now.Unix() >= c.made {
		return c.sig, nil
	}
	sig, err := sign(k, z.name, []dns.RR{soa}, now)
	if err != nil {
		return nil, err
	}
	z.soa.Store(&soaSig{soa: soa, sig: sig, made: now.Unix(), tag: k.tag})
	return sig, nil
}

func sign(k *key, signer string, rrset []dns.RR, now time.Time) (*dns.RRSIG, error) {
	sig := &dns.RRSIG{
		Algorithm:  Algorithm,
		KeyTag:     k.tag,
		SignerName: signer,
		Inception:  uint32(now.Add(-InceptionSkew).Unix()),
		Expiration: uint32(now.Add(Validity).Unix()),
	}
	if err := sig.Sign(k.priv, rrset); err != nil {
		return nil, fmt.Errorf("sign %s %s: %w", rrset[0].Header().Name, dns.TypeToString[rrset[0].Header().Rrtype], err)
	}
	sig.Hdr.Ttl = rrset[0].Header().Ttl
	return sig, nil
}

// apexSigs returns the apex signatures, made again when older than Reuse.
func (z *Zone) apexSigs(now time.Time) (*apexSigs, error) {
	if s := z.apex.Load(); s != nil && now.Unix()-s.made < int64(Reuse/time.Second) {
		return s, nil
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if s := z.apex.Load(); s != nil && now.Unix()-s.made < int64(Reuse/time.Second) {
		return s, nil
	}
	s := &apexSigs{made: now.Unix()}
	for i := range z.ksks {
		k := &z.ksks[i]
		for _, x := range []struct {
			set  []dns.RR
			sigs *[]*dns.RRSIG
		}{{z.dnskey, &s.dnskey}, {z.cds, &s.cds}, {z.cdnskey, &s.cdnskey}} {
			sig, err := sign(k, z.name, x.set, now)
			if err != nil {
				return nil, err
			}
			*x.sigs = append(*x.sigs, sig)
		}
	}
	z.apex.Store(s)
	return s, nil
}

// Apex returns the apex set of qtype (DNSKEY, CDS or CDNSKEY) and its KSK
// signatures (one per KSK: two during a KSK rollover); false for any other
// type.
func (z *Zone) Apex(qtype uint16, now time.Time) ([]dns.RR, []*dns.RRSIG, bool) {
	s, err := z.apexSigs(now)
	var sig []*dns.RRSIG
	switch qtype {
	case dns.TypeDNSKEY:
		if err == nil {
			sig = s.dnskey
		}
		return z.dnskey, sig, true
	case dns.TypeCDS:
		if err == nil {
			sig = s.cds
		}
		return z.cds, sig, true
	case dns.TypeCDNSKEY:
		if err == nil {
			sig = s.cdnskey
		}
		return z.cdnskey, sig, true
	}
	return nil, nil, false
}

// IsApexType reports whether t is one of the key sets the signer serves at
// the apex.
func IsApexType(t uint16) bool {
	return t == dns.TypeDNSKEY || t == dns.TypeCDS || t == dns.TypeCDNSKEY
}

// StaleAt returns when an answer whose earliest signature expires at
// expiration (unix seconds) must no longer be reused.
func StaleAt(expiration uint32) int64 {
	return int64(expiration) - int64((Validity-Reuse)/time.Second)
}

// nsec returns an NSEC record with the types of bitmap, which must be
// sorted.
func nsec(owner, next string, ttl uint32, bitmap []uint16) *dns.NSEC {
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: next,
		TypeBitMap: bitmap,
	}
}

// nxBitmap is the bitmap of a compact NXDOMAIN answer (RFC 9824 3.2).
var nxBitmap = []uint16{dns.TypeRRSIG, dns.TypeNSEC, TypeNXNAME}

// CompactNXDOMAIN is the one NSEC of a compact answer for a name that does
// not exist (RFC 9824): owned by the name, next name "\000.<name>" (so it
// covers nothing but the name itself: no zone walking), bitmap RRSIG NSEC
// NXNAME. The response code becomes NOERROR.
func CompactNXDOMAIN(name string, ttl uint32) *dns.NSEC {
	return nsec(name, `\000.`+name, ttl, nxBitmap)
}

// CompactNODATA is the NSEC of a compact answer for a name that exists
// without the queried type: the types present (RRSIG and NSEC added,
// sorted, without duplicates; the caller leaves the queried type out).
func CompactNODATA(name string, ttl uint32, types []uint16) *dns.NSEC {
	return nsec(name, `\000.`+name, ttl, Bitmap(types))
}

// Bitmap returns types with RRSIG and NSEC, sorted, without duplicates.
func Bitmap(types []uint16) []uint16 {
	out := make([]uint16, 0, len(types)+2)
	out = append(out, types...)
	out = append(out, dns.TypeRRSIG, dns.TypeNSEC)
	for i := 1; i < len(out); i++ { // insertion sort: a handful of types
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	w := 0
	for i, t := range out {
		if i == 0 || t != out[w-1] {
			out[w] = t
			w++
		}
	}
	return out[:w]
}

// CoverNSEC returns an NSEC that proves qname, and every name below it,
// does not exist, for an answer synthesized from the wildcard of the
// closest encloser ce (RFC 4035 3.1.3.3): owner and next are the nearest
// names before and after the label of qname right below ce (RFC 4470 "white
// lies", epsilon functions of RFC 4471), so that the closest encloser the
// validator derives from them is ce and the range covers no other name a
// zone could plausibly hold. An NSEC owned by qname itself (as compact
// answers use) would say that qname exists and cannot prove a wildcard
// expansion.
func CoverNSEC(qname, ce string, ttl uint32) *dns.NSEC {
	rest := qname[:len(qname)-len(ce)]
	if ce == "." {
		rest = qname[:len(qname)-1]
	}
	rest = strings.TrimSuffix(rest, ".")
	label := rest
	if i := lastLabelStart(rest); i > 0 {
		label = rest[i:]
	}
	suffix := "." + ce
	if ce == "." {
		suffix = "."
	}
	return nsec(predecessor(label)+suffix, label+`\000`+suffix, ttl, []uint16{dns.TypeRRSIG, dns.TypeNSEC})
}

// lastLabelStart returns the index where the last label of a relative name
// in presentation form starts (escaped dots skipped).
func lastLabelStart(s string) int {
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '.':
			start = i + 1
		}
	}
	return start
}

// predecessor returns a label (presentation form) that sorts right before
// label in canonical order (RFC 4034 6.1): the last octet decremented and
// \255 appended, which only names beginning with that exact prefix could
// fall between; a label ending in \000 has its parent-level predecessor in
// its own subtree ("\255" below the label without the zero).
func predecessor(label string) string {
	raw, ok := unescape(label)
	if !ok || len(raw) == 0 {
		return `\000`
	}
	last := raw[len(raw)-1]
	if last == 0 {
		return `\255.` + escape(raw[:len(raw)-1])
	}
	last--
	if 'A' <= last && last <= 'Z' {
		// Canonical order compares lower case: upper-case octets sort as
		// their lower-case letters, after '@'.
		last = 'A' - 1
	}
	out := append(raw[:len(raw)-1:len(raw)-1], last)
	if len(out) < 63 {
		out = append(out, 0xff)
	}
	return escape(out)
}

// unescape returns the octets of one label in presentation form.
func unescape(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if v > 255 {
				return nil, false
			}
			out = append(out, byte(v))
			i += 3
			continue
		}
		if i+1 >= len(s) {
			return nil, false
		}
		out = append(out, s[i+1])
		i++
	}
	return out, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// escape writes octets as one label in presentation form.
func escape(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '$':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c < 0x21 || c > 0x7e:
			fmt.Fprintf(&sb, "\\%03d", c)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
