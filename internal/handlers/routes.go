package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	httppprof "net/http/pprof"
	"slices"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/ops"
)

// NewServer returns the gateway's HTTP handler. Every route is here: the
// contract's operations (generated from api/openapi.yaml, listed in
// internal/api's ServerInterface), the Swagger UI assets under /docs/,
// Garant Connect's own routes under /compat/garant (garantCompatRoutes) and
// FSSP's own under /compat/fssp and FIPS's under /compat/fips (described in
// the contract, routed by hand);
// the admin listener's routes are NewAdmin's, below.
//
// A request travels: request id → deadlines → recover → access log and
// metrics → trace span (when tracing is on) → HEAD served as GET → chi routing → route guard (operation, tenant
// auth, body limit and budget, contract validation, fair share), on the
// contract's routes only → generated strict handler → the operation's method.
func NewServer(d *Deps) (http.Handler, error) {
	spec, specJSON, err := loadContract(d.SpecYAML)
	if err != nil {
		return nil, err
	}
	if d.Ops == nil {
		if d.Ops, err = ops.Contract(); err != nil {
			return nil, err
		}
	}
	index, err := newOperationIndex(spec, d.Ops)
	d.HTTP.AddSeries(requestSeries(index, d.Tenants.Load()))
	if err != nil {
		return nil, err
	}
	srv := newServer(d, specJSON)

	r := chi.NewRouter()
	limits := d.Limits.withDefaults()
	mws := []func(http.Handler) http.Handler{requestID, deadlines(limits), recoverer(d.Log), accessLog(d.Log, d.HTTP)}
	if d.Telemetry.Enabled() {
		mws = append(mws, traced(d.Telemetry))
	}
	r.Use(append(mws, headAsGet(r))...)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, d.Log, apperr.Errorf(apperr.NotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, d.Log, apperr.Errorf(apperr.MethodNotAllowed, "method %s is not allowed on %s", r.Method, r.URL.Path))
	})

	// Swagger UI's assets (the page itself is the contract's GET /docs).
	r.Get("/docs/*", srv.docs.ServeHTTP)

	strict := api.NewStrictHandlerWithOptions(srv, []api.StrictMiddlewareFunc{withExchange}, api.StrictHTTPServerOptions{
		RequestErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, r, d.Log, apperr.Wrap(apperr.Invalid, "the request body or parameters could not be decoded", err))
		},
		ResponseErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, r, d.Log, err)
		},
	})
	// FSSP's own API v1.0 (compat_fssp.go): described in the contract (tag
	// compat-fssp, x-gateway native) but routed here, not by the generated
	// server, since its key is a query parameter or in a group's body and its
	// errors keep FSSP's envelope. Any method reaches the handlers, which
	// answer FSSP's 405; other paths under the prefix FSSP's 404.
	fsspNative := compatFSSP{deps: d, tasks: d.FSSP}
	guarded := r.With(routeGuard(d.Log, index, d.Tenants, newBodyBudget(limits), d.Fair))
	guarded.HandleFunc(compatFSSPBase+"/search/physical", fsspNative.search(fsspTypePhysical))
	guarded.HandleFunc(compatFSSPBase+"/search/legal", fsspNative.search(fsspTypeLegal))
	guarded.HandleFunc(compatFSSPBase+"/search/ip", fsspNative.search(fsspTypeIP))
	guarded.HandleFunc(compatFSSPBase+"/search/group", fsspNative.searchGroup)
	guarded.HandleFunc(compatFSSPBase+"/status", fsspNative.taskRead(nativeStatusBody))
	guarded.HandleFunc(compatFSSPBase+"/result", fsspNative.taskRead(nativeResultBody))
	guarded.HandleFunc(compatFSSPBase+"/*", fsspNative.unknown)
	// FIPS's own API (compat_fips.go): the routes of the configured table
	// (upstreams.fips.routes), each the contract's compat-fips operation of
	// its FIPS operation (the contract documents the default table); any
	// other method or path under the prefix answers FIPS's 404.
	fipsNative := compatFIPS{deps: d, index: index}
	if d.FIPS != nil && d.FIPS.Client != nil {
		routes := d.FIPS.Client.Routes()
		for _, op := range slices.Sorted(maps.Keys(routes)) {
			rt := routes[op]
			if err := index.alias(rt.Method, compatFIPSBase+rt.Path, compatFIPSOperation(op)); err != nil {
				return nil, err
			}
			guarded.MethodFunc(rt.Method, compatFIPSBase+rt.Path, fipsNative.serve)
		}
	}
	// Every method but HEAD, which headAsGet then serves as GET wherever the
	// table has a GET.
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodConnect, http.MethodTrace} {
		guarded.MethodFunc(m, compatFIPSBase+"/*", fipsNative.serve)
	}
	// The route guard runs once chi has matched the route (one routing per
	// request) and before the generated wrapper parses a parameter, so auth
	// still comes first.
	api.HandlerWithOptions(strict, api.ChiServerOptions{
		BaseRouter: r.With(routeGuard(d.Log, index, d.Tenants, newBodyBudget(limits), d.Fair)),
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, r, d.Log, paramError(err))
		},
	})
	return garantCompat(r, garantCompatRoutes()), nil
}

// garantCompatRoutes are Garant Connect's own routes, served under
// GarantCompatPrefix (garant_compat.go), and the path of the /v1 operation
// that serves each.
func garantCompatRoutes() map[string]string {
	return map[string]string{
		"POST /v2/search":                          "/v1/garant/search",
		"POST /v2/snippets":                        "/v1/garant/snippets",
		"POST /v2/find-hyperlinks":                 "/v1/garant/hyperlinks",
		"GET /v2/topic/{topic}":                    "/v1/garant/topics/{topic}",
		"GET /v2/topic/{topic}/download":           "/v1/garant/topics/{topic}/export/rtf",
		"GET /v2/topic/{topic}/download-odt":       "/v1/garant/topics/{topic}/export/odt",
		"GET /v2/topic/{topic}/download-pdf":       "/v1/garant/topics/{topic}/export/pdf",
		"GET /v2/topic/{topic}/html":               "/v1/garant/topics/{topic}/html",
		"GET /v2/topic/{topic}/entry/{entry}/html": "/v1/garant/topics/{topic}/entries/{entry}/html",
		"GET /v2/image/{object_id}":                "/v1/garant/images/{object_id}",
		"GET /v2/formula":                          "/v1/garant/formulas",
		"GET /v2/redactions/{topic}":               "/v1/garant/topics/{topic}/editions",
		"POST /v2/find-modified":                   "/v1/garant/monitoring/documents",
		"POST /v2/block-on-control/changed":        "/v1/garant/monitoring/fragments",
		"GET /v2/prime":                            "/v1/garant/prime/categories",
		"POST /v2/prime/create-news":               "/v1/garant/prime/news",
		"POST /v2/sutyazhnik-search":               "/v1/garant/court-practice",
		"GET /v2/limits":                           "/v1/garant/limits",
	}
}

// NewAdmin returns the handler of the admin listener (server.admin_addr),
// kept apart from the public API so that no tenant reaches it: GET /metrics
// serves reg; with pprof, net/http/pprof's pages are under /debug/pprof/.
// Anything else is 404. The public router has none of these routes.
func NewAdmin(reg *prometheus.Registry, pprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if pprof {
		mux.HandleFunc("GET /debug/pprof/", httppprof.Index) // and the named profiles: heap, goroutine, allocs…
		mux.HandleFunc("GET /debug/pprof/cmdline", httppprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", httppprof.Trace)
	}
	return mux
}

// paramError names the parameter the generated wrapper could not parse (the
// route guard's validation normally catches these first).
func paramError(err error) error {
	var (
		format   *api.InvalidParamFormatError
		required *api.RequiredParamError
		header   *api.RequiredHeaderError
	)
	switch {
	case errors.As(err, &format):
		return apperr.InvalidField(format.ParamName, "has an invalid format")
	case errors.As(err, &required):
		return apperr.InvalidField(required.ParamName, "is required")
	case errors.As(err, &header):
		return apperr.InvalidField("header."+header.ParamName, "is required")
	}
	return apperr.Wrap(apperr.Invalid, "a parameter could not be parsed", err)
}

func newDocsHandler() http.Handler {
	return v5emb.NewWithConfig(swgui.Config{
		Title:       "legalgate API",
		SwaggerJSON: "/openapi.json",
		BasePath:    "/docs/",
		SettingsUI:  map[string]string{"persistAuthorization": "true"},
	})("legalgate API", "/openapi.json", "/docs/")
}

// contracts holds the contracts loadContract loaded, by their YAML text (a
// process serves one; tests build many servers of it).
var contracts sync.Map

type loadedContract struct {
	spec *openapi3.T
	json []byte
}

// loadContract returns the generated spec with the operations routed by hand
// added from specYAML (the contract as written), and specYAML as JSON. Both
// are shared by every server of the same specYAML: read, never written.
func loadContract(specYAML []byte) (*openapi3.T, []byte, error) {
	if c, ok := contracts.Load(string(specYAML)); ok {
		lc := c.(*loadedContract)
		return lc.spec, lc.json, nil
	}
	spec, err := api.GetSpec()
	if err != nil {
		return nil, nil, fmt.Errorf("handlers: load contract: %w", err)
	}
	// /openapi.json is the contract as written (the generated spec
	// capitalises operation ids: Swagger UI and client generators would show
	// GetQuotas where /openapi.yaml says getQuotas).
	written, err := openapi3.NewLoader().LoadFromData(specYAML)
	if err != nil {
		return nil, nil, fmt.Errorf("handlers: load Deps.SpecYAML: %w", err)
	}
	specJSON, err := json.Marshal(written)
	if err != nil {
		return nil, nil, fmt.Errorf("handlers: encode contract: %w", err)
	}
	spec.Servers = nil // validate paths as they arrive, whatever host serves them
	// The generated spec leaves out the operations routed by hand (/compat/...,
	// the generator's exclude-tags): the guard takes them from the contract as written.
	for path, item := range written.Paths.Map() {
		for method, op := range item.Operations() {
			gen := spec.Paths.Value(path)
			if gen == nil {
				gen = &openapi3.PathItem{}
				spec.Paths.Set(path, gen)
			}
			if gen.GetOperation(method) == nil {
				gen.SetOperation(method, op)
			}
		}
	}
	c, _ := contracts.LoadOrStore(string(specYAML), &loadedContract{spec: spec, json: specJSON})
	lc := c.(*loadedContract)
	return lc.spec, lc.json, nil
}
