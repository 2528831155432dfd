package handlers_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/usage"
)

// The documents' example answers, fed to the gateway through its clients:
// every member an example shows comes out in the gateway's answer.

// fromDocument turns an example as the Garant document prints it (an
// excerpt of the text extracted from its PDF) into the JSON it shows: the
// padding the extraction left at the end of lines (a space and a no-break
// space) is dropped, so is a line holding only the elision "...", and a
// line break the extraction put inside a string becomes one space.
// Nothing else changes.
func fromDocument(b []byte) []byte {
	var kept [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimRightFunc(line, unicode.IsSpace)
		if string(line) != "..." {
			kept = append(kept, line)
		}
	}
	b = bytes.Join(kept, []byte("\n"))
	var out []byte
	in, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case esc:
			esc = false
		case in && c == '\\':
			esc = true
		case c == '"':
			in = !in
		case in && c == '\n':
			out = bytes.TrimRightFunc(out, unicode.IsSpace)
			for i+1 < len(b) && (b[i+1] == ' ' || b[i+1] == '\t') {
				i++
			}
			out = append(out, ' ')
			continue
		}
		out = append(out, c)
	}
	return out
}

// members lists a JSON document's keys (a trailing ':' typo trimmed) and
// its scalar values as text, walking the tokens so that repeated keys
// count every time; nulls are left out (absent and null say the same).
func members(t *testing.T, b []byte) (keys map[string]bool, values []string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	keys = map[string]bool{}
	type frame struct{ object, expectKey bool }
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return keys, values
		}
		if err != nil {
			t.Fatalf("members(%s): %v", b, err)
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if n := len(stack); n > 0 && stack[n-1].object {
					stack[n-1].expectKey = false
				}
				stack = append(stack, &frame{object: d == '{', expectKey: d == '{'})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].expectKey {
			keys[strings.TrimSuffix(tok.(string), ":")] = true
			stack[n-1].expectKey = false
			continue
		}
		switch v := tok.(type) {
		case string:
			values = append(values, v)
		case json.Number:
			values = append(values, v.String())
		case bool:
			values = append(values, fmt.Sprint(v))
		}
		valueDone()
	}
}

var dotDate = regexp.MustCompile(`^(\d{1,2})\.(\d{1,2})\.(\d{4})$`)

// missing lists the members of example absent from answer: a key not
// among the answer's keys (renamed maps an example key to the answer's),
// a value not among its values, counted as often as it occurs. A D.M.YYYY
// date may come out as YYYY-MM-DD; a value in exempt is not looked for.
func missing(t *testing.T, example, answer []byte, renamed map[string]string, exempt ...string) []string {
	t.Helper()
	wantKeys, wantValues := members(t, example)
	gotKeys, gotValues := members(t, answer)
	var out []string
	for k := range wantKeys {
		if r, ok := renamed[k]; ok {
			k = r
		}
		if k != "" && !gotKeys[k] {
			out = append(out, "key "+k)
		}
	}
	left := slices.Clone(gotValues)
	for _, v := range wantValues {
		if slices.Contains(exempt, v) {
			continue
		}
		candidates := []string{v}
		if m := dotDate.FindStringSubmatch(v); m != nil {
			candidates = append(candidates, fmt.Sprintf("%s-%02s-%02s", m[3], m[2], m[1]))
		}
		i := slices.IndexFunc(left, func(g string) bool { return slices.Contains(candidates, g) })
		if i < 0 {
			out = append(out, "value "+v)
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
	slices.Sort(out)
	return out
}

func TestFromDocument(t *testing.T) {
	in := "{\n\"a\": [ \u00a0\n{\"n\": \"one \u00a0\ntwo\"}, \u00a0\n... \u00a0\n{\"n\": \"x\\\" \u00a0\ny\"}\n]\n}"
	want := "{\n\"a\": [\n{\"n\": \"one two\"},\n{\"n\": \"x\\\" y\"}\n]\n}"
	if got := string(fromDocument([]byte(in))); got != want {
		t.Errorf("fromDocument(%q) = %q, want %q", in, got, want)
	}
	keys, values := members(t, []byte(`{"a:":1,"b":[{"kind":"301","kind":"302"}],"c":null,"d":"x"}`))
	if !keys["a"] || !keys["kind"] || !keys["c"] || keys["x"] || !slices.Equal(values, []string{"1", "301", "302", "x"}) {
		t.Errorf("members = %v %v", keys, values)
	}
}

// TestGarantDocumentExamples feeds every example answer of the Garant
// document, byte for byte from testdata, to the gateway as Garant's answer
// and checks that every member it shows is in the gateway's answer.
func TestGarantDocumentExamples(t *testing.T) {
	from := time.Now().AddDate(0, 0, -3).Format(time.DateOnly)
	examples := []struct {
		file, route         string // the file, the Garant route answering it
		method, path        string // the gateway's request
		body                any
		renamed             map[string]string
		exempt              []string
		wantStatus, wantLen int
	}{
		{file: "search.txt", route: "POST /v2/search", method: "POST", path: "/v1/garant/search",
			body: map[string]any{"text": "44-фз о контрактной системе", "env": "internet"}},
		{file: "snippets.txt", route: "POST /v2/snippets", method: "POST", path: "/v1/garant/snippets",
			body: map[string]any{"topic": 57742222, "text": "44-фз о контрактной системе"}},
		{file: "find-hyperlinks.txt", route: "POST /v2/find-hyperlinks", method: "POST", path: "/v1/garant/hyperlinks",
			body: map[string]any{"text": "Настоящий Закон", "baseUrl": "https://internet.garant.ru"}},
		{file: "topic-html.txt", route: "GET /v2/topic/{topic}/html", method: "GET", path: "/v1/garant/topics/10900200/html"},
		{file: "entry-html.txt", route: "GET /v2/topic/{topic}/entry/{entry}/html", method: "GET", path: "/v1/garant/topics/12125270/entries/1000/html"},
		{file: "find-modified.txt", route: "POST /v2/find-modified", method: "POST", path: "/v1/garant/monitoring/documents",
			body: map[string]any{"topics": []int{77682742, 45069704, 49054494}, "modDate": "2019-07-01", "needEvents": true}},
		{file: "block-on-control.txt", route: "POST /v2/block-on-control/changed", method: "POST", path: "/v1/garant/monitoring/fragments",
			body: map[string]any{"fromDate": "2019-06-01", "urlArray": []string{"https://internet.garant.ru/#/document/10900200/entry/1"}, "needEvents": true}},
		{file: "prime.txt", route: "GET /v2/prime", method: "GET", path: "/v1/garant/prime/categories"},
		{file: "create-news.txt", route: "POST /v2/prime/create-news", method: "POST", path: "/v1/garant/prime/news",
			body: map[string]any{"fromDate": from, "categories": []int{1, 2, 3, 4, 5}}},
		{file: "topic.txt", route: "GET /v2/topic/{topic}", method: "GET", path: "/v1/garant/topics/102004"},
		{file: "redactions.txt", route: "GET /v2/redactions/{topic}", method: "GET", path: "/v1/garant/topics/10103000/editions"},
		{file: "sutyazhnik-search.txt", route: "POST /v2/sutyazhnik-search", method: "POST", path: "/v1/garant/court-practice",
			body: map[string]any{"text": "Ставка ндс", "count": 50, "kind": []string{"301", "302"}}},
		{file: "limits.txt", route: "GET /v2/limits", method: "GET", path: "/v1/garant/limits"},
	}
	mux := http.NewServeMux()
	docs := map[string][]byte{}
	for _, ex := range examples {
		raw, err := os.ReadFile(filepath.Join("testdata", "docexamples", "garant", ex.file))
		must(t, err)
		doc := fromDocument(raw)
		if !json.Valid(doc) {
			t.Fatalf("%s is not JSON once repaired:\n%s", ex.file, doc)
		}
		docs[ex.file] = doc
		mux.HandleFunc(ex.route, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(doc)
		})
	}
	upstream := httptest.NewServer(mux)
	t.Cleanup(upstream.Close)
	g := newGateway(t, func(d *handlers.Deps) {
		d.Quotas = &usage.Reports{Quota: garantQuota(t, d.Redis)}
		d.Garant = garantDeps(t, d.Redis, d.Registry, upstream.URL)
	})
	for _, ex := range examples {
		t.Run(ex.file, func(t *testing.T) {
			res := g.do(t, ex.method, ex.path, keyAlpha, ex.body)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s %s with Garant's answer %s = %d; %s", ex.method, ex.path, ex.file, res.StatusCode, body)
			}
			if m := missing(t, docs[ex.file], body, ex.renamed, ex.exempt...); len(m) > 0 {
				t.Errorf("%s %s: the gateway's answer lacks %v of the document's example %s\nanswer: %s", ex.method, ex.path, m, ex.file, body)
			}
		})
	}
}
