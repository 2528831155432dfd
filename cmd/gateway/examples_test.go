package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	apispec "github.com/legalgate/legalgate/api"
	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
)

// exampleCall is one operation of the contract as Swagger UI's "Try it out"
// sends it: every parameter that has an example (or a default) filled in, the
// request body's example, the demo key as the bearer token.
type exampleCall struct {
	op, method, path string
	header           http.Header
	body             []byte
	want             int    // the status the demo answers
	why              string // why want is not a success status, if it is not
}

// notFromExamples are the operations that cannot succeed from the contract's
// examples alone, with the documented answer they give instead and why.
var notFromExamples = map[string]struct {
	status int
	why    string
}{
	"fsspGetTask":                 {http.StatusNotFound, "task ids are made by a search (its Location header); the example id names no task"},
	"redeliverWebhook":            {http.StatusNotFound, "delivery ids are made by a callback (GET /v1/webhooks/deliveries lists them); the example id names no delivery"},
	"compatFsspStatus":            {http.StatusNotFound, "task ids are made by a search (its response.task); the example id names no task"},
	"compatFsspResult":            {http.StatusNotFound, "task ids are made by a search (its response.task); the example id names no task"},
	"compatFipsDeleteApplication": {http.StatusNotFound, "the example names no object, so that trying it out destroys or submits nothing (the /v1 operation's example does it to a seeded object of its own)"},
	"compatFipsDeleteDocument":    {http.StatusNotFound, "the example names no object, so that trying it out destroys or submits nothing (the /v1 operation's example does it to a seeded object of its own)"},
	"compatFipsClearDocumentFile": {http.StatusNotFound, "the example names no object, so that trying it out destroys or submits nothing (the /v1 operation's example does it to a seeded object of its own)"},
	"compatFipsSubmitApplication": {http.StatusNotFound, "the example names no object, so that trying it out destroys or submits nothing (the /v1 operation's example does it to a seeded object of its own)"},
	"deleteGarantWatch":           {http.StatusNotFound, "watch ids are made by POST /v1/garant/watches; the example id names no watch"},
}

// exampleUploads are the files a user picks by hand for the multipart
// operations (a file part has no example in OpenAPI 3.0).
var exampleUploads = map[string]struct{ name, contentType string }{
	"fipsPutDocumentFile": {"payment.pdf", "application/pdf"},
	"fipsPutStatement":    {"statement.xml", "application/xml"},
	// FIPS's own shapes take the same files.
	"compatFipsPutDocumentFile": {"payment.pdf", "application/pdf"},
	"compatFipsPutStatement":    {"statement.xml", "application/xml"},
}

func exampleUploadBody(op string) []byte {
	if op == "fipsPutStatement" || op == "compatFipsPutStatement" {
		return fipssim.SampleStatement("TradeMark", "ООО «Ромашка»", "ВЕКТОР")
	}
	return []byte("%PDF-1.4\n1 0 obj << /Title (payment) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
}

// TestContractExamples calls every operation of api/openapi.yaml with its
// example values against the demo (run() with no config), and against the
// compose stack's configuration (as TestREADMETryIt runs it), and expects
// the documented success status, or the documented answer notFromExamples
// names. Every GET is repeated as HEAD, which must answer the same status
// without a body. Reads run first, then writes, the submission, and
// deletions last, as a person trying the operations out would (the
// destructive examples name seeded objects of their own).
func TestContractExamples(t *testing.T) {
	calls := contractExamples(t)
	if len(calls) < 50 {
		t.Fatalf("%d operations with examples, want every operation of the contract", len(calls))
	}
	t.Run("demo", func(t *testing.T) {
		t.Parallel()
		base, _ := startGateway(t, nil, nil)
		checkExamples(t, calls, base)
	})
	t.Run("compose", func(t *testing.T) {
		t.Parallel()
		base, _ := startGateway(t, []string{"-config", composeConfig(t)}, composeEnv(t))
		checkExamples(t, calls, base)
	})
}

// checkExamples makes calls against base in their order.
func checkExamples(t *testing.T, calls []exampleCall, base string) {
	t.Helper()
	// FSSP searches wait (Prefer: wait=20) for the simulator's tasks, several
	// seconds each: they run side by side, the rest one after another.
	var wg sync.WaitGroup
	for i, c := range calls {
		if strings.HasPrefix(c.op, "fssp") {
			wg.Go(func() { c.check(t, base) })
		} else {
			c.check(t, base)
		}
		if i+1 == len(calls) || phase(calls[i+1]) != phase(c) {
			wg.Wait()
		}
	}
}

// check makes the call (and, for a GET, the same call as HEAD) and reports
// an unexpected answer.
func (c exampleCall) check(t *testing.T, base string) {
	status, body, err := c.retried(base, c.method)
	if err != nil {
		t.Errorf("%s (%s %s): %v", c.op, c.method, c.path, err)
		return
	}
	if status != c.want {
		t.Errorf("%s (%s %s) with the examples = %d, want %d%s\n%.400s", c.op, c.method, c.path, status, c.want, c.reason(), body)
	}
	if c.method != http.MethodGet {
		return
	}
	head, body, err := c.retried(base, http.MethodHead)
	if err != nil || head != status || len(body) != 0 {
		t.Errorf("HEAD %s = %d with %d bytes (%v), want GET's %d without a body", c.path, head, len(body), err, status)
	}
}

// retried is do, sent again (as a person would) while the demo's fair
// share of Garant answers 429: the examples call Garant's unmetered
// operations faster than a tenant's 5 a second (fairness.rates.garant).
func (c exampleCall) retried(base, method string) (int, []byte, error) {
	status, body, err := c.do(base, method)
	for i := 0; err == nil && status == http.StatusTooManyRequests && c.want != status && i < 5; i++ {
		time.Sleep(time.Second)
		status, body, err = c.do(base, method)
	}
	return status, body, err
}

func (c exampleCall) reason() string {
	if c.why == "" {
		return ""
	}
	return " (" + c.why + ")"
}

func (c exampleCall) do(base, method string) (int, []byte, error) {
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+c.path, body)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, b, err
}

// contractExamples builds one call per operation, in the order they run.
func contractExamples(t *testing.T) []exampleCall {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(apispec.YAML)
	if err != nil {
		t.Fatal(err)
	}
	var calls []exampleCall
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			c, err := exampleFor(path, method, item, op, doc.Security)
			if err != nil {
				t.Errorf("%s (%s %s): %v", op.OperationID, method, path, err)
				continue
			}
			calls = append(calls, c)
		}
	}
	sort.Slice(calls, func(i, j int) bool {
		pi, pj := phase(calls[i]), phase(calls[j])
		if pi != pj {
			return pi < pj
		}
		if pi == 3 { // deletions: the innermost resource first
			return len(calls[i].path) > len(calls[j].path)
		}
		return calls[i].op < calls[j].op
	})
	return calls
}

func phase(c exampleCall) int {
	switch {
	case c.method == http.MethodGet:
		return 0
	case c.op == "fipsSubmitApplication": // a submitted application takes no more changes
		return 2
	case c.method == http.MethodDelete:
		return 3
	}
	return 1
}

func exampleFor(path, method string, item *openapi3.PathItem, op *openapi3.Operation, security openapi3.SecurityRequirements) (exampleCall, error) {
	c := exampleCall{op: op.OperationID, method: method, header: http.Header{}}
	if op.Security != nil {
		security = *op.Security
	}
	// Operation parameters override the path item's of the same name and place.
	params := map[string]*openapi3.Parameter{}
	for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, p := range list {
			params[p.Value.In+" "+p.Value.Name] = p.Value
		}
	}
	query := url.Values{}
	filled := path
	for _, p := range params {
		v, ok := paramExample(p)
		if !ok {
			if p.Required {
				return c, fmt.Errorf("required %s parameter %q has no example", p.In, p.Name)
			}
			continue
		}
		switch p.In {
		case openapi3.ParameterInPath:
			filled = strings.ReplaceAll(filled, "{"+p.Name+"}", url.PathEscape(v))
		case openapi3.ParameterInQuery:
			query.Set(p.Name, v)
		case openapi3.ParameterInHeader:
			c.header.Set(p.Name, v)
		}
	}
	if strings.Contains(filled, "{") {
		return c, fmt.Errorf("path %s has a parameter without an example", filled)
	}
	if err := c.authorize(security, query); err != nil {
		return c, err
	}
	c.path = filled
	if len(query) > 0 {
		c.path += "?" + query.Encode()
	}
	if op.RequestBody != nil {
		if err := c.setBody(op.RequestBody.Value); err != nil {
			return c, err
		}
	}
	if x, ok := notFromExamples[c.op]; ok {
		if op.Responses.Status(x.status) == nil {
			return c, fmt.Errorf("the expected %d is not a documented response", x.status)
		}
		c.want, c.why = x.status, x.why
		return c, nil
	}
	for code := 200; code < 300; code++ {
		if op.Responses.Status(code) != nil {
			c.want = code
			return c, nil
		}
	}
	return c, fmt.Errorf("no documented success status")
}

// authorize puts the demo key where the operation's security scheme takes
// it, as Swagger UI does once the key is entered under "Authorize": a bearer
// token, FSSP's query token (fsspToken) or the raw Authorization header of
// FIPS (fipsKey). An operation without security is sent no key.
func (c *exampleCall) authorize(security openapi3.SecurityRequirements, query url.Values) error {
	if len(security) == 0 {
		return nil
	}
	for scheme := range security[0] {
		switch scheme {
		case "bearerAuth":
			c.header.Set("Authorization", "Bearer "+config.DemoKeyAlpha)
		case "fsspToken":
			query.Set("token", config.DemoKeyAlpha)
		case "fipsKey":
			c.header.Set("Authorization", config.DemoKeyAlpha)
		default:
			return fmt.Errorf("security scheme %q: this test does not know where it takes the key", scheme)
		}
	}
	return nil
}

// paramExample is what Swagger UI fills a parameter's field with: its
// example, else its schema's example or default.
func paramExample(p *openapi3.Parameter) (string, bool) {
	v := p.Example
	if v == nil && len(p.Examples) > 0 {
		names := make([]string, 0, len(p.Examples))
		for name := range p.Examples {
			names = append(names, name)
		}
		slices.Sort(names)
		v = p.Examples[names[0]].Value.Value
	}
	if v == nil && p.Schema != nil && p.Schema.Value != nil {
		v = p.Schema.Value.Example
		if v == nil {
			v = p.Schema.Value.Default
		}
	}
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	default:
		b, _ := json.Marshal(x)
		return string(b), true
	}
}

func (c *exampleCall) setBody(rb *openapi3.RequestBody) error {
	if mt := rb.Content.Get("application/json"); mt != nil {
		ex := mt.Example
		if ex == nil {
			return fmt.Errorf("the JSON request body has no example (Swagger UI would make one up from the schema)")
		}
		b, err := json.Marshal(ex)
		if err != nil {
			return err
		}
		c.body = b
		c.header.Set("Content-Type", "application/json")
		return nil
	}
	mt := rb.Content.Get("multipart/form-data")
	if mt == nil {
		return fmt.Errorf("a request body that is neither JSON nor multipart")
	}
	up, ok := exampleUploads[c.op]
	if !ok {
		return fmt.Errorf("a multipart body with no file in exampleUploads")
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for name, prop := range mt.Schema.Value.Properties {
		if prop.Value.Format != "binary" {
			if prop.Value.Example != nil {
				if err := w.WriteField(name, fmt.Sprint(prop.Value.Example)); err != nil {
					return err
				}
			}
			continue
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, name, up.name))
		h.Set("Content-Type", up.contentType)
		part, err := w.CreatePart(h)
		if err != nil {
			return err
		}
		if _, err := part.Write(exampleUploadBody(c.op)); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	c.body = buf.Bytes()
	c.header.Set("Content-Type", w.FormDataContentType())
	return nil
}
