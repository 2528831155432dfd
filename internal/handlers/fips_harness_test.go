package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	apispec "github.com/legalgate/legalgate/api"
	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/fairshare"
	"github.com/legalgate/legalgate/internal/fipssvc"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fips"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
)

// Tenant keys of the FIPS test gateway: alpha uses demo-fips-key (owner of
// the seeded applications), beta demo-fips-key-2, revoked a key FIPS refuses.
const (
	fipsKeyAlpha   = "fips-test-key-alpha"
	fipsKeyBeta    = "fips-test-key-beta"
	fipsKeyRevoked = "fips-test-key-revoked"
	fipsLegalCat   = `Юридическое лицо\Российская организация\Коммерческая организация`
)

type fipsGateway struct {
	*httptest.Server
	reg    *prometheus.Registry
	rdb    *redis.Client
	simURL string // the simulator (scheme://host), when in this process
	// served, when set, is called after the gateway has served a request
	// (its handler returned): tests wait on it instead of sleeping.
	served atomic.Pointer[func(*http.Request)]
}

// fipsOptions vary the test gateway.
type fipsOptions struct {
	wrapSim    func(http.Handler) http.Handler // around the in-process simulator
	streamIdle time.Duration                   // handlers.Limits.StreamIdle
	idemLock   time.Duration                   // idempotency.Options.LockTTL
	fair       *fairshare.Config               // handlers.Deps.Fair, when set
	log        io.Writer                       // the gateway's log; default discarded
}

// newFIPSGateway builds the real router over real Redis with a FIPS client
// for the simulator at simURL (scheme://host, without /api/v1), wired as
// cmd/gateway wires it.
func newFIPSGateway(t *testing.T, simURL string, o fipsOptions) *fipsGateway {
	t.Helper()
	rdb := redistest.Start(t).Client(t)
	tenants := tenant.NewRegistry()
	for id, c := range map[string]struct{ key, secret string }{
		"alpha": {fipsKeyAlpha, "demo-fips-key"}, "beta": {fipsKeyBeta, "demo-fips-key-2"}, "revoked": {fipsKeyRevoked, "revoked-key"},
	} {
		cred := &tenant.Credential{Name: "fips-" + id, Upstream: "fips", Secret: tenant.NewSecret(c.secret)}
		tenants.AddCredential(cred)
		tn := &tenant.Tenant{ID: id, Credentials: map[string]*tenant.Credential{"fips": cred}}
		if err := tenants.AddTenant(tn, []string{config.HashKey(c.key)}); err != nil {
			t.Fatal(err)
		}
	}
	reg := metrics.NewRegistry()
	up := metrics.NewUpstream(reg)
	client, err := fips.New(fips.Config{
		BaseURL: simURL + fipssim.Prefix, Timeout: 20 * time.Second, Redis: rdb,
		Transport:  up.Transport(fips.Upstream, http.DefaultTransport.(*http.Transport).Clone()),
		OnRejected: func(c string) { up.CredentialRejectedNow(fips.Upstream, c) },
		OnUnparsed: func(op, f string) { up.UnparsedValue(fips.Upstream, op, f) },
	})
	if err != nil {
		t.Fatal(err)
	}
	logTo := io.Writer(io.Discard)
	if o.log != nil {
		logTo = o.log
	}
	log := slog.New(slog.NewJSONHandler(logTo, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var fair *fairshare.Limiter
	if o.fair != nil {
		if fair, err = fairshare.New(rdb, *o.fair, reg, log); err != nil {
			t.Fatal(err)
		}
	}
	h, err := handlers.NewServer(&handlers.Deps{
		Log: log, Tenants: tenants, Redis: rdb, Registry: reg, HTTP: metrics.NewHTTP(reg), SpecYAML: apispec.YAML,
		FIPS:   &fipssvc.Service{Client: client, Idem: idempotency.New(rdb, idempotency.Options{Log: log, LockTTL: o.idemLock})},
		Limits: handlers.Limits{StreamIdle: o.streamIdle},
		Fair:   fair,
	})
	if err != nil {
		t.Fatal(err)
	}
	g := &fipsGateway{reg: reg, rdb: rdb}
	g.Server = serveChecked(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if f := g.served.Load(); f != nil {
				(*f)(r)
			}
		}()
		h.ServeHTTP(w, r)
	}))

	return g
}

// startFIPS starts the simulator in this process and a gateway in front of it.
func startFIPS(t *testing.T) (*fipssim.Server, *fipsGateway) {
	t.Helper()
	return startFIPSWith(t, fipsOptions{})
}

func startFIPSWith(t *testing.T, o fipsOptions) (*fipssim.Server, *fipsGateway) {
	t.Helper()
	sim := fipssim.New(fipssim.DefaultConfig())
	var h http.Handler = sim
	if o.wrapSim != nil {
		h = o.wrapSim(sim)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	g := newFIPSGateway(t, ts.URL, o)
	g.simURL = ts.URL
	return sim, g
}

// fipsAnswer is a response read whole (JSON and small content only).
type fipsAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a fipsAnswer) want(t *testing.T, op string, status int) fipsAnswer {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s = %d %s, want %d", op, a.status, a.body, status)
	}
	return a
}

func (a fipsAnswer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

type fipsProblem struct {
	Type     string              `json:"type"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail"`
	Upstream string              `json:"upstream"`
	Errors   []map[string]string `json:"errors"`
}

func (a fipsAnswer) problem(t *testing.T, op string, status int) fipsProblem {
	t.Helper()
	a.want(t, op, status)
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s Content-Type = %q, want application/problem+json", op, ct)
	}
	var p fipsProblem
	a.decode(t, &p)
	return p
}

// call sends a request; body is JSON unless it is an io.Reader (then
// contentType says what it is). hdr are extra header pairs.
func (g *fipsGateway) call(t *testing.T, key, method, path string, body any, contentType string, hdr ...string) fipsAnswer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, contentType = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, g.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := g.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return fipsAnswer{status: res.StatusCode, header: res.Header, body: b}
}

// fipsMultipart returns a multipart body with one "file" part.
func fipsMultipart(t *testing.T, fileName, contentType string, content []byte) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, fileName))
	h.Set("Content-Type", contentType)
	if err := mw.WriteField("comment", "a part the gateway skips"); err != nil {
		t.Fatal(err)
	}
	p, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.Write(content)
	_ = mw.Close()
	return &buf, mw.FormDataContentType()
}

const fipsApps = "/v1/fips/applications"

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// fipsCounter reads one counter of reg by labels.
func fipsCounter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	return fipsMetric(t, reg, name, labels).GetCounter().GetValue()
}

// fipsGauge reads one gauge of reg by labels.
func fipsGauge(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	return fipsMetric(t, reg, name, labels).GetGauge().GetValue()
}

// fipsMetric finds one metric of reg by name and labels (nil when absent).
func fipsMetric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue metric
				}
			}
			return m
		}
	}
	return nil
}

// newFIPSDocument creates an application with a power-of-attorney document
// through g and returns the document's path.
func newFIPSDocument(t *testing.T, g *fipsGateway) string {
	t.Helper()
	var app api.FIPSApplication
	g.call(t, fipsKeyAlpha, "POST", fipsApps, map[string]any{"type": "TMApplication", "category": fipsLegalCat}, "").want(t, "create", 201).decode(t, &app)
	doc := g.call(t, fipsKeyAlpha, "POST", fipsApps+"/"+app.ID+"/documents", map[string]any{"type": "PowerOfAttorney"}, "").want(t, "create document", 201)
	return doc.header.Get("Location")
}
