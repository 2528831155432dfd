package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/legalgate/legalgate/internal/config"
)

// TestSwaggerUITryItOut drives /docs in headless Chromium (Debian's chromium
// package; scripts/test.sh installs it) as a person would: Authorize with a
// demo key (for the bearer scheme and for FSSP's and FIPS's own), then
// "Try it out" → "Execute" on /v1/quotas, on a Garant operation and on one
// operation of each upstream's own shapes (/compat/garant, /compat/fssp,
// /compat/fips) with the contract's example values, reading the status the
// page shows. Every request the page makes must go to the gateway itself.
func TestSwaggerUITryItOut(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Fatal("no chromium on PATH: install Debian's chromium package (scripts/test.sh does)")
	}
	base, _ := startGateway(t, nil, nil)
	gw, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser), chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
	)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	var (
		mu       sync.Mutex
		requests []string
	)
	dump := func() string { return strings.Join(snapshot(&mu, &requests), "\n") }
	// Listen starts the browser; the callback only records, as it must.
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.Method+" "+e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start %s: %v", browser, err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("Network.enable: %v", err)
	}
	// The page is driven through its own JavaScript: each step polls the page
	// until the element it needs is there (Swagger UI renders in stages, and
	// this machine may be busy), then acts on it as a click or a keystroke would.
	step := func(what, js string) string {
		t.Helper()
		for {
			// No timeout of its own: a click must not be sent twice.
			v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
			if err != nil {
				t.Fatalf("%s: %v\nrequests so far:\n%s", what, err, dump())
			}
			if v != "" {
				return strings.TrimSpace(v)
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: %v\nrequests so far:\n%s", what, ctx.Err(), dump())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	q := func(sel string) string { b, _ := json.Marshal(sel); return "document.querySelector(" + string(b) + ")" }
	click := func(what, sel string) {
		t.Helper()
		step(what, "(e => e ? (e.click(), 'ok') : '')("+q(sel)+")")
	}
	text := func(what, sel string) string {
		t.Helper()
		return step(what, "(e => e ? e.textContent : '')("+q(sel)+")")
	}
	value := func(what, sel string) string {
		t.Helper()
		return step(what, "(e => e ? e.value : '')("+q(sel)+")")
	}

	const (
		quotas = "#operations-Gateway-getQuotas"
		topic  = "#operations-Garant-garantGetTopic"
		status = " .live-responses-table tr.response .response-col_status"
	)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/docs")); err != nil {
		t.Fatalf("open /docs: %v", err)
	}
	click("open Authorize", "button.authorize")
	// Type the key into the focused field, as a keyboard would.
	step("focus the bearer field", "(e => e ? (e.focus(), 'ok') : '')("+q("#auth-bearer-value")+")")
	if _, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: config.DemoKeyAlpha}); err != nil {
		t.Fatalf("type the key: %v", err)
	}
	click("apply the key", ".auth-btn-wrapper button.authorize")
	// FSSP's and FIPS's own shapes take the key where those upstreams take
	// theirs (schemes fsspToken, the query's token, and fipsKey, the raw
	// Authorization header): the same demo key, each scheme applied in its
	// own form of the dialog.
	for _, scheme := range []string{"fsspToken", "fipsKey"} {
		form := `Array.from(document.querySelectorAll('.auth-container')).find(c => {
			const h = c.querySelector('h4');
			return h && h.textContent.includes('` + scheme + `');
		})`
		step("focus the "+scheme+" field", "(c => { const e = c && c.querySelector('input'); return e ? (e.focus(), 'ok') : ''; })("+form+")")
		if _, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: config.DemoKeyAlpha}); err != nil {
			t.Fatalf("type the key for %s: %v", scheme, err)
		}
		step("apply the "+scheme+" key", "(c => { const b = c && c.querySelector('button.authorize'); return b ? (b.click(), 'ok') : ''; })("+form+")")
	}
	click("close the dialog", ".auth-btn-wrapper button.btn-done")

	click("open GET /v1/quotas", quotas+" .opblock-summary-control")
	click("try out GET /v1/quotas", quotas+" .try-out__btn")
	click("execute GET /v1/quotas", quotas+" .execute")
	quotasStatus := text("read the status of GET /v1/quotas", quotas+status)

	click("open GET /v1/garant/topics/{topic}", topic+" .opblock-summary-control")
	click("try out GET /v1/garant/topics/{topic}", topic+" .try-out__btn")
	topicParam := value("read the topic field", topic+` tr[data-param-name="topic"] input`)
	click("execute GET /v1/garant/topics/{topic}", topic+" .execute")
	topicStatus := text("read the status of GET /v1/garant/topics/{topic}", topic+status)
	topicURL := text("read the request URL", topic+" .request-url pre")

	if got := quotasStatus; got != "200" {
		t.Errorf(`"Try it out" on GET /v1/quotas shows status %q, want 200`, got)
	}
	if topicParam != "12125270" {
		t.Errorf("the topic field is filled with %q, want the contract's example 12125270", topicParam)
	}
	if got := topicStatus; got != "200" {
		t.Errorf(`"Try it out" on GET /v1/garant/topics/{topic} shows status %q (request URL %q), want 200`, got, topicURL)
	}
	if want := base + "/v1/garant/topics/12125270"; topicURL != want {
		t.Errorf("the page requested %q, want %q", topicURL, want)
	}

	// The upstreams' own shapes, one operation of each, with the contract's
	// examples: Garant's (the bearer key), FSSP's (the key in the query's
	// token) and FIPS's (the key raw in Authorization).
	for _, c := range []struct{ sel, name, url string }{
		{"#operations-compat-garant-compatGarantGetTopic", "GET /compat/garant/v2/topic/{topic}", base + "/compat/garant/v2/topic/12125270"},
		{"#operations-compat-fssp-compatFsspSearchIP", "GET /compat/fssp/api/v1.0/search/ip", base + "/compat/fssp/api/v1.0/search/ip?token=demo-alpha&number=6860%2F12%2F61%2F66"},
		{"#operations-compat-fips-compatFipsListApplications", "GET /compat/fips/applications", base + "/compat/fips/applications"},
	} {
		click("open "+c.name, c.sel+" .opblock-summary-control")
		click("try out "+c.name, c.sel+" .try-out__btn")
		click("execute "+c.name, c.sel+" .execute")
		got := text("read the status of "+c.name, c.sel+status)
		u := text("read the request URL of "+c.name, c.sel+" .request-url pre")
		if got != "200" {
			t.Errorf(`"Try it out" on %s shows status %q (request URL %q), want 200`, c.name, got, u)
		}
		if u != c.url {
			t.Errorf("the page requested %q for %s, want %q", u, c.name, c.url)
		}
	}

	all := snapshot(&mu, &requests)
	sawAPI := false
	for _, r := range all {
		_, raw, _ := strings.Cut(r, " ")
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("the page requested an unparsable URL %q", raw)
			continue
		}
		switch u.Scheme {
		case "data", "blob", "about":
			continue
		}
		if u.Host != gw.Host {
			t.Errorf("the page requested %s, on another host than the gateway's %s", r, gw.Host)
		}
		sawAPI = sawAPI || strings.HasPrefix(u.Path, "/v1/garant/topics/")
	}
	if !sawAPI {
		t.Errorf("no request to /v1/garant/topics/ was seen; requests:\n%s", strings.Join(all, "\n"))
	}
}

func snapshot(mu *sync.Mutex, s *[]string) []string {
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), *s...)
}
