package store

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"github.com/zonegrid/zonegrid/pkg/dnsname"
	dnsv1 "github.com/zonegrid/zonegrid/proto/dns/v1"
)

// TextMatch matches a text field of a record; every part set must hold. The
// caller normalizes the values (see RecordFilter for each field's rules).
type TextMatch struct {
	Exact      string `json:",omitempty"`
	Contains   string `json:",omitempty"`
	StartsWith string `json:",omitempty"`
	EndsWith   string `json:",omitempty"`
	Present    bool   `json:",omitempty"` // non-empty (comments)
	Absent     bool   `json:",omitempty"` // empty (comments)
}

func (m TextMatch) isSet() bool { return m != TextMatch{} }

// TagMatchKind is what a TagMatch tests.
type TagMatchKind int

// Tag tests: a tag of the name exists, none exists, or one exists whose
// value equals, contains, starts or ends with Value.
const (
	TagPresent TagMatchKind = iota + 1
	TagAbsent
	TagExact
	TagContains
	TagStartsWith
	TagEndsWith
)

// TagMatch tests a record's tags. Name is lower-case (tags are stored with
// their name folded); Value compares case-sensitively.
type TagMatch struct {
	Kind  TagMatchKind
	Name  string
	Value string `json:",omitempty"`
}

// RecordOrder is the sort order of a listing.
type RecordOrder int

// Orders of a listing; every order ends with the name (labels from the root,
// as the key schema) and the record id, so that it is total.
const (
	OrderName RecordOrder = iota
	OrderType
	OrderContent
	OrderTTL
	OrderProxied
)

// RecordFilter selects records in ListRecords and orders them; its zero
// value lists every record by name.
//
// Values are compared as given, so the caller normalizes them: Name,
// NameMatch.Exact and NameMatch.EndsWith are normalized names (EndsWith
// with a leading "." leaves the name itself out: strictly below it);
// NameMatch.Contains/StartsWith and ContentMatch.Contains/StartsWith/EndsWith
// are lower-case (they compare case-insensitively; names without their
// final dot); Content, ContentMatch.Exact and Comment compare exactly.
type RecordFilter struct {
	Name         string `json:",omitempty"` // exact, same as NameMatch.Exact
	Type         string `json:",omitempty"` // case-insensitive
	Content      string `json:",omitempty"` // exact, same as ContentMatch.Exact
	Proxied      *bool  `json:",omitempty"`
	NameMatch    TextMatch
	ContentMatch TextMatch
	Comment      TextMatch
	Tags         []TagMatch `json:",omitempty"`
	// TagsAny: a record matches the tag filters when one of them holds
	// (default: all of them).
	TagsAny bool `json:",omitempty"`
	// Any: a record matches when one of the filters holds (name, type,
	// content, proxied, comment, and the tag filters as one); default all.
	Any        bool `json:",omitempty"`
	Order      RecordOrder
	Descending bool `json:",omitempty"`
}

// listBatch is the most records one range request of a listing reads
// (descending name order, and the paged fallback of streamRange).
const listBatch = 2000

// tokenVersion starts every page token: a token of another format (or of the
// old name-order listing, which held a bare key) is refused, not misread.
const tokenVersion = 1

// groups returns the tests of f that are set, each one filter of Any.
func (f RecordFilter) groups() []func(*dnsv1.Record) bool {
	var g []func(*dnsv1.Record) bool
	if f.Name != "" || f.NameMatch.isSet() {
		g = append(g, f.matchName)
	}
	if f.Type != "" {
		g = append(g, func(r *dnsv1.Record) bool { return strings.EqualFold(f.Type, r.GetType()) })
	}
	if f.Content != "" || f.ContentMatch.isSet() {
		g = append(g, f.matchContent)
	}
	if f.Proxied != nil {
		g = append(g, func(r *dnsv1.Record) bool { return *f.Proxied == r.GetProxied() })
	}
	if f.Comment.isSet() {
		g = append(g, func(r *dnsv1.Record) bool { return matchText(f.Comment, r.GetComment(), r.GetComment()) })
	}
	if len(f.Tags) > 0 {
		g = append(g, f.matchTags)
	}
	return g
}

func (f RecordFilter) matchName(r *dnsv1.Record) bool {
	n := r.GetName()
	if f.Name != "" && n != f.Name {
		return false
	}
	m := f.NameMatch
	if m.EndsWith != "" {
		below := strings.HasPrefix(m.EndsWith, ".") && m.EndsWith != "."
		e := m.EndsWith
		if below {
			e = e[1:]
		}
		if !dnsname.IsSubdomain(n, e) || below && n == e {
			return false
		}
		m.EndsWith = ""
	}
	return matchText(m, n, strings.TrimSuffix(n, "."))
}

func (f RecordFilter) matchContent(r *dnsv1.Record) bool {
	c := r.GetContent()
	if f.Content != "" && c != f.Content {
		return false
	}
	m := f.ContentMatch
	if m.Contains == "" && m.StartsWith == "" && m.EndsWith == "" {
		return matchText(m, c, c)
	}
	return matchText(m, c, strings.ToLower(c))
}

// matchText tests m against a field: Exact, Present and Absent against its
// value, the partial tests against folded (the value as the field compares,
// e.g. lower-case).
func matchText(m TextMatch, value, folded string) bool {
	switch {
	case m.Exact != "" && value != m.Exact,
		m.Present && value == "",
		m.Absent && value != "",
		m.Contains != "" && !strings.Contains(folded, m.Contains),
		m.StartsWith != "" && !strings.HasPrefix(folded, m.StartsWith),
		m.EndsWith != "" && !strings.HasSuffix(folded, m.EndsWith):
		return false
	}
	return true
}

func (f RecordFilter) matchTags(r *dnsv1.Record) bool {
	for _, t := range f.Tags {
		ok := t.match(r.GetTags())
		if ok && f.TagsAny {
			return true
		}
		if !ok && !f.TagsAny {
			return false
		}
	}
	return !f.TagsAny
}

func (t TagMatch) match(tags []string) bool {
	found := false
	for _, tag := range tags {
		name, value, _ := strings.Cut(tag, ":")
		if name != t.Name {
			continue
		}
		found = true
		switch t.Kind {
		case TagExact:
			if value == t.Value {
				return true
			}
		case TagContains:
			if strings.Contains(value, t.Value) {
				return true
			}
		case TagStartsWith:
			if strings.HasPrefix(value, t.Value) {
				return true
			}
		case TagEndsWith:
			if strings.HasSuffix(value, t.Value) {
				return true
			}
		}
	}
	switch t.Kind {
	case TagPresent:
		return found
	case TagAbsent:
		return !found
	}
	return false
}

// match reports whether r passes f (Any or all of its filters; no filter
// passes every record).
func match(groups []func(*dnsv1.Record) bool, anyOf bool, r *dnsv1.Record) bool {
	if len(groups) == 0 {
		return true
	}
	for _, g := range groups {
		ok := g(r)
		if ok && anyOf {
			return true
		}
		if !ok && !anyOf {
			return false
		}
	}
	return !anyOf
}

// nameRange returns the part of the key space below the zone's records
// prefix that can hold matches: the name's keys for an exact name, its
// subtree for ends_with, else everything. Only when the name filter must
// hold (all filters must, or it is the only one).
func (f RecordFilter) nameRange(nGroups int) string {
	if f.Any && nGroups > 1 {
		return ""
	}
	switch {
	case f.Name != "":
		return dnsname.Reverse(f.Name) + "/"
	case f.NameMatch.Exact != "":
		return dnsname.Reverse(f.NameMatch.Exact) + "/"
	case f.NameMatch.EndsWith != "" && f.NameMatch.EndsWith != ".":
		// ".sub.example.com." (strictly below) has the same subtree; the
		// filter drops the name itself.
		return dnsname.Reverse(strings.TrimPrefix(f.NameMatch.EndsWith, "."))
	}
	return ""
}

// listingHash identifies a listing (zone, filters, order) in its tokens, so
// that a token is refused on another listing rather than silently skipping
// records of it.
func listingHash(zoneID string, f RecordFilter) ([8]byte, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return [8]byte{}, fmt.Errorf("encode listing of zone %s: %w", zoneID, err)
	}
	sum := sha256.Sum256(append([]byte(zoneID+"\x00"), b...))
	var h [8]byte
	copy(h[:], sum[:])
	return h, nil
}

// sortKey is a record's place in a listing: its order value, then its key
// below the zone's records prefix (reversed name, "/", id), which is unique.
type sortKey struct {
	value []byte
	tail  string
}

func orderValue(o RecordOrder, r *dnsv1.Record) []byte {
	switch o {
	case OrderType:
		return []byte(r.GetType())
	case OrderContent:
		return []byte(r.GetContent())
	case OrderTTL:
		return binary.BigEndian.AppendUint32(nil, r.GetTtl())
	case OrderProxied:
		if r.GetProxied() {
			return []byte{1}
		}
		return []byte{0}
	}
	return nil
}

func compareKeys(a, b sortKey) int {
	if c := bytes.Compare(a.value, b.value); c != 0 {
		return c
	}
	return strings.Compare(a.tail, b.tail)
}

// encodeCursor makes the opaque token after k: version, listing hash, then
// the order value and the key tail, length-prefixed.
func encodeCursor(h [8]byte, k sortKey) string {
	b := append([]byte{tokenVersion}, h[:]...)
	b = binary.AppendUvarint(b, uint64(len(k.value)))
	b = append(b, k.value...)
	b = append(b, k.tail...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(tok string, h [8]byte) (sortKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 1+len(h) || b[0] != tokenVersion || !bytes.Equal(b[1:1+len(h)], h[:]) {
		return sortKey{}, ErrBadPageToken
	}
	b = b[1+len(h):]
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return sortKey{}, ErrBadPageToken
	}
	k := sortKey{value: b[w : w+int(n)], tail: string(b[w+int(n):])}
	if k.tail == "" {
		return sortKey{}, ErrBadPageToken
	}
	return k, nil
}

// ListRecords lists the records of a zone matching f in f's order, pageSize
// at a time. The token returned (empty on the last page) is a cursor: the
// place of the page's last record in the order, so records added or removed
// between pages neither shift the pages nor appear twice. ErrNotFound if the
// zone does not exist; ErrBadPageToken for a token that is not from this
// listing (zone, filters and order).
//
// Cost: an exact name reads that name's keys, ends_with its subtree (a key
// range); name order reads in key order and stops once the page is full;
// the other orders read every record of the range for each page.
func (s *Store) ListRecords(ctx context.Context, zoneID string, f RecordFilter, pageSize int, pageToken string) ([]*dnsv1.Record, string, error) {
	if pageSize <= 0 {
		pageSize = 100
	}
	h, err := listingHash(zoneID, f)
	if err != nil {
		return nil, "", err
	}
	var cursor *sortKey
	if pageToken != "" {
		k, err := decodeCursor(pageToken, h)
		if err != nil {
			return nil, "", err
		}
		cursor = &k
	}
	_, rev, err := s.getZoneRev(ctx, zoneID, 0)
	if err != nil {
		return nil, "", err
	}
	l := &listing{
		s: s, f: f, groups: f.groups(), rev: rev, size: pageSize, cursor: cursor,
		zonePrefix: s.recordsPrefix(zoneID),
	}
	l.prefix = l.zonePrefix + f.nameRange(len(l.groups))
	var page []listed
	switch {
	case f.Order == OrderName && !f.Descending:
		page, err = l.byKey(ctx)
	case f.Order == OrderName:
		page, err = l.byKeyDescending(ctx)
	default:
		page, err = l.sorted(ctx)
	}
	if err != nil {
		return nil, "", fmt.Errorf("list records of zone %s: %w", zoneID, err)
	}
	next := ""
	if len(page) > pageSize {
		page = page[:pageSize]
		next = encodeCursor(h, page[len(page)-1].key)
	}
	out := make([]*dnsv1.Record, len(page))
	for i, p := range page {
		out[i] = p.r
	}
	return out, next, nil
}

// listing is one page request of ListRecords.
type listing struct {
	s          *Store
	f          RecordFilter
	groups     []func(*dnsv1.Record) bool
	rev        int64
	size       int      // the page's size; one more match tells a next page exists
	cursor     *sortKey // last record of the previous page, nil on the first
	zonePrefix string
	prefix     string // the range that can hold matches
}

type listed struct {
	key sortKey
	r   *dnsv1.Record
}

func (l *listing) decode(kv *mvccpb.KeyValue) (listed, bool, error) {
	r, err := unmarshal(kv.Value, &dnsv1.Record{}, "record "+string(kv.Key))
	if err != nil {
		return listed{}, false, err
	}
	if !match(l.groups, l.f.Any, r) {
		return listed{}, false, nil
	}
	return listed{key: sortKey{value: orderValue(l.f.Order, r), tail: strings.TrimPrefix(string(kv.Key), l.zonePrefix)}, r: r}, true, nil
}

// byKey reads in key order from just after the cursor until the page and
// one more match are found: the key order is the name order.
func (l *listing) byKey(ctx context.Context) ([]listed, error) {
	start, end := l.prefix, prefixEnd(l.prefix)
	if l.cursor != nil {
		if after := l.zonePrefix + l.cursor.tail + "\x00"; after > start {
			start = after
		}
	}
	var out []listed
	err := l.s.streamRange(ctx, start, end, l.rev, func(kv *mvccpb.KeyValue) (bool, error) {
		it, ok, err := l.decode(kv)
		if err != nil {
			return false, err
		}
		if ok {
			out = append(out, it)
		}
		return len(out) <= l.size, nil
	})
	return out, err
}

// byKeyDescending reads backwards from the cursor. etcd cannot limit a
// descending range without sorting all of it, so each step asks for keys
// only (etcd walks its in-memory index, reading no values) and then reads
// the values of that batch's keys as one ascending range.
func (l *listing) byKeyDescending(ctx context.Context) ([]listed, error) {
	start, end := l.prefix, prefixEnd(l.prefix)
	if l.cursor != nil {
		if before := l.zonePrefix + l.cursor.tail; before < end {
			end = before
		}
	}
	var out []listed
	for batch := int64(min(l.size+1, listBatch)); start < end; batch = min(2*batch, listBatch) {
		keys, err := l.s.getAt(ctx, start, l.rev, clientv3.WithRange(end), clientv3.WithLimit(batch),
			clientv3.WithKeysOnly(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
		if err != nil {
			return nil, err
		}
		if len(keys.Kvs) == 0 {
			break
		}
		low := string(keys.Kvs[len(keys.Kvs)-1].Key)
		resp, err := l.s.getAt(ctx, low, l.rev, clientv3.WithRange(end))
		if err != nil {
			return nil, err
		}
		for i := len(resp.Kvs) - 1; i >= 0; i-- {
			it, ok, err := l.decode(resp.Kvs[i])
			if err != nil {
				return nil, err
			}
			if ok {
				if out = append(out, it); len(out) > l.size {
					return out, nil
				}
			}
		}
		if !keys.More {
			break
		}
		end = low
	}
	return out, nil
}

// sorted reads the whole range and keeps the page's records (and one more)
// after the cursor in a bounded heap: orders other than the name have no
// index, so every page costs one read of the range.
func (l *listing) sorted(ctx context.Context) ([]listed, error) {
	desc := l.f.Descending
	// before reports whether a comes before b in the listing.
	before := func(a, b sortKey) bool {
		c := compareKeys(a, b)
		if desc {
			return c > 0
		}
		return c < 0
	}
	best := &worstFirst{before: before}
	err := l.s.streamRange(ctx, l.prefix, prefixEnd(l.prefix), l.rev, func(kv *mvccpb.KeyValue) (bool, error) {
		it, ok, err := l.decode(kv)
		if err != nil || !ok || l.cursor != nil && !before(*l.cursor, it.key) {
			return err == nil, err
		}
		switch {
		case best.Len() <= l.size:
			heap.Push(best, it)
		case before(it.key, best.items[0].key):
			best.items[0] = it
			heap.Fix(best, 0)
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	out := best.items
	sort.Slice(out, func(i, j int) bool { return before(out[i].key, out[j].key) })
	return out, nil
}

// worstFirst is a heap whose top is the record that comes last in the
// listing, the one to drop when a better one is found.
type worstFirst struct {
	items  []listed
	before func(a, b sortKey) bool
}

func (w *worstFirst) Len() int           { return len(w.items) }
func (w *worstFirst) Less(i, j int) bool { return w.before(w.items[j].key, w.items[i].key) }
func (w *worstFirst) Swap(i, j int)      { w.items[i], w.items[j] = w.items[j], w.items[i] }
func (w *worstFirst) Push(x any)         { w.items = append(w.items, x.(listed)) }
func (w *worstFirst) Pop() any {
	it := w.items[len(w.items)-1]
	w.items = w.items[:len(w.items)-1]
	return it
}

// streamRange calls fn for each key of [start, end) at rev, in key order,
// until fn returns false or an error.
//
// Two ways of reading a range cost differently, and each is bad where the
// other is good:
//   - A range request counts every key up to the range's end even with a
//     limit, so reading a large range a batch at a time costs time
//     quadratic in its size (72 s for a 1,000,000-record zone, 1 s for the
//     first page of it).
//   - etcd's RangeStream (3.7) does not count, but clientv3 authenticates
//     again before every stream it opens (its stream interceptor calls
//     getToken, for watches whose token may have expired): with etcd auth
//     on, as in production and in the embedded secure mode, each stream
//     costs a bcrypt password check on the server, ~65 ms here. Streaming
//     every whole-zone read made the builder's read of a five-record zone
//     take 70 ms and publication p50 go from 5 ms to 70 ms
//     (BenchmarkPropagation, docs/BENCHMARKS.md).
//
// So a range is read with range requests of unaryRangePage keys while
// what is left of it is small, and the rest is streamed once it is not;
// a range found above largeRangeKeys is remembered (Store.largeRanges)
// and streamed at once from then on. A read with rev 0 is pinned to the
// revision of its first response, so both halves see one revision.
// Against an etcd without RangeStream it falls back to range requests of
// growing size. Like every call of the store it is bounded server-side:
// here CallTimeout without a chunk, not for the whole stream, which may
// take longer on a large zone.
func (s *Store) streamRange(ctx context.Context, start, end string, rev int64, fn func(*mvccpb.KeyValue) (bool, error)) error {
	if pagedListing.Load() {
		return s.pagedRange(ctx, start, end, rev, fn)
	}
	if _, large := s.largeRanges.Load(end); !large {
		for {
			resp, err := s.getAt(ctx, start, rev, clientv3.WithRange(end), clientv3.WithLimit(unaryRangePage))
			if err != nil {
				return err
			}
			if rev == 0 {
				rev = resp.Header.Revision
			}
			// Before fn, which may stop the read: a listing's first page
			// stops after a hundred keys, and a large zone's count was
			// then paid again by every first page (1.9 -> 136 ms on a
			// million records, BenchmarkListRecordsMillion).
			if resp.Count > largeRangeKeys {
				s.largeRanges.Store(end, struct{}{})
			}
			for _, kv := range resp.Kvs {
				more, err := fn(kv)
				if err != nil || !more {
					return err
				}
			}
			if !resp.More || len(resp.Kvs) == 0 {
				return nil
			}
			start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
			if resp.Count-int64(len(resp.Kvs)) > streamAboveKeys {
				break
			}
		}
	}
	return s.rangeStream(ctx, start, end, rev, fn)
}

// unaryRangePage, streamAboveKeys and largeRangeKeys place streamRange's
// switch from range requests to a stream: counting a key costs about 1 µs
// here and opening a stream ~65 ms with auth on, so a remainder of up to
// 16,384 keys costs at most ~40 ms of counting in pages of 4,096, and a
// range of more than 65,536 keys (more counting than one login) is
// streamed from its start the next time.
const (
	unaryRangePage  = 4096
	streamAboveKeys = 16384
	largeRangeKeys  = 65536
)

// rangeStream is streamRange's RangeStream half.
func (s *Store) rangeStream(ctx context.Context, start, end string, rev int64, fn func(*mvccpb.KeyValue) (bool, error)) error {
	timeout := DefaultCallTimeout
	if bk, ok := s.kv.(boundedKV); ok && bk.timeout > 0 {
		timeout = bk.timeout
	}
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(timeout, func() {
		cancel(&UnavailableError{Reason: fmt.Sprintf("no answer within %s", timeout)})
	})
	defer watchdog.Stop()
	ch, err := s.cli.GetStream(sctx, start, clientv3.WithRange(end), clientv3.WithRev(rev))
	if err != nil {
		return fmt.Errorf("etcd stream %s: %w", start, boundedKV{}.classify(ctx, sctx, err))
	}
	defer func() {
		// The client's goroutine sends on ch until it sees the cancellation:
		// drain it so that it ends.
		cancel(nil)
		for range ch {
		}
	}()
	chunks := 0
	for r := range ch {
		if err := r.Err(); err != nil {
			if chunks == 0 && grpcstatus.Code(err) == codes.Unimplemented {
				return s.pagedRange(ctx, start, end, rev, fn)
			}
			return fmt.Errorf("etcd stream %s: %w", start, boundedKV{}.classify(ctx, sctx, err))
		}
		chunks++
		watchdog.Reset(timeout)
		for _, kv := range r.Kvs {
			more, err := fn(kv)
			if err != nil || !more {
				return err
			}
		}
	}
	return nil
}

// pagedListing makes streamRange use pagedRange (tests of the fallback).
var pagedListing atomic.Bool

// pagedRange is streamRange with range requests, for an etcd before 3.7:
// small first (a page needs few keys), doubling up to listBatch.
func (s *Store) pagedRange(ctx context.Context, start, end string, rev int64, fn func(*mvccpb.KeyValue) (bool, error)) error {
	for batch := int64(64); start < end; batch = min(2*batch, listBatch) {
		resp, err := s.getAt(ctx, start, rev, clientv3.WithRange(end), clientv3.WithLimit(batch))
		if err != nil {
			return err
		}
		for _, kv := range resp.Kvs {
			more, err := fn(kv)
			if err != nil || !more {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	return nil
}
