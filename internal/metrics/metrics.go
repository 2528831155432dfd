// Package metrics builds the gateway's own Prometheus registry (never the
// default one) and the metrics shared by several packages: HTTP requests,
// upstream requests (through an instrumented http.RoundTripper) and the Redis
// connection pool. Labels are bounded: operation ids, upstreams, status codes
// and configured tenant ids; never paths, document ids or keys.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
)

// NewRegistry returns a registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// HTTP holds the metrics of requests the gateway serves.
type HTTP struct {
	Requests *prometheus.CounterVec
	Duration *prometheus.HistogramVec
}

// NewHTTP registers the HTTP server metrics on reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	m := &HTTP{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_http_requests_total",
			Help: "Requests served, by operation id, status code and tenant.",
		}, []string{"operation", "code", "tenant"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_http_request_duration_seconds",
			Help:    "Time to serve a request, by operation id.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"operation"}),
	}
	reg.MustRegister(m.Requests, m.Duration)
	return m
}

// Series is one label set of gateway_http_requests_total.
type Series struct{ Operation, Code, Tenant string }

// AddSeries makes the request counter of each series exist at 0, so that
// rate() and increase() see the first request of each.
func (m *HTTP) AddSeries(series []Series) {
	for _, s := range series {
		m.Requests.WithLabelValues(s.Operation, s.Code, s.Tenant)
	}
}

// Observe records one served request.
func (m *HTTP) Observe(operation string, code int, tenant string, d time.Duration) {
	m.Requests.WithLabelValues(operation, strconv.Itoa(code), tenant).Inc()
	m.Duration.WithLabelValues(operation).Observe(d.Seconds())
}

// Upstream holds the metrics of calls to the upstreams.
type Upstream struct {
	Requests *prometheus.CounterVec
	Duration *prometheus.HistogramVec
	// CredentialRejected counts upstream answers saying a credential is
	// invalid, expired or revoked (an alert fires on any increase).
	CredentialRejected *prometheus.CounterVec
	// CredentialExpiry is when each credential expires (Unix seconds): the
	// configured expires_at, or the moment an upstream rejected it as
	// expired or revoked (see CredentialRejectedNow).
	CredentialExpiry *prometheus.GaugeVec
	// CredentialDenied counts upstream answers refusing a credential the
	// permission for a request (Garant's 403), by the upstream's method name.
	CredentialDenied *prometheus.CounterVec
	// Unparsed counts values of an upstream answer the gateway could not
	// parse and passed on raw (a date it cannot read, for example).
	Unparsed *prometheus.CounterVec

	deniable sync.Map // upstream → []string: the methods that can deny a credential (SetDeniable)
}

// SetDeniable names the methods of upstream that can deny a credential
// the permission for a request: AddCredential makes their denial series
// exist. Call it before AddCredential.
func (m *Upstream) SetDeniable(upstream string, methods []string) {
	m.deniable.Store(upstream, methods)
}

// CredentialDeniedNow records that upstream refused credential the
// permission for method.
func (m *Upstream) CredentialDeniedNow(upstream, credential, method string) {
	if m == nil {
		return
	}
	m.CredentialDenied.WithLabelValues(upstream, credential, method).Inc()
}

// UnparsedValue records that a value of field in an answer to operation
// could not be parsed and was passed on raw.
func (m *Upstream) UnparsedValue(upstream, operation, field string) {
	if m == nil {
		return
	}
	m.Unparsed.WithLabelValues(upstream, operation, field).Inc()
}

// AddCredential makes credential's rejection counter, and its denial
// counter of each method SetDeniable named for its upstream, exist at 0,
// so that increase() sees the first event.
func (m *Upstream) AddCredential(upstream, credential string) {
	m.CredentialRejected.WithLabelValues(upstream, credential)
	if methods, ok := m.deniable.Load(upstream); ok {
		for _, method := range methods.([]string) {
			m.CredentialDenied.WithLabelValues(upstream, credential, method)
		}
	}
}

// CredentialRejectedNow records that upstream rejected credential: the
// rejection counter goes up and its expiry becomes now, so the "expires
// within 30 days" alert fires too.
func (m *Upstream) CredentialRejectedNow(upstream, credential string) {
	m.CredentialRejected.WithLabelValues(upstream, credential).Inc()
	m.CredentialExpiry.WithLabelValues(credential, upstream).Set(float64(time.Now().Unix()))
}

// NewUpstream registers the upstream call metrics on reg.
func NewUpstream(reg prometheus.Registerer) *Upstream {
	m := &Upstream{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_requests_total",
			Help: "Calls to upstreams, by upstream, operation id and status code (\"error\" when no response).",
		}, []string{"upstream", "operation", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_upstream_request_duration_seconds",
			Help:    "Time until the upstream's response headers, by upstream and operation id.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 13),
		}, []string{"upstream", "operation"}),
		CredentialRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_credential_rejected_total",
			Help: "Upstream answers rejecting a configured credential, by upstream and credential name.",
		}, []string{"upstream", "credential"}),
		CredentialExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gateway_credential_expiry_timestamp_seconds",
			Help: "When an upstream credential expires (Unix seconds): configured, or when the upstream rejected it.",
		}, []string{"credential", "upstream"}),
		CredentialDenied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_credential_denied_total",
			Help: "Upstream answers refusing a configured credential the permission for a method (Garant 403), by upstream, credential and upstream method.",
		}, []string{"upstream", "credential", "method"}),
		Unparsed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_upstream_unparsed_values_total",
			Help: "Values of upstream answers that could not be parsed and were passed on raw, by upstream, operation id and field.",
		}, []string{"upstream", "operation", "field"}),
	}
	reg.MustRegister(m.Requests, m.Duration, m.CredentialRejected, m.CredentialExpiry, m.CredentialDenied, m.Unparsed)
	return m
}

// Transport wraps rt so that each call is counted under upstream and the
// operation id carried by the request's context.
func (m *Upstream) Transport(upstream string, rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		op := Operation(r.Context())
		start := time.Now()
		res, err := rt.RoundTrip(r)
		m.Duration.WithLabelValues(upstream, op).Observe(time.Since(start).Seconds())
		code := "error"
		if err == nil {
			code = strconv.Itoa(res.StatusCode)
		}
		m.Requests.WithLabelValues(upstream, op, code).Inc()
		return res, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type opKey struct{}

// WithOperation returns ctx labelled with an operation id for metrics.
func WithOperation(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, opKey{}, op)
}

// Operation returns the operation id in ctx, or "unknown".
func Operation(ctx context.Context) string {
	if op, ok := ctx.Value(opKey{}).(string); ok {
		return op
	}
	return "unknown"
}

// RegisterRedisPool exports the go-redis pool statistics of c.
func RegisterRedisPool(reg prometheus.Registerer, c interface{ PoolStats() *redis.PoolStats }) {
	reg.MustRegister(&poolCollector{c: c})
}

var (
	poolHits     = prometheus.NewDesc("gateway_redis_pool_hits_total", "Times a free connection was found in the pool.", nil, nil)
	poolMisses   = prometheus.NewDesc("gateway_redis_pool_misses_total", "Times a free connection was not found in the pool.", nil, nil)
	poolTimeouts = prometheus.NewDesc("gateway_redis_pool_timeouts_total", "Times a wait for a connection timed out.", nil, nil)
	poolTotal    = prometheus.NewDesc("gateway_redis_pool_connections", "Connections in the pool, by state.", []string{"state"}, nil)
)

type poolCollector struct {
	c interface{ PoolStats() *redis.PoolStats }
}

func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolHits
	ch <- poolMisses
	ch <- poolTimeouts
	ch <- poolTotal
}

func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := p.c.PoolStats()
	ch <- prometheus.MustNewConstMetric(poolHits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(poolMisses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(poolTimeouts, prometheus.CounterValue, float64(s.Timeouts))
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.IdleConns), "idle")
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(s.TotalConns-s.IdleConns), "in_use")
}

// ConfigReload counts configuration reloads.
type ConfigReload struct {
	total *prometheus.CounterVec
	last  prometheus.Gauge
}

// NewConfigReload registers the reload metrics on reg, the results at 0.
func NewConfigReload(reg prometheus.Registerer) *ConfigReload {
	m := &ConfigReload{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_config_reload_total",
			Help: "Configuration reloads (SIGHUP or a change of the file), by result: success, or failure (the configuration in force kept serving).",
		}, []string{"result"}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gateway_config_last_reload_timestamp_seconds",
			Help: "When the configuration in force was loaded (start-up or the last successful reload), Unix seconds.",
		}),
	}
	reg.MustRegister(m.total, m.last)
	m.total.WithLabelValues("success")
	m.total.WithLabelValues("failure")
	return m
}

// Loaded records a configuration taken into force at t; reloaded is false
// for the one loaded at start-up.
func (m *ConfigReload) Loaded(t time.Time, reloaded bool) {
	if reloaded {
		m.total.WithLabelValues("success").Inc()
	}
	m.last.Set(float64(t.UnixNano()) / 1e9)
}

// Refused counts a reload refused.
func (m *ConfigReload) Refused() { m.total.WithLabelValues("failure").Inc() }
