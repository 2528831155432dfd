package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/fipssvc"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// compatFIPSBase is where FIPS's own Registrator API v1 is served: a client
// written for FIPS changes its base URL (https://kpsrtz.fips.ru/api/v1) to
// it and its FIPS key to a tenant key.
const compatFIPSBase = "/compat/fips"

// compatFIPSOperation is the contract operation (tag compat-fips) of FIPS
// operation op: fipsGetApplication is compatFipsGetApplication.
func compatFIPSOperation(op string) string { return "compatFips" + strings.TrimPrefix(op, "fips") }

// compatFIPS serves FIPS's own API as the configured route table
// (upstreams.fips.routes) defines it: a request whose method and path match
// a route is passed through to FIPS with the tenant's FIPS key in place of
// the tenant key, its body and FIPS's answer streamed, never buffered or
// re-encoded. The tenant key is FIPS's Authorization header, the raw key
// (a "Bearer " scheme is tolerated); it is read here and nowhere else,
// never forwarded, logged or put in a metric or an error. FIPS's 403
// (another account's resource) answers as its 404, so that ids cannot be
// enumerated; a Location is rewritten under the prefix. The creates of
// /v1/fips take an Idempotency-Key here too. The gateway's own refusals and
// failures come in FIPS's error shape {"message", "errors"}.
type compatFIPS struct {
	deps  *Deps
	index *operationIndex
}

// maxCompatIdempotentBody bounds the body of a create sent with an
// Idempotency-Key: it is held to be fingerprinted (JSON attributes or
// signatures, never content).
const maxCompatIdempotentBody = 4 << 20

// nativeFIPSFailure is FIPS's error body.
type nativeFIPSFailure struct {
	Message string         `json:"message"`
	Errors  []fips.Finding `json:"errors,omitempty"`
}

func (c compatFIPS) writeNativeError(w http.ResponseWriter, r *http.Request, status int, kind apperr.Kind, message string) {
	infoFrom(r.Context()).errKind = kind.String()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(nativeFIPSFailure{Message: message})
}

// fipsNotVisible answers a resource FIPS does not show the tenant's
// account, missing or another account's (FIPS's 403 and 404 alike).
func (c compatFIPS) notVisible(w http.ResponseWriter, r *http.Request) {
	c.writeNativeError(w, r, http.StatusNotFound, apperr.NotFound, "FIPS has no such resource for this key's account")
}

func (c compatFIPS) serve(w http.ResponseWriter, r *http.Request) {
	if c.deps.FIPS == nil || c.deps.FIPS.Client == nil {
		c.fail(w, r, notBuilt(infoFrom(r.Context()).operation))
		return
	}
	client := c.deps.FIPS.Client
	path := strings.TrimPrefix(routingPath(r), compatFIPSBase)
	m, ok := client.Match(r.Method, path)
	if !ok {
		c.writeNativeError(w, r, http.StatusNotFound, apperr.NotFound, "no FIPS method "+r.Method+" at this path")
		return
	}
	r, cred, ok := c.authenticate(w, r)
	if !ok {
		return
	}
	if op, ok := c.index.operation(compatFIPSOperation(m.Op)); ok {
		release, err := admitCall(r.Context(), c.deps.Fair, op)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		defer release()
	}
	f := fips.Forward{Op: m.Op, EscapedPath: path, RawQuery: r.URL.RawQuery, Header: r.Header, Length: r.ContentLength}
	if key := strings.TrimSpace(r.Header.Get("Idempotency-Key")); key != "" && compatCreates[m.Op] {
		c.idempotent(w, r, cred, key, m, f)
		return
	}
	var body *compatBody
	if r.Body != nil && r.Body != http.NoBody {
		// FIPS may answer before the body is all read: let the reader and
		// writer overlap; an early answer closes the connection (below).
		_ = http.NewResponseController(infoFrom(r.Context()).raw).EnableFullDuplex()
		body = &compatBody{idle: newIdleBody(infoFrom(r.Context()).raw, c.streamIdle()), r: r.Body}
		body.idle.extend()
		f.Body = body
	}
	res, err := client.Forward(r.Context(), cred, f)
	if body != nil && !body.eof.Load() {
		body.idle.stop()
		w.Header().Set("Connection", "close") // the rest of the body is not drained
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.answer(w, r, res)
}

func (c compatFIPS) streamIdle() time.Duration {
	return c.deps.Limits.withDefaults().StreamIdle
}

// compatCreates are the operations an Idempotency-Key guards, as in /v1/fips.
var compatCreates = map[string]bool{fips.OpCreateApplication: true, fips.OpCreateDocument: true,
	fips.OpAddSignature: true, fips.OpSubmitApplication: true}

// authenticate finds the tenant of the Authorization header (FIPS's raw key)
// and its FIPS credential, or answers 401 (403 for a tenant without FIPS).
func (c compatFIPS) authenticate(w http.ResponseWriter, r *http.Request) (*http.Request, *tenant.Credential, bool) {
	key := strings.TrimSpace(r.Header.Get("Authorization"))
	if b := bearerToken(r); b != "" {
		key = b
	}
	t, ok := authenticateKey(r.Context(), c.deps.Tenants.Load(), key)
	if !ok {
		c.writeNativeError(w, r, http.StatusUnauthorized, apperr.Unauthenticated,
			"send a tenant API key as the Authorization header")
		return r, nil, false
	}
	infoFrom(r.Context()).tenant = t.ID
	r = r.WithContext(tenant.NewContext(r.Context(), t))
	cred, ok := t.Credential(fips.Upstream)
	if !ok {
		c.writeNativeError(w, r, http.StatusForbidden, apperr.Forbidden, "this key has no FIPS access")
		return r, nil, false
	}
	return r, cred, true
}

// answer passes FIPS's answer on: its status, content headers and bytes as
// they arrive; a 403 or 404 as notVisible; a Location under the prefix.
func (c compatFIPS) answer(w http.ResponseWriter, r *http.Request, res *http.Response) {
	defer res.Body.Close()
	if res.StatusCode == http.StatusForbidden || res.StatusCode == http.StatusNotFound {
		c.notVisible(w, r)
		return
	}
	c.copyHeader(w.Header(), res.Header)
	if res.ContentLength >= 0 && res.Header.Get("Content-Length") == "" && res.StatusCode != http.StatusNoContent {
		w.Header().Set("Content-Length", strconv.FormatInt(res.ContentLength, 10))
	}
	if res.StatusCode == http.StatusUnauthorized {
		infoFrom(r.Context()).errKind = apperr.UpstreamFailed.String()
	}
	w.WriteHeader(res.StatusCode)
	rc := http.NewResponseController(w)
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }() // the connection may serve another request
	idle := c.streamIdle()
	buf := make([]byte, 32<<10)
	for {
		n, err := res.Body.Read(buf)
		if n > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(idle))
			if _, werr := w.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			// The status is sent: cut the connection so that the client sees a
			// broken answer, never a complete-looking short one.
			panic(http.ErrAbortHandler)
		}
	}
}

// passedHeaders are FIPS's answer headers the caller gets.
var passedHeaders = []string{"Content-Type", "Content-Length", "Content-Encoding", "Content-Disposition",
	"Content-Range", "Accept-Ranges", "ETag", "Last-Modified", "Retry-After", "Location"}

func (c compatFIPS) copyHeader(dst, src http.Header) {
	for _, h := range passedHeaders {
		if v := src.Values(h); len(v) > 0 {
			dst[h] = append([]string(nil), v...)
		}
	}
	if loc := dst.Get("Location"); loc != "" {
		if p, ok := c.deps.FIPS.Client.LocalPath(loc); ok {
			dst.Set("Location", compatFIPSBase+p)
		} else {
			dst.Del("Location") // never a way around the gateway
		}
	}
	dst.Set("X-Content-Type-Options", "nosniff")
}

// idempotent runs a create as the FIPS service's at-most-once create under
// key (fipssvc.Call.Create), as /v1/fips does: the body is held (bounded)
// to be fingerprinted, FIPS's 2xx answer recorded and replayed; an error
// answer is passed on and the key released, a 5xx other than 503 keeping
// it as a create FIPS may have carried out.
func (c compatFIPS) idempotent(w http.ResponseWriter, r *http.Request, cred *tenant.Credential, key string, m fips.Resource, f fips.Forward) {
	if err := c.deps.FIPS.AcceptsKeys(); err != nil {
		c.fail(w, r, err)
		return
	}
	var raw []byte
	if r.Body != nil {
		var err error
		raw, err = io.ReadAll(io.LimitReader(r.Body, maxCompatIdempotentBody+1))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig) || len(raw) > maxCompatIdempotentBody:
			c.fail(w, r, apperr.Errorf(apperr.TooLarge, "a request with an Idempotency-Key carries at most %d bytes", maxCompatIdempotentBody))
			return
		case err != nil:
			c.fail(w, r, apperr.Wrap(apperr.Invalid, "the request body could not be read", err))
			return
		}
	}
	t, _ := tenant.FromContext(r.Context())
	var passed *http.Response // an error answer of FIPS, passed on unrecorded
	ids := []string{m.ApplicationID, m.DocumentID}
	rec, replayed, err := c.deps.FIPS.Begin(t, cred).Create(r.Context(), key, m.Op, ids, fipssvc.Raw(raw), func(ctx context.Context) (idempotency.Response, error) {
		f.Body, f.Length = bytes.NewReader(raw), int64(len(raw))
		res, err := c.deps.FIPS.Client.Forward(ctx, cred, f)
		if err != nil {
			return idempotency.Response{}, err
		}
		defer res.Body.Close()
		if res.StatusCode < 200 || res.StatusCode > 299 {
			b, _ := io.ReadAll(io.LimitReader(res.Body, maxJSONAnswer))
			res.Body = io.NopCloser(bytes.NewReader(b))
			passed = res
			if res.StatusCode >= 500 && res.StatusCode != http.StatusServiceUnavailable {
				return idempotency.Response{}, idempotency.Uncertain(&apperr.Error{Kind: apperr.UpstreamFailed, Upstream: fips.Upstream,
					Detail: "FIPS answered " + strconv.Itoa(res.StatusCode)})
			}
			return idempotency.Response{}, errPassedOn
		}
		b, err := io.ReadAll(io.LimitReader(res.Body, maxJSONAnswer+1))
		if err != nil || len(b) > maxJSONAnswer {
			return idempotency.Response{}, &apperr.Error{Kind: apperr.UpstreamFailed,
				Upstream: fips.Upstream, Detail: "FIPS sent an answer that could not be read", Err: fips.ErrOutcomeUnknown}
		}
		h := http.Header{}
		c.copyHeader(h, res.Header)
		h.Del("Content-Length")
		return idempotency.Response{Status: res.StatusCode, Header: h, Body: b}, nil
	})
	if passed != nil {
		c.answer(w, r, passed)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	_ = fipsReplayable{r: rec, replayed: replayed}.write(w)
}

// maxJSONAnswer bounds an answer recorded for replay.
const maxJSONAnswer = 8 << 20

// errPassedOn releases an Idempotency-Key whose create FIPS refused: its
// answer is passed on as it came.
var errPassedOn = errors.New("handlers: FIPS refused the create")

// fail answers err in FIPS's error shape with the status errors.go gives
// its kind; an upstream failure names the request id. Failures are logged
// as writeError logs them.
func (c compatFIPS) fail(w http.ResponseWriter, r *http.Request, err error) {
	info := infoFrom(r.Context())
	e, status := nativeFailure(r, c.deps.Log, err)
	if e.RetryAfter > 0 && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	msg := e.Detail
	if msg == "" || e.Kind == apperr.Internal {
		msg = strings.ToLower(http.StatusText(status))
	}
	if status >= 500 {
		msg += " (request id " + info.id + ")"
	}
	c.writeNativeError(w, r, status, e.Kind, msg)
}

// compatBody is a forwarded request body with an idle deadline that each
// read extends; it notes reaching the end.
type compatBody struct {
	idle *idleBody
	r    io.Reader
	eof  atomic.Bool
}

func (b *compatBody) Read(p []byte) (int, error) {
	if !b.idle.extend() {
		return 0, errUploadStopped
	}
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		b.eof.Store(true)
	}
	return n, err
}
