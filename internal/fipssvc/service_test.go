package fipssvc_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/fipssvc"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fips"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
)

const legalCat = `Юридическое лицо\Российская организация\Коммерческая организация`

// newService is a FIPS service over the simulator (real HTTP) and a real
// Redis, and the call of a tenant whose credential owns the demo account.
func newService(t *testing.T) (*fipssvc.Service, *fipssvc.Call) {
	t.Helper()
	sim := httptest.NewServer(fipssim.New(fipssim.DefaultConfig()))
	t.Cleanup(sim.Close)
	rdb := redistest.Start(t).Client(t)
	client, err := fips.New(fips.Config{BaseURL: sim.URL + fipssim.Prefix, Timeout: 10 * time.Second, Redis: rdb,
		OnRejected: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	s := &fipssvc.Service{Client: client, Idem: idempotency.New(rdb, idempotency.Options{})}
	cred := &tenant.Credential{Name: "fips-alpha", Upstream: fips.Upstream, Secret: tenant.NewSecret("demo-fips-key")}
	return s, s.Begin(&tenant.Tenant{ID: "alpha", Credentials: map[string]*tenant.Credential{fips.Upstream: cred}}, cred)
}

// refusedField is the field an Invalid error names, or "" for nil.
func refusedField(t *testing.T, err error) (field, msg string) {
	t.Helper()
	if err == nil {
		return "", ""
	}
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.Invalid || len(e.Fields) != 1 {
		t.Fatalf("error = %#v, want one Invalid field", err)
	}
	return e.Fields[0].Field, e.Fields[0].Message
}

func TestCheckCategory(t *testing.T) {
	_, c := newService(t)
	for _, tc := range []struct {
		category, field, hint string
	}{
		{legalCat, "", ""},
		{`Физическое лицо\Иностранный гражданин`, "", ""},
		{"Коммерческая организация", "body.category", legalCat}, // a tail: the full path is suggested
		{"Юридическое лицо", "body.category", ""},
		{"Никто", "body.category", ""},
	} {
		field, msg := refusedField(t, c.CheckCategory(t.Context(), tc.category))
		if field != tc.field || (tc.hint != "" && !strings.Contains(msg, `"`+tc.hint+`"`)) || (tc.hint == "" && strings.Contains(msg, "for example")) {
			t.Errorf("CheckCategory(%q) = %q %q, want field %q hinting %q", tc.category, field, msg, tc.field, tc.hint)
		}
	}
}

func TestCheckDocumentType(t *testing.T) {
	_, c := newService(t)
	for _, tc := range []struct {
		code, title, field string
	}{
		{"TradeMark", "", ""},
		{"", "Доверенность", ""},                              // a common template by name
		{"", "Устав организации", ""},                         // the applicant's own template
		{"Patent", "", "body.type"},                           // no such code
		{"", "Устав", "body.typeTitle"},                       // no such template
		{"Устав организации", "", "body.type"},                // a name is not a code
		{"", "Заявление о государственной", "body.typeTitle"}, // nor a prefix a name
	} {
		if field, _ := refusedField(t, c.CheckDocumentType(t.Context(), tc.code, tc.title)); field != tc.field {
			t.Errorf("CheckDocumentType(%q, %q) refuses %q, want %q", tc.code, tc.title, field, tc.field)
		}
	}
}

// creator counts the runs of a create; each answers its run's number, or err.
type creator struct {
	runs atomic.Int32
	err  error
}

func (cr *creator) create(context.Context) (idempotency.Response, error) {
	n := cr.runs.Add(1)
	if cr.err != nil {
		return idempotency.Response{}, cr.err
	}
	return idempotency.Response{Status: http.StatusCreated, Body: []byte{'0' + byte(n)}}, nil
}

func TestCreateAtMostOnce(t *testing.T) {
	s, c := newService(t)
	ctx := t.Context()
	body := map[string]any{"title": "Раз", "category": legalCat}
	var cr creator
	first, replayed, err := c.Create(ctx, "k-1", fips.OpCreateApplication, nil, body, cr.create)
	if err != nil || replayed || string(first.Body) != "1" {
		t.Fatalf("Create(k-1) = %q %v %v, want the first run", first.Body, replayed, err)
	}
	again, replayed, err := c.Create(ctx, "k-1", fips.OpCreateApplication, nil, map[string]any{"category": legalCat, "title": "Раз"}, cr.create)
	if err != nil || !replayed || string(again.Body) != "1" {
		t.Errorf("Create(k-1 again) = %q %v %v, want the first answer replayed", again.Body, replayed, err)
	}
	// Another body, operation or id under the same key is another request.
	for _, r := range []struct {
		op   string
		ids  []string
		body any
	}{
		{fips.OpCreateApplication, nil, map[string]any{"title": "Два", "category": legalCat}},
		{fips.OpSubmitApplication, nil, body},
		{fips.OpCreateApplication, []string{"1"}, body},
	} {
		if _, _, err := c.Create(ctx, "k-1", r.op, r.ids, r.body, cr.create); apperr.KindOf(err) != apperr.Unprocessable {
			t.Errorf("Create(k-1, %s %v %v) = %v, want Unprocessable", r.op, r.ids, r.body, err)
		}
	}
	// Keys are per tenant.
	beta := s.Begin(&tenant.Tenant{ID: "beta"}, c.Credential)
	if _, replayed, err := beta.Create(ctx, "k-1", fips.OpCreateApplication, nil, body, cr.create); err != nil || replayed {
		t.Errorf("beta Create(k-1) = %v %v, want its own run", replayed, err)
	}
	// No key: every call runs.
	for range 2 {
		if _, replayed, err := c.Create(ctx, "", fips.OpCreateApplication, nil, body, cr.create); err != nil || replayed {
			t.Errorf(`Create("") = %v %v, want a run`, replayed, err)
		}
	}
	if n := cr.runs.Load(); n != 4 {
		t.Errorf("runs = %d, want 4 (alpha's k-1, beta's k-1, two without a key)", n)
	}
}

// TestCreateRawBody: a /compat/fips body is fingerprinted canonical when it
// is JSON (member order and spacing do not matter), as its bytes otherwise.
func TestCreateRawBody(t *testing.T) {
	_, c := newService(t)
	ctx := t.Context()
	ids := []string{"1", ""}
	var cr creator
	for i, tc := range []struct {
		key, body string
		replayed  bool
		kind      apperr.Kind // refused as; 0 (Internal): answered
	}{
		{"j", `{"b":1,"a":[2,3]}`, false, 0},
		{"j", ` { "a" : [2, 3], "b" : 1 } `, true, 0},
		{"j", `{"a":[3,2],"b":1}`, false, apperr.Unprocessable},
		{"x", `not json`, false, 0},
		{"x", `not json`, true, 0},
		{"x", `not  json`, false, apperr.Unprocessable},
	} {
		_, replayed, err := c.Create(ctx, tc.key, fips.OpCreateDocument, ids, fipssvc.Raw(tc.body), cr.create)
		if replayed != tc.replayed || (err == nil) != (tc.kind == 0) || (err != nil && apperr.KindOf(err) != tc.kind) {
			t.Errorf("%d: Create(%s, %s) = %v %v, want replayed %v, kind %v", i, tc.key, tc.body, replayed, err, tc.replayed, tc.kind)
		}
	}
}

// TestCreateOutcomeUnknown: a create FIPS may have carried out keeps its key
// from running again and tells the caller to check first; a refusal frees it.
func TestCreateOutcomeUnknown(t *testing.T) {
	_, c := newService(t)
	ctx := t.Context()
	unknown := &creator{err: &apperr.Error{Kind: apperr.UpstreamFailed, Upstream: fips.Upstream, Detail: "FIPS timed out", Err: fips.ErrOutcomeUnknown}}
	_, _, err := c.Create(ctx, "u", fips.OpCreateApplication, nil, 1, unknown.create)
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.UpstreamFailed || !strings.Contains(e.Detail, "FIPS may have carried out the request") {
		t.Errorf("Create(u) = %v, want UpstreamFailed telling to check first", err)
	}
	var ok creator
	if _, _, err := c.Create(ctx, "u", fips.OpCreateApplication, nil, 1, ok.create); apperr.KindOf(err) != apperr.Conflict || ok.runs.Load() != 0 {
		t.Errorf("Create(u again) = %v after %d runs, want Conflict and no run", err, ok.runs.Load())
	}

	refused := &creator{err: apperr.New(apperr.Unavailable, "FIPS is down")}
	if _, _, err := c.Create(ctx, "r", fips.OpCreateApplication, nil, 1, refused.create); apperr.KindOf(err) != apperr.Unavailable {
		t.Errorf("Create(r) = %v, want the refusal", err)
	}
	if _, replayed, err := c.Create(ctx, "r", fips.OpCreateApplication, nil, 1, ok.create); err != nil || replayed || ok.runs.Load() != 1 {
		t.Errorf("Create(r again) = %v %v, want a run", replayed, err)
	}
}

// TestCreateOutlivesCaller: with a key the create runs on although the
// caller's context ends while it runs; without one it is the caller's.
func TestCreateOutlivesCaller(t *testing.T) {
	_, c := newService(t)
	for _, key := range []string{"k", ""} {
		ctx, cancel := context.WithCancel(t.Context())
		seen := errors.New("create not run")
		_, _, _ = c.Create(ctx, key, fips.OpCreateApplication, nil, 1, func(ctx context.Context) (idempotency.Response, error) {
			cancel() // the caller goes away mid-create
			seen = ctx.Err()
			return idempotency.Response{Status: http.StatusCreated}, nil
		})
		cancel()
		want := error(nil)
		if key == "" {
			want = context.Canceled
		}
		if !errors.Is(seen, want) {
			t.Errorf("Create(%q), its caller gone: create's context = %v, want %v", key, seen, want)
		}
	}
}

func TestCreateWithoutStore(t *testing.T) {
	s, c := newService(t)
	s.Idem = nil
	var cr creator
	if _, _, err := c.Create(t.Context(), "k", fips.OpCreateApplication, nil, 1, cr.create); apperr.KindOf(err) != apperr.Unavailable || cr.runs.Load() != 0 {
		t.Errorf("Create(k) without a store = %v after %d runs, want Unavailable and no run", err, cr.runs.Load())
	}
	if _, _, err := c.Create(t.Context(), "", fips.OpCreateApplication, nil, 1, cr.create); err != nil || cr.runs.Load() != 1 {
		t.Errorf(`Create("") without a store = %v, want a run`, err)
	}
}
