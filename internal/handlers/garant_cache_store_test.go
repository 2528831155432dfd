package handlers_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/cache"
	"github.com/legalgate/legalgate/internal/garantsvc"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// storing matches a cache store: the only cache command sent with []byte
// arguments (the entry's head and body).
func storing(args []any) bool {
	for _, a := range args {
		if _, ok := a.([]byte); ok {
			return true
		}
	}
	return false
}

// TestGarantMissStoredBeforeAnswer: a miss's answer goes back once its
// Redis store is written: with the store held up, the caller waits; once it
// lands, another replica hits the stored answer without calling Garant.
func TestGarantMissStoredBeforeAnswer(t *testing.T) {
	hold := newRedisGate(storing)
	env := newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		rdb := redis.NewClient(d.Redis.(*redis.Client).Options())
		t.Cleanup(func() { rdb.Close() })
		rdb.AddHook(hold)
		store, err := cache.New(rdb, cache.Config{Timeout: 10 * time.Second}, nil)
		must(t, err)
		d.Garant.Cache = store
	})
	t.Cleanup(func() {
		select {
		case <-hold.release:
		default:
			close(hold.release)
		}
	})
	other := env.replica(t)
	path := "/v1/garant/topics/10900200"
	type answer struct {
		status int
		h      http.Header
		body   []byte
	}
	first := make(chan answer, 1)
	go func() {
		status, h, body := send(t, env.Server, "GET", path, keyAlpha, nil)
		first <- answer{status, h, body}
	}()
	<-hold.entered
	select {
	case a := <-first:
		t.Fatalf("miss = %d %q before its store was written, want it to wait", a.status, a.h.Get("Cache-Status"))
	case <-time.After(200 * time.Millisecond):
	}
	close(hold.release)
	a := <-first
	if a.status != 200 || a.h.Get("Cache-Status") != cache.StatusStored {
		t.Fatalf("miss = %d %q %.200s, want 200 stored", a.status, a.h.Get("Cache-Status"), a.body)
	}
	if status, h, body := send(t, other, "GET", path, keyAlpha, nil); status != 200 || h.Get("Cache-Status") != cache.StatusHit || !bytes.Equal(body, a.body) {
		t.Errorf("another replica = %d %q, want a hit with the same body", status, h.Get("Cache-Status"))
	}
	if n := env.sim.Kit.Calls.Get("GET /v2/topic/{topic}"); n != 1 {
		t.Errorf("upstream calls = %d, want 1", n)
	}
}

// TestGarantLargeFileStreamed: a cacheable export whose Content-Length is
// over the cache's MaxEntryBytes is streamed to the client as Garant sends
// it (the first half arrives while Garant still holds back the second),
// with its length, and is not stored; one under the cap is read, stored and
// served from the cache.
func TestGarantLargeFileStreamed(t *testing.T) {
	const maxEntry = 8 << 10
	big := bytes.Repeat([]byte("%PDF-1.4 large "), 64<<10/15)
	small := []byte("%PDF-1.4 small")
	release := make(chan struct{})
	var calls atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body := small
		if r.URL.Path == "/v2/topic/1/download-pdf" {
			body = big
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		half := len(body) / 2
		_, _ = w.Write(body[:half])
		w.(http.Flusher).Flush()
		if len(body) > maxEntry {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		_, _ = w.Write(body[half:])
	}))
	t.Cleanup(origin.Close)
	env := newGarantEnv(t, simConfig(), func(d *handlers.Deps) {
		c, err := garant.New(garant.Config{BaseURL: origin.URL, Timeout: 10 * time.Second})
		must(t, err)
		store, err := cache.New(d.Redis, cache.Config{MaxEntryBytes: maxEntry}, prometheus.NewRegistry())
		must(t, err)
		d.Garant = &garantsvc.Service{Client: c, Cache: store}
	})

	req, err := http.NewRequest("GET", env.URL+"/v1/garant/topics/1/export/pdf", nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+keyAlpha)
	res, err := env.Client().Do(req)
	must(t, err)
	defer res.Body.Close()
	if res.StatusCode != 200 || res.ContentLength != int64(len(big)) || res.Header.Get("Cache-Status") != cache.StatusMiss {
		t.Fatalf("large export = %d, length %d, Cache-Status %q; want 200, %d, %q", res.StatusCode, res.ContentLength,
			res.Header.Get("Cache-Status"), len(big), cache.StatusMiss)
	}
	head := make(chan error, 1)
	got := make([]byte, len(big)/2)
	go func() { _, err := io.ReadFull(res.Body, got); head <- err }()
	select {
	case err := <-head:
		must(t, err)
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("the first half of a large export did not arrive before Garant sent the rest: it was buffered")
	}
	close(release)
	rest, err := io.ReadAll(res.Body)
	must(t, err)
	if !bytes.Equal(append(got, rest...), big) {
		t.Errorf("large export body differs: %d bytes, want %d", len(got)+len(rest), len(big))
	}

	for i, want := range []string{cache.StatusStored, cache.StatusHit} {
		status, h, body := env.send(t, "GET", "/v1/garant/topics/2/export/pdf", keyAlpha, nil)
		if status != 200 || !bytes.Equal(body, small) || h.Get("Cache-Status") != want {
			t.Errorf("small export #%d = %d %q %q, want 200 %q", i, status, h.Get("Cache-Status"), body, want)
		}
	}
	keys, err := env.Redis.Client(t).Keys(context.Background(), "lg:gc:*").Result()
	must(t, err)
	if len(keys) != 1 {
		t.Errorf("cache keys = %v, want only the small export's entry (no large entry, no fill lock)", keys)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("origin calls = %d, want 2", n)
	}
}
