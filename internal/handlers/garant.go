package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// Garant is what the Garant operations need, built by cmd/gateway.
type Garant struct {
	Client *garant.Client
	Cache  *cache.Store // nil: nothing is cached

	// TTL overrides DefaultGarantTTL per operation id; 0 turns caching off.
	TTL map[string]time.Duration
	// ShareAcrossCredentials lets tenants of different Garant credentials
	// share cache entries (by default entries never cross credentials).
	ShareAcrossCredentials bool
	// DocumentBase resolves the relative document links of search results;
	// "" is https://internet.garant.ru.
	DocumentBase string
	// RetryBudget bounds how long a request retries Garant's 429; 0: 3s.
	RetryBudget time.Duration
	// ProbeTTL is how long the answer of a /v2/limits probe (does the
	// credential work at all?) is remembered; 0: 5 minutes.
	ProbeTTL time.Duration

	probeMu sync.Mutex
	probes  map[string]probe // credential name → last probe
}

type probe struct {
	ok bool
	at time.Time
}

// DefaultGarantTTL is how long each Garant operation's answers are cached.
// Exports, images and formulas do not change; monitoring and limits are not
// cached.
func DefaultGarantTTL() map[string]time.Duration {
	const day = 24 * time.Hour
	return map[string]time.Duration{
		"garantSearch":           15 * time.Minute,
		"garantSnippets":         30 * time.Minute,
		"garantGetTopic":         2 * time.Hour,
		"garantGetTopicEditions": 6 * time.Hour,
		"garantGetTopicHTML":     day,
		"garantGetEntryHTML":     day,
		"garantExportTopic":      7 * day,
		"garantGetImage":         30 * day,
		"garantGetFormula":       30 * day,
		"garantPrimeCategories":  day,
		"garantPrimeNews":        15 * time.Minute,
		"garantFindHyperlinks":   day,
		"garantCourtPractice":    day,
	}
}

func (g *Garant) ttl(op string) time.Duration {
	if d, ok := g.TTL[op]; ok {
		return d
	}
	return DefaultGarantTTL()[op]
}

// gatewayPrefix is where the gateway serves Garant's images and formulas.
const gatewayPrefix = "/v1/garant"

// garantCall is one request to a Garant operation: who calls, with which
// credential, and the RateLimit fields of its own reservation, if it made one.
type garantCall struct {
	g      *Garant
	q      *quota.Engine
	op     string
	tenant *tenant.Tenant
	cred   *tenant.Credential
	rl     http.Header
}

func (h garantHandlers) begin(ctx context.Context, op string) (*garantCall, error) {
	g := h.deps.Garant
	if g == nil || g.Client == nil {
		return nil, notBuilt(op)
	}
	t, c, err := credentialFor(ctx, garant.Upstream)
	if err != nil {
		return nil, err
	}
	return &garantCall{g: g, q: h.deps.Quota, op: op, tenant: t, cred: c}, nil
}

// fail returns err after copying a quota rejection's RateLimit fields onto
// the response.
func fail(ctx context.Context, err error) error {
	hdr := ResponseHeader(ctx)
	for k, v := range quota.Headers(err) {
		hdr[k] = v
	}
	return err
}

func (c *garantCall) reserve(ctx context.Context, op string) (*quota.Reservation, error) {
	if c.q == nil {
		return &quota.Reservation{}, nil
	}
	return c.q.Reserve(ctx, quota.Request{Tenant: c.tenant.ID, Credential: c.cred.Name, Upstream: garant.Upstream, Operation: op})
}

// upstream makes one metered upstream call: reserve (the family and the
// per-second rate in one round trip), call, refund when Garant did not do the
// work. A 429 is retried with jittered backoff within RetryBudget; a 423
// marks the family spent and syncs /v2/limits; a 401 is told apart as a
// method missing from the tariff or a rejected credential.
func (c *garantCall) upstream(ctx context.Context, fn func(context.Context) error) error {
	budget := c.g.RetryBudget
	if budget <= 0 {
		budget = 3 * time.Second
	}
	deadline := time.Now().Add(budget)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	for attempt := 0; ; attempt++ {
		res, err := c.reserve(ctx, c.op)
		if err != nil {
			return err
		}
		err = fn(ctx)
		if err == nil {
			c.rl = res.Headers()
			return nil
		}
		_ = res.Refund(context.WithoutCancel(ctx))
		switch garant.StatusOf(err) {
		case http.StatusTooManyRequests:
			wait := min(100*time.Millisecond<<attempt, time.Second)
			wait = wait/2 + rand.N(wait/2+1)
			if time.Now().Add(wait).After(deadline) {
				return err
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
			continue
		case http.StatusLocked:
			return c.exhausted(ctx, err)
		case http.StatusUnauthorized:
			return c.unauthorized(ctx, err)
		}
		return err
	}
}

// familyOf is the quota family of a Garant operation, "" when unmetered.
func familyOf(op string) string {
	return quota.DefaultFamilies()[garant.Upstream][op].Family
}

// exhausted handles a 423: the family is spent until next month for every
// replica, the other families are synced from /v2/limits, and the answer is
// the quota engine's own rejection (with its RateLimit fields).
func (c *garantCall) exhausted(ctx context.Context, upstreamErr error) error {
	fam := familyOf(c.op)
	if fam != "" && c.q != nil {
		_ = c.q.MarkExhausted(ctx, c.cred.Name, garant.Upstream, fam)
	}
	_, _ = c.syncLimits(ctx)
	if fam != "" && c.q != nil {
		res, err := c.reserve(ctx, c.op)
		if apperr.KindOf(err) == apperr.QuotaExceeded {
			return err
		}
		if res != nil {
			_ = res.Refund(context.WithoutCancel(ctx))
		}
	}
	if e, ok := apperr.As(upstreamErr); ok && fam != "" && e.Extensions != nil {
		e.Extensions["family"] = fam
	}
	return upstreamErr
}

// limitFamilies maps the method names of /v2/limits to quota families.
var limitFamilies = map[string]string{
	garant.MethodHyperlinks: quota.FamilyLinksControl, garant.MethodFindModified: quota.FamilyLinksControl,
	garant.MethodBlocksOnControl: quota.FamilyLinksControl,
	garant.MethodDownloadRTF:     quota.FamilyExport, garant.MethodDownloadODT: quota.FamilyExport,
	garant.MethodDownloadPDF: quota.FamilyExport, garant.MethodTopicHTML: quota.FamilyExport,
	garant.MethodEntryHTML: quota.FamilyExport, garant.MethodImage: quota.FamilyExport,
	garant.MethodFormula: quota.FamilyExport, garant.MethodTopic: quota.FamilyTopicInfo,
}

// syncLimits reads /v2/limits (through the rate limit) and lowers the quota
// engine's remaining counts to Garant's.
func (c *garantCall) syncLimits(ctx context.Context) ([]garant.Limit, error) {
	ctx = metrics.WithOperation(ctx, "garantGetLimits")
	res, err := c.reserve(ctx, "garantGetLimits")
	if err != nil {
		return nil, err
	}
	limits, err := c.g.Client.Limits(ctx, c.cred.Secret)
	if err != nil {
		_ = res.Refund(context.WithoutCancel(ctx))
		return nil, err
	}
	c.applyLimits(ctx, limits)
	return limits, nil
}

func (c *garantCall) applyLimits(ctx context.Context, limits []garant.Limit) {
	if c.q == nil {
		return
	}
	remaining := map[string]int64{}
	for _, l := range limits {
		for _, n := range l.Names {
			if fam, ok := limitFamilies[n]; ok {
				if v, seen := remaining[fam]; !seen || int64(l.Value) < v {
					remaining[fam] = int64(l.Value)
				}
			}
		}
	}
	for fam, v := range remaining {
		_ = c.q.SyncRemaining(ctx, c.cred.Name, garant.Upstream, fam, v)
	}
}

// unauthorized tells a method missing from the tariff (403: /v2/limits
// still works with the credential) from a rejected credential (502: the
// tenant's own key was fine). The probe is remembered for ProbeTTL.
func (c *garantCall) unauthorized(ctx context.Context, upstreamErr error) error {
	rejected := &apperr.Error{Kind: apperr.UpstreamFailed, Upstream: garant.Upstream,
		Detail: "upstream credential rejected: Garant refused the gateway's credential for this tenant (the tenant's API key is fine)", Err: upstreamErr}
	if c.op == "garantGetLimits" {
		return rejected
	}
	ttl := c.g.ProbeTTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	c.g.probeMu.Lock()
	p, known := c.g.probes[c.cred.Name]
	c.g.probeMu.Unlock()
	if !known || time.Since(p.at) > ttl {
		_, err := c.syncLimits(ctx)
		if err != nil && garant.StatusOf(err) != http.StatusUnauthorized {
			return rejected // cannot tell; the probe itself failed
		}
		p = probe{ok: err == nil, at: time.Now()}
		c.g.probeMu.Lock()
		if c.g.probes == nil {
			c.g.probes = map[string]probe{}
		}
		c.g.probes[c.cred.Name] = p
		c.g.probeMu.Unlock()
	}
	if p.ok {
		return &apperr.Error{Kind: apperr.Forbidden, Upstream: garant.Upstream,
			Detail: "method not in this credential's tariff: Garant does not offer " + c.op + " to the credential this tenant uses", Err: upstreamErr}
	}
	return rejected
}

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
	p := cache.Policy{TTL: c.g.ttl(c.op)}
	if cc != nil {
		cache.ParseCacheControl(&p, *cc)
	}
	return c.g.Cache.Fetch(ctx, k, p, fill, staleOK)
}

// cachedJSON answers a JSON operation: fetch calls Garant and converts the
// answer to the contract's type T, which is what the cache stores.
func cachedJSON[T any](ctx context.Context, c *garantCall, cc *string, topic int, req any, fetch func(context.Context) (T, error)) (T, *cache.Result, error) {
	var zero T
	var typed *T // set when this request's own fill ran: no need to decode
	fill := func(ctx context.Context) (*cache.Entry, error) {
		var v T
		err := c.upstream(ctx, func(ctx context.Context) error {
			var err error
			v, err = fetch(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, apperr.Wrap(apperr.Internal, "", fmt.Errorf("garant: encode %s: %w", c.op, err))
		}
		typed = &v
		return &cache.Entry{Body: b, ContentType: "application/json"}, nil
	}
	res, err := c.cached(ctx, cc, topic, req, fill)
	if err != nil {
		return zero, nil, fail(ctx, err)
	}
	if res.Filled && typed != nil {
		return *typed, res, nil
	}
	var out T
	if err := json.Unmarshal(res.Entry.Body, &out); err != nil {
		return zero, nil, apperr.Wrap(apperr.Internal, "", fmt.Errorf("garant: decode cached %s: %w", c.op, err))
	}
	return out, res, nil
}

// maxFile caps a binary answer held in memory (the one copy that is cached
// and served).
const maxFile = 64 << 20

// cachedFile answers a binary operation. The file is read once into one
// buffer, which is both stored (raw) and served.
func (c *garantCall) cachedFile(ctx context.Context, cc *string, topic int, req any, fetch func(context.Context) (*garant.File, error)) (*cache.Result, error) {
	fill := func(ctx context.Context) (*cache.Entry, error) {
		var e *cache.Entry
		err := c.upstream(ctx, func(ctx context.Context) error {
			f, err := fetch(ctx)
			if err != nil {
				return err
			}
			defer f.Body.Close()
			body, err := readFile(f)
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
	return res, nil
}

func readFile(f *garant.File) ([]byte, error) {
	tooLarge := &apperr.Error{Kind: apperr.UpstreamFailed, Upstream: garant.Upstream, Detail: "Garant's file is too large"}
	if f.ContentLength > maxFile {
		return nil, tooLarge
	}
	if f.ContentLength >= 0 {
		b := make([]byte, f.ContentLength)
		if _, err := io.ReadFull(f.Body, b); err != nil {
			return nil, readErr(err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(f.Body, maxFile+1))
	if err != nil {
		return nil, readErr(err)
	}
	if len(b) > maxFile {
		return nil, tooLarge
	}
	return b, nil
}

func readErr(err error) error {
	if _, ok := apperr.As(err); ok {
		return err
	}
	return &apperr.Error{Kind: apperr.UpstreamFailed, Upstream: garant.Upstream, Detail: "Garant's file arrived incomplete", Err: err}
}

// cacheHeaders are the Cache-Status and Age of a result (Age only when it
// came from the cache).
func cacheHeaders(res *cache.Result) (status *string, age *int) {
	if res.Status != "" {
		status = &res.Status
	}
	if res.Hit {
		age = &res.Age
	}
	return status, age
}

// rateHeaders are the RateLimit fields of this request's own reservation.
func (c *garantCall) rateHeaders() (rl, policy *string) {
	if v := c.rl.Get("RateLimit"); v != "" {
		rl = &v
	}
	if v := c.rl.Get("RateLimit-Policy"); v != "" {
		policy = &v
	}
	return rl, policy
}

// mediaType is the bare media type of a Content-Type value.
func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

// ---------------------------------------------------------------- operations

// garantHandlers implements the Garant Connect operations of the contract.
type garantHandlers struct {
	deps *Deps
}

// GarantSearch searches documents; results carry absolute URLs.
func (h garantHandlers) GarantSearch(ctx context.Context, request api.GarantSearchRequestObject) (api.GarantSearchResponseObject, error) {
	c, err := h.begin(ctx, "garantSearch")
	if err != nil {
		return nil, err
	}
	b := request.Body
	req := garant.SearchRequest{Text: b.Text, Env: string(b.Env), Page: 1, IsQuery: deref(b.IsQuery), Sort: deref(b.Sort), SortOrder: deref(b.SortOrder)}
	if b.Page != nil {
		req.Page = *b.Page
	}
	out, res, err := cachedJSON(ctx, c, request.Params.CacheControl, 0, req, func(ctx context.Context) (api.GarantSearchResult, error) {
		r, err := c.g.Client.Search(ctx, c.cred.Secret, req)
		if err != nil {
			return api.GarantSearchResult{}, err
		}
		out := api.GarantSearchResult{Documents: make([]api.GarantSearchDocument, 0, len(r.Documents)),
			Page: int(r.Page), TotalDocs: int(r.TotalDocs), TotalPages: int(r.TotalPages)}
		for _, d := range r.Documents {
			out.Documents = append(out.Documents, api.GarantSearchDocument{Topic: int(d.Topic), Name: d.Name, URL: d.URL,
				AbsoluteURL: garant.AbsoluteURL(c.g.DocumentBase, d.URL)})
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(res)
	return api.GarantSearch200JSONResponse{Body: out, Headers: api.GarantSearch200ResponseHeaders{CacheStatus: st, Age: age}}, nil
}

// GarantSnippets finds the fragments of a document matching a text or
// citing a fragment.
func (h garantHandlers) GarantSnippets(ctx context.Context, request api.GarantSnippetsRequestObject) (api.GarantSnippetsResponseObject, error) {
	b := request.Body
	if (b.Text == nil) == (b.Correspondent == nil) {
		return nil, apperr.InvalidField("body.text", "send exactly one of text and correspondent")
	}
	c, err := h.begin(ctx, "garantSnippets")
	if err != nil {
		return nil, err
	}
	req := garant.SnippetsRequest{Topic: b.Topic, Text: b.Text}
	if b.Correspondent != nil {
		req.Correspondent = &garant.EntryRef{Topic: garant.Int(b.Correspondent.Topic), Entry: garant.Int(b.Correspondent.Entry)}
	}
	out, res, err := cachedJSON(ctx, c, request.Params.CacheControl, b.Topic, req, func(ctx context.Context) (api.GarantSnippetList, error) {
		r, err := c.g.Client.Snippets(ctx, c.cred.Secret, req)
		if err != nil {
			return api.GarantSnippetList{}, err
		}
		out := api.GarantSnippetList{Snippets: make([]api.GarantSnippet, 0, len(r.Snippets))}
		for _, s := range r.Snippets {
			sn := api.GarantSnippet{Entry: int(s.Entry), Ancestors: ancestors(s.Ancestors)}
			if s.Relevance != nil {
				f := float64(*s.Relevance)
				sn.Relevance = &f
			}
			out.Snippets = append(out.Snippets, sn)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(res)
	return api.GarantSnippets200JSONResponse{Body: out, Headers: api.GarantSnippets200ResponseHeaders{CacheStatus: st, Age: age}}, nil
}

// GarantFindHyperlinks inserts links into a text (links_control quota).
func (h garantHandlers) GarantFindHyperlinks(ctx context.Context, request api.GarantFindHyperlinksRequestObject) (api.GarantFindHyperlinksResponseObject, error) {
	c, err := h.begin(ctx, "garantFindHyperlinks")
	if err != nil {
		return nil, err
	}
	req := garant.HyperlinksRequest{Text: request.Body.Text, BaseURL: request.Body.BaseURL}
	out, res, err := cachedJSON(ctx, c, request.Params.CacheControl, 0, req, func(ctx context.Context) (api.GarantHyperlinksResult, error) {
		r, err := c.g.Client.FindHyperlinks(ctx, c.cred.Secret, req)
		if err != nil {
			return api.GarantHyperlinksResult{}, err
		}
		return api.GarantHyperlinksResult{Text: r.Text}, nil
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(res)
	rl, pol := c.rateHeaders()
	return api.GarantFindHyperlinks200JSONResponse{Body: out, Headers: api.GarantFindHyperlinks200ResponseHeaders{
		CacheStatus: st, Age: age, RateLimit: rl, RateLimitPolicy: pol}}, nil
}

// GarantGetTopic returns a document's attributes (topic_info quota).
func (h garantHandlers) GarantGetTopic(ctx context.Context, request api.GarantGetTopicRequestObject) (api.GarantGetTopicResponseObject, error) {
	c, err := h.begin(ctx, "garantGetTopic")
	if err != nil {
		return nil, err
	}
	out, res, err := cachedJSON(ctx, c, request.Params.CacheControl, request.Topic, request.Topic, func(ctx context.Context) (api.GarantTopicInfo, error) {
		r, err := c.g.Client.Topic(ctx, c.cred.Secret, request.Topic)
		if err != nil {
			return api.GarantTopicInfo{}, err
		}
		return topicInfo(r), nil
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(res)
	rl, pol := c.rateHeaders()
	return api.GarantGetTopic200JSONResponse{Body: out, Headers: api.GarantGetTopic200ResponseHeaders{
		CacheStatus: st, Age: age, RateLimit: rl, RateLimitPolicy: pol}}, nil
}

// GarantGetTopicEditions returns a document's editions, newest first.
func (h garantHandlers) GarantGetTopicEditions(ctx context.Context, request api.GarantGetTopicEditionsRequestObject) (api.GarantGetTopicEditionsResponseObject, error) {
	c, err := h.begin(ctx, "garantGetTopicEditions")
	if err != nil {
		return nil, err
	}
	out, res, err := cachedJSON(ctx, c, request.Params.CacheControl, request.Topic, request.Topic, func(ctx context.Context) (api.GarantEditionList, error) {
		r, err := c.g.Client.Editions(ctx, c.cred.Secret, request.Topic)
		if err != nil {
			return api.GarantEditionList{}, err
		}
		return editions(r), nil
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(res)
	return api.GarantGetTopicEditions200JSONResponse{Body: out, Headers: api.GarantGetTopicEditions200ResponseHeaders{CacheStatus: st, Age: age}}, nil
}

// GarantGetTopicHTML returns a document as HTML pages with image and
// formula links pointing at the gateway (export quota).
func (h garantHandlers) GarantGetTopicHTML(ctx context.Context, request api.GarantGetTopicHTMLRequestObject) (api.GarantGetTopicHTMLResponseObject, error) {
	c, err := h.begin(ctx, "garantGetTopicHTML")
	if err != nil {
		return nil, err
	}
	out, res, err := cachedJSON(ctx, c, request.Params.CacheControl, request.Topic, request.Topic, func(ctx context.Context) (api.GarantTopicHTML, error) {
		r, err := c.g.Client.TopicHTML(ctx, c.cred.Secret, request.Topic)
		if err != nil {
			return api.GarantTopicHTML{}, err
		}
		out := api.GarantTopicHTML{Items: make([]api.GarantHTMLPage, 0, len(r.Items))}
		for i, p := range r.Items {
			n := p.Number
			if n == 0 {
				n = i + 1
			}
			out.Items = append(out.Items, api.GarantHTMLPage{Number: n, Text: garant.RewriteHTML(p.Text, gatewayPrefix)})
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(res)
	rl, pol := c.rateHeaders()
	return api.GarantGetTopicHTML200JSONResponse{Body: out, Headers: api.GarantGetTopicHTML200ResponseHeaders{
		CacheStatus: st, Age: age, RateLimit: rl, RateLimitPolicy: pol}}, nil
}

// GarantGetEntryHTML returns one fragment as HTML (export quota).
func (h garantHandlers) GarantGetEntryHTML(ctx context.Context, request api.GarantGetEntryHTMLRequestObject) (api.GarantGetEntryHTMLResponseObject, error) {
	c, err := h.begin(ctx, "garantGetEntryHTML")
	if err != nil {
		return nil, err
	}
	req := [2]int{request.Topic, request.Entry}
	out, res, err := cachedJSON(ctx, c, request.Params.CacheControl, request.Topic, req, func(ctx context.Context) (api.GarantEntryHTML, error) {
		r, err := c.g.Client.EntryHTML(ctx, c.cred.Secret, request.Topic, request.Entry)
		if err != nil {
			return api.GarantEntryHTML{}, err
		}
		out := api.GarantEntryHTML{Entry: int(r.Entry), Title: r.Title, Text: garant.RewriteHTML(r.Text, gatewayPrefix),
			Ancestors: ancestors(r.Ancestors), Respondents: make([]api.GarantEntryRef, 0, len(r.Respondents))}
		for _, x := range r.Respondents {
			out.Respondents = append(out.Respondents, api.GarantEntryRef{Topic: int(x.Topic), Entry: int(x.Entry)})
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(res)
	rl, pol := c.rateHeaders()
	return api.GarantGetEntryHTML200JSONResponse{Body: out, Headers: api.GarantGetEntryHTML200ResponseHeaders{
		CacheStatus: st, Age: age, RateLimit: rl, RateLimitPolicy: pol}}, nil
}

// GarantExportTopic returns a document as RTF, ODT or PDF (export quota).
func (h garantHandlers) GarantExportTopic(ctx context.Context, request api.GarantExportTopicRequestObject) (api.GarantExportTopicResponseObject, error) {
	c, err := h.begin(ctx, "garantExportTopic")
	if err != nil {
		return nil, err
	}
	format := string(request.Format)
	res, err := c.cachedFile(ctx, request.Params.CacheControl, request.Topic, [2]any{request.Topic, format}, func(ctx context.Context) (*garant.File, error) {
		return c.g.Client.Download(ctx, c.cred.Secret, request.Topic, format)
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(res)
	rl, pol := c.rateHeaders()
	hdr := api.GarantExportTopic200ResponseHeaders{CacheStatus: st, Age: age, RateLimit: rl, RateLimitPolicy: pol}
	body, n := bodyOf(res)
	switch mt := mediaType(res.Entry.ContentType); {
	case mt == "application/pdf" || (mt != "application/rtf" && mt != "application/vnd.oasis.opendocument.text" && format == garant.FormatPDF):
		return api.GarantExportTopic200ApplicationpdfResponse{Body: body, ContentLength: n, Headers: hdr}, nil
	case mt == "application/vnd.oasis.opendocument.text" || (mt != "application/rtf" && format == garant.FormatODT):
		return api.GarantExportTopic200ApplicationvndOasisOpendocumentTextResponse{Body: body, ContentLength: n, Headers: hdr}, nil
	default:
		return api.GarantExportTopic200ApplicationrtfResponse{Body: body, ContentLength: n, Headers: hdr}, nil
	}
}

func bodyOf(res *cache.Result) (io.Reader, int64) {
	return bytes.NewReader(res.Entry.Body), int64(len(res.Entry.Body))
}

// GarantGetImage returns an image of exported HTML (export quota).
func (h garantHandlers) GarantGetImage(ctx context.Context, request api.GarantGetImageRequestObject) (api.GarantGetImageResponseObject, error) {
	c, err := h.begin(ctx, "garantGetImage")
	if err != nil {
		return nil, err
	}
	res, err := c.cachedFile(ctx, request.Params.CacheControl, 0, request.ObjectID, func(ctx context.Context) (*garant.File, error) {
		return c.g.Client.Image(ctx, c.cred.Secret, request.ObjectID)
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(res)
	rl, pol := c.rateHeaders()
	hdr := api.GarantGetImage200ResponseHeaders{CacheStatus: st, Age: age, RateLimit: rl, RateLimitPolicy: pol}
	body, n := bodyOf(res)
	if mediaType(res.Entry.ContentType) == "image/png" {
		return api.GarantGetImage200ImagepngResponse{Body: body, ContentLength: n, Headers: hdr}, nil
	}
	return api.GarantGetImage200ApplicationoctetStreamResponse{Body: body, ContentLength: n, Headers: hdr}, nil
}

// GarantGetFormula renders a formula of exported HTML (export quota).
func (h garantHandlers) GarantGetFormula(ctx context.Context, request api.GarantGetFormulaRequestObject) (api.GarantGetFormulaResponseObject, error) {
	c, err := h.begin(ctx, "garantGetFormula")
	if err != nil {
		return nil, err
	}
	format := "png"
	if request.Params.Fmt != nil {
		format = string(*request.Params.Fmt)
	}
	res, err := c.cachedFile(ctx, request.Params.CacheControl, 0, [2]string{request.Params.Text, format}, func(ctx context.Context) (*garant.File, error) {
		return c.g.Client.Formula(ctx, c.cred.Secret, request.Params.Text, format)
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(res)
	rl, pol := c.rateHeaders()
	body, n := bodyOf(res)
	return api.GarantGetFormula200ImagepngResponse{Body: body, ContentLength: n, Headers: api.GarantGetFormula200ResponseHeaders{
		CacheStatus: st, Age: age, RateLimit: rl, RateLimitPolicy: pol}}, nil
}

// earliestControlDate is the first day Garant's monitoring accepts.
var earliestControlDate = time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC)

// GarantFindModified checks documents for changes (links_control quota;
// not cached unless configured).
func (h garantHandlers) GarantFindModified(ctx context.Context, request api.GarantFindModifiedRequestObject) (api.GarantFindModifiedResponseObject, error) {
	b := request.Body
	if b.ModDate.Time.Before(earliestControlDate) {
		return nil, apperr.InvalidField("body.modDate", "must be 2018-01-01 or later")
	}
	c, err := h.begin(ctx, "garantFindModified")
	if err != nil {
		return nil, err
	}
	req := garant.FindModifiedRequest{Topics: b.Topics, ModDate: b.ModDate.Format(time.DateOnly), NeedEvents: deref(b.NeedEvents)}
	out, _, err := cachedJSON(ctx, c, nil, 0, req, func(ctx context.Context) (api.GarantModifiedTopics, error) {
		r, err := c.g.Client.FindModified(ctx, c.cred.Secret, req)
		if err != nil {
			return api.GarantModifiedTopics{}, err
		}
		out := api.GarantModifiedTopics{Topics: make([]api.GarantModifiedTopic, 0, len(r.Topics))}
		for _, t := range r.Topics {
			out.Topics = append(out.Topics, api.GarantModifiedTopic{Topic: t.Topic, ModStatus: api.GarantModStatus(t.ModStatus), Events: events(t.Events)})
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	rl, pol := c.rateHeaders()
	return api.GarantFindModified200JSONResponse{Body: out, Headers: api.GarantFindModified200ResponseHeaders{RateLimit: rl, RateLimitPolicy: pol}}, nil
}

// fragmentLink is a full fragment link of the Garant front end.
var fragmentLink = regexp.MustCompile(`^https?://[^/#\s]+/?#/document/\d+(?:/entry/\d+)?/?$`)

// GarantBlocksChanged checks fragments for changes (links_control quota;
// not cached unless configured).
func (h garantHandlers) GarantBlocksChanged(ctx context.Context, request api.GarantBlocksChangedRequestObject) (api.GarantBlocksChangedResponseObject, error) {
	b := request.Body
	if b.FromDate.Time.Before(earliestControlDate) {
		return nil, apperr.InvalidField("body.fromDate", "must be 2018-01-01 or later")
	}
	for i, u := range b.URLArray {
		if !fragmentLink.MatchString(u) {
			return nil, apperr.InvalidField(fmt.Sprintf("body.urlArray.%d", i), "must be a fragment link such as https://internet.garant.ru/#/document/12112604/entry/1")
		}
	}
	c, err := h.begin(ctx, "garantBlocksChanged")
	if err != nil {
		return nil, err
	}
	req := garant.BlocksRequest{FromDate: b.FromDate.Format(time.DateOnly), URLArray: b.URLArray, NeedEvents: deref(b.NeedEvents)}
	out, _, err := cachedJSON(ctx, c, nil, 0, req, func(ctx context.Context) (api.GarantModifiedBlocks, error) {
		r, err := c.g.Client.BlocksChanged(ctx, c.cred.Secret, req)
		if err != nil {
			return api.GarantModifiedBlocks{}, err
		}
		out := api.GarantModifiedBlocks{URLArray: make([]api.GarantModifiedBlock, 0, len(r.URLArray))}
		for _, x := range r.URLArray {
			out.URLArray = append(out.URLArray, api.GarantModifiedBlock{URL: x.URL, ModStatus: api.GarantModStatus(x.ModStatus), Events: events(x.Events)})
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	rl, pol := c.rateHeaders()
	return api.GarantBlocksChanged200JSONResponse{Body: out, Headers: api.GarantBlocksChanged200ResponseHeaders{RateLimit: rl, RateLimitPolicy: pol}}, nil
}

// GarantPrimeCategories returns the PRIME category tree.
func (h garantHandlers) GarantPrimeCategories(ctx context.Context, request api.GarantPrimeCategoriesRequestObject) (api.GarantPrimeCategoriesResponseObject, error) {
	c, err := h.begin(ctx, "garantPrimeCategories")
	if err != nil {
		return nil, err
	}
	out, res, err := cachedJSON(ctx, c, request.Params.CacheControl, 0, nil, func(ctx context.Context) (api.GarantPrimeCategoryTree, error) {
		r, err := c.g.Client.PrimeCategories(ctx, c.cred.Secret)
		if err != nil {
			return api.GarantPrimeCategoryTree{}, err
		}
		return api.GarantPrimeCategoryTree{Categories: categories(r.Categories)}, nil
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(res)
	return api.GarantPrimeCategories200JSONResponse{Body: out, Headers: api.GarantPrimeCategories200ResponseHeaders{CacheStatus: st, Age: age}}, nil
}

// GarantPrimeNews returns PRIME news.
func (h garantHandlers) GarantPrimeNews(ctx context.Context, request api.GarantPrimeNewsRequestObject) (api.GarantPrimeNewsResponseObject, error) {
	b := request.Body
	from := b.FromDate.Time
	switch {
	case from.Before(time.Now().AddDate(-1, 0, -1)):
		return nil, apperr.InvalidField("body.fromDate", "must be at most one year ago")
	case b.ToDate != nil && b.ToDate.Time.Before(from):
		return nil, apperr.InvalidField("body.toDate", "must not be before fromDate")
	case b.ToDate != nil && b.ToDate.Time.Sub(from) > 10*24*time.Hour:
		return nil, apperr.InvalidField("body.toDate", "must be at most 10 days after fromDate")
	}
	c, err := h.begin(ctx, "garantPrimeNews")
	if err != nil {
		return nil, err
	}
	req := garant.NewsRequest{Categories: b.Categories, FromDate: from.Format(time.DateOnly)}
	if b.ToDate != nil {
		s := b.ToDate.Format(time.DateOnly)
		req.ToDate = &s
	}
	if b.Sort != nil {
		s := int(*b.Sort)
		req.Sort = &s
	}
	out, res, err := cachedJSON(ctx, c, request.Params.CacheControl, 0, req, func(ctx context.Context) (api.GarantNewsList, error) {
		r, err := c.g.Client.PrimeNews(ctx, c.cred.Secret, req)
		if err != nil {
			return api.GarantNewsList{}, err
		}
		out := api.GarantNewsList{News: make([]api.GarantNewsItem, 0, len(r.News))}
		for _, n := range r.News {
			out.News = append(out.News, api.GarantNewsItem{Name: n.Name, Document: docLink(n.Document), Paragraphs: orEmpty([]string(n.Paragraphs))})
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(res)
	return api.GarantPrimeNews200JSONResponse{Body: out, Headers: api.GarantPrimeNews200ResponseHeaders{CacheStatus: st, Age: age}}, nil
}

// GarantCourtPractice runs the "Сутяжник" analysis.
func (h garantHandlers) GarantCourtPractice(ctx context.Context, request api.GarantCourtPracticeRequestObject) (api.GarantCourtPracticeResponseObject, error) {
	c, err := h.begin(ctx, "garantCourtPractice")
	if err != nil {
		return nil, err
	}
	b := request.Body
	req := garant.SutyazhnikRequest{Text: b.Text, Count: b.Count, Kind: make([]string, 0, len(b.Kind))}
	for _, k := range b.Kind {
		req.Kind = append(req.Kind, string(k))
	}
	out, res, err := cachedJSON(ctx, c, request.Params.CacheControl, 0, req, func(ctx context.Context) (api.GarantCourtPractice, error) {
		r, err := c.g.Client.CourtPractice(ctx, c.cred.Secret, req)
		if err != nil {
			return api.GarantCourtPractice{}, err
		}
		out := api.GarantCourtPractice{Documents: make([]api.GarantCourtPracticeKind, 0, len(r.Documents))}
		for _, d := range r.Documents {
			out.Documents = append(out.Documents, api.GarantCourtPracticeKind{Kind: api.GarantCourtKind(d.Kind), Norms: docLinks(d.Norms), Courts: docLinks(d.Courts)})
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	st, age := cacheHeaders(res)
	return api.GarantCourtPractice200JSONResponse{Body: out, Headers: api.GarantCourtPractice200ResponseHeaders{CacheStatus: st, Age: age}}, nil
}

// GarantGetLimits returns Garant's own quota report, never cached, and
// lowers the gateway's counters to it.
func (h garantHandlers) GarantGetLimits(ctx context.Context, request api.GarantGetLimitsRequestObject) (api.GarantGetLimitsResponseObject, error) {
	c, err := h.begin(ctx, "garantGetLimits")
	if err != nil {
		return nil, err
	}
	var limits []garant.Limit
	err = c.upstream(ctx, func(ctx context.Context) error {
		var err error
		limits, err = c.g.Client.Limits(ctx, c.cred.Secret)
		return err
	})
	if err != nil {
		return nil, fail(ctx, err)
	}
	c.applyLimits(ctx, limits)
	out := api.GarantGetLimits200JSONResponse{Limits: make([]api.GarantLimit, 0, len(limits))}
	for _, l := range limits {
		out.Limits = append(out.Limits, api.GarantLimit{Title: l.Title, Value: int(l.Value), Names: orEmpty(l.Names)})
	}
	return out, nil
}

// GarantPurgeCache deletes cached answers of the caller's credential scope
// (admins only).
func (h garantHandlers) GarantPurgeCache(ctx context.Context, request api.GarantPurgeCacheRequestObject) (api.GarantPurgeCacheResponseObject, error) {
	c, err := h.begin(ctx, "garantPurgeCache")
	if err != nil {
		return nil, err
	}
	if !c.tenant.Admin {
		return nil, &apperr.Error{Kind: apperr.Forbidden, Detail: "only admin tenants may purge the Garant cache"}
	}
	if c.g.Cache == nil {
		return api.GarantPurgeCache200JSONResponse{Deleted: 0}, nil
	}
	scope := c.cred.Name
	if c.g.ShareAcrossCredentials {
		scope = "shared"
	}
	op, topic := deref(request.Params.Operation), deref(request.Params.Topic)
	n, err := c.g.Cache.Purge(ctx, scope, op, topic)
	if err != nil {
		return nil, &apperr.Error{Kind: apperr.Unavailable, Detail: "the cache store is unavailable; nothing or not everything was deleted", Err: err}
	}
	return api.GarantPurgeCache200JSONResponse{Deleted: n}, nil
}

// ---------------------------------------------------------------- conversions

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func ancestors(in []garant.Ancestor) []api.GarantAncestor {
	out := make([]api.GarantAncestor, 0, len(in))
	for _, a := range in {
		out = append(out, api.GarantAncestor{Entry: int(a.Entry), Title: a.Title})
	}
	return out
}

func docLink(d garant.DocLink) api.GarantDocumentLink {
	return api.GarantDocumentLink{Topic: int(d.Topic), Name: d.Name, URL: d.URL}
}

func docLinks(in []garant.DocLink) []api.GarantDocumentLink {
	out := make([]api.GarantDocumentLink, 0, len(in))
	for _, d := range in {
		out = append(out, docLink(d))
	}
	return out
}

func events(in []garant.Event) []api.GarantChangeEvent {
	out := make([]api.GarantChangeEvent, 0, len(in))
	for _, e := range in {
		t, err := time.Parse(time.DateOnly, e.Date)
		if err != nil {
			continue
		}
		out = append(out, api.GarantChangeEvent{Date: openapi_types.Date{Time: t}, Type: int(e.Type)})
	}
	return out
}

func categories(in []garant.Category) []api.GarantPrimeCategory {
	out := make([]api.GarantPrimeCategory, 0, len(in))
	for _, c := range in {
		pc := api.GarantPrimeCategory{Text: c.Text, Children: categories(c.Children)}
		if c.ID != nil {
			id := int(*c.ID)
			pc.Id = &id
		}
		out = append(out, pc)
	}
	return out
}

// dotDate reads Garant's D.M.YYYY dates; nil when empty or unreadable.
func dotDate(s string) *openapi_types.Date {
	t, err := time.Parse("2.1.2006", strings.TrimSpace(s))
	if err != nil {
		return nil
	}
	return &openapi_types.Date{Time: t}
}

func editions(in []garant.Edition) api.GarantEditionList {
	out := api.GarantEditionList{Editions: make([]api.GarantEdition, 0, len(in))}
	for _, e := range in {
		ed := api.GarantEdition{Status: api.GarantEditionStatus(e.Status), Topic: int(e.Topic),
			Activity: make([]api.GarantPeriod, 0, len(e.Activity)), NotSure: make([]api.GarantUncertainPeriod, 0, len(e.NotSure)),
			ChangingDocuments: make([]api.GarantChangingDocument, 0, len(e.ChangingDocuments))}
		for _, a := range e.Activity {
			ed.Activity = append(ed.Activity, api.GarantPeriod{From: dotDate(a.From), To: dotDate(a.To)})
		}
		for _, n := range e.NotSure {
			ed.NotSure = append(ed.NotSure, api.GarantUncertainPeriod{From: dotDate(n.From), To: dotDate(n.To), Text: n.Text})
		}
		for _, d := range e.ChangingDocuments {
			cd := api.GarantChangingDocument{Topic: int(d.Topic), Text: d.Text}
			if d.Entry != nil {
				n := int(*d.Entry)
				cd.Entry = &n
			}
			ed.ChangingDocuments = append(ed.ChangingDocuments, cd)
		}
		out.Editions = append(out.Editions, ed)
	}
	return out
}

func optString(s garant.String) *string {
	if s == "" {
		return nil
	}
	v := string(s)
	return &v
}

func topicInfo(r *garant.TopicInfo) api.GarantTopicInfo {
	list := func(s garant.Strings) []string { return orEmpty([]string(s)) }
	return api.GarantTopicInfo{
		Topic: int(r.Topic), Name: r.Name, Access: api.GarantTopicInfoAccess(r.Access),
		Type: list(r.Type), Adopted: list(r.Adopted), Class: list(r.Class), Date: list(r.Date),
		Number: list(r.Number), Category: list(r.Category), Kind: list(r.Kind), Territory: list(r.Territory),
		Active: list(r.Active), Chdate: list(r.ChDate),
		Rdate: optString(r.RDate), Rcode: optString(r.RCode), Rstatus: optString(r.RStatus),
		Status: optString(r.Status), LastModified: optString(r.LastModified),
	}
}
