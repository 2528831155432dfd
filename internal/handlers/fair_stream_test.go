package handlers_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/fairshare"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/upstream/garant"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// TestFairStreamedFileHoldsItsShare: a streamed Garant file is an upstream
// call until its body is read: with a cap of one call, a second export while
// the first still streams is refused before it reaches Garant, and once the
// first is read the share is free again.
func TestFairStreamedFileHoldsItsShare(t *testing.T) {
	open := make(chan struct{})
	entered := make(chan string, 10)
	sim := garantsim.New(simConfig())
	ss := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/download") {
			entered <- r.URL.Path
			w.Header().Set("Content-Type", "application/pdf")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("%PDF-1.4 first part"))
			w.(http.Flusher).Flush()
			select {
			case <-open:
			case <-r.Context().Done():
			}
			_, _ = w.Write([]byte(" rest"))
			return
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(ss.Close)
	env := newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		c, err := garant.New(garant.Config{BaseURL: ss.URL, Timeout: time.Minute})
		must(t, err)
		d.Garant.Client = c
		withFair(t, fairshare.Config{Default: fairshare.Limits{UpstreamCalls: 1}})(d)
	})
	get := func(topic string) *http.Response {
		req, _ := http.NewRequest("GET", env.URL+"/v1/garant/topics/"+topic+"/export/pdf", nil)
		req.Header.Set("Authorization", "Bearer "+keyAlpha)
		req.Header.Set("Cache-Control", "no-cache, no-store") // streamed, not stored
		res, err := env.Client().Do(req)
		must(t, err)
		return res
	}
	// The first export streams: Garant sent its headers and part of its
	// body, and holds the rest until open.
	firstDone := make(chan string, 1)
	go func() {
		res := get("10103000")
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		firstDone <- fmt.Sprintf("%d %s", res.StatusCode, b)
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first export never reached Garant")
	}
	second := get("10164072")
	body, _ := io.ReadAll(second.Body)
	second.Body.Close()
	wantRefusal(t, "a second export while the first streams", second.StatusCode, second.Header, body,
		http.StatusTooManyRequests, fairshare.TypeConcurrency, fairshare.LimitCallsPerTenant)
	select {
	case p := <-entered:
		t.Errorf("the refused export reached Garant (%s)", p)
	default:
	}

	close(open)
	if got := <-firstDone; got != "200 %PDF-1.4 first part rest" {
		t.Fatalf("the first export = %q, want 200 and its whole body", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		third := get("10164072")
		_, _ = io.Copy(io.Discard, third.Body)
		third.Body.Close()
		if third.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an export after the first was read = %d, want 200: its share was not given back", third.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
