package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/ops"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// staleOK says which failures an expired cache entry may stand in for.
func staleOK(err error) bool {
	switch apperr.KindOf(err) {
	case apperr.QuotaExceeded, apperr.UpstreamFailed, apperr.UpstreamTimeout, apperr.Unavailable:
		return true
	}
	return false
}

// cached answers through the cache (or straight from fill without one).
func (c *garantCall) cached(ctx context.Context, cc *string, topic int, req any, fill cache.FillFunc) (*cache.Result, error) {
	if c.g.Cache == nil {
		e, err := fill(ctx)
		if err != nil {
			return nil, err
		}
		return &cache.Result{Entry: e, Filled: true}, nil
	}
	scope := c.cred.Name
	if c.g.ShareAcrossCredentials {
		scope = "shared"
	}
	k, err := cache.NewKey(scope, c.op, topic, req)
	if err != nil {
		return nil, apperr.Wrap(apperr.Internal, "", err)
	}
	if c.rules != nil && c.rules.CacheScope == ops.ScopeTenant {
		k.Owner = c.tenant.ID
	}
	return c.g.Cache.Fetch(ctx, k, c.policy(cc), fill, staleOK)
}

// policy is the operation's cache policy under the client's Cache-Control.
func (c *garantCall) policy(cc *string) cache.Policy {
	p := cache.Policy{TTL: c.ttl()}
	if cc != nil {
		cache.ParseCacheControl(&p, *cc)
	}
	return p
}

// cachedJSON answers a JSON operation: fetch calls Garant and converts the
// answer to the contract's type T, encoded once exactly as the client
// receives it; those bytes are what the cache stores and what a hit writes.
func cachedJSON[T any](ctx context.Context, c *garantCall, cc *string, topic int, req any, fetch func(context.Context) (T, error)) (*cache.Result, error) {
	return cachedBytes(ctx, c, cc, topic, req, func(ctx context.Context) ([]byte, error) {
		v, err := fetch(ctx)
		if err != nil {
			return nil, err
		}
		// As the generated strict responses encode (json.Encoder: HTML
		// escaped, a trailing newline), in one buffer of the right size.
		b, err := json.Marshal(v)
		if err != nil {
			return nil, apperr.Wrap(apperr.Internal, "", fmt.Errorf("garant: encode %s: %w", c.op, err))
		}
		return append(b, '\n'), nil
	})
}

// cachedBytes answers a JSON operation whose fetch calls Garant and returns
// the answer's encoding as the client receives it (a trailing newline
// included); those bytes are what the cache stores and what a hit writes.
func cachedBytes(ctx context.Context, c *garantCall, cc *string, topic int, req any, fetch func(context.Context) ([]byte, error)) (*cache.Result, error) {
	fill := func(ctx context.Context) (*cache.Entry, error) {
		var b []byte
		err := c.upstream(ctx, func(ctx context.Context) error {
			var err error
			b, err = fetch(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
		return &cache.Entry{Body: b, ContentType: "application/json"}, nil
	}
	res, err := c.cached(ctx, cc, topic, req, fill)
	if err != nil {
		return nil, fail(ctx, err)
	}
	return res, nil
}

// maxFile caps a binary answer held in memory (the one copy that is cached
// and served).
const maxFile = 64 << 20

// fileAnswer is a binary answer: how the cache produced it (Entry carries
// the content type), and the body to copy to the client.
type fileAnswer struct {
	res  *cache.Result
	body io.Reader
	n    int64 // 0: unknown
}

// cachedFile answers a binary operation. When the answer can be neither
// served from nor stored in the cache (no cache, a TTL of 0, or
// Cache-Control: no-cache, no-store) Garant's body is streamed to the
// client; so is a file whose Content-Length says it is larger than the cache
// keeps (it goes to this request alone: see cache.Entry.Stream). Otherwise
// the file is read once into one buffer, which is both stored (raw) and
// served.
func (c *garantCall) cachedFile(ctx context.Context, cc *string, topic int, req any, fetch func(context.Context) (*garant.File, error)) (*fileAnswer, error) {
	if p := c.policy(cc); c.g.Cache == nil || p.TTL <= 0 || (p.NoCache && p.NoStore) {
		return c.streamFile(ctx, p.TTL > 0 && c.g.Cache != nil, fetch)
	}
	reqCtx, maxEntry := ctx, c.g.Cache.MaxEntryBytes()
	fill := func(ctx context.Context) (*cache.Entry, error) {
		var e *cache.Entry
		err := c.upstream(ctx, func(ctx context.Context) error {
			// The fill's context ends when the fill returns, but a streamed
			// body is read after that: the call runs on a context of its own
			// (the client's timeout still bounds it), ended by closing the
			// body, and by the fill's context while the fill reads.
			f, err := fetch(context.WithoutCancel(ctx))
			if err != nil {
				return err
			}
			if f.ContentLength > maxEntry {
				context.AfterFunc(reqCtx, func() { _ = f.Body.Close() })
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
		return e, err
	}
	res, err := c.cached(ctx, cc, topic, req, fill)
	if err != nil {
		return nil, fail(ctx, err)
	}
	if s := res.Entry.Stream; s != nil {
		return &fileAnswer{res: res, body: s, n: max(0, res.Entry.StreamSize)}, nil
	}
	return &fileAnswer{res: res, body: bytes.NewReader(res.Entry.Body), n: int64(len(res.Entry.Body))}, nil
}

// streamFile calls Garant and hands its body to the response, which copies
// it to the client and closes it (or it is closed when the request ends).
// bypassed says the operation is cached but this request skipped the cache.
func (c *garantCall) streamFile(ctx context.Context, bypassed bool, fetch func(context.Context) (*garant.File, error)) (*fileAnswer, error) {
	var f *garant.File
	err := c.upstream(ctx, func(ctx context.Context) error {
		var err error
		f, err = fetch(ctx)
		return err
	})
	if err != nil {
		return nil, fail(ctx, err)
	}
	context.AfterFunc(ctx, func() { _ = f.Body.Close() })
	res := &cache.Result{Entry: &cache.Entry{ContentType: f.ContentType, Binary: true}, Filled: true}
	if bypassed {
		res.Status = cache.StatusBypass
	}
	return &fileAnswer{res: res, body: f.Body, n: max(0, f.ContentLength)}, nil
}
