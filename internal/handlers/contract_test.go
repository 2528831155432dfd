package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	apispec "github.com/legalgate/legalgate/api"
)

// contractRouter finds the contract operation of a request, built once.
// It reads the contract as written: the generated code's spec leaves out
// the operations routed by hand (/compat/...).
var contractRouter = sync.OnceValues(func() (routers.Router, error) {
	spec, err := openapi3.NewLoader().LoadFromData(apispec.YAML)
	if err != nil {
		return nil, err
	}
	spec.Servers = nil
	return gorillamux.NewRouter(spec)
})

// maxChecked is how much of a JSON response body the contract check keeps:
// larger bodies, and bodies of other types (files, pages), are checked by
// status and headers only.
const maxChecked = 1 << 20

// serveChecked serves h like httptest.NewServer and checks every answer of
// a contract operation against api/openapi.yaml (status, headers, body):
// a drift fails the test that caused it, and so does an answer a handler
// writes on a connection it took over (a parked long poll), read back from
// the bytes it writes. Answers to requests outside the contract (Swagger UI
// assets, unknown routes) are not checked, nor answers written after the
// test ended.
func serveChecked(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	router, err := contractRouter()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := t.(*testing.T); !ok {
		// A fuzz target makes its own checks (and may not fail from a
		// server goroutine).
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv
	}
	var mu sync.Mutex
	ended := false
	t.Cleanup(func() { mu.Lock(); ended = true; mu.Unlock() })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probe := r.Clone(context.Background())
		probe.Body = http.NoBody
		rec := &recorder{ResponseWriter: w}
		rec.onHijacked = func(status int, header http.Header, body []byte) {
			mu.Lock()
			defer mu.Unlock()
			if ended {
				return
			}
			if err := contractErr(router, probe, status, header, body, !jsonType(header.Get("Content-Type"))); err != nil {
				t.Errorf("contract: %s %s answered %d %q on a parked connection, which the contract does not allow: %v",
					probe.Method, probe.URL.Path, status, truncate(string(body), 300), err)
			}
		}
		h.ServeHTTP(rec, r)
		if rec.hijacked || rec.status == 0 {
			return
		}
		if err := contractErr(router, probe, rec.status, rec.Header().Clone(), rec.body.Bytes(), rec.overflow); err != nil {
			t.Errorf("contract: %s %s answered %d %q, which the contract does not allow: %v",
				probe.Method, probe.URL.Path, rec.status, truncate(rec.body.String(), 300), err)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// contractErr checks one answer to req against the contract; nil for a
// request outside it. skipBody checks status and headers only.
func contractErr(router routers.Router, req *http.Request, status int, header http.Header, body []byte, skipBody bool) error {
	route, params, err := router.FindRoute(req)
	if err != nil {
		return nil // not a contract operation
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
			ExcludeResponseBody:   skipBody || req.Method == http.MethodHead,
		},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	if skipBody && req.Method != http.MethodHead && len(body) > 0 {
		// kin-openapi checks the content type only with the body.
		return contentTypeErr(route, status, header)
	}
	return nil
}

// contentTypeErr checks that an answer's Content-Type is one the
// contract lists for its status (nil when the contract lists none).
func contentTypeErr(route *routers.Route, status int, header http.Header) error {
	ref := route.Operation.Responses.Status(status)
	if ref == nil {
		ref = route.Operation.Responses.Default()
	}
	if ref == nil || ref.Value == nil || len(ref.Value.Content) == 0 {
		return nil
	}
	ct := header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || ref.Value.Content.Get(mt) == nil {
		return fmt.Errorf("Content-Type %q is not one the contract lists for %d", ct, status)
	}
	return nil
}

// TestContractCheckCatchesDrift: the check serveChecked runs refuses
// answers the contract does not describe.
func TestContractCheckCatchesDrift(t *testing.T) {
	router, err := contractRouter()
	must(t, err)
	req := httptest.NewRequest("GET", "/v1/quotas", nil)
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	problem := http.Header{"Content-Type": {"application/problem+json"}}
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		ok     bool
	}{
		{"a problem", 401, problem, `{"type":"about:blank","title":"Unauthorized","status":401,"request_id":"r1"}`, true},
		{"an undocumented status", 418, problem, `{"type":"about:blank","title":"Teapot","status":418,"request_id":"r1"}`, false},
		{"a body of the wrong shape", 200, jsonCT, `{"quotas":"none"}`, false},
		{"a wrong content type", 200, http.Header{"Content-Type": {"text/plain"}}, `ok`, false},
	} {
		if err := contractErr(router, req, tc.status, tc.header, []byte(tc.body), false); (err == nil) != tc.ok {
			t.Errorf("%s: contractErr = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	// A file's body is not checked, its content type is.
	export := httptest.NewRequest("GET", "/v1/garant/topics/12345/export/pdf", nil)
	for ct, ok := range map[string]bool{"application/pdf": true, "text/html; charset=utf-8": false} {
		if err := contractErr(router, export, 200, http.Header{"Content-Type": {ct}}, []byte("%PDF-1.4"), true); (err == nil) != ok {
			t.Errorf("an export answered as %s: contractErr = %v, want ok %v", ct, err, ok)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// recorder passes a response through and keeps its status and the start
// of its body.
type recorder struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	overflow bool
	hijacked bool
	// onHijacked is called with the first answer written on the connection
	// once a handler took it over.
	onHijacked func(status int, header http.Header, body []byte)
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if !r.overflow && !r.jsonBody() {
		r.overflow = true // files and pages: status and headers only
	}
	if !r.overflow {
		if r.body.Len()+len(b) > maxChecked {
			r.overflow = true
		} else {
			r.body.Write(b)
		}
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) jsonBody() bool { return jsonType(r.Header().Get("Content-Type")) }

func jsonType(ct string) bool {
	return strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "application/problem+json")
}

func (r *recorder) Flush() { http.NewResponseController(r.ResponseWriter).Flush() }

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.hijacked = true
	c, brw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err != nil || r.onHijacked == nil {
		return c, brw, err
	}
	return &answerConn{Conn: c, done: r.onHijacked}, brw, nil
}

// answerConn is a connection a handler took over: it reads the first
// answer back from the bytes written on it and hands it to done once whole.
type answerConn struct {
	net.Conn
	mu      sync.Mutex
	written bytes.Buffer
	done    func(status int, header http.Header, body []byte) // nil once called
}

func (c *answerConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if c.done != nil {
		c.written.Write(b)
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(c.written.Bytes())), nil)
		if err == nil {
			body, err := io.ReadAll(res.Body)
			if err == nil {
				done := c.done
				c.done = nil
				done(res.StatusCode, res.Header, body)
			}
		}
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// Unwrap lets http.ResponseController reach deadlines and full duplex.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
