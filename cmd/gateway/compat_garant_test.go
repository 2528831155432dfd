package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// TestDemoGarantCompat: a client written for Garant, pointed at the demo's
// /compat/garant with a tenant key, works unchanged: the search body public
// clients send, Garant's bare-array limits, and a document whose /compat
// answer paid for the /v1 one.
func TestDemoGarantCompat(t *testing.T) {
	base, _ := startGateway(t, nil, nil)
	send := func(method, path, body string) (int, http.Header, []byte) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+config.DemoKeyAlpha)
		req.Header.Set("Accept", "application/json")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, b
	}

	status, _, body := send("POST", "/compat/garant/v2/search", `{"text":"трудовой кодекс","page":1,"env":"internet","sort":0,"sortOrder":0}`)
	var found struct {
		Documents []map[string]any
		TotalDocs int
	}
	if status != 200 || json.Unmarshal(body, &found) != nil || len(found.Documents) == 0 || found.Documents[0]["absoluteUrl"] != nil {
		t.Errorf("POST /compat/garant/v2/search = %d %.200s, want Garant's own search result", status, body)
	}
	status, _, body = send("GET", "/compat/garant/v2/limits", "")
	var limits []struct {
		Title string
		Value int
		Names []string
	}
	if status != 200 || json.Unmarshal(body, &limits) != nil || len(limits) == 0 {
		t.Errorf("GET /compat/garant/v2/limits = %d %.200s, want Garant's bare array", status, body)
	}
	status, h, _ := send("GET", fmt.Sprintf("/compat/garant/v2/topic/%d", garantsim.TopicCivilCode), "")
	if status != 200 || h.Get("RateLimit") == "" {
		t.Errorf("GET /compat/garant/v2/topic = %d (RateLimit %q), want 200 and a metered call", status, h.Get("RateLimit"))
	}
	status, h, _ = send("GET", fmt.Sprintf("/v1/garant/topics/%d", garantsim.TopicCivilCode), "")
	if status != 200 || h.Get("RateLimit") != "" {
		t.Errorf("GET /v1/garant/topics after /compat = %d (RateLimit %q), want 200 and nothing spent", status, h.Get("RateLimit"))
	}
}
