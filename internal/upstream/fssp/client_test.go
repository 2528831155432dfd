package fssp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

var token = tenant.NewSecret(fsspsim.DemoToken)

func start(t *testing.T) (*fsspsim.Server, *fssp.Client) {
	t.Helper()
	cfg := fsspsim.DefaultConfig()
	cfg.QueueFor, cfg.RunFor = 0, 0
	cfg.AddressQuirk = true // the document's failing legal search without address, for a partial result
	sim := fsspsim.New(cfg)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	c, err := fssp.New(fssp.Config{BaseURL: ts.URL + "/api/v1.0", Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

func TestSearchStatusResult(t *testing.T) {
	sim, c := start(t)
	ctx := context.Background()
	queries := []fssp.Query{
		{Type: fssp.TypePhysical, Params: fssp.Params{"region": "77", "lastname": fsspsim.ManySurname, "firstname": "ИВАН"}},
		{Type: fssp.TypeLegal, Params: fssp.Params{"region": "-1", "name": fsspsim.ManyLegalName, "address": "МОСКВА"}},
		{Type: fssp.TypeIP, Params: fssp.Params{"number": "12345/21/77001-ИП"}},
	}
	for _, q := range queries {
		id, err := c.Search(ctx, token, q)
		if err != nil {
			t.Fatalf("Search(%v) = %v, want a task", q, err)
		}
		st, err := c.Status(ctx, token, id)
		if err != nil || st.Code != fssp.StatusDone || st.Total != 1 {
			t.Fatalf("Status(%s) = %+v, %v, want done of 1", id, st, err)
		}
		res, err := c.Result(ctx, token, id)
		if err != nil || len(res.Results) != 1 || res.Results[0].Err != nil || len(res.Results[0].Records) == 0 {
			t.Fatalf("Result(%s) = %+v, %v, want one successful sub-result with records", id, res, err)
		}
		rec := fssp.Normalize(res.Results[0].Records[0])
		if rec.Proceeding.Number == "" || rec.Proceeding.Date.IsZero() || rec.Debtor.Name == "" {
			t.Errorf("Normalize(%+v) = %+v, want number, date and debtor", res.Results[0].Records[0], rec)
		}
	}
	id, err := c.SearchGroup(ctx, token, append(queries, fssp.Query{Type: fssp.TypeLegal, Params: fssp.Params{"region": "77", "name": "X"}}))
	if err != nil {
		t.Fatalf("SearchGroup = %v", err)
	}
	res, err := c.Result(ctx, token, id)
	if err != nil || res.Code != fssp.StatusDoneErrors || len(res.Results) != 4 {
		t.Fatalf("Result(group) = %+v, %v, want status 3 with 4 sub-results", res, err)
	}
	if e := res.Results[3].Err; e == nil || e.Message != fsspsim.AddressError {
		t.Errorf("Result(group).Results[3].Err = %+v, want %q", e, fsspsim.AddressError)
	}
	if got := sim.Kit.Calls.Get("POST /search/group"); got != 1 {
		t.Errorf("group calls = %d, want 1", got)
	}
}

func TestErrors(t *testing.T) {
	q := fssp.Query{Type: fssp.TypeIP, Params: fssp.Params{"number": "12345/21/77001-ИП"}}
	tests := []struct {
		name  string
		fault simkit.Fault
		want  apperr.Kind
	}{
		{"http 429", simkit.Fault{Status: 429, Body: `{"status":"error","code":429,"exception":"too many","response":[]}`}, apperr.QuotaExceeded},
		{"code 429 in a 200", simkit.Fault{Status: 200, Body: `{"status":"error","code":429,"exception":"limit","response":[]}`}, apperr.QuotaExceeded},
		{"html", simkit.Fault{Status: 200, Body: "<html>maintenance</html>"}, apperr.UpstreamFailed},
		{"502 html", simkit.Fault{Status: 502, Body: "<html>bad gateway</html>"}, apperr.UpstreamFailed},
		{"garbage", simkit.Fault{Malformed: true}, apperr.UpstreamFailed},
		{"reset", simkit.Fault{Reset: true}, apperr.UpstreamFailed},
		{"hang", simkit.Fault{Hang: true}, apperr.UpstreamTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, c := start(t)
			sim.Kit.SetFault(&tt.fault)
			_, err := c.Search(context.Background(), token, q)
			e, ok := apperr.As(err)
			if !ok || e.Kind != tt.want || e.Upstream != "fssp" {
				t.Fatalf("Search() = %v, want %v from fssp", err, tt.want)
			}
			if strings.Contains(err.Error(), fsspsim.DemoToken) {
				t.Errorf("Search() error %q contains the token", err)
			}
		})
	}
}

func TestUnreachableHidesToken(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	ts.Close() // nothing listens there any more
	c, err := fssp.New(fssp.Config{BaseURL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background(), token, "T")
	if apperr.KindOf(err) != apperr.UpstreamFailed || strings.Contains(err.Error(), fsspsim.DemoToken) || strings.Contains(err.Error(), "token=") {
		t.Errorf("Status(unreachable) = %v, want upstream_failed without the token or URL", err)
	}
}

func TestTaskGone(t *testing.T) {
	_, c := start(t)
	_, err := c.Status(context.Background(), token, "00000000-0000-4000-8000-000000000000")
	if e, ok := apperr.As(err); !ok || e.Kind != apperr.Gone {
		t.Errorf("Status(unknown task) = %v, want gone", err)
	}
}

func TestBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "api-ip.fssp.gov.ru", "ftp://x"} {
		if _, err := fssp.New(fssp.Config{BaseURL: u}); err == nil {
			t.Errorf("New(%q) = nil error, want one", u)
		}
	}
}

// TestQuotaExceeded: an upstream 429 is a quota-exceeded problem of the
// credential's family with a Retry-After (the upstream's, else a minute).
func TestQuotaExceeded(t *testing.T) {
	q := fssp.Query{Type: fssp.TypeIP, Params: fssp.Params{"number": "12345/21/77001-ИП"}}
	tests := []struct {
		name       string
		status     int
		retryAfter string
		group      bool
		want       time.Duration
		family     string
	}{
		{"http 429 without Retry-After", 429, "", false, fssp.DefaultRetryAfter, "single"},
		{"http 429 with Retry-After", 429, "120", false, 2 * time.Minute, "single"},
		{"code 429 in a 200, group", 200, "", true, fssp.DefaultRetryAfter, "group"},
		{"unreadable Retry-After", 429, "soon", false, fssp.DefaultRetryAfter, "single"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"status":"error","code":429,"exception":"too many requests","response":[]}`))
			}))
			t.Cleanup(ts.Close)
			c, err := fssp.New(fssp.Config{BaseURL: ts.URL, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if tt.group {
				_, err = c.SearchGroup(context.Background(), token, []fssp.Query{q})
			} else {
				_, err = c.Search(context.Background(), token, q)
			}
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.QuotaExceeded || e.Type != "quota-exceeded" || e.RetryAfter != tt.want {
				t.Fatalf("Search() = %+v, want quota_exceeded, type quota-exceeded, Retry-After %v", err, tt.want)
			}
			policies, _ := e.Extensions["violated-policies"].([]string)
			if e.Extensions["scope"] != "credential" || e.Extensions["family"] != tt.family ||
				len(policies) != 1 || policies[0] != "fssp."+tt.family+".upstream" {
				t.Errorf("Search() extensions = %v, want scope credential, family %s, policy fssp.%s.upstream", e.Extensions, tt.family, tt.family)
			}
			resets, err := time.Parse(time.RFC3339, e.Extensions["resets_at"].(string))
			if err != nil || resets.Before(time.Now().Add(tt.want-time.Minute)) {
				t.Errorf("Search() resets_at = %v (%v), want about %v from now", e.Extensions["resets_at"], err, tt.want)
			}
		})
	}
}
