package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/garantsvc"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// GarantCompatPrefix is where the gateway speaks Garant Connect's own API:
// /compat/garant/v2/… takes Garant's paths, methods and bodies with a
// tenant key in place of the Garant token, and answers Garant's bodies as
// Garant sent them and Garant's status codes. Each request is served by
// the /v1/garant operation that asks Garant the same thing, through the
// same guard (auth, limits, validation, fair share) and the same Garant
// service (quota, cache, coalescing, stale answers, limits sync): the
// budget and the cached answers are one, whichever route asks.
const GarantCompatPrefix = "/compat/garant"

// garantNativeKey marks a request that came in Garant's shape.
type garantNativeKey struct{}

// garantNative reports whether the request came in Garant's shape: its
// answer is Garant's body as Garant sent it, its errors Garant's.
func garantNative(ctx context.Context) bool {
	v, _ := ctx.Value(garantNativeKey{}).(bool)
	return v
}

// garantCompat serves Garant's paths (GarantCompatPrefix + a pattern of
// routes.go's garantCompatRoutes) by rewriting them to the /v1 operation's
// path and marking the request native, before anything else sees it; any
// other path under the prefix is Garant's 404.
func garantCompat(next http.Handler, routes map[string]string) http.Handler {
	mux := http.NewServeMux()
	for pattern, target := range routes {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" "+GarantCompatPrefix+path, func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, rewritten(r, target))
		})
	}
	mux.HandleFunc(GarantCompatPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), garantNativeKey{}, true)))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, GarantCompatPrefix+"/") {
			next.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// rewritten is r for the /v1 path target, whose {name}s are r's path
// values and whose query, when it has one, adds fixed parameters.
func rewritten(r *http.Request, target string) *http.Request {
	path, query, _ := strings.Cut(target, "?")
	raw := path
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(path[i:], '}') + i
		name := path[i+1 : j]
		v := r.PathValue(name)
		path = path[:i] + v + path[j+1:]
		raw = strings.Replace(raw, "{"+name+"}", url.PathEscape(v), 1)
	}
	r2 := r.WithContext(context.WithValue(r.Context(), garantNativeKey{}, true))
	u := *r.URL
	u.Path, u.RawPath = path, ""
	if raw != path {
		u.RawPath = raw
	}
	if query != "" {
		q := u.Query()
		fixed, _ := url.ParseQuery(query)
		for k, v := range fixed {
			q[k] = v
		}
		u.RawQuery = q.Encode()
	}
	r2.URL = &u
	return r2
}

// quotaExceededType is the problem type of a spent quota family (the quota
// engine's rejections and Garant's 423); a rate has another type or the
// rate family.
const quotaExceededType = "quota-exceeded"

// garantError writes err as Garant answers errors: its status code (423
// for a spent monthly quota, 429 for a rate) and {"error": message}; the
// gateway's headers (X-Request-ID, Retry-After, RateLimit) stay.
func garantError(w http.ResponseWriter, p problem, e *apperr.Error) {
	status := p.Status
	switch {
	case e.Kind == apperr.QuotaExceeded && e.Type == quotaExceededType && !garantsvc.RateRejection(e):
		status = http.StatusLocked // a spent quota family: Garant's 423
	case e.Kind == apperr.QuotaExceeded:
		// A rate: the quota engine's per-second family, Garant's own 429,
		// the tenant's fair share or body budget; retried within seconds.
		status = http.StatusTooManyRequests
	case garant.StatusOf(e) == http.StatusBadRequest || garant.StatusOf(e) == http.StatusNotFound:
		status = garant.StatusOf(e) // Garant's own refusal of the request
	}
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	b, _ := json.Marshal(map[string]string{"error": msg})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
