package simkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newSim(t *testing.T) (*Kit, *httptest.Server) {
	k := NewKit(1)
	srv := httptest.NewServer(k.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.Calls.Inc("GET /x")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"padding":"`+strings.Repeat("x", 64)+`"}`)
	})))
	t.Cleanup(srv.Close)
	return k, srv
}

func put(t *testing.T, url, body string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", url, strings.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT %s %s = %v %v, want 204", url, body, res, err)
	}
	res.Body.Close()
}

func TestFaults(t *testing.T) {
	k, srv := newSim(t)
	client := &http.Client{Timeout: 5 * time.Second}
	short := &http.Client{Timeout: 300 * time.Millisecond} // for the faults that never answer

	put(t, srv.URL+"/_sim/faults", `{"status":503,"body":"<html>down</html>","remaining":1}`)
	res, err := client.Get(srv.URL + "/x")
	if err != nil || res.StatusCode != 503 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET with a 503 fault = %v %v, want 503 text/html", res, err)
	}
	if res, err := client.Get(srv.URL + "/x"); err != nil || res.StatusCode != 200 {
		t.Errorf("GET after the fault's one use = %v %v, want 200", res, err)
	}

	put(t, srv.URL+"/_sim/faults", `{"latency":"100ms"}`)
	start := time.Now()
	if _, err := client.Get(srv.URL + "/x"); err != nil || time.Since(start) < 100*time.Millisecond {
		t.Errorf("GET with 100ms latency took %v (%v), want at least 100ms", time.Since(start), err)
	}

	put(t, srv.URL+"/_sim/faults", `{"hang":true}`)
	if _, err := short.Get(srv.URL + "/x"); err == nil {
		t.Errorf("GET with a hang fault = nil error, want a client timeout")
	}

	put(t, srv.URL+"/_sim/faults", `{"reset":true}`)
	if _, err := client.Get(srv.URL + "/x"); err == nil {
		t.Errorf("GET with a reset fault = nil error, want a connection error")
	}

	put(t, srv.URL+"/_sim/faults", `{"truncate":true}`)
	if res, err := client.Get(srv.URL + "/x"); err == nil {
		if _, err := io.ReadAll(res.Body); err == nil {
			t.Errorf("GET with a truncate fault read a whole body, want an unexpected EOF")
		}
	}

	put(t, srv.URL+"/_sim/faults", `{"malformed":true,"path_prefix":"/x"}`)
	res, err = client.Get(srv.URL + "/x")
	if err != nil {
		t.Fatalf("GET with a malformed fault = %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || strings.HasSuffix(string(body), "}") {
		t.Errorf("GET with a malformed fault = %d %s, want 200 with broken JSON", res.StatusCode, body)
	}
	k.SetFault(nil)
	// Only requests that reached the handler were counted inside Wrap: the one
	// after the 503's single use, the delayed one and the truncated one.
	if got := k.Calls.Get("GET /x"); got != 3 {
		t.Errorf("calls counted = %d, want 3", got)
	}
}

func TestClock(t *testing.T) {
	k, srv := newSim(t)
	put(t, srv.URL+"/_sim/clock", `{"now":"2026-11-30T20:59:59Z"}`)
	if got := k.Clock.Now(); !got.Equal(time.Date(2026, 11, 30, 20, 59, 59, 0, time.UTC)) {
		t.Errorf("Clock.Now() = %v, want the fixed time", got)
	}
	put(t, srv.URL+"/_sim/clock", `{"offset":"1s"}`)
	if got := k.Clock.Now(); !got.Equal(time.Date(2026, 11, 30, 21, 0, 0, 0, time.UTC)) {
		t.Errorf("Clock.Now() after +1s = %v, want 21:00:00", got)
	}
	k.Clock.Reset()
	if d := time.Since(k.Clock.Now()); d < -time.Second || d > time.Second {
		t.Errorf("Clock.Now() after Reset is %v away from now", d)
	}
}

// TestFaultRateAndJitter: a fractional rate affects about that share of the
// requests; jitter spreads the added latency.
func TestFaultRateAndJitter(t *testing.T) {
	k := NewKit(7)
	k.SetFault(&Fault{Rate: 0.3, Status: 503})
	hit := 0
	for i := 0; i < 1000; i++ {
		if k.take("/x") != nil {
			hit++
		}
	}
	if hit < 230 || hit > 370 {
		t.Errorf("a 0.3 fault rate hit %d of 1000 requests, want about 300", hit)
	}
	seen := map[time.Duration]bool{}
	for i := 0; i < 50; i++ {
		d := jitter(k, 10*time.Millisecond)
		if d < 0 || d >= 10*time.Millisecond {
			t.Fatalf("jitter(10ms) = %v, want [0, 10ms)", d)
		}
		seen[d] = true
	}
	if len(seen) < 40 {
		t.Errorf("jitter gave %d distinct delays in 50 draws, want them spread", len(seen))
	}
}
