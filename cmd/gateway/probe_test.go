package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProbe runs the container healthcheck mode through run(): a 2xx answer
// is success, anything else (another status, no answer in time, nobody
// listening, a malformed URL) is an error, which main turns into exit 1.
func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/no-content":
			w.WriteHeader(http.StatusNoContent)
		case "/moved":
			w.WriteHeader(http.StatusNotModified)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, tc := range []struct {
		url     string
		wantErr string // "" means success
	}{
		{srv.URL + "/ok", ""},
		{srv.URL + "/no-content", ""},
		{srv.URL + "/readyz", "503 Service Unavailable"},
		{srv.URL + "/moved", "304 Not Modified"},
		{srv.URL + "/slow", "deadline exceeded"},
		{closed.URL + "/readyz", "connection refused"},
		{"127.0.0.1:8080/readyz", "not an absolute http(s) URL"},
		{"ftp://127.0.0.1/readyz", "not an absolute http(s) URL"},
	} {
		var out bytes.Buffer
		start := time.Now()
		err := run(context.Background(), []string{"-probe", tc.url, "-probe-timeout", "300ms"},
			func(string) string { return "" }, &out, &out)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("run(-probe %s) = %v, want nil", tc.url, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("run(-probe %s) = %v, want an error containing %q", tc.url, err, tc.wantErr)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("run(-probe %s) took %s, want it bounded by -probe-timeout 300ms", tc.url, d)
		}
		if strings.Contains(out.String(), "listening") {
			t.Errorf("run(-probe %s) started the gateway: %s", tc.url, out.String())
		}
	}
}

// TestProbeGateway probes a running gateway's /readyz and /healthz, as the
// Dockerfile's HEALTHCHECK and the compose file do.
func TestProbeGateway(t *testing.T) {
	base, _ := startGateway(t, nil, nil)
	for _, path := range []string{"/readyz", "/healthz"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"-probe", base + path}, func(string) string { return "" }, &out, &out); err != nil {
			t.Errorf("run(-probe %s%s) = %v, want nil", base, path, err)
		}
		if !strings.Contains(out.String(), "200 OK") {
			t.Errorf("run(-probe %s%s) printed %q, want the status", base, path, out.String())
		}
	}
	if err := run(context.Background(), []string{"-probe", base + "/v1/quotas"}, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("run(-probe %s/v1/quotas) = %v, want a 401 error", base, err)
	}
}
