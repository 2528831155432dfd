// Package cache is the Garant response cache: answers stored in Redis per
// operation and canonical request, scoped to an upstream credential (and, for
// an entry with an Owner, to one tenant), so that a hit spends no quota and
// makes no upstream call.
//
// Store.Fetch is the whole policy: a fresh entry is a hit; a miss is filled by
// the caller's function once per key however many requests want it, within
// one process (singleflight) and across processes (a short Redis lock,
// renewed while the fill runs, whose waiters read the stored result); a
// quota rejection of the filling request is its own, not shared with those
// that waited (they fill once under their own quota); an expired entry is
// kept for a grace period and served stale when the fill fails in a way the
// caller allows (the upstream is down, the quota is spent). Cache-Status
// (RFC 9211) values describe what happened.
//
// Round trips: a hit is one Redis call (none from the in-process L1); a miss
// is one script that reads the entry or takes the fill lock, the fill, and one
// script that stores the answer and releases the lock; Cache-Control:
// no-cache skips the read and the lock. A side entry (Policy.Side: a second
// form of the same answer, which another operation serves as its own) is
// read in the miss's one lookup and written in its one store.
//
// A miss's answer is written to Redis (and the fill lock released in the same
// script) before it goes back, so Cache-Status "stored" means every process
// sharing the Redis can hit it. A failed store is counted in
// gateway_cache_redis_errors_total{command="set"} and answered without
// "stored". "stored" is also absent when the answer was not kept (no-store,
// over MaxEntryBytes, streamed).
//
// The L1 (Config.LocalTTL, default 1s) keeps fresh entries this process read
// or stored, never past their own expiry. Purge clears the matching L1
// entries of the purging process at once; other processes sharing the Redis
// may serve their L1 copies for up to LocalTTL after a purge.
//
// The cache fails open: every Redis call has a tight timeout, and an error is
// counted and treated as a miss, never returned.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// Cache-Status values (RFC 9211) under the cache name "legalgate".
const (
	StatusHit       = "legalgate; hit"
	StatusStale     = "legalgate; hit; stale"
	StatusStored    = "legalgate; fwd=miss; stored"
	StatusMiss      = "legalgate; fwd=miss"
	StatusCollapsed = "legalgate; fwd=miss; collapsed"
	StatusRefreshed = "legalgate; fwd=request; stored"
	StatusBypass    = "legalgate; fwd=request"
)

// Config configures a Store. Zero values take the documented defaults.
type Config struct {
	Upstream      string        // metric label; default "garant"
	Prefix        string        // key prefix; default "lg:gc:"
	Timeout       time.Duration // per Redis call; default 100ms
	Grace         time.Duration // how long an expired entry may still be served stale; default 24h
	MaxEntryBytes int64         // larger answers are served but not stored; default 25 MiB
	CompressAbove int           // non-binary bodies above this are gzipped; default 4 KiB, negative: never
	LockTTL       time.Duration // lifetime of a fill lock, renewed every LockTTL/3 while the fill runs; default 10s
	FillTimeout   time.Duration // bound of a shared fill, of its lock renewal and of a wait for another process's fill; default 60s

	// The in-process L1: how long an entry read or stored here is served
	// without asking Redis (never past its own expiry; this is also how long
	// other processes may serve an entry after a purge); default 1s,
	// negative: no L1. LocalEntries and LocalBytes bound it; defaults 10,000
	// and 64 MiB. Entries over a quarter of LocalBytes are not kept.
	LocalTTL     time.Duration
	LocalEntries int
	LocalBytes   int64

	Now func() time.Time
}

// Store is the cache. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	cfg Config
	sf  singleflight.Group
	l1  *local // nil: no L1
	m   *storeMetrics
}

// New returns a store on rdb and registers its metrics on reg (if not nil).
func New(rdb redis.UniversalClient, cfg Config, reg prometheus.Registerer) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("cache: nil redis client")
	}
	if cfg.Upstream == "" {
		cfg.Upstream = "garant"
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "lg:gc:"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 100*time.Millisecond)
	def(&cfg.Grace, 24*time.Hour)
	def(&cfg.LockTTL, 10*time.Second)
	def(&cfg.FillTimeout, 60*time.Second)
	if cfg.MaxEntryBytes <= 0 {
		cfg.MaxEntryBytes = 25 << 20
	}
	if cfg.CompressAbove == 0 {
		cfg.CompressAbove = 4 << 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LocalTTL == 0 {
		cfg.LocalTTL = time.Second
	}
	if cfg.LocalEntries <= 0 {
		cfg.LocalEntries = 10_000
	}
	if cfg.LocalBytes <= 0 {
		cfg.LocalBytes = 64 << 20
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Store{rdb: rdb, cfg: cfg, l1: newLocal(cfg.LocalTTL, cfg.LocalEntries, cfg.LocalBytes),
		m: m}, nil
}

// MaxEntryBytes is the largest answer the store keeps: a fill that knows
// its answer is larger can hand it over as Entry.Stream instead of reading it.
func (s *Store) MaxEntryBytes() int64 { return s.cfg.MaxEntryBytes }

// Entry is one cached answer. Binary bodies are stored raw. An entry from
// the cache may be shared by concurrent requests: nobody modifies its Body.
type Entry struct {
	Body        []byte
	ContentType string
	Binary      bool
	StoredAt    time.Time
	Expires     time.Time

	// Stream, set by a fill instead of Body, hands an answer too large to
	// keep (see Store.MaxEntryBytes) to the request that filled, as it
	// arrives: it is neither stored nor shared with the requests that waited
	// for the fill (each of them fills on its own). StreamSize is its
	// length, -1 when unknown. The request that gets it closes it.
	Stream     io.ReadCloser
	StreamSize int64

	// Side, set by a fill under a Policy with a Side, is the side entry to
	// store with this one (nil: leave the side entry as it is).
	Side *Entry
}

// Key names one entry: the credential scope, the operation id, the document
// it is about (0 for none; lets Purge find it), the tenant the entry is
// private to (Owner; "" for an entry shared within the scope) and a hash of
// the canonical request. Entries of different owners never meet: not in a
// lookup, a fill, a coalesced wait nor a stale answer. Purge of a scope
// removes every owner's entries.
type Key struct {
	Scope, Operation string
	Topic            int
	Owner            string // a tenant id: letters, digits, '_' and '-'
	hash             [16]byte
}

// NewKey hashes request, a typed value whose JSON encoding is canonical
// (structs encode their fields in order and maps their keys sorted), so
// requests that mean the same have the same key whatever bytes the client sent.
func NewKey(scope, operation string, topic int, request any) (Key, error) {
	var buf [64]byte
	var sum [sha256.Size]byte
	if b, ok := appendSimpleJSON(buf[:0], request); ok {
		sum = sha256.Sum256(b)
	} else {
		h := sha256.New()
		if err := json.NewEncoder(h).Encode(request); err != nil {
			return Key{}, fmt.Errorf("cache: key for %s: %w", operation, err)
		}
		h.Sum(sum[:0])
	}
	k := Key{Scope: scope, Operation: operation, Topic: topic}
	copy(k.hash[:], sum[:])
	return k, nil
}

// appendSimpleJSON appends what json.Encoder writes for the simple requests
// of most operations (a document id, a pair of them, an id and a format),
// without reflection; false for anything else, which NewKey encodes.
func appendSimpleJSON(b []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return b, true
	case int:
		return append(strconv.AppendInt(b, int64(v), 10), '\n'), true
	case string:
		if !plainJSON(v) {
			return b, false
		}
		return append(append(append(b, '"'), v...), '"', '\n'), true
	case [2]int:
		b = strconv.AppendInt(append(b, '['), int64(v[0]), 10)
		return append(strconv.AppendInt(append(b, ','), int64(v[1]), 10), ']', '\n'), true
	case [2]string:
		if !plainJSON(v[0]) || !plainJSON(v[1]) {
			return b, false
		}
		b = append(append(append(b, '[', '"'), v[0]...), '"', ',', '"')
		return append(append(b, v[1]...), '"', ']', '\n'), true
	case [2]any:
		n, ok1 := v[0].(int)
		f, ok2 := v[1].(string)
		if !ok1 || !ok2 || !plainJSON(f) {
			return b, false
		}
		b = strconv.AppendInt(append(b, '['), int64(n), 10)
		return append(append(append(b, ',', '"'), f...), '"', ']', '\n'), true
	}
	return b, false
}

// plainJSON says whether json.Encoder writes s between quotes as it is:
// printable ASCII without the characters it escapes (" \ < > &).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// key is k's Redis key:
// PREFIX SCOPE:OPERATION:TOPIC:[t.OWNER:]{HASH}. The hash is a hash tag: an
// entry and its fill lock live in one cluster slot.
func (s *Store) key(k Key) string {
	return s.redisKey("", k)
}

func (s *Store) lockKey(k Key) string {
	return s.redisKey("lock:", k)
}

// redisKey is PREFIX KIND SCOPE:OPERATION:TOPIC:[t.OWNER:]{HASH}, built in one allocation.
func (s *Store) redisKey(kind string, k Key) string {
	var b strings.Builder
	b.Grow(len(s.cfg.Prefix) + len(kind) + len(k.Scope) + len(k.Operation) + len(k.Owner) + 2*len(k.hash) + 32)
	b.WriteString(s.cfg.Prefix)
	b.WriteString(kind)
	b.WriteString(k.Scope)
	b.WriteByte(':')
	b.WriteString(k.Operation)
	b.WriteByte(':')
	var num [20]byte
	b.Write(strconv.AppendInt(num[:0], int64(k.Topic), 10))
	b.WriteByte(':')
	if k.Owner != "" {
		b.WriteString("t.")
		b.WriteString(k.Owner)
		b.WriteByte(':')
	}
	b.WriteByte('{')
	var hx [2 * len(Key{}.hash)]byte
	hex.Encode(hx[:], k.hash[:])
	b.Write(hx[:])
	b.WriteByte('}')
	return b.String()
}

// Policy is what one request allows: the operation's TTL (0: not cached) and
// the caller's Cache-Control.
type Policy struct {
	TTL      time.Duration
	NoCache  bool          // skip the stored answer, fetch and store a fresh one
	NoStore  bool          // do not store the answer
	MaxStale time.Duration // accept an entry this long past its expiry; < 0 any within grace

	// Side names the operation of a side entry: a second form of the same
	// answer, under the same request (k with Operation Side), that another
	// operation serves as its own entry. A lookup that misses k's entry reads
	// the side entry in the same round trip and hands it to the fill when it
	// is fresh (SideEntry); a fill's Entry.Side is stored with k's entry in
	// one round trip. "" for none.
	Side string
}

// ParseCacheControl reads no-cache, no-store and max-stale[=seconds] from a
// Cache-Control request header into p; other directives are ignored.
func ParseCacheControl(p *Policy, header string) {
	for d := range strings.SplitSeq(header, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "no-cache":
			p.NoCache = true
		case "no-store":
			p.NoStore = true
		case "max-stale":
			if n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(val), `"`)); err == nil && n >= 0 {
				p.MaxStale = time.Duration(n) * time.Second
			} else {
				p.MaxStale = -1
			}
		}
	}
}

// Result is an answer and how the cache produced it.
type Result struct {
	Entry  *Entry
	Status string // Cache-Status; "" for operations that are not cached
	Age    int    // seconds since stored, for answers from the cache
	Hit    bool   // served from the cache (fresh, stale or a peer's fill)
	Filled bool   // this request's own fill function ran
}

// FillFunc fetches an answer from the upstream on a miss.
type FillFunc func(ctx context.Context) (*Entry, error)

type sideKey struct{}

// SideEntry is the fresh side entry (Policy.Side) the lookup found, for
// the fill running under ctx; nil when there is none, when the lookup was
// skipped (Cache-Control: no-cache) or when Redis did not answer.
func SideEntry(ctx context.Context) *Entry {
	e, _ := ctx.Value(sideKey{}).(*Entry)
	return e
}
