package garant_test

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// fuzzMethods calls each JSON method of the client; the result is what the
// method decoded.
var fuzzMethods = map[string]func(context.Context, *garant.Client) (any, error){
	"search": func(ctx context.Context, c *garant.Client) (any, error) {
		return c.Search(ctx, token, garant.SearchRequest{Text: "кодекс", Env: "internet", Page: 1})
	},
	"snippets": func(ctx context.Context, c *garant.Client) (any, error) {
		text := "срок"
		return c.Snippets(ctx, token, garant.SnippetsRequest{Topic: 12125268, Text: &text})
	},
	"find-hyperlinks": func(ctx context.Context, c *garant.Client) (any, error) {
		return c.FindHyperlinks(ctx, token, garant.HyperlinksRequest{Text: "ст. 70 ТК РФ", BaseURL: "https://x"})
	},
	"topic-html": func(ctx context.Context, c *garant.Client) (any, error) { return c.TopicHTML(ctx, token, 12125268) },
	"entry-html": func(ctx context.Context, c *garant.Client) (any, error) { return c.EntryHTML(ctx, token, 12125268, 70) },
	"find-modified": func(ctx context.Context, c *garant.Client) (any, error) {
		return c.FindModified(ctx, token, garant.FindModifiedRequest{Topics: []int{1}, ModDate: "2024-09-01"})
	},
	"block-on-control": func(ctx context.Context, c *garant.Client) (any, error) {
		return c.BlocksChanged(ctx, token, garant.BlocksRequest{FromDate: "2024-09-01", URLArray: []string{"https://internet.garant.ru/#/document/1/entry/2"}})
	},
	"prime": func(ctx context.Context, c *garant.Client) (any, error) { return c.PrimeCategories(ctx, token) },
	"create-news": func(ctx context.Context, c *garant.Client) (any, error) {
		return c.PrimeNews(ctx, token, garant.NewsRequest{Categories: []int{1008}, FromDate: "2026-11-10"})
	},
	"topic":      func(ctx context.Context, c *garant.Client) (any, error) { return c.Topic(ctx, token, 12125268) },
	"redactions": func(ctx context.Context, c *garant.Client) (any, error) { return c.Editions(ctx, token, 12125268) },
	"sutyazhnik-search": func(ctx context.Context, c *garant.Client) (any, error) {
		return c.CourtPractice(ctx, token, garant.SutyazhnikRequest{Text: "неустойка", Count: 10, Kind: []string{"301"}})
	},
	"limits": func(ctx context.Context, c *garant.Client) (any, error) { return c.Limits(ctx, token) },
}

// pick returns the entry of m named name or, for any other name, one picked
// by its hash, so that a mutated name still calls a method.
func pick[V any](m map[string]V, name string) (string, V) {
	if v, ok := m[name]; ok {
		return name, v
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	k := names[h.Sum32()%uint32(len(names))]
	return k, m[k]
}

// answerServer answers every request with the bytes last set.
type answerServer struct {
	*httptest.Server
	mu          sync.Mutex
	body        []byte
	contentType string
	seen        []*http.Request
}

func newAnswerServer(tb testing.TB) *answerServer {
	s := &answerServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		body, ct := s.body, s.contentType
		s.seen = append(s.seen, r)
		s.mu.Unlock()
		if ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		_, _ = w.Write(body)
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *answerServer) answer(contentType string, body []byte) {
	s.mu.Lock()
	s.body, s.contentType, s.seen = body, contentType, nil
	s.mu.Unlock()
}

func (s *answerServer) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen
}

// allocated returns what fn allocated in the whole process.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// FuzzDecode answers any bytes, as a 200 JSON answer, to every JSON method
// of the client. A method either decodes a value the gateway can encode
// again, or fails with an upstream error (502 kinds) that says Garant
// answered, and it allocates in proportion to the answer.
func FuzzDecode(f *testing.F) {
	srv := newAnswerServer(f)
	c, err := garant.New(garant.Config{BaseURL: srv.URL, Timeout: 10 * time.Second, MaxBody: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	// The documentation's example answers, each for its method.
	files, _ := filepath.Glob("garantsim/testdata/examples/*.resp.json")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		method := strings.TrimSuffix(filepath.Base(file), ".resp.json")
		if m, _, ok := strings.Cut(method, "snippets-"); ok {
			method = m + "snippets"
		}
		f.Add(method, b)
	}
	for _, s := range []string{"", "null", "{}", "[]", `{"snippets":[{"relevance":"0,99","entry":"70"}]}`,
		`{"documents":[{"topic":"1.0","name":1,"url":null}],"totalDocs":1e3}`, `{"items":[{"number:":1,"text":"<p>"}]}`,
		`{"topics":[{"topic:":"12","modStatus":null,"events":[{"date":"2024-01-01","type":"3"}]}]}`,
		`[{"title":"export","value":"30","names":["topic/download"]}]`, `{"type":"a","adopted":null,"date":[1,null,"x"]}`} {
		f.Add("search", []byte(s))
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		method, call := pick(fuzzMethods, name)
		srv.answer("application/json", body)
		var out any
		var err error
		n := allocated(func() { out, err = call(context.Background(), c) })
		if limit := uint64(1<<20 + 64*len(body)); n > limit {
			t.Errorf("%s: decoding %d bytes allocated %d, want at most %d", method, len(body), n, limit)
		}
		if err != nil {
			checkAnswerError(t, method, err)
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Errorf("%s decoded %s into %+v, which does not encode again: %v", method, body, out, err)
		}
	})
}

// checkAnswerError holds the error of a call Garant answered 200 to: an
// upstream failure with Garant's status in its chain.
func checkAnswerError(t *testing.T, method string, err error) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Upstream != garant.Upstream || (e.Kind != apperr.UpstreamFailed && e.Kind != apperr.UpstreamTimeout) {
		t.Fatalf("%s: error %v (%T), want an upstream failure of garant", method, err, err)
	}
	if !garant.Answered(err) {
		t.Errorf("%s: Answered(%v) = false, want true (Garant answered 200)", method, err)
	}
}

// FuzzObjectPaths sends any image object id and formula code and checks
// what reaches Garant: the id is one path segment under /v2/image/ that
// unescapes to it, and the code and format come back from the query.
func FuzzObjectPaths(f *testing.F) {
	srv := newAnswerServer(f)
	c, err := garant.New(garant.Config{BaseURL: srv.URL + "/base", Timeout: 10 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][2]string{{"1084623", "eJzT1dVLz0ktLk1RSMsvyk0FAB2lBJM"}, {"..", "a+b=="}, {".", "%zz"},
		{"a/b?c#d", "x&fmt=svg"}, {"%2e%2e", "тест"}, {"", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, id, code string) {
		srv.answer("image/png", []byte("png"))
		file, err := c.Image(context.Background(), token, id)
		if err != nil {
			if apperr.KindOf(err) != apperr.Invalid {
				t.Fatalf("Image(%q) = %v, want an answer or an invalid id", id, err)
			}
			if n := len(srv.requests()); n != 0 {
				t.Fatalf("Image(%q) refused the id, yet sent %d request(s)", id, n)
			}
		} else {
			file.Body.Close()
			reqs := srv.requests()
			if len(reqs) != 1 {
				t.Fatalf("Image(%q) sent %d requests, want 1", id, len(reqs))
			}
			p := reqs[0].URL.EscapedPath()
			seg, ok := strings.CutPrefix(p, "/base/v2/image/")
			if !ok || strings.Contains(seg, "/") || reqs[0].URL.RawQuery != "" {
				t.Fatalf("Image(%q) requested %q, want one segment under /base/v2/image/", id, reqs[0].URL.String())
			}
			if got, err := url.PathUnescape(seg); err != nil || got != id {
				t.Fatalf("Image(%q) requested segment %q, which unescapes to %q (%v)", id, seg, got, err)
			}
			if clean := path.Clean(p); !strings.HasPrefix(clean, "/base/v2/image/") {
				t.Fatalf("Image(%q) requested %q, which resolves to %q, outside /base/v2/image/", id, p, clean)
			}
		}

		srv.answer("image/png", []byte("png"))
		file, err = c.Formula(context.Background(), token, code, "svg")
		if err != nil {
			t.Fatalf("Formula(%q) = %v", code, err)
		}
		file.Body.Close()
		reqs := srv.requests()
		if len(reqs) != 1 || reqs[0].URL.EscapedPath() != "/base/v2/formula" {
			t.Fatalf("Formula(%q) sent %d requests, the first to %v", code, len(reqs), reqs)
		}
		if q := reqs[0].URL.Query(); q.Get("text") != code || q.Get("fmt") != "svg" || len(q) != 2 {
			t.Fatalf("Formula(%q) sent query %q, want text and fmt back", code, reqs[0].URL.RawQuery)
		}
	})
}

// FuzzRewriteHTML rewrites any HTML: every link it makes is a gateway image
// route whose id is one path segment (it stays under prefix/images/ once
// resolved) or a gateway formula route.
func FuzzRewriteHTML(f *testing.F) {
	const prefix = "/v1/garant"
	if b, err := os.ReadFile("garantsim/testdata/examples/topic-html.resp.json"); err == nil {
		var v struct{ Items []struct{ Text string } }
		if json.Unmarshal(b, &v) == nil {
			for _, it := range v.Items {
				f.Add(it.Text)
			}
		}
	}
	for _, s := range []string{
		`<img src="/document/image?revision=1&document_id=2&object_id=36576886" alt=""><img src='/document/formula?revision=3&amp;text=c3Ry+aW5n&amp;fmt=png'><a href="/#/document/1">x</a>`,
		`<img src="https://internet.garant.ru/document/image?object_id=..">`,
		`<img src="/document/image?object_id=%2e%2e">`,
		`<img src="/document/image?object_id=a%2Fb">`,
		`<img src="/document/formula?text=&fmt=png">`,
		`<img src="/document/image?object_id=1'>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, html string) {
		out := garant.RewriteHTML(html, prefix)
		if !strings.Contains(html, "/document/") && out != html {
			t.Fatalf("RewriteHTML(%q) = %q, want it unchanged", html, out)
		}
		for rest := out; ; {
			i := strings.Index(rest, prefix+"/images/")
			if i < 0 {
				break
			}
			rest = rest[i:]
			end := strings.IndexAny(rest, `"'`)
			if end < 0 {
				end = len(rest)
			}
			link := rest[:end]
			rest = rest[len(prefix):]
			if strings.Contains(html, link) {
				continue // in the input already, not made here
			}
			seg := strings.TrimPrefix(link, prefix+"/images/")
			if strings.ContainsAny(seg, "/?#") || path.Clean(link) != link {
				t.Fatalf("RewriteHTML(%q) made the link %q: its id is not one clean path segment", html, link)
			}
		}
	})
}
