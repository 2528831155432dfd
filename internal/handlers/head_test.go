package handlers_test

import (
	"io"
	"strings"
	"testing"
)

// TestHeadAsGet: HEAD answers wherever GET does, with GET's status and
// headers and no body, through the same auth and validation; a route without
// GET still answers 405.
func TestHeadAsGet(t *testing.T) {
	g := newGateway(t, nil)
	for _, tc := range []struct {
		path, key string
		want      int
	}{
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/openapi.json", "", 200},
		{"/openapi.yaml", "", 200},
		{"/docs", "", 200},
		{"/docs/swagger-ui-bundle.js", "", 200},
		{"/v1/quotas", keyAlpha, 200},
		{"/v1/quotas", "", 401},                // auth still applies
		{"/v1/garant/topics/0", keyAlpha, 400}, // and contract validation
		{"/v1/fips/applications", keyNoCreds, 403},
		{"/v1/garant/search", keyAlpha, 405}, // POST only
		{"/v1/nothing", keyAlpha, 404},
	} {
		get := g.do(t, "GET", tc.path, tc.key, nil)
		getBody, _ := io.ReadAll(get.Body)
		head := g.do(t, "HEAD", tc.path, tc.key, nil)
		headBody, _ := io.ReadAll(head.Body)
		if head.StatusCode != tc.want || get.StatusCode != tc.want && tc.want != 405 {
			t.Errorf("HEAD %s = %d (GET %d), want %d", tc.path, head.StatusCode, get.StatusCode, tc.want)
		}
		if len(headBody) != 0 {
			t.Errorf("HEAD %s has a %d-byte body, want none", tc.path, len(headBody))
		}
		if tc.want != 405 && head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Errorf("HEAD %s Content-Type = %q, want GET's %q", tc.path, head.Header.Get("Content-Type"), get.Header.Get("Content-Type"))
		}
		if tc.want == 200 && len(getBody) == 0 {
			t.Errorf("GET %s has no body", tc.path)
		}
	}
	if logs := g.Logs.String(); !strings.Contains(logs, `"method":"HEAD"`) {
		t.Errorf("the access log does not record HEAD requests as HEAD")
	}
}
