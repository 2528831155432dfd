package fips_test

import (
	"net/http"
	"testing"

	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// TestMatch: a request's method and path find the operation of the route
// table, configured routes included, a literal segment before an id.
func TestMatch(t *testing.T) {
	c, err := fips.New(fips.Config{BaseURL: "https://fips.example/api/v1", OnRejected: func(string) {},
		Routes: map[string]fips.Route{
			fips.OpSubmitApplication: {Path: "/applications/{applicationId}/send"},
			fips.OpUpdateApplication: {Method: http.MethodPatch},
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		want         fips.Resource
		ok           bool
	}{
		{"GET", "/applications", fips.Resource{Op: fips.OpListApplications}, true},
		{"POST", "/applications", fips.Resource{Op: fips.OpCreateApplication}, true},
		{"GET", "/applications/12", fips.Resource{Op: fips.OpGetApplication, ApplicationID: "12"}, true},
		{"PATCH", "/applications/12", fips.Resource{Op: fips.OpUpdateApplication, ApplicationID: "12"}, true},
		{"PUT", "/applications/12", fips.Resource{}, false}, // configured PATCH
		{"GET", "/applications/12/package", fips.Resource{Op: fips.OpGetPackage, ApplicationID: "12"}, true},
		{"POST", "/applications/12/send", fips.Resource{Op: fips.OpSubmitApplication, ApplicationID: "12"}, true},
		{"POST", "/applications/12/package/signature", fips.Resource{}, false}, // the default path, replaced
		{"PUT", "/applications/a%2Fb/documents/7/file", fips.Resource{Op: fips.OpPutDocumentFile, ApplicationID: "a/b", DocumentID: "7"}, true},
		{"GET", "/dictionaries/document-types", fips.Resource{Op: fips.OpListDocumentTypes}, true},
		{"GET", "/applications/12/unknown", fips.Resource{}, false},
		{"GET", "/applications//documents", fips.Resource{}, false},
		{"GET", "/applications/%2E%2E", fips.Resource{}, false},
		{"GET", "/applications/../documents/1", fips.Resource{}, false},
	} {
		got, ok := c.Match(tc.method, tc.path)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Match(%s, %s) = %+v, %v, want %+v, %v", tc.method, tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

// TestLocalPath: a Location of FIPS's base URL, absolute or not, becomes a
// path relative to it; any other is refused.
func TestLocalPath(t *testing.T) {
	c, err := fips.New(fips.Config{BaseURL: "https://fips.example/api/v1", OnRejected: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"/api/v1/applications/5":                     "/applications/5",
		"https://fips.example/api/v1/applications/5": "/applications/5",
		"https://evil.example/api/v1/applications/5": "",
		"/api/v10/applications":                      "",
		"":                                           "",
	} {
		got, ok := c.LocalPath(in)
		if got != want || ok != (want != "") {
			t.Errorf("LocalPath(%q) = %q, %v, want %q", in, got, ok, want)
		}
	}
}
