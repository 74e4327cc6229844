package settings

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/zonegrid/zonegrid/services/status"
)

// SOA fields: defaults and bounds from the source documents ("DNS record
// types", SOA: "Refer to the following list for information about each SOA
// record field"). 0 (or "" for the names) always means the default.
const (
	MinSOARefresh = 600
	MaxSOARefresh = 86400
	MinSOARetry   = 600
	MaxSOARetry   = 3600
	MinSOAExpire  = 86400
	MaxSOAExpire  = 2419200
	MinSOAMinTTL  = 60
	MaxSOAMinTTL  = 86400
	MinSOATTL     = 1800
	MaxSOATTL     = 3600

	DefaultSOARefresh = 10000
	DefaultSOARetry   = 2400
	DefaultSOAExpire  = 604800
	DefaultSOAMinTTL  = 1800
	DefaultSOATTL     = 3600
)

// soaFields are the SOA fields of ZoneSettings or AccountZoneDefaults.
type soaFields struct {
	mname, rname                            string
	refresh, retry, expire, minimum, soaTTL uint32
}

// soaPaths are the mask paths of the SOA fields, in both messages.
var soaPaths = []string{"soa_mname", "soa_rname", "soa_refresh", "soa_retry", "soa_expire", "soa_min_ttl", "soa_ttl"}

// checkSOAFields validates the SOA fields named in paths, each on its own,
// and returns them normalized (names fully qualified, RNAME from an e-mail
// address converted). prefix is the request field holding them
// ("settings.", "defaults.").
func checkSOAFields(prefix string, in soaFields, paths map[string]bool) (soaFields, []status.FieldViolation) {
	var vs []status.FieldViolation
	add := func(v *status.FieldViolation) {
		if v != nil {
			v.Field = prefix + v.Field
			vs = append(vs, *v)
		}
	}
	out := in
	if paths["soa_mname"] && in.mname != "" {
		n, err := hostname(in.mname)
		if err != nil {
			add(&status.FieldViolation{Field: "soa_mname", Description: err.Error()})
		}
		out.mname = n
	}
	if paths["soa_rname"] && in.rname != "" {
		n, err := ParseRNAME(in.rname)
		if err != nil {
			add(&status.FieldViolation{Field: "soa_rname", Description: err.Error()})
		}
		out.rname = n
	}
	if paths["soa_refresh"] {
		add(rangeCheck("soa_refresh", in.refresh, MinSOARefresh, MaxSOARefresh))
	}
	if paths["soa_retry"] {
		add(rangeCheck("soa_retry", in.retry, MinSOARetry, MaxSOARetry))
	}
	if paths["soa_expire"] {
		add(rangeCheck("soa_expire", in.expire, MinSOAExpire, MaxSOAExpire))
	}
	if paths["soa_min_ttl"] {
		add(rangeCheck("soa_min_ttl", in.minimum, MinSOAMinTTL, MaxSOAMinTTL))
	}
	if paths["soa_ttl"] {
		add(rangeCheck("soa_ttl", in.soaTTL, MinSOATTL, MaxSOATTL))
	}
	return out, vs
}

// checkSOACross applies the documents' rules between fields, on the
// values in force (0 = the default): Retry "must not be greater than
// Refresh", Expire "must not be smaller than Refresh". It names the field
// the request changed when only one side did.
func checkSOACross(prefix string, s soaFields, paths map[string]bool) error {
	refresh := orDefault(s.refresh, DefaultSOARefresh)
	if retry := orDefault(s.retry, DefaultSOARetry); retry > refresh {
		field := "soa_retry"
		if paths["soa_refresh"] && !paths["soa_retry"] {
			field = "soa_refresh"
		}
		return status.InvalidArgument(prefix+field, fmt.Sprintf("retry (%d) must not be greater than refresh (%d)", retry, refresh))
	}
	if expire := orDefault(s.expire, DefaultSOAExpire); expire < refresh {
		field := "soa_expire"
		if paths["soa_refresh"] && !paths["soa_expire"] {
			field = "soa_refresh"
		}
		return status.InvalidArgument(prefix+field, fmt.Sprintf("expire (%d) must not be smaller than refresh (%d)", expire, refresh))
	}
	return nil
}

// hostname checks a nameserver name and returns it lower-case and fully
// qualified.
func hostname(s string) (string, error) {
	n := dns.Fqdn(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := dns.IsDomainName(n); !ok || strings.Contains(n, `\`) {
		return "", fmt.Errorf("%q is not a valid host name", s)
	}
	labels := dns.SplitDomainName(n)
	if len(labels) < 2 {
		return "", fmt.Errorf("%q is not a fully qualified host name", s)
	}
	for _, l := range labels {
		if !ldh(l) {
			return "", fmt.Errorf("%q: label %q is not letters, digits and hyphens", s, l)
		}
	}
	return n, nil
}

func ldh(label string) bool {
	if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// mailboxSpecials are the characters an RNAME local part may hold besides
// letters and digits (RFC 5322 atext, plus the dot, which is escaped).
const mailboxSpecials = "!#$%&'*+/=?^_`{|}~-"

// ParseRNAME returns the SOA RNAME for an administrator's mailbox given
// either as an e-mail address ("john.doe@example.com") or already as an
// RNAME ("john\.doe.example.com"): fully qualified, the first unescaped dot
// standing for "@", dots of the local part escaped as "\." (as the
// documents' table shows), the domain lower-case.
func ParseRNAME(s string) (string, error) {
	s = strings.TrimSpace(s)
	var local, domain string
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		local, domain = s[:at], s[at+1:]
		if strings.Contains(local, `\`) {
			return "", fmt.Errorf("%q: an e-mail address needs no escaping", s)
		}
	} else {
		// Split at the first dot not escaped by a backslash.
		i := 0
		for ; i < len(s); i++ {
			if s[i] == '\\' {
				i++
				continue
			}
			if s[i] == '.' {
				break
			}
		}
		if i >= len(s) {
			return "", fmt.Errorf("%q is neither an e-mail address nor an RNAME (mailbox.domain)", s)
		}
		local, domain = strings.ReplaceAll(s[:i], `\.`, "."), s[i+1:]
	}
	if local == "" || strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", fmt.Errorf("%q: the mailbox part is empty or has misplaced dots", s)
	}
	for _, c := range local {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || strings.ContainsRune(mailboxSpecials, c)) {
			return "", fmt.Errorf("%q: the mailbox part may not hold %q", s, c)
		}
	}
	if len(local) > 63 {
		return "", fmt.Errorf("%q: the mailbox part is longer than 63 characters", s)
	}
	d, err := hostname(domain)
	if err != nil {
		return "", fmt.Errorf("%q: mail domain: %w", s, err)
	}
	rname := strings.ReplaceAll(local, ".", `\.`) + "." + d
	if _, ok := dns.IsDomainName(rname); !ok {
		return "", fmt.Errorf("%q is too long for a domain name", s)
	}
	return rname, nil
}
