package dnssec

import (
	"crypto/sha1"
	"encoding/base32"
	"strings"

	"github.com/miekg/dns"
)

// NSEC3 denial, generated at answer time for zones with use_nsec3 (the
// enterprise setting "dnssec_use_nsec3"): SHA-1, no salt, no extra
// iterations, no opt-out (RFC 9276's recommendation), and "narrow" ranges
// around each hash (RFC 7129 appendix B, as online signers do): a matching
// NSEC3 runs from H to H+1, a covering one from H-1 to H+1, so that no
// answer reveals another name's hash (no offline zone walking either).

var b32 = base32.HexEncoding.WithPadding(base32.NoPadding)

// nsec3Hash returns the raw SHA-1 NSEC3 hash of a name (RFC 5155 5).
func nsec3Hash(name string) []byte {
	buf := make([]byte, 256)
	off, err := dns.PackDomainName(strings.ToLower(name), buf, 0, nil, false)
	if err != nil {
		return nil
	}
	h := sha1.Sum(buf[:off])
	return h[:]
}

// add returns h + d (d is +1 or -1) as a 160-bit big-endian number,
// wrapping around as the NSEC3 chain does.
func add(h []byte, d int) []byte {
	out := append([]byte(nil), h...)
	for i := len(out) - 1; i >= 0; i-- {
		if d > 0 {
			out[i]++
			if out[i] != 0 {
				break
			}
		} else {
			out[i]--
			if out[i] != 0xff {
				break
			}
		}
	}
	return out
}

func nsec3(owner []byte, next []byte, zone string, ttl uint32, bitmap []uint16) *dns.NSEC3 {
	return &dns.NSEC3{
		Hdr:        dns.RR_Header{Name: strings.ToLower(b32.EncodeToString(owner)) + "." + zone, Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: ttl},
		Hash:       dns.SHA1,
		HashLength: sha1.Size,
		NextDomain: b32.EncodeToString(next),
		TypeBitMap: bitmap,
	}
}

// NSEC3Match returns an NSEC3 matching name (which exists with types; the
// caller leaves out the queried type): it proves NODATA, or that name is
// the closest encloser.
func NSEC3Match(name, zone string, ttl uint32, types []uint16) *dns.NSEC3 {
	h := nsec3Hash(name)
	return nsec3(h, add(h, 1), zone, ttl, nsec3Bitmap(types))
}

// NSEC3Cover returns an NSEC3 covering name: proof that it does not exist.
func NSEC3Cover(name, zone string, ttl uint32) *dns.NSEC3 {
	h := nsec3Hash(name)
	return nsec3(add(h, -1), add(h, 1), zone, ttl, nil)
}

// nsec3Bitmap is types sorted without duplicates, with RRSIG when the name
// has any type (its sets are signed); an empty non-terminal has none.
func nsec3Bitmap(types []uint16) []uint16 {
	if len(types) == 0 {
		return nil
	}
	out := Bitmap(types) // adds RRSIG and NSEC
	w := 0
	for _, t := range out {
		if t != dns.TypeNSEC {
			out[w] = t
			w++
		}
	}
	return out[:w]
}

// NextCloser returns the name one label longer than the closest encloser
// ce on the way to qname (RFC 5155 1.3), which qname is or is below.
func NextCloser(qname, ce string) string {
	want := dns.CountLabel(ce) + 1
	labels := dns.SplitDomainName(qname)
	if len(labels) < want {
		return qname
	}
	return dns.Fqdn(strings.Join(labels[len(labels)-want:], "."))
}

// UsesNSEC3 reports whether the zone denies existence with NSEC3.
func (z *Zone) UsesNSEC3() bool { return z.nsec3 }

// NSEC3PARAM returns the apex NSEC3PARAM of an NSEC3 zone: the parameters
// of every NSEC3 made here (SHA-1, flags 0, no extra iteration, no salt;
// RFC 9276), for tools that read them from the zone.
func NSEC3PARAM(zone string, ttl uint32) *dns.NSEC3PARAM {
	return &dns.NSEC3PARAM{
		Hdr:  dns.RR_Header{Name: zone, Rrtype: dns.TypeNSEC3PARAM, Class: dns.ClassINET, Ttl: ttl},
		Hash: dns.SHA1, Flags: 0, Iterations: 0, SaltLength: 0, Salt: "",
	}
}
