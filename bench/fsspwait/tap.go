package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// tap sits between the gateway and the FSSP simulator and forwards every call
// unchanged. It notes the upstream task id each search returned and, for each
// upstream task, when its GET /result answer was handed to the gateway: the
// moment the gateway learned the task had finished. Nothing it sees (tokens
// travel in the query) is logged.
type tap struct {
	target string // http://host:port of the simulator
	client *http.Client

	mu       sync.Mutex
	searched []string             // upstream task ids in the order the searches answered
	resultAt map[string]time.Time // upstream task id → last /result answer
}

func newTap(target string) *tap {
	return &tap{
		target:   target,
		client:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second},
		resultAt: map[string]time.Time{},
	}
}

func (t *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, t.target+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, "tap: bad request", http.StatusBadRequest)
		return
	}
	out.Header = r.Header.Clone()
	res, err := t.client.Do(out)
	if err != nil {
		http.Error(w, "tap: simulator unreachable", http.StatusBadGateway)
		return
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		http.Error(w, "tap: simulator answer cut", http.StatusBadGateway)
		return
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(body)
	_ = http.NewResponseController(w).Flush()
	now := time.Now()

	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1.0"), "/")
	switch {
	case path == "/result" && res.StatusCode == http.StatusOK:
		t.mu.Lock()
		t.resultAt[r.URL.Query().Get("task")] = now
		t.mu.Unlock()
	case strings.HasPrefix(path, "/search/") && res.StatusCode == http.StatusOK:
		var env struct {
			Response struct {
				Task string `json:"task"`
			} `json:"response"`
		}
		if json.NewDecoder(bytes.NewReader(body)).Decode(&env) == nil && env.Response.Task != "" {
			t.mu.Lock()
			t.searched = append(t.searched, env.Response.Task)
			t.mu.Unlock()
		}
	}
}

// searches returns the upstream task ids of the searches so far.
func (t *tap) searches() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.searched...)
}

// finished returns when the last of ids had its /result answered, and
// whether all of them had.
func (t *tap) finished(ids []string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var last time.Time
	for _, id := range ids {
		at, ok := t.resultAt[id]
		if !ok {
			return time.Time{}, false
		}
		if at.After(last) {
			last = at
		}
	}
	return last, len(ids) > 0
}
