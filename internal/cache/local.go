package cache

import (
	"container/list"
	"sync"
	"time"
)

// local is the in-process L1 in front of Redis: fresh entries this process
// read or stored, kept for a short lifetime (never past their own expiry),
// bounded by entry count and bytes. Eviction is first in, first out, which
// with one lifetime for all is also soonest-expiring first.
//
// A purge clears the matching entries of this process at once; another
// process keeps serving its copies until their lifetime passes.
type local struct {
	ttl        time.Duration
	maxEntries int
	maxBytes   int64

	mu    sync.RWMutex
	items map[Key]*list.Element // → element of order
	order *list.List            // of *localItem, oldest first
	bytes int64
}

type localItem struct {
	key    Key
	entry  *Entry
	until  time.Time // min(kept + ttl, entry.Expires)
	weight int64
}

// newLocal returns nil (no L1) when ttl is not positive.
func newLocal(ttl time.Duration, maxEntries int, maxBytes int64) *local {
	if ttl <= 0 || maxEntries <= 0 || maxBytes <= 0 {
		return nil
	}
	return &local{ttl: ttl, maxEntries: maxEntries, maxBytes: maxBytes,
		items: make(map[Key]*list.Element), order: list.New()}
}

// get returns the entry stored under k while it is fresh.
func (l *local) get(k Key, now time.Time) *Entry {
	if l == nil {
		return nil
	}
	l.mu.RLock()
	el, ok := l.items[k]
	var it *localItem
	if ok {
		it = el.Value.(*localItem)
	}
	l.mu.RUnlock()
	if it == nil || !now.Before(it.until) {
		return nil
	}
	return it.entry
}

// put keeps e, a fresh entry, under k (whose Redis key is rkey), and
// reports whether it did.
// Entries over a quarter of the byte budget are not kept: one large file
// must not push out everything else.
func (l *local) put(rkey string, k Key, e *Entry, now time.Time) bool {
	if l == nil || !now.Before(e.Expires) {
		return false
	}
	w := int64(len(e.Body)+len(e.ContentType)+len(rkey)) + 128
	if w > l.maxBytes/4 {
		return false
	}
	until := now.Add(l.ttl)
	if e.Expires.Before(until) {
		until = e.Expires
	}
	it := &localItem{key: k, entry: e, until: until, weight: w}
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.items[k]; ok {
		l.removeLocked(el)
	}
	for l.order.Len() >= l.maxEntries || l.bytes+w > l.maxBytes {
		l.removeLocked(l.order.Front())
	}
	l.items[k] = l.order.PushBack(it)
	l.bytes += w
	return true
}

// purge forgets the entries of scope, of one operation (operation != "") and
// about one document (topic > 0), as Store.Purge deletes them from Redis.
func (l *local) purge(scope, operation string, topic int) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for el := l.order.Front(); el != nil; {
		next := el.Next()
		k := el.Value.(*localItem).key
		if k.Scope == scope && (operation == "" || k.Operation == operation) && (topic <= 0 || k.Topic == topic) {
			l.removeLocked(el)
		}
		el = next
	}
}

func (l *local) removeLocked(el *list.Element) {
	it := l.order.Remove(el).(*localItem)
	delete(l.items, it.key)
	l.bytes -= it.weight
}
