package fsspsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The testdata files are verbatim copies of the examples of the official
// doc (fssp.ru.txt): request_6_*.curl are the cURL examples of section 6,
// request_5_4_group_body.json the group body of 5.4, response_5_*.json the
// answers shown in 5.1–5.6. The doc's token is "yourapikey".

const docToken = "yourapikey"

// docRequest is a cURL example turned into an HTTP request.
type docRequest struct {
	method, path string
	form         url.Values
	body         []byte
}

func readCurl(t *testing.T, name string) docRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	u, err := url.Parse(regexp.MustCompile(`https://\S+`).FindString(text))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	r := docRequest{method: "GET", path: u.Path, form: url.Values{}}
	for _, m := range regexp.MustCompile(`--data-urlencode "([^"=]+)=([^"]*)"`).FindAllStringSubmatch(text, -1) {
		r.form.Add(m[1], m[2])
	}
	if strings.Contains(text, "-X POST") {
		r.method = "POST"
	}
	if _, rest, ok := strings.Cut(text, "<< EOF\n"); ok {
		r.body = []byte(rest[:strings.LastIndex(rest, "\nEOF")])
	}
	return r
}

func readJSON(t *testing.T, name string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func replay(t *testing.T, ts *httptest.Server, r docRequest) (int, any) {
	t.Helper()
	u := ts.URL + r.path
	if len(r.form) > 0 {
		u += "?" + r.form.Encode()
	}
	req, err := http.NewRequest(r.method, u, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s %s: body %q: %v", r.method, r.path, raw, err)
	}
	return resp.StatusCode, v
}

// shapeDiff lists where got does not have the shape of the documented value
// doc: the same keys (got may have more) with the same JSON types; each
// element of a got array must have the shape of some documented element.
// The documented integer department may be a string, and task_start may be
// a string as well as null.
func shapeDiff(path string, doc, got any) []string {
	switch d := doc.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %T, want object", path, got)}
		}
		var out []string
		for k, dv := range d {
			gv, ok := g[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			out = append(out, shapeDiff(path+"."+k, dv, gv)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %T, want array", path, got)}
		}
		var out []string
		for i, gv := range g {
			if !slices.ContainsFunc(d, func(dv any) bool { return len(shapeDiff("", dv, gv)) == 0 }) {
				out = append(out, fmt.Sprintf("%s[%d]: matches no documented element", path, i))
				if len(d) > 0 {
					out = append(out, shapeDiff(fmt.Sprintf("%s[%d]", path, i), d[0], gv)...)
				}
			}
		}
		return out
	}
	dt, gt := fmt.Sprintf("%T", doc), fmt.Sprintf("%T", got)
	switch {
	case dt == gt,
		strings.HasSuffix(path, ".department") && gt == "string",
		strings.HasSuffix(path, ".task_start") && gt == "string":
		return nil
	}
	return []string{fmt.Sprintf("%s: got %s, want %s", path, gt, dt)}
}

func TestDocExamples(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Tokens = []string{docToken}
	cfg.AddressQuirk = true // the documented result fails the legal search without address
	sim, ts := start(t, cfg)

	searches := []struct {
		request, response string
	}{
		{"request_6_1.curl", "response_5_1_task.json"},
		{"request_6_2.curl", "response_5_2_task.json"},
		// The doc's /search/ip example sends region and names but no number
		// (a doc error, see REFERENCE.md 2.2): a strict service refuses it.
		{"request_6_3.curl", "response_5_3_invalid_params.json"},
		{"request_6_4.curl", "response_5_4_task.json"},
	}
	tasks := map[string]string{} // the doc's task id → ours
	for _, s := range searches {
		req := readCurl(t, s.request)
		want := readJSON(t, s.response)
		_, got := replay(t, ts, req)
		if diff := shapeDiff("", want, got); len(diff) > 0 {
			t.Errorf("replay(%s) = %v, want the shape of %s: %v", s.request, got, s.response, diff)
		}
		if ex := got.(map[string]any)["exception"].(string); !strings.HasPrefix(ex, want.(map[string]any)["exception"].(string)) {
			t.Errorf("replay(%s) exception = %q, want %q", s.request, ex, want.(map[string]any)["exception"])
		}
		if resp, ok := want.(map[string]any)["response"].(map[string]any); ok {
			if mine, ok := got.(map[string]any)["response"].(map[string]any); ok {
				tasks[resp["task"].(string)] = mine["task"].(string)
			}
		}
	}
	// The group body of 5.4 as it stands.
	body, err := os.ReadFile(filepath.Join("testdata", "request_5_4_group_body.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, got := replay(t, ts, docRequest{method: "POST", path: "/api/v1.0/search/group", body: body}); len(shapeDiff("", readJSON(t, "response_5_4_task.json"), got)) > 0 {
		t.Errorf("replay(5.4 group body) = %v, want a task", got)
	}

	sim.Kit.Clock.Advance(cfg.QueueFor + cfg.RunFor)
	for _, s := range []struct{ request, response string }{
		{"request_6_5.curl", "response_5_5_status.json"},
		{"request_6_6.curl", "response_5_6_result.json"},
	} {
		req := readCurl(t, s.request)
		req.form.Set("task", tasks[req.form.Get("task")])
		_, got := replay(t, ts, req)
		if diff := shapeDiff("", readJSON(t, s.response), got); len(diff) > 0 {
			t.Errorf("replay(%s) = %v, want the shape of %s: %v", s.request, got, s.response, diff)
		}
	}

	// The documented result is the one of the documented group, element by element.
	want := readJSON(t, "response_5_6_result.json")
	_, got := replay(t, ts, docRequest{method: "GET", path: "/api/v1.0/result",
		form: values("token", docToken, "task", tasks["DDAB49B2-F435-49CC-80DF-55F2F57D3057"])})
	wantSubs := want.(map[string]any)["response"].(map[string]any)["result"].([]any)
	gotSubs := got.(map[string]any)["response"].(map[string]any)["result"].([]any)
	if len(gotSubs) != len(wantSubs) {
		t.Fatalf("result(doc group) has %d sub-results, want %d", len(gotSubs), len(wantSubs))
	}
	for i := range wantSubs {
		if diff := shapeDiff(fmt.Sprintf("result[%d]", i), wantSubs[i], gotSubs[i]); len(diff) > 0 {
			t.Errorf("result(doc group)[%d] = %v, want the shape of the doc's: %v", i, gotSubs[i], diff)
		}
	}
	sub := func(v any) any {
		m := v.(map[string]any)
		return map[string]any{"status": m["status"], "result": m["result"]}
	}
	if diff := cmp.Diff(sub(wantSubs[1]), sub(gotSubs[1])); diff != "" {
		t.Errorf("result(doc group)[1] mismatch (-doc +got):\n%s", diff)
	}
}

func TestDocExamplesWithAWrongToken(t *testing.T) {
	_, ts := start(t, DefaultConfig()) // knows DemoToken only, not "yourapikey"
	// Each search method's own «invalid token» example (5.1–5.4); 5.5 and
	// 5.6 show none, so 5.1's.
	for name, answer := range map[string]string{
		"request_6_1.curl": "response_5_1_invalid_token.json", "request_6_2.curl": "response_5_2_invalid_token.json",
		"request_6_3.curl": "response_5_3_invalid_token.json", "request_6_4.curl": "response_5_4_invalid_token.json",
		"request_6_5.curl": "response_5_1_invalid_token.json", "request_6_6.curl": "response_5_1_invalid_token.json",
	} {
		want := readJSON(t, answer)
		code, got := replay(t, ts, readCurl(t, name))
		if code != http.StatusUnauthorized || !cmp.Equal(got, want) {
			t.Errorf("replay(%s) = %d %v, want 401 %v (%s)", name, code, got, want, answer)
		}
	}
}

func TestShapeDiff(t *testing.T) {
	doc := map[string]any{"a": "x", "department": 1.0, "list": []any{map[string]any{"n": 1.0}}}
	tests := []struct {
		got  any
		want int // number of differences
	}{
		{map[string]any{"a": "y", "department": "ОСП", "list": []any{}, "extra": true}, 0},
		{map[string]any{"a": 1.0, "department": 2.0, "list": []any{map[string]any{"n": 2.0}}}, 1},
		{map[string]any{"department": nil, "list": []any{map[string]any{}}}, 4},
		{[]any{}, 1},
	}
	for _, tt := range tests {
		if got := shapeDiff("", doc, tt.got); len(got) != tt.want {
			t.Errorf("shapeDiff(%v) = %q, want %d differences", tt.got, got, tt.want)
		}
	}
}
