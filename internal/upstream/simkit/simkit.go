// Package simkit is the shared machinery of the upstream simulators: an
// injectable clock, per-path call counters and fault injection, with a small
// control surface under /_sim/ so tests, benchmarks and people can drive them
// over HTTP as well as through the Go API.
//
// Control surface (JSON):
//
//	GET    /_sim/calls            {"GET /v2/topic/{topic}": 3, ...} counted by route pattern
//	DELETE /_sim/calls            reset the counters
//	PUT    /_sim/faults           set a Fault (body: Fault JSON); DELETE clears it
//	PUT    /_sim/clock            {"now":"2026-11-30T20:59:59Z"} or {"offset":"36h"}; DELETE resets
//	GET    /_sim/clock            {"now": "..."}
package simkit

import (
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Clock is the simulator's notion of now. The zero value is the real clock.
type Clock struct {
	mu     sync.RWMutex
	fixed  time.Time     // when non-zero, now is fixed here
	offset time.Duration // added to the real time otherwise
}

// Now returns the simulated current time.
func (c *Clock) Now() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.fixed.IsZero() {
		return c.fixed
	}
	return time.Now().Add(c.offset)
}

// Set fixes the clock at t (zero t returns to the real clock).
func (c *Clock) Set(t time.Time) { c.mu.Lock(); c.fixed, c.offset = t, 0; c.mu.Unlock() }

// Advance moves the clock forward by d, fixed or not.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	if !c.fixed.IsZero() {
		c.fixed = c.fixed.Add(d)
	} else {
		c.offset += d
	}
	c.mu.Unlock()
}

// Reset returns to the real clock.
func (c *Clock) Reset() { c.Set(time.Time{}) }

// Counter counts calls by route key ("GET /v2/topic/{topic}").
type Counter struct {
	mu sync.Mutex
	m  map[string]int
}

// Inc counts one call to key.
func (c *Counter) Inc(key string) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[key]++
	c.mu.Unlock()
}

// Get returns the count for key.
func (c *Counter) Get(key string) int { c.mu.Lock(); defer c.mu.Unlock(); return c.m[key] }

// Total returns the sum of all counts.
func (c *Counter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.m {
		n += v
	}
	return n
}

// Snapshot returns a copy of all counts.
func (c *Counter) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// Reset clears all counts.
func (c *Counter) Reset() { c.mu.Lock(); c.m = nil; c.mu.Unlock() }

// Fault describes what the simulator does wrong. Rate is the share of matching
// requests affected (0 means all). PathPrefix limits the fault to some paths.
type Fault struct {
	PathPrefix string   `json:"path_prefix,omitempty"`
	Rate       float64  `json:"rate,omitempty"`      // 0 or 1: every request; 0.3: 30 %
	Latency    Duration `json:"latency,omitempty"`   // added before answering ("250ms" or nanoseconds)
	Jitter     Duration `json:"jitter,omitempty"`    // plus uniform [0, Jitter)
	Status     int      `json:"status,omitempty"`    // answer this status with Body instead
	Body       string   `json:"body,omitempty"`      // body for Status (default: a short text)
	Hang       bool     `json:"hang,omitempty"`      // never answer until the client gives up
	Reset      bool     `json:"reset,omitempty"`     // cut the connection without an answer
	Malformed  bool     `json:"malformed,omitempty"` // answer 200 with invalid JSON
	Truncate   bool     `json:"truncate,omitempty"`  // send half the real body, then cut
	Remaining  int      `json:"remaining,omitempty"` // > 0: the fault applies this many times, then clears
	applied    int
}

// Kit bundles the clock, counters and faults of one simulator.
type Kit struct {
	Clock Clock
	Calls Counter

	mu    sync.Mutex
	fault *Fault
	rng   *rand.Rand
}

// NewKit returns a Kit with a seeded random source for fault rates.
func NewKit(seed uint64) *Kit { return &Kit{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

// SetFault installs f (nil clears it).
func (k *Kit) SetFault(f *Fault) { k.mu.Lock(); k.fault = f; k.mu.Unlock() }

// take returns the fault to apply to a request for path, if any.
func (k *Kit) take(path string) *Fault {
	k.mu.Lock()
	defer k.mu.Unlock()
	f := k.fault
	if f == nil || !strings.HasPrefix(path, f.PathPrefix) || strings.HasPrefix(path, "/_sim/") {
		return nil
	}
	if k.rng == nil { // a zero Kit
		k.rng = rand.New(rand.NewPCG(1, 2))
	}
	if f.Rate > 0 && f.Rate < 1 && k.rng.Float64() >= f.Rate {
		return nil
	}
	if f.Remaining > 0 {
		f.applied++
		if f.applied >= f.Remaining {
			k.fault = nil
		}
	}
	cp := *f
	return &cp
}

// Wrap returns next behind fault injection and the /_sim/ control surface.
// Counting is left to the simulator, which knows its route patterns: a
// simulator that wants faulted requests counted too counts in a handler
// outside Wrap.
func (k *Kit) Wrap(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/calls", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, k.Calls.Snapshot()) })
	mux.HandleFunc("DELETE /_sim/calls", func(w http.ResponseWriter, r *http.Request) { k.Calls.Reset(); w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("PUT /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		k.SetFault(&f)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) { k.SetFault(nil); w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /_sim/clock", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"now": k.Clock.Now().Format(time.RFC3339Nano)})
	})
	mux.HandleFunc("PUT /_sim/clock", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Now    time.Time `json:"now"`
			Offset string    `json:"offset"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if body.Offset != "" {
			d, err := time.ParseDuration(body.Offset)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			k.Clock.Advance(d)
		} else {
			k.Clock.Set(body.Now)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_sim/clock", func(w http.ResponseWriter, r *http.Request) { k.Clock.Reset(); w.WriteHeader(http.StatusNoContent) })

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_sim/") {
			mux.ServeHTTP(w, r)
			return
		}
		f := k.take(r.URL.Path)
		if f == nil {
			next.ServeHTTP(w, r)
			return
		}
		k.apply(f, w, r, next)
	})
}

func (k *Kit) apply(f *Fault, w http.ResponseWriter, r *http.Request, next http.Handler) {
	if d := time.Duration(f.Latency) + jitter(k, time.Duration(f.Jitter)); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case f.Hang:
		<-r.Context().Done()
		return
	case f.Reset:
		cut(w)
		return
	case f.Status != 0:
		body := f.Body
		if body == "" {
			body = http.StatusText(f.Status)
		}
		if b := strings.TrimSpace(body); strings.HasPrefix(b, "{") || strings.HasPrefix(b, "[") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(body))
		return
	case f.Malformed:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"documents":[{"topic":12345,"name":"Констит`))
		return
	case f.Truncate:
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		for key, v := range rec.header {
			w.Header()[key] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body[:len(rec.body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		cut(w)
		return
	}
	next.ServeHTTP(w, r)
}

func jitter(k *Kit, j time.Duration) time.Duration {
	if j <= 0 {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.rng == nil {
		k.rng = rand.New(rand.NewPCG(1, 2))
	}
	return time.Duration(k.rng.Int64N(int64(j)))
}

// cut closes the client connection without a complete answer.
func cut(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST instead of FIN
	}
	_ = conn.Close()
}

type recorder struct {
	header http.Header
	status int
	body   []byte
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(s int)           { r.status = s }
func (r *recorder) Write(b []byte) (int, error) { r.body = append(r.body, b...); return len(b), nil }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Duration is a time.Duration that reads and writes JSON as "250ms".
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}
