// Package fips is the client of the FIPS "Registrator" API v1
// (https://kpsrtz.fips.ru/api/v1): applications, their documents, file and
// statement content, detached GOST signatures, the package to sign, the
// submission for registration and the three dictionaries.
//
// FIPS's document publishes no wire format (its Swagger UI does), so every
// operation's method, path, content type, multipart part name and
// signature body shape come from a route table (routes.go: DefaultRoutes,
// all unverified proposals), and the member names of its JSON request
// bodies from a field table (fields.go: DefaultFields), both of which the
// config may override. Ids are internal
// ids or registration numbers, read as strings or numbers and only ever
// path-escaped, never parsed; timestamps are read with or without a zone
// (Moscow time when none); members the types do not name are kept in Extra.
// FIPS may answer any method 207 Multi-Status (multistatus.go).
//
// Content (document files, statements, the package to sign) streams in both
// directions and is never held whole in memory or re-encoded: the bytes a
// client signs are exactly FIPS's bytes. Errors are *apperr.Error with
// Upstream "fips"; a 401 means the tenant's FIPS key expired or was revoked
// and is reported through Config.OnRejected. Errors of a call FIPS may have
// carried out although no success answer came back (a timeout or a cut
// connection after the request was sent, a 5xx other than 503, an unreadable
// 2xx) match ErrOutcomeUnknown, so that a caller creating something knows a
// retry could create it twice.
package fips

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/tenant"
)

// Upstream is the upstream's name in errors, metrics and config.
const Upstream = "fips"

// Operation ids of the contract; they key the route table.
const (
	OpListApplications              = "fipsListApplications"
	OpCreateApplication             = "fipsCreateApplication"
	OpGetApplication                = "fipsGetApplication"
	OpUpdateApplication             = "fipsUpdateApplication"
	OpDeleteApplication             = "fipsDeleteApplication"
	OpGetPackage                    = "fipsGetPackage"
	OpSubmitApplication             = "fipsSubmitApplication"
	OpListDocuments                 = "fipsListDocuments"
	OpCreateDocument                = "fipsCreateDocument"
	OpGetDocument                   = "fipsGetDocument"
	OpUpdateDocument                = "fipsUpdateDocument"
	OpDeleteDocument                = "fipsDeleteDocument"
	OpGetDocumentFile               = "fipsGetDocumentFile"
	OpPutDocumentFile               = "fipsPutDocumentFile"
	OpClearDocumentFile             = "fipsClearDocumentFile"
	OpGetStatement                  = "fipsGetStatement"
	OpPutStatement                  = "fipsPutStatement"
	OpListSignatures                = "fipsListSignatures"
	OpAddSignature                  = "fipsAddSignature"
	OpListApplicantCategories       = "fipsListApplicantCategories"
	OpListApplicantDocumentTypes    = "fipsListApplicantDocumentTypes"
	OpListDocumentTypes             = "fipsListDocumentTypes"
	paramApplication, paramDocument = "applicationId", "documentId"
)

// Config configures a Client.
type Config struct {
	BaseURL string           // e.g. https://kpsrtz.fips.ru/api/v1
	Routes  map[string]Route // operation id → route; missing ones and empty fields: DefaultRoutes
	Fields  Fields           // request body member names; empty ones: DefaultFields
	Timeout time.Duration    // per call, body streaming included; default 60s
	// Transport carries the calls, typically metrics.Upstream.Transport("fips", …);
	// nil: a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Redis caches the dictionaries for DictionaryTTL (default 1h); nil: no cache.
	Redis         redis.UniversalClient
	DictionaryTTL time.Duration
	RedisTimeout  time.Duration // per cache call; default 250ms
	// OnRejected is told the name of a credential FIPS rejected (401: the
	// key expired or was revoked), typically
	// func(c string) { upstreamMetrics.CredentialRejectedNow("fips", c) }. Required.
	OnRejected func(credential string)
	// OnUnparsed is told each member of an answer to op whose value could
	// not be read (an id that is neither string nor number, a timestamp in
	// no known form): it is passed on as FIPS sent it, among the
	// attributes, and counted, typically by
	// func(op, f string) { upstreamMetrics.UnparsedValue("fips", op, f) }.
	// Nil: not counted.
	OnUnparsed func(op, field string)
}

// Client calls FIPS on behalf of a tenant's FIPS credential.
type Client struct {
	base     *url.URL
	routes   map[string]Route
	fields   Fields
	timeout  time.Duration
	http     *http.Client
	rejected func(credential string)
	unparsed func(op, field string)
	dict     dictCache
}

var placeholder = regexp.MustCompile(`\{([^{}]*)\}`)

// New returns a client.
func New(cfg Config) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("fips: base url %q must be an absolute http(s) URL", cfg.BaseURL)
	}
	routes, err := ResolveRoutes(cfg.Routes)
	if err != nil {
		return nil, fmt.Errorf("fips: %w", err)
	}
	fields, err := ResolveFields(cfg.Fields)
	if err != nil {
		return nil, fmt.Errorf("fips: %w", err)
	}
	rt := cfg.Transport
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	if cfg.OnRejected == nil {
		return nil, errors.New("fips: OnRejected is required: a rejected key must show in the credential metrics")
	}
	return &Client{
		base: base, routes: routes, fields: fields, timeout: timeout, rejected: cfg.OnRejected, unparsed: cfg.OnUnparsed,
		// No client-wide timeout: each call's context carries one that also
		// covers streaming its body.
		http: &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // never replay a body or the key elsewhere
		}},
		dict: newDictCache(cfg.Redis, cfg.DictionaryTTL, cfg.RedisTimeout),
	}, nil
}

// ids are the path parameters of one call.
type ids struct{ app, doc string }

// url builds the upstream URL of op with its parameters path-escaped.
func (c *Client) url(op string, p ids, query url.Values) (string, error) {
	var bad error
	path := placeholder.ReplaceAllStringFunc(c.routes[op].Path, func(m string) string {
		v := p.app
		if m == "{"+paramDocument+"}" {
			v = p.doc
		}
		if v == "" || v == "." || v == ".." {
			bad = apperr.InvalidField("path."+strings.Trim(m, "{}"), "must be an id or a registration number")
		}
		return url.PathEscape(v)
	})
	if bad != nil {
		return "", bad
	}
	u := c.base.String() + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return u, nil
}

// call is one upstream request; its method and path are op's route.
type call struct {
	op          string
	ids         ids
	query       url.Values
	body        io.Reader
	contentType string
	identity    bool // content: ask for it unencoded, so lengths pass through
}

// send performs a call with the credential's key and returns the response
// when FIPS answered 2xx. The response body must be closed; closing it also
// ends the call's timeout.
func (c *Client) send(ctx context.Context, cred *tenant.Credential, k call) (*http.Response, error) {
	u, err := c.url(k.op, k.ids, k.query)
	if err != nil {
		return nil, err
	}
	// The credential's name travels with the request for the upstream guard.
	ctx, cancel := context.WithTimeout(tenant.WithCredential(ctx, cred.Name), c.timeout)
	req, err := http.NewRequestWithContext(ctx, c.routes[k.op].Method, u, k.body)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("fips: %s: build request: %w", k.op, err)
	}
	if k.contentType != "" {
		req.Header.Set("Content-Type", k.contentType)
	}
	req.Header.Set("Accept", "application/json, */*")
	if k.identity {
		req.Header.Set("Accept-Encoding", "identity")
	}
	req.Header.Set("Authorization", cred.Secret.Reveal()) // the raw key, no scheme
	res, err := c.http.Do(req)
	if err != nil {
		cancel()
		return nil, transportError(ctx, k.op, err)
	}
	// Never decoded here: with Accept-Encoding set, the transport leaves a
	// Content-Encoding and its bytes alone, and so does the gateway.
	res.Body = &cancelOnClose{ReadCloser: res.Body, cancel: cancel}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		defer res.Body.Close()
		return nil, c.statusError(cred, k.op, res)
	}
	return res, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error { err := c.ReadCloser.Close(); c.cancel(); return err }

// maxJSONBody bounds a JSON answer (attribute lists, not content).
const maxJSONBody = 8 << 20

// doJSON sends in (if any) as JSON of the route's content type and decodes
// a JSON answer into out (if any). A 207 Multi-Status is answered as the
// one outcome it describes (multiOutcome). It returns the status and the
// Location header.
func (c *Client) doJSON(ctx context.Context, cred *tenant.Credential, k call, in, out any) (int, string, error) {
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, "", fmt.Errorf("fips: %s: encode body: %w", k.op, err)
		}
		k.body, k.contentType = bytes.NewReader(b), c.routes[k.op].ContentType
	}
	res, err := c.send(ctx, cred, k)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	status, body := res.StatusCode, io.Reader(io.LimitReader(res.Body, maxJSONBody))
	if status == http.StatusMultiStatus {
		s, raw, err := c.multiOutcome(cred, k.op, res.Body, isList(out))
		if err != nil {
			return 0, "", err
		}
		status, body = s, bytes.NewReader(raw)
	}
	if out != nil && status != http.StatusNoContent {
		dec := json.NewDecoder(body)
		dec.UseNumber()
		if err := dec.Decode(out); err != nil && !(errors.Is(err, io.EOF) && res.StatusCode == http.StatusMultiStatus) {
			return 0, "", unreadable(k.op, err)
		}
		c.countUnread(k.op, out)
	}
	return status, res.Header.Get("Location"), nil
}

// partlyRead is a decoded resource that names the members whose values it
// could not read.
type partlyRead interface{ unreadMembers() []string }

func (a *Application) unreadMembers() []string  { return a.Unread }
func (d *Document) unreadMembers() []string     { return d.Unread }
func (s *Signature) unreadMembers() []string    { return s.Unread }
func (r *Registration) unreadMembers() []string { return r.Unread }
func (e *Entry) unreadMembers() []string        { return e.Unread }

// countUnread tells OnUnparsed about every member of out (a pointer to a
// resource or to a slice of them) that could not be read.
func (c *Client) countUnread(op string, out any) {
	if c.unparsed == nil || out == nil {
		return
	}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				return
			}
			if p, ok := v.Interface().(partlyRead); ok {
				for _, f := range p.unreadMembers() {
					c.unparsed(op, f)
				}
				return
			}
			walk(v.Elem())
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i).Addr())
			}
		}
	}
	walk(reflect.ValueOf(out))
}

// isList reports whether out points to a slice.
func isList(out any) bool {
	if out == nil {
		return false
	}
	t := reflect.TypeOf(out)
	return t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Slice
}

// Resource is what a FIPS Location names: an operation whose route matched
// and the ids in it.
type Resource struct {
	Op            string
	ApplicationID string
	DocumentID    string
}

// ResolveLocation matches a Location FIPS sent against the routes of ops, in
// order, and returns the first that matches with its unescaped ids.
func (c *Client) ResolveLocation(location string, ops ...string) (Resource, bool) {
	u, err := url.Parse(location)
	if err != nil || location == "" {
		return Resource{}, false
	}
	p := u.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		return Resource{}, false
	}
	p = strings.TrimPrefix(p, c.base.EscapedPath())
	for _, op := range ops {
		if r, ok := matchRoute(c.routes[op].Path, p); ok {
			r.Op = op
			return r, true
		}
	}
	return Resource{}, false
}

func matchRoute(tmpl, escapedPath string) (Resource, bool) {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(escapedPath, "/")
	if len(ts) != len(ps) {
		return Resource{}, false
	}
	var r Resource
	for i, t := range ts {
		if !strings.HasPrefix(t, "{") {
			if t != ps[i] {
				return Resource{}, false
			}
			continue
		}
		v, err := url.PathUnescape(ps[i])
		if err != nil || v == "" {
			return Resource{}, false
		}
		switch t {
		case "{" + paramApplication + "}":
			r.ApplicationID = v
		case "{" + paramDocument + "}":
			r.DocumentID = v
		}
	}
	return r, true
}

// Routes returns a copy of the effective route table.
func (c *Client) Routes() map[string]Route { return maps.Clone(c.routes) }

// Fields returns the effective request body member names.
func (c *Client) Fields() Fields { return c.fields }

// Operations returns every operation id, sorted.
func Operations() []string { return slices.Sorted(maps.Keys(DefaultRoutes())) }
