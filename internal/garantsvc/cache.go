package garantsvc

import (
	"bytes"
	"context"
	"io"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/ops"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// Served says how an answer was produced: the Cache-Status field (""
// when the operation is not cached), its Age when it came from the cache,
// and the RateLimit fields of the call's own reservation ("" when the call
// spent nothing: a hit, or another request's fill).
type Served struct {
	CacheStatus     string
	Age             int
	Hit             bool // Age applies
	RateLimit       string
	RateLimitPolicy string
}

// Answer is a JSON answer, its body encoded as the client receives it.
type Answer struct {
	Served
	Body []byte
}

// File is a binary answer: the body to copy to the client (closed when the
// request's context ends), its length (0: unknown) and content type.
type File struct {
	Served
	Body        io.Reader
	Size        int64
	ContentType string
}

// staleOK says which failures an expired cache entry may stand in for.
func staleOK(err error) bool {
	switch apperr.KindOf(err) {
	case apperr.QuotaExceeded, apperr.UpstreamFailed, apperr.UpstreamTimeout, apperr.Unavailable:
		return true
	}
	return false
}

// Key names a cached answer: the operation's topic (0: none), for a purge
// by topic, and any value that tells its requests apart (hashed as JSON).
type Key struct {
	Topic   int
	Request any
}

// scope is the credential scope of the call's cache entries.
func (c *Call) scope() string {
	if c.svc.ShareAcrossCredentials {
		return "shared"
	}
	return c.Credential.Name
}

// fetch answers op's entry through the cache (or straight from fill without
// one), with the side entry of operation side ("" for none: see
// cache.Policy.Side); serveStale says which failures an expired entry may
// stand in for.
func (c *Call) fetch(ctx context.Context, cacheControl, op, side string, key Key, fill cache.FillFunc, serveStale func(error) bool) (*cache.Result, error) {
	if c.svc.Cache == nil {
		e, err := fill(ctx)
		if err != nil {
			return nil, err
		}
		return &cache.Result{Entry: e, Filled: true}, nil
	}
	k, err := cache.NewKey(c.scope(), op, key.Topic, key.Request)
	if err != nil {
		return nil, apperr.Wrap(apperr.Internal, "", err)
	}
	if c.rules != nil && c.rules.CacheScope == ops.ScopeTenant {
		k.Owner = c.Tenant.ID
	}
	p := c.policy(cacheControl)
	p.Side = side
	return c.svc.Cache.Fetch(ctx, k, p, fill, serveStale)
}

// policy is the operation's cache policy under the client's Cache-Control
// ("" for none).
func (c *Call) policy(cacheControl string) cache.Policy {
	p := cache.Policy{TTL: c.TTL()}
	if cacheControl != "" {
		cache.ParseCacheControl(&p, cacheControl)
	}
	return p
}

// served is how res was produced, as the call's answer says it.
func (c *Call) served(res *cache.Result) Served {
	s := Served{CacheStatus: res.Status, RateLimit: c.rateLimit, RateLimitPolicy: c.rateLimitPolicy}
	if res.Hit {
		s.Age, s.Hit = res.Age, true
	}
	return s
}

// rawSuffix marks the cache entries that hold Garant's answers as it sent
// them, beside the entries of a route's own encoding.
const rawSuffix = ".garant"

// JSON answers a JSON operation under the client's Cache-Control ("" for
// none). fetch calls Garant and returns its answer as Garant sent it;
// convert turns those bytes into the route's encoding as the client
// receives it, and fails when the answer cannot be read (nothing unreadable
// is cached). With asSent the answer is Garant's own bytes (convert, when
// not nil, only checks a fresh answer).
//
// Two entries answer a request, under the same key: Garant's bytes (the
// operation's ".garant" entry), shared by every route that asks Garant the
// same thing (so an answer one route paid for is a hit on another), and,
// with a convert, the route's encoding, so that a hit serves stored bytes
// without converting. They are read and written together (the route's
// entry with Garant's as its side entry: one lookup and one store): a miss
// of the route's entry that finds Garant's bytes converts them and spends
// nothing. Coalesced requests share one fill; an expired entry of the route
// stands in for a failure the cache may hide (quota, upstream failures).
func (c *Call) JSON(ctx context.Context, cacheControl string, key Key, fetch func(context.Context) ([]byte, error), convert func([]byte) ([]byte, error), asSent bool) (*Answer, error) {
	if asSent || convert == nil {
		raw := func(ctx context.Context) (*cache.Entry, error) {
			var b []byte
			err := c.Do(ctx, func(ctx context.Context) error {
				var err error
				if b, err = fetch(ctx); err != nil || convert == nil {
					return err
				}
				_, err = convert(b)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &cache.Entry{Body: b, ContentType: "application/json"}, nil
		}
		res, err := c.fetch(ctx, cacheControl, c.op+rawSuffix, "", key, raw, staleOK)
		if err != nil {
			return nil, err
		}
		return &Answer{Served: c.served(res), Body: res.Entry.Body}, nil
	}
	fill := func(ctx context.Context) (*cache.Entry, error) {
		if side := cache.SideEntry(ctx); side != nil { // Garant's bytes, paid for by another route
			b, err := convert(side.Body)
			if err != nil {
				return nil, err
			}
			return &cache.Entry{Body: b, ContentType: "application/json"}, nil
		}
		var raw, b []byte
		err := c.Do(ctx, func(ctx context.Context) error {
			var err error
			if raw, err = fetch(ctx); err != nil {
				return err
			}
			b, err = convert(raw)
			return err
		})
		if err != nil {
			return nil, err
		}
		return &cache.Entry{Body: b, ContentType: "application/json",
			Side: &cache.Entry{Body: raw, ContentType: "application/json"}}, nil
	}
	res, err := c.fetch(ctx, cacheControl, c.op, c.op+rawSuffix, key, fill, staleOK)
	if err != nil {
		return nil, err
	}
	return &Answer{Served: c.served(res), Body: res.Entry.Body}, nil
}

// maxFile caps a binary answer held in memory (the one copy that is cached
// and served).
const maxFile = 64 << 20

// File answers a binary operation. When the answer can be neither served
// from nor stored in the cache (no cache, a TTL of 0, or Cache-Control:
// no-cache, no-store) Garant's body is streamed to the client; so is a file
// whose Content-Length says it is larger than the cache keeps (it goes to
// this request alone: see cache.Entry.Stream). Otherwise the file is read
// once into one buffer, which is both stored (raw) and served.
func (c *Call) File(ctx context.Context, cacheControl string, key Key, fetch func(context.Context) (*garant.File, error)) (*File, error) {
	if p := c.policy(cacheControl); c.svc.Cache == nil || p.TTL <= 0 || (p.NoCache && p.NoStore) {
		return c.streamFile(ctx, p.TTL > 0 && c.svc.Cache != nil, fetch)
	}
	reqCtx, maxEntry := ctx, c.svc.Cache.MaxEntryBytes()
	fill := func(ctx context.Context) (*cache.Entry, error) {
		var e *cache.Entry
		release, err := c.hold(ctx, func(ctx context.Context) error {
			// The fill's context ends when the fill returns, but a streamed
			// body is read after that: the call runs on a context of its own
			// (the client's timeout still bounds it), ended by closing the
			// body, and by the fill's context while the fill reads.
			f, err := fetch(context.WithoutCancel(ctx))
			if err != nil {
				return err
			}
			if f.ContentLength > maxEntry {
				e = &cache.Entry{Stream: f.Body, StreamSize: f.ContentLength, ContentType: f.ContentType, Binary: true}
				return nil
			}
			defer f.Body.Close()
			defer context.AfterFunc(ctx, func() { _ = f.Body.Close() })()
			body, err := f.ReadAll(maxFile)
			if err != nil {
				return err
			}
			e = &cache.Entry{Body: body, ContentType: f.ContentType, Binary: true}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if e.Stream == nil {
			release()
			return e, nil
		}
		e.Stream = heldBody(reqCtx, e.Stream, release)
		return e, nil
	}
	res, err := c.fetch(ctx, cacheControl, c.op, "", key, fill, staleOK)
	if err != nil {
		return nil, err
	}
	out := &File{Served: c.served(res), ContentType: res.Entry.ContentType}
	if s := res.Entry.Stream; s != nil {
		out.Body, out.Size = s, max(0, res.Entry.StreamSize)
		return out, nil
	}
	out.Body, out.Size = bytes.NewReader(res.Entry.Body), int64(len(res.Entry.Body))
	return out, nil
}

// heldBody is body, closed when ctx ends, that keeps its call's fair share
// until it is closed (release: Call.hold's).
func heldBody(ctx context.Context, body io.ReadCloser, release func()) io.ReadCloser {
	h := &held{ReadCloser: body, release: release}
	context.AfterFunc(ctx, func() { _ = h.Close() })
	return h
}

type held struct {
	io.ReadCloser
	release func()
}

func (h *held) Close() error {
	defer h.release()
	return h.ReadCloser.Close()
}

// streamFile calls Garant and hands its body to the answer, which the
// caller copies to the client; it is closed when the request ends.
// bypassed says the operation is cached but this request skipped the cache.
func (c *Call) streamFile(ctx context.Context, bypassed bool, fetch func(context.Context) (*garant.File, error)) (*File, error) {
	var f *garant.File
	release, err := c.hold(ctx, func(ctx context.Context) error {
		var err error
		f, err = fetch(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &File{Served: Served{RateLimit: c.rateLimit, RateLimitPolicy: c.rateLimitPolicy},
		Body: heldBody(ctx, f.Body, release), Size: max(0, f.ContentLength), ContentType: f.ContentType}
	if bypassed {
		out.CacheStatus = cache.StatusBypass
	}
	return out, nil
}

// Purge deletes cached answers of the call's credential scope: of op (""
// for every operation) and topic (0 for every topic), both Garant's bytes
// and their encodings. It returns how many answers of op it deleted (with
// op "", how many entries); nothing is cached without a cache. An error is an
// apperr.Unavailable: the cache store did not answer.
func (c *Call) Purge(ctx context.Context, op string, topic int) (int, error) {
	if c.svc.Cache == nil {
		return 0, nil
	}
	n, err := c.svc.Cache.Purge(ctx, c.scope(), op, topic)
	if err == nil && op != "" {
		var raw int
		raw, err = c.svc.Cache.Purge(ctx, c.scope(), op+rawSuffix, topic)
		n = max(n, raw) // an answer is held twice: as Garant sent it and as /v1 encodes it
	}
	if err != nil {
		return 0, &apperr.Error{Kind: apperr.Unavailable, Detail: "the cache store is unavailable; nothing or not everything was deleted", Err: err}
	}
	return n, nil
}
