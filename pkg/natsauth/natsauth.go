// Package natsauth is the one place that says what each role may do on
// NATS: the control plane publishes snapshots, an edge only reads them.
// The embedded NATS server of `make run` grants exactly these permissions,
// the tests prove them against a real server, and ServerConfig prints them
// as a nats-server configuration block for production operators (see
// docs/OPERATIONS.md, "NATS permissions per role").
//
// The subjects follow from the JetStream objects the control plane
// publishes (pkg/snapshot): KV buckets are streams KV_<bucket> written on
// $KV.<bucket>.<key>, the object store is stream OBJ_<bucket> written on
// $O.<bucket>.>, deltas are stream zonegrid-deltas written on
// zonegrid.delta.<zone>. NOTIFY notices go the other way, from the edges
// to the control plane, on plain NATS subjects zonegrid.notify.<zone>
// (pkg/notify). Every JetStream API call is a request on
// $JS.API.<verb>[.<stream>[...]], answered on the caller's _INBOX.
package natsauth

import (
	"fmt"
	"strings"

	"github.com/zonegrid/zonegrid/pkg/notify"
	"github.com/zonegrid/zonegrid/pkg/snapshot"
)

// Role names a kind of NATS client.
type Role string

// The roles.
const (
	ControlPlane Role = "controlplane"
	Edge         Role = "edge"
)

// Permissions are the subjects a role may publish and subscribe to;
// everything else is denied.
type Permissions struct {
	PublishAllow   []string
	SubscribeAllow []string
}

// Streams are the JetStream streams behind the snapshots.
func Streams() []string {
	return []string{
		"KV_" + snapshot.ZonesBucket,
		"KV_" + snapshot.AccountsBucket,
		"OBJ_" + snapshot.ObjectBucket,
		snapshot.DeltaStream,
	}
}

// readAPI is what following a stream needs: its info, ordered (ephemeral)
// consumers over it (create, info, delete when they reset, pull next) and
// single-message reads (direct get for the KV buckets, message get for the
// delta stream).
func readAPI(stream string) []string {
	return []string{
		"$JS.API.STREAM.INFO." + stream,
		"$JS.API.STREAM.MSG.GET." + stream,
		"$JS.API.DIRECT.GET." + stream,
		"$JS.API.DIRECT.GET." + stream + ".>",
		"$JS.API.CONSUMER.CREATE." + stream,
		"$JS.API.CONSUMER.CREATE." + stream + ".>",
		"$JS.API.CONSUMER.INFO." + stream + ".>",
		"$JS.API.CONSUMER.DELETE." + stream + ".>",
		"$JS.API.CONSUMER.MSG.NEXT." + stream + ".>",
		// Flow control replies of push consumers (KV watches).
		"$JS.FC." + stream + ".>",
	}
}

// EdgePermissions: read and follow the snapshots, and hand NOTIFY notices
// to the control plane; nothing else. An edge cannot put, delete or purge
// a KV value, write an object, publish a delta, nor create, change, purge
// or delete a stream, nor read other edges' notices.
func EdgePermissions() Permissions {
	p := Permissions{
		PublishAllow:   []string{"$JS.API.INFO", notify.SubjectPrefix + ">"},
		SubscribeAllow: []string{"_INBOX.>"},
	}
	for _, s := range Streams() {
		p.PublishAllow = append(p.PublishAllow, readAPI(s)...)
	}
	return p
}

// ControlPlanePermissions: everything an edge may do, plus creating and
// updating the buckets and the delta stream, purging them (deleting an
// object purges its chunks), publishing snapshots and deltas, and taking
// the edges' NOTIFY notices (subscribe only: it never publishes one). It
// may not delete a stream nor touch any other stream or subject.
func ControlPlanePermissions() Permissions {
	p := Permissions{
		PublishAllow: []string{
			"$JS.API.INFO",
			"$KV." + snapshot.ZonesBucket + ".>",
			"$KV." + snapshot.AccountsBucket + ".>",
			"$O." + snapshot.ObjectBucket + ".>",
			snapshot.DeltaSubjectPrefix + ">",
		},
		SubscribeAllow: []string{"_INBOX.>", notify.SubjectPrefix + ">"},
	}
	for _, s := range Streams() {
		p.PublishAllow = append(p.PublishAllow, readAPI(s)...)
		p.PublishAllow = append(p.PublishAllow,
			"$JS.API.STREAM.CREATE."+s,
			"$JS.API.STREAM.UPDATE."+s,
			"$JS.API.STREAM.PURGE."+s,
		)
	}
	return p
}

// For returns the permissions of a role.
func For(r Role) (Permissions, error) {
	switch r {
	case ControlPlane:
		return ControlPlanePermissions(), nil
	case Edge:
		return EdgePermissions(), nil
	}
	return Permissions{}, fmt.Errorf("natsauth: unknown role %q", r)
}

// ServerConfig renders an authorization block for nats-server.conf that
// grants each role's permissions to one nkey user per role (public keys
// "U…"). Operators who use accounts or JWTs copy the permission lists.
func ServerConfig(controlPlaneNkey, edgeNkey string) string {
	var b strings.Builder
	b.WriteString("authorization {\n  users = [\n")
	for _, u := range []struct {
		role Role
		nkey string
		p    Permissions
	}{{ControlPlane, controlPlaneNkey, ControlPlanePermissions()}, {Edge, edgeNkey, EdgePermissions()}} {
		fmt.Fprintf(&b, "    # %s\n    {\n      nkey: %s\n      permissions: {\n", u.role, u.nkey)
		fmt.Fprintf(&b, "        publish: { allow: %s }\n", quoteList(u.p.PublishAllow))
		fmt.Fprintf(&b, "        subscribe: { allow: %s }\n", quoteList(u.p.SubscribeAllow))
		b.WriteString("      }\n    }\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
