package garantsim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// shape describes a JSON value by type: "string", "number", "bool", "null",
// map[string]any for objects (keys without a trailing ':' typo) and []any
// holding the union shape of the elements (empty when there are none).
func shape(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[strings.TrimSuffix(k, ":")] = shape(e)
		}
		return out
	case []any:
		var union any
		for _, e := range x {
			union = merge(union, shape(e))
		}
		if union == nil {
			return []any{}
		}
		return []any{union}
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

func merge(a, b any) any {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		if a == nil {
			return b
		}
		return a
	}
	out := map[string]any{}
	for k, v := range am {
		out[k] = v
	}
	for k, v := range bm {
		out[k] = merge(out[k], v)
	}
	return out
}

// covers reports where got lacks something of want, the documented shape.
func covers(path string, want, got any, allowEmpty bool) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %v, want an object", path, got)}
		}
		var out []string
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			out = append(out, covers(path+"."+k, wv, gv, allowEmpty)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %v, want an array", path, got)}
		}
		if len(w) == 0 || len(g) == 0 && allowEmpty {
			return nil
		}
		if len(g) == 0 {
			return []string{fmt.Sprintf("%s: got an empty array, want elements like the example", path)}
		}
		return covers(path+"[]", w[0], g[0], allowEmpty)
	}
	if want != got {
		return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
	}
	return nil
}

func readExample(t *testing.T, name string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// TestReplayOfficialExamples sends every request example of the official
// doc and checks the answer has the documented keys and types.
func TestReplayOfficialExamples(t *testing.T) {
	t.Parallel()
	type example struct {
		name, method, path, req, resp string
		now                           time.Time // clock for date windows; zero: fixedNow
		allowEmpty                    bool      // the request itself makes arrays empty
		contentType                   string    // for files
	}
	examples := []example{
		{name: "search", method: "POST", path: "/v2/search", req: "search.req.json", resp: "search.resp.json"},
		{name: "snippets text", method: "POST", path: "/v2/snippets", req: "snippets-text.req.json", resp: "snippets-text.resp.json"},
		{name: "snippets correspondent", method: "POST", path: "/v2/snippets", req: "snippets-correspondent.req.json", resp: "snippets-correspondent.resp.json"},
		{name: "find-hyperlinks", method: "POST", path: "/v2/find-hyperlinks", req: "find-hyperlinks.req.json", resp: "find-hyperlinks.resp.json"},
		{name: "download rtf", method: "GET", path: "/v2/topic/10103000/download", contentType: "application/rtf"},
		{name: "download odt", method: "GET", path: "/v2/topic/10103000/download-odt", contentType: odtMime},
		{name: "download pdf", method: "GET", path: "/v2/topic/10103000/download-pdf", contentType: "application/pdf"},
		{name: "topic html", method: "GET", path: "/v2/topic/10900200/html", resp: "topic-html.resp.json"},
		{name: "entry html", method: "GET", path: "/v2/topic/10900200/entry/36/html", resp: "entry-html.resp.json"},
		{name: "image", method: "GET", path: "/v2/image/36576886", contentType: "image/png"},
		{name: "formula", method: "GET", path: "/v2/formula?text=c3RyaW5nKCkrLXN0cmluZygp&fmt=png", contentType: "image/png"},
		{name: "find-modified", method: "POST", path: "/v2/find-modified", req: "find-modified.req.json", resp: "find-modified.resp.json"},
		{name: "block-on-control", method: "POST", path: "/v2/block-on-control/changed", req: "block-on-control.req.json", resp: "block-on-control.resp.json", allowEmpty: true},
		{name: "block-on-control restored", method: "POST", path: "/v2/block-on-control/changed", req: "block-on-control-restored.req.json", resp: "block-on-control.resp.json"},
		{name: "prime", method: "GET", path: "/v2/prime", resp: "prime.resp.json"},
		{name: "create-news", method: "POST", path: "/v2/prime/create-news", req: "create-news.req.json", resp: "create-news.resp.json", now: time.Date(2019, 11, 8, 12, 0, 0, 0, time.UTC)},
		{name: "topic", method: "GET", path: "/v2/topic/102004", resp: "topic.resp.json"},
		{name: "redactions", method: "GET", path: "/v2/redactions/10103000", resp: "redactions.resp.json"},
		{name: "sutyazhnik-search", method: "POST", path: "/v2/sutyazhnik-search", req: "sutyazhnik-search.req.json", resp: "sutyazhnik-search.resp.json"},
		{name: "limits", method: "GET", path: "/v2/limits", resp: "limits.resp.json"},
	}
	queries, err := filepath.Glob(filepath.Join("testdata", "examples", "query-*.req.json"))
	if err != nil || len(queries) != 11 {
		t.Fatalf("query examples: %v, %d files, want 11", err, len(queries))
	}
	for _, q := range queries {
		examples = append(examples, example{name: filepath.Base(q), method: "POST", path: "/v2/search", req: filepath.Base(q), resp: "search.resp.json", allowEmpty: true})
	}
	sim, ts := newTest(t)
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			sim.Kit.Clock.Set(cmpOr(ex.now, fixedNow))
			var body any
			if ex.req != "" {
				b, err := os.ReadFile(filepath.Join("testdata", "examples", ex.req))
				if err != nil {
					t.Fatal(err)
				}
				body = string(b)
			}
			r := call(t, ts, ex.method, ex.path, DemoToken, body)
			if r.status != 200 {
				t.Fatalf("%s %s = %d %s, want 200", ex.method, ex.path, r.status, r.body)
			}
			if ex.contentType != "" {
				if got := r.header.Get("Content-Type"); got != ex.contentType || len(r.body) == 0 {
					t.Errorf("%s %s = %q with %d bytes, want %q with a body", ex.method, ex.path, got, len(r.body), ex.contentType)
				}
				return
			}
			var got any
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatalf("%s %s = %s: %v", ex.method, ex.path, r.body, err)
			}
			if diff := covers("$", shape(readExample(t, ex.resp)), shape(got), ex.allowEmpty); len(diff) > 0 {
				slices.Sort(diff)
				t.Errorf("%s %s answer lacks the documented shape:\n%s\nbody: %.2000s", ex.method, ex.path, strings.Join(diff, "\n"), r.body)
			}
		})
	}
}

func cmpOr(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}
