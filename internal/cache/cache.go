// Package cache is the Garant response cache: answers stored in Redis per
// operation and canonical request, scoped to an upstream credential, so that a
// hit spends no quota and makes no upstream call.
//
// Store.Fetch is the whole policy: a fresh entry is a hit; a miss is filled by
// the caller's function once per key however many requests want it, within
// one process (singleflight) and across processes (a short Redis lock whose
// waiters read the stored result); an expired entry is kept for a grace period
// and served stale when the fill fails in a way the caller allows (the
// upstream is down, the quota is spent). Cache-Status (RFC 9211) values
// describe what happened.
//
// The cache fails open: every Redis call has a tight timeout, and an error is
// counted and treated as a miss, never returned.
package cache

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
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
	LockTTL       time.Duration // how long one process may fill a key before others try; default 10s
	FillTimeout   time.Duration // bound of a shared fill; default 60s
	Now           func() time.Time
}

// Store is the cache. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	cfg Config
	sf  singleflight.Group
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
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Store{rdb: rdb, cfg: cfg, m: m}, nil
}

// Entry is one cached answer. Binary bodies are stored raw.
type Entry struct {
	Body        []byte
	ContentType string
	Binary      bool
	StoredAt    time.Time
	Expires     time.Time
}

// Key names one entry: the credential scope, the operation id, the document
// it is about (0 for none; lets Purge find it) and a hash of the canonical
// request.
type Key struct {
	Scope, Operation string
	Topic            int
	hash             string
}

// NewKey hashes request, a typed value whose JSON encoding is canonical
// (structs encode their fields in order and maps their keys sorted), so
// requests that mean the same have the same key whatever bytes the client sent.
func NewKey(scope, operation string, topic int, request any) (Key, error) {
	h := sha256.New()
	if request != nil {
		if err := json.NewEncoder(h).Encode(request); err != nil {
			return Key{}, fmt.Errorf("cache: key for %s: %w", operation, err)
		}
	}
	return Key{Scope: scope, Operation: operation, Topic: topic, hash: hex.EncodeToString(h.Sum(nil)[:16])}, nil
}

func (s *Store) key(k Key) string {
	return s.cfg.Prefix + k.Scope + ":" + k.Operation + ":" + strconv.Itoa(k.Topic) + ":" + k.hash
}

func (s *Store) lockKey(k Key) string { return s.cfg.Prefix + "lock:" + s.key(k) }

// Policy is what one request allows: the operation's TTL (0: not cached) and
// the caller's Cache-Control.
type Policy struct {
	TTL      time.Duration
	NoCache  bool          // skip the stored answer, fetch and store a fresh one
	NoStore  bool          // do not store the answer
	MaxStale time.Duration // accept an entry this long past its expiry; < 0 any within grace
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

// Fetch answers k under p: from the cache, or by calling fill at most once
// per key at a time across every process sharing the Redis. When fill fails
// and serveStale(err) is true, an expired entry within the grace period is
// served instead of the error.
func (s *Store) Fetch(ctx context.Context, k Key, p Policy, fill FillFunc, serveStale func(error) bool) (*Result, error) {
	op := k.Operation
	if p.TTL <= 0 {
		s.m.result(s.cfg.Upstream, op, "bypass")
		e, err := fill(ctx)
		if err != nil {
			return nil, err
		}
		return &Result{Entry: e, Filled: true}, nil
	}
	now := s.cfg.Now()
	var cached *Entry
	looked := false
	if !p.NoCache {
		var err error
		cached, err = s.get(ctx, k)
		looked = true
		switch {
		case err != nil:
			s.m.result(s.cfg.Upstream, op, "error")
		case cached != nil && now.Before(cached.Expires):
			s.m.result(s.cfg.Upstream, op, "hit")
			return s.hit(cached, StatusHit, now), nil
		case cached != nil && p.MaxStale != 0 && (p.MaxStale < 0 || now.Before(cached.Expires.Add(p.MaxStale))):
			s.m.result(s.cfg.Upstream, op, "stale")
			return s.hit(cached, StatusStale, now), nil
		default:
			s.m.result(s.cfg.Upstream, op, "miss")
		}
	} else {
		s.m.result(s.cfg.Upstream, op, "bypass")
	}

	var res *Result
	var err error
	if p.NoCache {
		res, err = s.fillAndStore(ctx, k, p, fill)
		if res != nil {
			res.Status = map[bool]string{true: StatusRefreshed, false: StatusBypass}[res.Status == StatusStored]
		}
	} else {
		res, err = s.coalesced(ctx, k, p, fill)
	}
	if err == nil {
		return res, nil
	}
	if serveStale == nil || !serveStale(err) {
		return nil, err
	}
	if !looked {
		cached, _ = s.get(ctx, k)
	}
	if cached == nil {
		return nil, err
	}
	s.m.result(s.cfg.Upstream, op, "stale")
	return s.hit(cached, StatusStale, s.cfg.Now()), nil
}

func (s *Store) hit(e *Entry, status string, now time.Time) *Result {
	return &Result{Entry: e, Status: status, Age: max(0, int(now.Sub(e.StoredAt)/time.Second)), Hit: true}
}

// coalesced fills k once in this process; other callers wait for that fill.
func (s *Store) coalesced(ctx context.Context, k Key, p Policy, fill FillFunc) (*Result, error) {
	led := false
	ch := s.sf.DoChan(s.key(k), func() (any, error) {
		led = true
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.FillTimeout)
		defer cancel()
		return s.fillLocked(fctx, k, p, fill)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		res := *r.Val.(*Result)
		if !led {
			s.m.coalesced.WithLabelValues(s.cfg.Upstream, k.Operation).Inc()
			res.Status, res.Filled, res.Hit = StatusCollapsed, false, true
		}
		return &res, nil
	}
}

// fillLocked takes the cross-process fill lock of k, or waits for the
// process holding it to store the answer.
func (s *Store) fillLocked(ctx context.Context, k Key, p Policy, fill FillFunc) (*Result, error) {
	for range 2 {
		token, ok := s.lock(ctx, k)
		if ok {
			defer s.unlock(k, token)
			return s.fillAndStore(ctx, k, p, fill)
		}
		if e := s.awaitPeer(ctx, k); e != nil {
			s.m.coalesced.WithLabelValues(s.cfg.Upstream, k.Operation).Inc()
			r := s.hit(e, StatusCollapsed, s.cfg.Now())
			return r, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return s.fillAndStore(ctx, k, p, fill)
}

// fillAndStore calls fill and stores a successful answer.
func (s *Store) fillAndStore(ctx context.Context, k Key, p Policy, fill FillFunc) (*Result, error) {
	e, err := fill(ctx)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	e.StoredAt, e.Expires = now, now.Add(p.TTL)
	res := &Result{Entry: e, Status: StatusMiss, Filled: true}
	if !p.NoStore && int64(len(e.Body)) <= s.cfg.MaxEntryBytes && s.set(ctx, k, e, p.TTL) == nil {
		res.Status = StatusStored
	}
	return res, nil
}

// awaitPeer polls for the entry another process is filling until it is
// stored fresh, the lock goes away, or the lock's lifetime passes.
func (s *Store) awaitPeer(ctx context.Context, k Key) *Entry {
	deadline := time.Now().Add(s.cfg.LockTTL)
	wait := 5 * time.Millisecond
	for time.Now().Before(deadline) {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(wait*2, 50*time.Millisecond)
		e, locked, err := s.peek(ctx, k)
		if err != nil {
			return nil
		}
		if e != nil && s.cfg.Now().Before(e.Expires) {
			return e
		}
		if !locked {
			return nil
		}
	}
	return nil
}

func (s *Store) rctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.Timeout)
}

func (s *Store) redisErr(cmd string, err error) error {
	if err != nil && !errors.Is(err, redis.Nil) {
		s.m.errors.WithLabelValues(cmd).Inc()
		return err
	}
	return nil
}

// get reads k; (nil, nil) when absent.
func (s *Store) get(ctx context.Context, k Key) (*Entry, error) {
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	b, err := s.rdb.Get(rctx, s.key(k)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, s.redisErr("get", err)
	}
	e, err := decode(b)
	if err != nil {
		return nil, s.redisErr("decode", err)
	}
	return e, nil
}

// peek reads k and whether its fill lock is held, in one round trip.
func (s *Store) peek(ctx context.Context, k Key) (*Entry, bool, error) {
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	var get *redis.StringCmd
	var exists *redis.IntCmd
	_, err := s.rdb.Pipelined(rctx, func(p redis.Pipeliner) error {
		get = p.Get(rctx, s.key(k))
		exists = p.Exists(rctx, s.lockKey(k))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, false, s.redisErr("peek", err)
	}
	var e *Entry
	if b, err := get.Bytes(); err == nil {
		e, _ = decode(b)
	}
	return e, exists.Val() > 0, nil
}

func (s *Store) set(ctx context.Context, k Key, e *Entry, ttl time.Duration) error {
	b, err := s.encode(e)
	if err != nil {
		return s.redisErr("encode", err)
	}
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	return s.redisErr("set", s.rdb.Set(rctx, s.key(k), b, ttl+s.cfg.Grace).Err())
}

// lock takes k's fill lock. When Redis fails the caller fills without it.
func (s *Store) lock(ctx context.Context, k Key) (string, bool) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	rctx, cancel := s.rctx(ctx)
	defer cancel()
	ok, err := s.rdb.SetNX(rctx, s.lockKey(k), token, s.cfg.LockTTL).Result()
	if s.redisErr("lock", err) != nil {
		return "", true
	}
	return token, ok
}

var unlockScript = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`)

func (s *Store) unlock(k Key, token string) {
	if token == "" {
		return
	}
	rctx, cancel := s.rctx(context.Background())
	defer cancel()
	_ = s.redisErr("unlock", unlockScript.Run(rctx, s.rdb, []string{s.lockKey(k)}, token).Err())
}

// Entry encoding: version, flags, stored and expiry in Unix ms, the content
// type, then the body (gzipped when flagged).
const (
	version     = 1
	flagGzip    = 1
	flagBinary  = 2
	headerBytes = 1 + 1 + 8 + 8 + 2
)

func (s *Store) encode(e *Entry) ([]byte, error) {
	flags := byte(0)
	body := e.Body
	if e.Binary {
		flags |= flagBinary
	} else if s.cfg.CompressAbove >= 0 && len(body) > s.cfg.CompressAbove {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		if _, err := zw.Write(body); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		flags |= flagGzip
		body = buf.Bytes()
	}
	if len(e.ContentType) > 0xffff {
		return nil, errors.New("cache: content type too long")
	}
	out := make([]byte, headerBytes, headerBytes+len(e.ContentType)+len(body))
	out[0], out[1] = version, flags
	binary.BigEndian.PutUint64(out[2:], uint64(e.StoredAt.UnixMilli()))
	binary.BigEndian.PutUint64(out[10:], uint64(e.Expires.UnixMilli()))
	binary.BigEndian.PutUint16(out[18:], uint16(len(e.ContentType)))
	out = append(out, e.ContentType...)
	return append(out, body...), nil
}

func decode(b []byte) (*Entry, error) {
	if len(b) < headerBytes || b[0] != version {
		return nil, errors.New("cache: unknown entry format")
	}
	n := int(binary.BigEndian.Uint16(b[18:]))
	if len(b) < headerBytes+n {
		return nil, errors.New("cache: truncated entry")
	}
	e := &Entry{
		StoredAt:    time.UnixMilli(int64(binary.BigEndian.Uint64(b[2:]))),
		Expires:     time.UnixMilli(int64(binary.BigEndian.Uint64(b[10:]))),
		ContentType: string(b[headerBytes : headerBytes+n]),
		Binary:      b[1]&flagBinary != 0,
		Body:        b[headerBytes+n:],
	}
	if b[1]&flagGzip != 0 {
		zr, err := gzip.NewReader(bytes.NewReader(e.Body))
		if err != nil {
			return nil, err
		}
		if e.Body, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	return e, nil
}
