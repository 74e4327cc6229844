package store

// This file fixes the contract between the storage layer (controlplane/store)
// and the record service (services/records). The implementation lives in the
// rest of the package.

import (
	"context"
	"errors"

	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// Errors callers test with errors.Is. Implementations wrap them with the
// thing that failed.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict is returned when optimistic concurrency kept failing after
	// retries.
	ErrConflict = errors.New("concurrent modification")
)

// ZoneView is a consistent read (one etcd revision) of the parts of a zone a
// record write needs to validate itself against. All methods read at the
// same revision; the write commits only if no record of the zone changed
// since that revision.
type ZoneView interface {
	Zone() *dnsv1.Zone
	Settings() *dnsv1.ZoneSettings
	// Record returns the record with this id, or ErrNotFound.
	Record(ctx context.Context, id string) (*dnsv1.Record, error)
	// RecordsAt returns every record whose name is exactly name (normalized).
	RecordsAt(ctx context.Context, name string) ([]*dnsv1.Record, error)
	// RecordsUnder returns every record at name or below it.
	RecordsUnder(ctx context.Context, name string) ([]*dnsv1.Record, error)
	// RecordCount returns how many records the zone holds in this view
	// (for a grouped write: including the earlier writes of its group),
	// for the plan's record quota.
	RecordCount(ctx context.Context) (int, error)
}

// Prefetcher is implemented by the views of grouped writes. Prefetch is a
// hint: it reads the records named exactly one of names, and the records
// with these ids, in a few etcd round trips, so that the lookups of a large
// batch on a zone too large to hold in memory do not cost one round trip
// each. It is a no-op when the view holds the whole zone already.
type Prefetcher interface {
	Prefetch(ctx context.Context, names, ids []string) error
}

// RecordOp is one change of a record write: Put stores Record (creating or
// replacing by Record.Id, which must be set), Delete removes the record with
// id DeleteID.
type RecordOp struct {
	Put      *dnsv1.Record
	DeleteID string
}
