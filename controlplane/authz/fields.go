package authz

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// field returns the string field of a request message by its proto name
// ("" when the message has no such field): the table names scopes, not
// request types, so new RPCs need no code here.
func field(req any, name protoreflect.Name) string {
	m, ok := req.(proto.Message)
	if !ok {
		return ""
	}
	r := m.ProtoReflect()
	fd := r.Descriptor().Fields().ByName(name)
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
		return ""
	}
	return r.Get(fd).String()
}

// PermissionName is a permission's name as the documents write it
// ("DNS Write").
func PermissionName(p dnsv1.Permission) string {
	s, ok := strings.CutPrefix(p.String(), "PERMISSION_")
	if !ok {
		return p.String()
	}
	words := strings.Split(strings.ToLower(s), "_")
	for i, w := range words {
		switch w {
		case "dns", "api":
			words[i] = strings.ToUpper(w)
		default:
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}

// PermissionNames joins the names of ps.
func PermissionNames(ps []dnsv1.Permission) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = PermissionName(p)
	}
	return strings.Join(names, ", ")
}

// ParsePermission accepts a documented name ("DNS Write"), its enum form
// ("PERMISSION_DNS_WRITE") or a short form ("dns-write", "dns_write").
func ParsePermission(s string) (dnsv1.Permission, bool) {
	norm := strings.ToUpper(strings.NewReplacer(" ", "_", "-", "_").Replace(strings.TrimSpace(s)))
	norm = strings.TrimPrefix(norm, "PERMISSION_")
	v, ok := dnsv1.Permission_value["PERMISSION_"+norm]
	if !ok || v == 0 {
		return 0, false
	}
	return dnsv1.Permission(v), true
}
