package garant_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/garant"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

var token = tenant.NewSecret(garantsim.DemoToken)

func newClient(t *testing.T, cfg garantsim.Config) (*garant.Client, *garantsim.Server) {
	t.Helper()
	sim := garantsim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, err := garant.New(garant.Config{BaseURL: srv.URL, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c, sim
}

func TestClientMethods(t *testing.T) {
	c, sim := newClient(t, garantsim.DefaultConfig())
	ctx := context.Background()

	res, err := c.Search(ctx, token, garant.SearchRequest{Text: "трудовой кодекс", Env: "internet", Page: 1})
	if err != nil || len(res.Documents) == 0 || res.Page != 1 {
		t.Fatalf("Search = %+v, %v; want documents on page 1", res, err)
	}
	text := "испытание"
	if _, err := c.Snippets(ctx, token, garant.SnippetsRequest{Topic: garantsim.TopicLabourCode, Text: &text}); err != nil {
		t.Errorf("Snippets: %v", err)
	}
	if r, err := c.FindHyperlinks(ctx, token, garant.HyperlinksRequest{Text: "статья 70 Трудового кодекса РФ", BaseURL: "https://x"}); err != nil || r.Text == "" {
		t.Errorf("FindHyperlinks = %+v, %v", r, err)
	}
	for _, f := range []string{garant.FormatRTF, garant.FormatODT, garant.FormatPDF} {
		file, err := c.Download(ctx, token, garantsim.TopicCivilCode, f)
		if err != nil {
			t.Fatalf("Download(%s): %v", f, err)
		}
		b, _ := io.ReadAll(file.Body)
		file.Body.Close()
		if int64(len(b)) != file.ContentLength || len(b) == 0 {
			t.Errorf("Download(%s) = %d bytes, Content-Length %d", f, len(b), file.ContentLength)
		}
	}
	if h, err := c.TopicHTML(ctx, token, garantsim.TopicCivilCode); err != nil || len(h.Items) == 0 || h.Items[0].Number != 1 {
		t.Errorf("TopicHTML = %v items, %v", h, err)
	}
	if e, err := c.EntryHTML(ctx, token, garantsim.TopicCivilCode, 36); err != nil || e.Entry != 36 {
		t.Errorf("EntryHTML = %+v, %v", e, err)
	}
	if f, err := c.Image(ctx, token, "36576886"); err != nil || f.ContentType != "image/png" {
		t.Errorf("Image = %+v, %v", f, err)
	} else {
		f.Body.Close()
	}
	if f, err := c.Formula(ctx, token, garantsim.FormulaExample, "png"); err != nil {
		t.Errorf("Formula: %v", err)
	} else {
		f.Body.Close()
	}
	if _, err := c.FindModified(ctx, token, garant.FindModifiedRequest{Topics: []int{garantsim.TopicAbolished}, ModDate: "2018-01-01", NeedEvents: true}); err != nil {
		t.Errorf("FindModified: %v", err)
	}
	if _, err := c.BlocksChanged(ctx, token, garant.BlocksRequest{FromDate: "2018-01-01", URLArray: []string{"https://internet.garant.ru/#/document/10900200/entry/1"}}); err != nil {
		t.Errorf("BlocksChanged: %v", err)
	}
	if p, err := c.PrimeCategories(ctx, token); err != nil || len(p.Categories) == 0 {
		t.Errorf("PrimeCategories = %+v, %v", p, err)
	}
	from := time.Now().AddDate(0, 0, -5).Format(time.DateOnly)
	if _, err := c.PrimeNews(ctx, token, garant.NewsRequest{Categories: []int{1008}, FromDate: from}); err != nil {
		t.Errorf("PrimeNews: %v", err)
	}
	if i, err := c.Topic(ctx, token, garantsim.TopicConstitution); err != nil || int(i.Topic) != garantsim.TopicConstitution {
		t.Errorf("Topic = %+v, %v", i, err)
	}
	if e, err := c.Editions(ctx, token, garantsim.TopicConstitution); err != nil || len(e) == 0 {
		t.Errorf("Editions = %v, %v", e, err)
	}
	if p, err := c.CourtPractice(ctx, token, garant.SutyazhnikRequest{Text: "неустойка договор", Count: 3, Kind: []string{"302"}}); err != nil || len(p.Documents) != 1 {
		t.Errorf("CourtPractice = %+v, %v", p, err)
	}
	if l, err := c.Limits(ctx, token); err != nil || len(l) == 0 {
		t.Errorf("Limits = %v, %v", l, err)
	}
	if n := sim.Kit.Calls.Total(); n != 18 {
		t.Errorf("simulator calls = %d, want 18", n)
	}
}

func TestClientQuirks(t *testing.T) {
	cfg := garantsim.DefaultConfig()
	cfg.MisspelledKeys = true
	c, _ := newClient(t, cfg)
	ctx := context.Background()
	h, err := c.TopicHTML(ctx, token, garantsim.TopicCivilCode)
	if err != nil || len(h.Items) < 1 || h.Items[0].Number != 1 {
		t.Fatalf("TopicHTML with \"number:\" = %+v, %v; want page 1", h, err)
	}
	m, err := c.FindModified(ctx, token, garant.FindModifiedRequest{Topics: []int{garantsim.TopicAbolished, 1}, ModDate: "2018-01-01"})
	if err != nil || len(m.Topics) == 0 || m.Topics[0].Topic == 0 {
		t.Fatalf("FindModified with \"topic:\" = %+v, %v; want topics", m, err)
	}

	var v struct {
		A garant.Int     `json:"a"`
		B garant.Int     `json:"b"`
		R garant.Float   `json:"r"`
		K garant.String  `json:"k"`
		L garant.Strings `json:"l"`
		U int            `json:"-"`
	}
	if err := json.Unmarshal([]byte(`{"a":"12","b":7,"r":"0,5","k":301,"l":"one","unknown":{"x":1}}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != 12 || v.B != 7 || v.R != 0.5 || v.K != "301" || !cmp.Equal([]string(v.L), []string{"one"}) {
		t.Errorf("lenient decode = %+v", v)
	}
}

func TestClientErrors(t *testing.T) {
	cfg := garantsim.DefaultConfig()
	c, sim := newClient(t, cfg)
	ctx := context.Background()
	limited := tenant.NewSecret(garantsim.DemoLimitedToken)

	tests := []struct {
		name   string
		fault  *simkit.Fault
		setup  func()
		call   func() error
		kind   apperr.Kind
		status int
	}{
		{name: "400", call: func() error {
			_, err := c.Search(ctx, token, garant.SearchRequest{Text: "x", Env: "nowhere"})
			return err
		}, kind: apperr.Invalid, status: 400},
		{name: "401 tariff", call: func() error {
			_, err := c.CourtPractice(ctx, limited, garant.SutyazhnikRequest{Text: "x", Count: 1, Kind: []string{"301"}})
			return err
		}, kind: apperr.UpstreamFailed, status: 401},
		{name: "404", call: func() error { _, err := c.Topic(ctx, token, 1); return err }, kind: apperr.NotFound, status: 404},
		{name: "423", setup: func() { _ = sim.SetUsed(garantsim.DemoToken, garantsim.FamilyTopicInfo, 300) },
			call: func() error { _, err := c.Topic(ctx, token, garantsim.TopicConstitution); return err }, kind: apperr.QuotaExceeded, status: 423},
		{name: "429", fault: &simkit.Fault{Status: 429},
			call: func() error { _, err := c.PrimeCategories(ctx, token); return err }, kind: apperr.QuotaExceeded, status: 429},
		{name: "503", fault: &simkit.Fault{Status: 503},
			call: func() error { _, err := c.PrimeCategories(ctx, token); return err }, kind: apperr.UpstreamFailed, status: 503},
		// A failure after a 2xx carries the 2xx: Garant did the work.
		{name: "malformed", fault: &simkit.Fault{Malformed: true},
			call: func() error { _, err := c.PrimeCategories(ctx, token); return err }, kind: apperr.UpstreamFailed, status: 200},
		{name: "truncated JSON", fault: &simkit.Fault{Truncate: true},
			call: func() error { _, err := c.PrimeCategories(ctx, token); return err }, kind: apperr.UpstreamFailed, status: 200},
		{name: "truncated file", fault: &simkit.Fault{Truncate: true}, call: func() error {
			f, err := c.Download(ctx, token, garantsim.TopicCivilCode, garant.FormatPDF)
			if err != nil {
				return err
			}
			defer f.Body.Close()
			_, err = f.ReadAll(64 << 20)
			return err
		}, kind: apperr.UpstreamFailed, status: 200},
		{name: "file too large", call: func() error {
			f, err := c.Download(ctx, token, garantsim.TopicCivilCode, garant.FormatPDF)
			if err != nil {
				return err
			}
			defer f.Body.Close()
			_, err = f.ReadAll(10)
			return err
		}, kind: apperr.UpstreamFailed, status: 200},
		// No answer: no status.
		{name: "timeout", fault: &simkit.Fault{Hang: true},
			call: func() error { _, err := c.PrimeCategories(ctx, token); return err }, kind: apperr.UpstreamTimeout},
		{name: "reset", fault: &simkit.Fault{Reset: true},
			call: func() error { _, err := c.PrimeCategories(ctx, token); return err }, kind: apperr.UpstreamFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim.Kit.SetFault(tt.fault)
			defer sim.Kit.SetFault(nil)
			if tt.setup != nil {
				tt.setup()
			}
			err := tt.call()
			if apperr.KindOf(err) != tt.kind || garant.StatusOf(err) != tt.status {
				t.Fatalf("err = %v (kind %v, status %d), want kind %v status %d", err, apperr.KindOf(err), garant.StatusOf(err), tt.kind, tt.status)
			}
			if got, want := garant.Answered(err), tt.status/100 == 2; got != want {
				t.Errorf("Answered(%v) = %v, want %v", err, got, want)
			}
			if strings.Contains(err.Error(), garantsim.DemoToken) {
				t.Errorf("error %q carries the token", err)
			}
		})
	}
}

func TestRewriteHTML(t *testing.T) {
	in := `<img src="/document/image?revision=1&document_id=2&object_id=36576886" alt=""><img src='/document/formula?revision=3&amp;text=c3Ry+aW5n&amp;fmt=png'><a href="/#/document/1">x</a>`
	want := `<img src="/v1/garant/images/36576886" alt=""><img src='/v1/garant/formulas?text=c3Ry+aW5n&amp;fmt=png'><a href="/#/document/1">x</a>`
	if got := garant.RewriteHTML(in, "/v1/garant"); got != want {
		t.Errorf("RewriteHTML(%q) =\n%q, want\n%q", in, got, want)
	}
	if got := garant.AbsoluteURL("https://internet.garant.ru/", "/#/document/5"); got != "https://internet.garant.ru/#/document/5" {
		t.Errorf("AbsoluteURL = %q", got)
	}
}

// TestProxima runs the client in Proxima mode against the simulator behind a
// shim that serves <server>/api/... as /v2/... (the simulator has no Proxima
// mode) and checks that no Authorization header is sent.
func TestProxima(t *testing.T) {
	sim := garantsim.New(garantsim.DefaultConfig())
	var sawAuth bool
	shim := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth = sawAuth || r.Header.Get("Authorization") != ""
		r.URL.Path = "/v2" + strings.TrimPrefix(r.URL.Path, "/api")
		r.Header.Set("Authorization", "Bearer "+garantsim.DemoToken)
		sim.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(shim)
	defer srv.Close()
	c, err := garant.New(garant.Config{BaseURL: srv.URL + "/api", Proxima: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Topic(context.Background(), tenant.Secret{}, garantsim.TopicConstitution); err != nil {
		t.Fatalf("Topic via Proxima: %v", err)
	}
	if sawAuth {
		t.Error("Proxima request carried an Authorization header")
	}
	_, err = c.PrimeCategories(context.Background(), tenant.Secret{})
	if apperr.KindOf(err) != apperr.NotImplemented {
		t.Errorf("PrimeCategories via Proxima = %v, want NotImplemented", err)
	}
}

// TestLenientDecode: the plain-string fast paths read exactly what
// encoding/json would, and everything else still goes through it.
func TestLenientDecode(t *testing.T) {
	type doc struct {
		A garant.Int     `json:"a"`
		R garant.Float   `json:"r"`
		K garant.String  `json:"k"`
		L garant.Strings `json:"l"`
	}
	for _, tc := range []struct {
		in   string
		want doc
	}{
		{`{"a":" 12 ","r":"0,25","k":"plain","l":["x","y z"]}`, doc{A: 12, R: 0.25, K: "plain", L: garant.Strings{"x", "y z"}}},
		{`{"a":null,"r":1e2,"k":null,"l":null}`, doc{R: 100, L: garant.Strings{}}},
		{`{"a":"","k":"esc\"aped\u00e9","l":"one"}`, doc{K: "esc\"apedé", L: garant.Strings{"one"}}},
		{`{"a":3.0,"l":[ "a\"b" , 7, null ]}`, doc{A: 3, L: garant.Strings{`a"b`, "7", ""}}},
		{`{"l":[]}`, doc{L: garant.Strings{}}},
		{`{"l":[ "a" , "б" ]}`, doc{L: garant.Strings{"a", "б"}}},
		{"{\"k\":\"bad\xff\"}", doc{K: "bad\uFFFD"}},
	} {
		var got doc
		if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
			t.Errorf("Unmarshal(%s) = %v", tc.in, err)
			continue
		}
		if !cmp.Equal(got, tc.want) {
			t.Errorf("Unmarshal(%s) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	var n garant.Int
	if err := json.Unmarshal([]byte(`"1.5"`), &n); err == nil {
		t.Errorf(`Unmarshal("1.5") into Int = %d, want an error`, n)
	}
}
