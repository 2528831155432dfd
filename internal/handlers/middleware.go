package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/fairshare"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// reqInfo is what the outer middleware learns about a request as it travels
// inwards; the access log and metrics read it on the way out. It is one
// allocation per request: the access log's writer, the exchange and the
// X-Request-Id value live in it.
type reqInfo struct {
	raw       http.ResponseWriter // the server's own writer, for http.MaxBytesReader
	id        string
	traceID   string // the request's trace id when it is traced (tracing.go)
	tenant    string
	operation string
	errKind   string
	detached  bool
	// spanEnd ends the request's server span (tracing.go) when a parked
	// request is answered; nil when the request is not traced.
	spanEnd func(route string, status int)
	body    *timedBody // the request body under its deadlines; nil without one
	x       exchange   // the strict handler's writer and request (withExchange)
	idValue [1]string  // the X-Request-Id header's value
	sw      statusWriter
	// Set by the access log, for detach.
	log    *slog.Logger
	m      *metrics.HTTP
	logged *http.Request // the request as the access log saw it
	start  time.Time
}

type infoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(infoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{id: "unknown", operation: "unknown"}
}

// detach is called by a handler that takes the connection over to answer
// later (park): the access log then leaves the request to the returned
// func, to be called once it is answered (a no-op when no access log saw
// the request).
func (i *reqInfo) detach() func(status int, bytes int64) {
	if i.logged == nil {
		return func(int, int64) {}
	}
	i.detached = true
	log, m, start := i.log, i.m, i.start
	method, route := i.logged.Method, routePattern(i.logged)
	// The server's writer (and with it the connection's buffers) is not
	// kept for as long as the request is parked.
	i.raw, i.x, i.sw.ResponseWriter, i.logged = nil, exchange{}, nil, nil
	return func(status int, bytes int64) {
		logRequest(context.Background(), log, m, i, method, route, status, bytes, time.Since(start))
		if i.spanEnd != nil {
			i.spanEnd(route, status)
		}
	}
}

// requestIDHeader is X-Request-ID as net/http keys it (canonical).
const requestIDHeader = "X-Request-Id"

// requestID gives every request an id (the caller's X-Request-ID when it is
// sane) and echoes it in the response.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id string
		if v := r.Header[requestIDHeader]; len(v) > 0 && saneRequestID(v[0]) {
			id = v[0]
		} else {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		info := &reqInfo{raw: w, id: id, operation: "unknown"}
		info.idValue[0] = id
		w.Header()[requestIDHeader] = info.idValue[:]
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
	})
}

// saneRequestID reports whether a caller's request id may be echoed and
// logged: 8 to 64 of A-Z, a-z, 0-9, '.', '_' and '-'.
func saneRequestID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// recoverer turns a panic into a 500 problem and a log line with the stack.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					writeError(w, r, log, recovered(log, infoFrom(r.Context()).id, v))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// accessLog writes one JSON line per request and records the HTTP metrics.
// The query string is never logged: it is the caller's data.
func accessLog(log *slog.Logger, m *metrics.HTTP) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info := infoFrom(r.Context())
			info.log, info.m, info.logged, info.start = log, m, r, time.Now()
			sw := &info.sw
			sw.ResponseWriter = w
			next.ServeHTTP(sw, r)
			if info.detached {
				return
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			logRequest(r.Context(), log, m, info, r.Method, routePattern(r), sw.status, sw.bytes, time.Since(info.start))
		})
	}
}

// logRequest records one answered request: its metrics and access log line.
func logRequest(ctx context.Context, log *slog.Logger, m *metrics.HTTP, info *reqInfo, method, route string, status int, bytes int64, d time.Duration) {
	m.Observe(info.operation, status, info.tenant, d)
	attrs := []slog.Attr{
		slog.String("request_id", info.id), slog.String("method", method),
		slog.String("route", route), slog.String("operation", info.operation),
		slog.String("tenant", info.tenant), slog.Int("status", status),
		slog.Int64("bytes", bytes), slog.Duration("duration", d),
	}
	if info.errKind != "" {
		attrs = append(attrs, slog.String("error_kind", info.errKind))
	}
	if info.traceID != "" {
		attrs = append(attrs, slog.String("trace_id", info.traceID))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}

func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return "unmatched"
}

// routeGuard wraps the contract's routes, after chi matched one and before
// the generated wrapper parses its parameters (so auth comes first): it
// finds the contract operation of the matched route, names it, checks the tenant's key where the operation needs one,
// limits the body, takes a JSON body's share of the body budget, validates
// the request against the contract and admits it to its upstream's fair
// share (held until the request is answered; Garant's service admits its
// own calls), in that order.
func routeGuard(log *slog.Logger, ops *operationIndex, tenants tenant.Source, budget *bodyBudget, fair *fairshare.Limiter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := chi.RouteContext(r.Context())
			op, ok := ops.lookup(r.Method, rc.RoutePattern())
			if !ok { // not a contract operation (every route the generated code adds is one)
				next.ServeHTTP(w, r)
				return
			}
			info := infoFrom(r.Context())
			info.operation = op.id
			ctx := metrics.WithOperation(r.Context(), op.id)
			if op.native {
				// The upstream's own shapes (compat_*.go): the key is where the
				// upstream takes it and errors keep its shapes, so the handler
				// authenticates and validates (a body over its limit fails as
				// it is read); only the limit is the guard's.
				if r.Body != nil && r.Body != http.NoBody {
					r.Body = http.MaxBytesReader(info.raw, r.Body, op.maxBody)
				}
				next.ServeHTTP(w, r.WithContext(ctx))
				return
			}
			if op.authenticated {
				t, ok := authenticate(ctx, tenants.Load(), r)
				if !ok {
					writeError(w, r, log, apperr.New(apperr.Unauthenticated,
						"send a tenant API key as 'Authorization: Bearer <key>'"))
					return
				}
				info.tenant = t.ID
				ctx = tenant.NewContext(ctx, t)
				if _, ok := t.Credential(op.upstream); op.upstream != "" && !ok {
					writeError(w, r, log, &apperr.Error{Kind: apperr.Forbidden, Upstream: op.upstream,
						Detail: "tenant " + t.ID + " has no credential for upstream " + op.upstream})
					return
				}
			}
			r = r.WithContext(ctx)
			if op.streamBody && r.ContentLength < 0 {
				// An upload's size is checked before any byte of it goes upstream.
				writeError(w, r, log, apperr.New(apperr.LengthRequired, "send Content-Length with an upload"))
				return
			}
			if r.ContentLength > op.maxBody {
				writeError(w, r, log, apperr.Errorf(apperr.TooLarge, "the request body is larger than %d bytes", op.maxBody))
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				// The server's own writer, so that an over-long body also closes the connection.
				// Full duplex is the upload's to enable (fips_stream.go): with
				// it on, a body left unread by an early answer makes net/http
				// panic when the connection is reused.
				r.Body = http.MaxBytesReader(info.raw, r.Body, op.maxBody)
				switch {
				case op.streamBody:
					// The body streams through (FIPS uploads) under its
					// handler's deadlines: let the reader and writer overlap.
					// Only here: a handler that never reads its body would
					// make net/http panic in full duplex.
					if info.body != nil {
						info.body.stream = true
					}
					_ = http.NewResponseController(w).EnableFullDuplex()
				case op.body != nil:
					// A JSON body is held in memory: within the budget.
					n := r.ContentLength
					if n < 0 {
						n = op.maxBody
					}
					release, err := budget.acquire(info.tenant, n)
					if err != nil {
						writeError(w, r, log, err)
						return
					}
					defer release()
				}
			}
			if err := ops.validate(r, op, &rc.URLParams); err != nil {
				writeError(w, r, log, err)
				return
			}
			// Garant's service admits its own calls where they reach Garant
			// (garantsvc.Service.Fair): a cache hit takes no share.
			if (op.share == fairshare.Call || op.share == fairshare.FreeCall) && op.upstream != garant.Upstream {
				release, err := admitCall(r.Context(), fair, op)
				if err != nil {
					writeError(w, r, log, err)
					return
				}
				defer release()
			}
			next.ServeHTTP(w, r)
		})
	}
}

// admitCall admits a request that calls op's upstream to its tenant's and
// its credential's fair share.
func admitCall(ctx context.Context, fair *fairshare.Limiter, op *operation) (release func(), err error) {
	t, ok := tenant.FromContext(ctx)
	if !ok {
		return func() {}, nil
	}
	c, ok := t.Credential(op.upstream)
	if !ok {
		return func() {}, nil
	}
	return fair.Admit(ctx, fairshare.Request{Class: op.share, Tenant: t.ID, Upstream: op.upstream, Credential: c.Name})
}

// routingPath is the path chi routes on (the raw, still-escaped path when
// there is one), so that the guard always finds the operation chi will run.
func routingPath(r *http.Request) string {
	if r.URL.RawPath != "" {
		return r.URL.RawPath
	}
	return r.URL.Path
}

func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// headAsGet answers HEAD wherever GET is routed and HEAD is not (RFC 9110
// §9.3.2: the same answer without content): everything inwards sees a GET,
// so auth, validation, quotas and caching apply exactly as they do to GET.
// net/http drops the body of a HEAD response itself; the access log, being
// outside, still records HEAD.
func headAsGet(mux *chi.Mux) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead {
				path := routingPath(r)
				if !mux.Match(chi.NewRouteContext(), http.MethodHead, path) && mux.Match(chi.NewRouteContext(), http.MethodGet, path) {
					get := r.WithContext(r.Context())
					get.Method = http.MethodGet
					r = get
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}
