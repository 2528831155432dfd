package garant_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// rigTopic is the shape and size (626 bytes) of the perf rig's
// GET /v2/topic/{id} answer (../shared/perf/backend), which bench/gateway.sh
// serves as Garant.
var rigTopic = `{"id":"12345","type":"topic","title":"Loopback proxy baseline topic","status":"published",` +
	`"author":{"id":"u-1029","name":"Jane Example","handle":"jexample"},` +
	`"tags":["gateway","benchmark","json","loopback","baseline"],` +
	`"created_at":"2026-11-22T10:00:00Z","updated_at":"2026-11-22T11:00:00Z",` +
	`"stats":{"views":123456,"likes":789,"comments":42,"shares":7},` +
	`"summary":"` + strings.Repeat("lorem ipsum dolor sit amet ", 7) +
	`","links":{"self":"/v2/topic/12345","comments":"/v2/topic/12345/comments"}}`

// BenchmarkTopic is one Topic call against a local origin serving the rig's
// answer: request, round trip, read and lenient decode.
func BenchmarkTopic(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(rigTopic))
	}))
	defer srv.Close()
	c, err := garant.New(garant.Config{BaseURL: srv.URL, Timeout: 2 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Topic(ctx, token, 12345); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeTopic is the lenient decode of the rig's answer alone.
func BenchmarkDecodeTopic(b *testing.B) {
	raw := []byte(rigTopic)
	b.ReportAllocs()
	for b.Loop() {
		var v garant.TopicInfo
		if err := json.Unmarshal(raw, &v); err != nil {
			b.Fatal(err)
		}
	}
}
