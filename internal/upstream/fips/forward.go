package fips

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/legalgate/legalgate/internal/tenant"
)

// Match finds the operation of the route table that a request for FIPS's
// own API takes: method and escapedPath (relative to the base URL, e.g.
// /applications/12/documents) matched against every route, in operation id
// order, a route with more literal segments first (/applications/{id}/package
// before a route whose {id} would take "package"). An id "." or ".." matches
// no route. The ids in the path are returned unescaped.
func (c *Client) Match(method, escapedPath string) (Resource, bool) {
	var best Resource
	bestLiterals := -1
	for _, op := range slices.Sorted(maps.Keys(c.routes)) {
		rt := c.routes[op]
		if rt.Method != method {
			continue
		}
		r, ok := matchRoute(rt.Path, escapedPath)
		if ok && (dotSegment(r.ApplicationID) || dotSegment(r.DocumentID)) {
			continue // never a way out of the route table's paths
		}
		if n := strings.Count(rt.Path, "/") - strings.Count(rt.Path, "{"); ok && n > bestLiterals {
			r.Op = op
			best, bestLiterals = r, n
		}
	}
	return best, bestLiterals >= 0
}

func dotSegment(id string) bool { return id == "." || id == ".." }

// Forward is a request for FIPS's own API passed through as it came.
type Forward struct {
	Op          string      // the operation Match found
	EscapedPath string      // relative to the base URL, as matched
	RawQuery    string      // passed on as it came
	Header      http.Header // the caller's; only the content and cache negotiation headers go on
	Body        io.Reader   // nil without a body; streamed, never buffered
	Length      int64       // the body's length; -1 unknown
}

// forwardHeaders are the caller's headers that go on to FIPS; any other
// (Authorization above all: the tenant's gateway key) does not.
var forwardHeaders = []string{"Accept", "Accept-Encoding", "Accept-Language", "Content-Type",
	"Content-Encoding", "If-Match", "If-None-Match", "If-Modified-Since", "Range"}

// Forward sends f with the credential's key in place of the caller's and
// returns FIPS's answer whatever its status, its body unread and never
// decoded (closing it ends the call's timeout). A 401 is reported as a
// rejected credential. The error is a failure to get any answer, as the
// typed operations report it (ErrOutcomeUnknown when FIPS may have carried
// the request out).
func (c *Client) Forward(ctx context.Context, cred *tenant.Credential, f Forward) (*http.Response, error) {
	u := c.base.String() + f.EscapedPath
	if f.RawQuery != "" {
		u += "?" + f.RawQuery
	}
	ctx, cancel := context.WithTimeout(tenant.WithCredential(ctx, cred.Name), c.timeout)
	req, err := http.NewRequestWithContext(ctx, c.routes[f.Op].Method, u, f.Body)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("fips: %s: build request: %w", f.Op, err)
	}
	if f.Body != nil {
		req.ContentLength = f.Length
	}
	for _, h := range forwardHeaders {
		if v := f.Header.Values(h); len(v) > 0 {
			req.Header[h] = slices.Clone(v)
		}
	}
	if req.Header.Get("Accept-Encoding") == "" {
		// Ask for what the caller would get from FIPS itself: without this
		// the transport would ask for gzip and decode it.
		req.Header.Set("Accept-Encoding", "identity")
	}
	req.Header.Set("Authorization", cred.Secret.Reveal()) // the raw key, no scheme
	res, err := c.http.Do(req)
	if err != nil {
		cancel()
		return nil, transportError(ctx, f.Op, err)
	}
	res.Body = &cancelOnClose{ReadCloser: res.Body, cancel: cancel}
	if res.StatusCode == http.StatusUnauthorized {
		c.rejected(cred.Name)
	}
	return res, nil
}

// LocalPath turns a Location FIPS sent into its path relative to the base
// URL (with its query), or false when it points elsewhere.
func (c *Client) LocalPath(location string) (string, bool) {
	if location == "" {
		return "", false
	}
	base := c.base.EscapedPath()
	rest := location
	if i := strings.Index(location, "://"); i >= 0 {
		origin := c.base.Scheme + "://" + c.base.Host
		if !strings.HasPrefix(location, origin) {
			return "", false
		}
		rest = strings.TrimPrefix(location, origin)
	}
	if !strings.HasPrefix(rest, base+"/") && rest != base {
		return "", false
	}
	return strings.TrimPrefix(rest, base), true
}
