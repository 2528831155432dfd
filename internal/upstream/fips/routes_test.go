package fips_test

import (
	"strings"
	"testing"

	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// TestResolveRoutesRefusesBadPaths: a configured path the gateway could not
// serve is refused at load, naming the field, rather than failing (or
// panicking) when the routes are built.
func TestResolveRoutesRefusesBadPaths(t *testing.T) {
	for path, want := range map[string]string{
		"applications":                          "must start with /",
		"/applications/{nope}":                  "unknown parameter {nope}",
		"/applications/*/documents":             "has a '*'",
		"/applications/{applicationId}/files/*": "has a '*'",
	} {
		_, err := fips.ResolveRoutes(map[string]fips.Route{"fipsGetApplication": {Method: "GET", Path: path}})
		if err == nil || !strings.Contains(err.Error(), "routes.fipsGetApplication.path") || !strings.Contains(err.Error(), want) {
			t.Errorf("ResolveRoutes(path %q) = %v, want an error naming routes.fipsGetApplication.path: %s", path, err, want)
		}
	}
	if _, err := fips.ResolveRoutes(map[string]fips.Route{"fipsGetApplication": {Method: "GET", Path: "/apps/{applicationId}"}}); err != nil {
		t.Errorf("a moved route = %v, want it accepted", err)
	}
}
