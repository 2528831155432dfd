package handlers_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fsspExample reads one of the FSSP document's example answers (verbatim
// copies of fssp.ru.txt §5, kept beside the simulator).
func fsspExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "upstream", "fssp", "fsspsim", "testdata", name))
	must(t, err)
	return b
}

// fsspDocServer answers as the FSSP document's examples do: searches with
// search (a task example), /status and /result with the examples of 5.5
// and 5.6. It records the task ids it was asked about.
type fsspDocServer struct {
	*httptest.Server
	mu    sync.Mutex
	tasks []string
}

func newFSSPDocServer(t *testing.T, search string, status int) *fsspDocServer {
	t.Helper()
	s := &fsspDocServer{}
	answer := func(w http.ResponseWriter, name string, status int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(fsspExample(t, name))
	}
	mux := http.NewServeMux()
	for _, p := range []string{"GET /search/physical", "GET /search/legal", "GET /search/ip", "POST /search/group"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { answer(w, search, status) })
	}
	note := func(r *http.Request) {
		s.mu.Lock()
		s.tasks = append(s.tasks, r.URL.Query().Get("task"))
		s.mu.Unlock()
	}
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { note(r); answer(w, "response_5_5_status.json", 200) })
	mux.HandleFunc("GET /result", func(w http.ResponseWriter, r *http.Request) { note(r); answer(w, "response_5_6_result.json", 200) })
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// TestFSSPDocumentExamples feeds every example answer of the FSSP document
// (§5.1–5.6, verbatim) to the gateway as FSSP's answers. The task ids of
// the search examples are the ones the gateway then polls; the result of
// 5.6 comes out with every member of its response (the envelope's status,
// code and exception are the transport's); the error examples become the
// problems they mean.
func TestFSSPDocumentExamples(t *testing.T) {
	group := map[string]any{"requests": []map[string]any{
		{"type": "physical", "params": map[string]any{"firstname": "Сергей", "lastname": "Иванов", "region": 66}},
		{"type": "legal", "params": map[string]any{"name": "Ромашка", "region": 66}},
		{"type": "ip", "params": map[string]any{"number": "6860/12/61/66"}},
	}}
	physical := map[string]any{"region": 66, "lastname": "Иванов", "firstname": "Иван"}
	legal := map[string]any{"region": 66, "name": "Ромашка"}
	ip := map[string]any{"number": "6860/12/61/66"}
	tests := []struct {
		name, search  string // the search example answering the submission
		status        int    // its HTTP status
		path          string
		body          any
		task          string // the upstream task id the gateway must poll
		want          int
		detail        string // for an error: the problem's detail
		checkResponse bool   // every member of 5.6's response in the answer
		progress      string // for a single search: 5.5's progress as the answer's done and total
	}{
		{name: "5.1 task", search: "response_5_1_task.json", status: 200, path: "/v1/fssp/searches/physical", body: physical,
			task: "ADAB49B2-F435-49CC-80DF-55F2F57D3057", want: 200, progress: "1 of 1"},
		{name: "5.2 task", search: "response_5_2_task.json", status: 200, path: "/v1/fssp/searches/legal", body: legal,
			task: "BDAB49B2-F435-49CC-80DF-55F2F57D3057", want: 200, progress: "1 of 1"},
		{name: "5.3 task", search: "response_5_3_task.json", status: 200, path: "/v1/fssp/searches/ip", body: ip,
			task: "CDAB49B2-F435-49CC-80DF-55F2F57D3057", want: 200, progress: "1 of 1"},
		{name: "5.4 task, 5.5 status, 5.6 result", search: "response_5_4_task.json", status: 200, path: "/v1/fssp/searches/group", body: group,
			task: "DDAB49B2-F435-49CC-80DF-55F2F57D3057", want: 200, checkResponse: true},
		{name: "5.1 invalid token", search: "response_5_1_invalid_token.json", status: 401, path: "/v1/fssp/searches/physical", body: physical,
			want: 502, detail: "FSSP rejected the gateway's credential"},
		{name: "5.2 invalid token with HTTP 200", search: "response_5_2_invalid_token.json", status: 200, path: "/v1/fssp/searches/legal", body: legal,
			want: 502, detail: "FSSP rejected the gateway's credential"},
		{name: "5.3 invalid token", search: "response_5_3_invalid_token.json", status: 401, path: "/v1/fssp/searches/ip", body: ip,
			want: 502, detail: "FSSP rejected the gateway's credential"},
		{name: "5.4 invalid token", search: "response_5_4_invalid_token.json", status: 401, path: "/v1/fssp/searches/group", body: group,
			want: 502, detail: "FSSP rejected the gateway's credential"},
		{name: "5.1 invalid request params", search: "response_5_1_invalid_params.json", status: 400, path: "/v1/fssp/searches/physical", body: physical,
			want: 502, detail: "FSSP refused the request parameters"},
		{name: "5.2 invalid request params with HTTP 200", search: "response_5_2_invalid_params.json", status: 200, path: "/v1/fssp/searches/legal", body: legal,
			want: 502, detail: "FSSP refused the request parameters"},
		{name: "5.3 invalid request params", search: "response_5_3_invalid_params.json", status: 400, path: "/v1/fssp/searches/ip", body: ip,
			want: 502, detail: "FSSP refused the request parameters"},
		{name: "5.4 invalid request params", search: "response_5_4_invalid_params.json", status: 400, path: "/v1/fssp/searches/group", body: group,
			want: 502, detail: "FSSP refused the request parameters"},
	}
	// Every example answer of the document (§5.1–5.6) is fed above: the
	// searches' three each, 5.5's status and 5.6's result in every task row.
	fed := map[string]bool{"response_5_5_status.json": true, "response_5_6_result.json": true}
	for _, tt := range tests {
		fed[tt.search] = true
	}
	files, err := filepath.Glob(filepath.Join("..", "upstream", "fssp", "fsspsim", "testdata", "response_5_*.json"))
	must(t, err)
	if len(files) != 14 {
		t.Errorf("%d example answers in testdata, want the document's 14 (§5.1–5.4 three each, 5.5, 5.6)", len(files))
	}
	for _, f := range files {
		if !fed[filepath.Base(f)] {
			t.Errorf("the document's example %s is not fed to the gateway", filepath.Base(f))
		}
	}
	var result struct {
		Response json.RawMessage `json:"response"`
	}
	must(t, json.Unmarshal(fsspExample(t, "response_5_6_result.json"), &result))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newFSSPDocServer(t, tt.search, tt.status)
			g := fsspGatewayAt(t, up.URL)
			res := g.do(t, "POST", tt.path, keyAlpha, tt.body, "Prefer", "wait=10")
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.want {
				t.Fatalf("POST %s with FSSP's %s = %d, want %d; %s", tt.path, tt.search, res.StatusCode, tt.want, body)
			}
			if tt.detail != "" {
				var p problemDoc
				must(t, json.Unmarshal(body, &p))
				if p.Detail != tt.detail || p.Upstream != "fssp" {
					t.Errorf("problem %s, want detail %q from upstream fssp", body, tt.detail)
				}
				return
			}
			up.mu.Lock()
			polled := slices.Clone(up.tasks)
			up.mu.Unlock()
			if len(polled) == 0 || slices.ContainsFunc(polled, func(id string) bool { return id != tt.task }) {
				t.Errorf("the gateway polled tasks %v, want only %s", polled, tt.task)
			}
			if tt.progress != "" {
				var task struct {
					Status   string `json:"status"`
					Progress struct{ Done, Total int }
				}
				must(t, json.Unmarshal(body, &task))
				if got := fmt.Sprintf("%d of %d", task.Progress.Done, task.Progress.Total); got != tt.progress || task.Status == "" {
					t.Errorf("task = %s, want status and progress %s (5.5's status 0, %q)", body, tt.progress, tt.progress)
				}
			}
			if !tt.checkResponse {
				return
			}
			// result is the task's results; FSSP's statuses (0 done, 3 done
			// with errors) come out as words (partial, succeeded, failed).
			renamed := map[string]string{"result": "results", "task_start": ""}
			if m := missing(t, result.Response, body, renamed, "0", "3"); len(m) > 0 {
				t.Errorf("the gateway's answer lacks %v of the document's result (5.6)\nanswer: %s", m, body)
			}
			if !strings.Contains(string(body), `"status":"partial"`) {
				t.Errorf("task = %s, want partial (FSSP's status 3 on one search)", body)
			}
		})
	}
}
