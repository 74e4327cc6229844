package store

// UsePagedListing makes listings read with range requests, as against an
// etcd without RangeStream, until the returned function is called.
func UsePagedListing() (restore func()) {
	old := pagedListing.Swap(true)
	return func() { pagedListing.Store(old) }
}
