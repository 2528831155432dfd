package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/redistest"
)

// TestServesAllThree runs the three simulators on free loopback ports and
// checks each answers its own protocol, including the /_sim/ control surface.
func TestServesAllThree(t *testing.T) {
	ports := [3]int{redistest.FreePort(t), redistest.FreePort(t), redistest.FreePort(t)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"-addr-garant", fmt.Sprintf("127.0.0.1:%d", ports[0]),
			"-addr-fssp", fmt.Sprintf("127.0.0.1:%d", ports[1]),
			"-addr-fips", fmt.Sprintf("127.0.0.1:%d", ports[2]),
		}, io.Discard)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run() = %v after cancel, want nil", err)
		}
	}()
	get := func(url, auth string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header.Set("Accept", "application/json")
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			return res.StatusCode, string(b)
		}
		t.Fatalf("GET %s: no answer within 10s", url)
		return 0, ""
	}
	for _, tc := range []struct {
		url, auth, want string
	}{
		{fmt.Sprintf("http://127.0.0.1:%d/v2/limits", ports[0]), "Bearer demo-garant-token", `"title"`},
		{fmt.Sprintf("http://127.0.0.1:%d/status?token=demo-fssp-token&task=x", ports[1]), "", `"status":"error"`},
		{fmt.Sprintf("http://127.0.0.1:%d/api/v1/dictionaries/document-types", ports[2]), "demo-fips-key", `"code"`},
		{fmt.Sprintf("http://127.0.0.1:%d/_sim/calls", ports[0]), "", `"GET /v2/limits":1`},
	} {
		if code, body := get(tc.url, tc.auth); code >= 500 || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s = %d %.200s, want a body with %s", tc.url, code, body, tc.want)
		}
	}
}
