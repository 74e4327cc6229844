package rdata

import (
	"fmt"
	"math"
	"strings"

	"github.com/miekg/dns"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// presentData builds the RDATA text of structured data after checking each
// field's range, so that errors name the field (data.srv.port) rather than a
// position in text the user never wrote.
func presentData(typ string, data *dnsv1.RecordData, priority uint32) (string, error) {
	var b fieldBuilder
	switch d := data.GetData().(type) {
	case *dnsv1.RecordData_Caa:
		b.want(typ, "CAA", "caa")
		b.uint("data.caa.flags", d.Caa.GetFlags(), 0xff)
		b.text("data.caa.tag", d.Caa.GetTag(), false)
		b.quoted("data.caa.value", d.Caa.GetValue())
	case *dnsv1.RecordData_Srv:
		b.want(typ, "SRV", "srv")
		b.uint("data.srv.priority", d.Srv.GetPriority(), 0xffff)
		b.uint("data.srv.weight", d.Srv.GetWeight(), 0xffff)
		b.uint("data.srv.port", d.Srv.GetPort(), 0xffff)
		b.name("data.srv.target", d.Srv.GetTarget())
	case *dnsv1.RecordData_Tlsa:
		b.want(typ, "TLSA", "tlsa")
		b.tlsa("data.tlsa", d.Tlsa)
	case *dnsv1.RecordData_Smimea:
		b.want(typ, "SMIMEA", "smimea")
		b.tlsa("data.smimea", d.Smimea)
	case *dnsv1.RecordData_Sshfp:
		b.want(typ, "SSHFP", "sshfp")
		b.uint("data.sshfp.algorithm", d.Sshfp.GetAlgorithm(), 0xff)
		b.uint("data.sshfp.type", d.Sshfp.GetType(), 0xff)
		b.text("data.sshfp.fingerprint", d.Sshfp.GetFingerprint(), false)
	case *dnsv1.RecordData_Svcb:
		if typ != "HTTPS" {
			b.want(typ, "SVCB", "svcb")
		}
		b.uint("data.svcb.priority", d.Svcb.GetPriority(), 0xffff)
		b.name("data.svcb.target", d.Svcb.GetTarget())
		b.text("data.svcb.value", d.Svcb.GetValue(), true)
	case *dnsv1.RecordData_Uri:
		b.want(typ, "URI", "uri")
		b.uint("priority", priority, 0xffff)
		b.uint("data.uri.weight", d.Uri.GetWeight(), 0xffff)
		if d.Uri.GetTarget() == "" {
			b.fail("data.uri.target", "is required")
		}
		b.quoted("data.uri.target", d.Uri.GetTarget())
	case *dnsv1.RecordData_Naptr:
		b.want(typ, "NAPTR", "naptr")
		b.uint("data.naptr.order", d.Naptr.GetOrder(), 0xffff)
		b.uint("data.naptr.preference", d.Naptr.GetPreference(), 0xffff)
		b.quoted("data.naptr.flags", d.Naptr.GetFlags())
		b.quoted("data.naptr.service", d.Naptr.GetService())
		b.quoted("data.naptr.regex", d.Naptr.GetRegex())
		repl := d.Naptr.GetReplacement()
		if repl == "" {
			repl = "."
		}
		b.name("data.naptr.replacement", repl)
	case *dnsv1.RecordData_Cert:
		b.want(typ, "CERT", "cert")
		b.uint("data.cert.type", d.Cert.GetType(), 0xffff)
		b.uint("data.cert.key_tag", d.Cert.GetKeyTag(), 0xffff)
		b.uint("data.cert.algorithm", d.Cert.GetAlgorithm(), 0xff)
		b.text("data.cert.certificate", d.Cert.GetCertificate(), false)
	case *dnsv1.RecordData_Dnskey:
		b.want(typ, "DNSKEY", "dnskey")
		b.uint("data.dnskey.flags", d.Dnskey.GetFlags(), 0xffff)
		if d.Dnskey.GetProtocol() != 3 {
			b.fail("data.dnskey.protocol", "must be 3 (RFC 4034)")
		}
		b.uint("data.dnskey.protocol", d.Dnskey.GetProtocol(), 0xff)
		b.uint("data.dnskey.algorithm", d.Dnskey.GetAlgorithm(), 0xff)
		b.text("data.dnskey.public_key", d.Dnskey.GetPublicKey(), false)
	case *dnsv1.RecordData_Ds:
		b.want(typ, "DS", "ds")
		b.uint("data.ds.key_tag", d.Ds.GetKeyTag(), 0xffff)
		b.uint("data.ds.algorithm", d.Ds.GetAlgorithm(), 0xff)
		b.uint("data.ds.digest_type", d.Ds.GetDigestType(), 0xff)
		b.text("data.ds.digest", d.Ds.GetDigest(), false)
	case *dnsv1.RecordData_Loc:
		b.want(typ, "LOC", "loc")
		b.loc(d.Loc)
	default:
		return "", fieldErr("data", "data is empty")
	}
	if b.err != nil {
		return "", b.err
	}
	return strings.Join(b.parts, " "), nil
}

// fieldBuilder collects RDATA tokens and keeps the first error.
type fieldBuilder struct {
	parts []string
	err   *FieldError
}

func (b *fieldBuilder) fail(field, format string, args ...any) {
	if b.err == nil {
		b.err = fieldErr(field, format, args...)
	}
}

func (b *fieldBuilder) want(typ, dataType, oneof string) {
	if typ != dataType {
		b.fail("data."+oneof, "%s data does not fit a %s record", dataType, typ)
	}
}

func (b *fieldBuilder) uint(field string, v, max uint32) {
	if v > max {
		b.fail(field, "must be between 0 and %d", max)
	}
	b.parts = append(b.parts, fmt.Sprint(v))
}

// text adds a token that must be non-empty (unless optional) and must not
// hold whitespace or control characters, which would shift the tokens after
// it.
func (b *fieldBuilder) text(field, v string, spacesOK bool) {
	if err := noControl(field, v); err != nil {
		b.fail(field, "%s", err.Description)
		return
	}
	if v == "" {
		if !spacesOK {
			b.fail(field, "is required")
		}
		return
	}
	if !spacesOK && strings.ContainsAny(v, " \t") {
		b.fail(field, "must not contain spaces")
	}
	b.parts = append(b.parts, v)
}

func (b *fieldBuilder) name(field, v string) {
	if v == "" {
		b.fail(field, "is required")
		return
	}
	if err := hostname(field, v, true); err != nil {
		b.fail(field, "%s", err.(*FieldError).Description)
		return
	}
	b.parts = append(b.parts, v)
}

func (b *fieldBuilder) quoted(field, v string) {
	if err := noControl(field, v); err != nil {
		b.fail(field, "%s", err.Description)
		return
	}
	b.parts = append(b.parts, quote(v))
}

func (b *fieldBuilder) tlsa(prefix string, d *dnsv1.TLSAData) {
	b.uint(prefix+".usage", d.GetUsage(), 0xff)
	b.uint(prefix+".selector", d.GetSelector(), 0xff)
	b.uint(prefix+".matching_type", d.GetMatchingType(), 0xff)
	b.text(prefix+".certificate", d.GetCertificate(), false)
}

// LOC limits from RFC 1876.
const (
	locMinAltitude = -100000.00
	locMaxAltitude = 42849672.95
	locMaxSize     = 90000000.00
)

func (b *fieldBuilder) loc(d *dnsv1.LOCData) {
	b.uint("data.loc.lat_degrees", d.GetLatDegrees(), 90)
	b.uint("data.loc.lat_minutes", d.GetLatMinutes(), 59)
	b.seconds("data.loc.lat_seconds", d.GetLatSeconds())
	b.direction("data.loc.lat_direction", d.GetLatDirection(), "N", "S")
	b.uint("data.loc.long_degrees", d.GetLongDegrees(), 180)
	b.uint("data.loc.long_minutes", d.GetLongMinutes(), 59)
	b.seconds("data.loc.long_seconds", d.GetLongSeconds())
	b.direction("data.loc.long_direction", d.GetLongDirection(), "E", "W")
	b.metres("data.loc.altitude", d.GetAltitude(), locMinAltitude, locMaxAltitude)
	b.metres("data.loc.size", d.GetSize(), 0, locMaxSize)
	b.metres("data.loc.precision_horz", d.GetPrecisionHorz(), 0, locMaxSize)
	b.metres("data.loc.precision_vert", d.GetPrecisionVert(), 0, locMaxSize)
}

func (b *fieldBuilder) seconds(field string, v float64) {
	if math.IsNaN(v) || v < 0 || v >= 60 {
		b.fail(field, "must be at least 0 and below 60")
	}
	b.parts = append(b.parts, fmt.Sprintf("%.3f", v))
}

func (b *fieldBuilder) direction(field, v, pos, neg string) {
	v = strings.ToUpper(v)
	if v != pos && v != neg {
		b.fail(field, "must be %q or %q", pos, neg)
	}
	b.parts = append(b.parts, v)
}

func (b *fieldBuilder) metres(field string, v, min, max float64) {
	if math.IsNaN(v) || v < min || v > max {
		b.fail(field, "must be between %.2f and %.2f metres", min, max)
	}
	b.parts = append(b.parts, fmt.Sprintf("%.2fm", v))
}

// locData decodes the wire encoding of a LOC record (RFC 1876) into the
// structured form.
func locData(rr *dns.LOC) *dnsv1.LOCData {
	d := &dnsv1.LOCData{LatDirection: "N", LongDirection: "E"}
	lat := int64(rr.Latitude) - dns.LOC_EQUATOR
	if lat < 0 {
		d.LatDirection, lat = "S", -lat
	}
	d.LatDegrees, d.LatMinutes, d.LatSeconds = splitAngle(lat)
	long := int64(rr.Longitude) - dns.LOC_PRIMEMERIDIAN
	if long < 0 {
		d.LongDirection, long = "W", -long
	}
	d.LongDegrees, d.LongMinutes, d.LongSeconds = splitAngle(long)
	d.Altitude = (float64(rr.Altitude) - dns.LOC_ALTITUDEBASE*100) / 100
	d.Size = locSize(rr.Size)
	d.PrecisionHorz = locSize(rr.HorizPre)
	d.PrecisionVert = locSize(rr.VertPre)
	return d
}

// splitAngle splits thousandths of an arc second into degrees, minutes and
// seconds.
func splitAngle(ms int64) (deg, min uint32, sec float64) {
	deg = uint32(ms / dns.LOC_DEGREES)
	ms %= dns.LOC_DEGREES
	min = uint32(ms / dns.LOC_HOURS)
	ms %= dns.LOC_HOURS
	return deg, min, float64(ms) / 1000
}

// locSize decodes the mantissa/exponent centimetre encoding into metres.
func locSize(v uint8) float64 {
	cm := float64(v>>4) * math.Pow(10, float64(v&0x0f))
	return cm / 100
}
