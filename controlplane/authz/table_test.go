package authz

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// TestEveryAPIMethodHasARule walks the dns.v1 descriptors, so a method
// added to the API without a rule fails here, before the server-level
// matrix test even runs.
func TestEveryAPIMethodHasARule(t *testing.T) {
	rules := Rules()
	protoregistry.GlobalFiles.RangeFilesByPackage("dns.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				m := "/" + string(sd.FullName()) + "/" + string(sd.Methods().Get(j).Name())
				r, ok := rules[m]
				switch {
				case !ok:
					t.Errorf("%s has no rule", m)
				case r.Scope == Public:
					t.Errorf("%s is public: API methods need a token", m)
				case r.Scope != Self && len(r.AnyOf) == 0:
					t.Errorf("%s needs no permission", m)
				}
			}
		}
		return true
	})
}

func TestEveryPermissionGrantsSomething(t *testing.T) {
	used := map[dnsv1.Permission]bool{}
	for _, r := range Rules() {
		for _, p := range r.AnyOf {
			used[p] = true
		}
	}
	for v := range dnsv1.Permission_name {
		if p := dnsv1.Permission(v); p != 0 && !used[p] {
			t.Errorf("permission %s grants no method", PermissionName(p))
		}
	}
}

func TestPermissionNames(t *testing.T) {
	tests := []struct {
		in   string
		want dnsv1.Permission
		name string
	}{
		{"DNS Write", dnsv1.Permission_PERMISSION_DNS_WRITE, "DNS Write"},
		{"dns-read", dnsv1.Permission_PERMISSION_DNS_READ, "DNS Read"},
		{"PERMISSION_ZONE_DNS_SETTINGS_WRITE", dnsv1.Permission_PERMISSION_ZONE_DNS_SETTINGS_WRITE, "Zone DNS Settings Write"},
		{"account_dns_settings_write", dnsv1.Permission_PERMISSION_ACCOUNT_DNS_SETTINGS_WRITE, "Account DNS Settings Write"},
		{"API Tokens Read", dnsv1.Permission_PERMISSION_API_TOKENS_READ, "API Tokens Read"},
		{"audit logs read", dnsv1.Permission_PERMISSION_AUDIT_LOGS_READ, "Audit Logs Read"},
	}
	for _, tt := range tests {
		got, ok := ParsePermission(tt.in)
		if !ok || got != tt.want || PermissionName(got) != tt.name {
			t.Errorf("ParsePermission(%q) = %v, %v (name %q); want %v (%q)", tt.in, got, ok, PermissionName(got), tt.want, tt.name)
		}
	}
	for _, bad := range []string{"", "unspecified", "PERMISSION_UNSPECIFIED", "DNS Admin"} {
		if _, ok := ParsePermission(bad); ok {
			t.Errorf("ParsePermission(%q) accepted", bad)
		}
	}
}
