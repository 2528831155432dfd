// Package garant is the client of Garant Connect API v2
// (https://api.garant.ru/v2) and of its on-premises variant Garant Proxima
// (<server>/api, no auth, a subset of the methods). It has one typed method per
// upstream method (methods.go), decodes the documented quirks leniently
// (types.go: "number:" and "topic:" keys, relevance as a string, ids as
// numbers or strings, unknown fields ignored) and rewrites the image and
// formula links of exported HTML to the gateway's own routes (rewrite.go).
//
// Every call makes one round trip through Config.Transport: retries of
// 429s, pacing and the circuit breaker belong to that transport
// (internal/upstreamguard), quota accounting to the caller. A refusal of the
// transport itself (an *apperr.Error) is returned as it is. Every failure is an *apperr.Error with
// Upstream "garant"; when Garant answered, an *HTTPError with its status is in
// the chain (StatusOf reads it):
//
//	400       Invalid, with Garant's reason
//	401       UpstreamFailed "upstream credential rejected" (the caller may
//	          refine it: a 401 on one method while /v2/limits works means the
//	          method is not in the tariff)
//	403       Forbidden: the token lacks the permission for the request
//	          (the document's error table, for every method; on Proxima also
//	          a document outside the internal-documents base); Extensions
//	          name the method as "permission"
//	404       NotFound
//	423       QuotaExceeded until the 1st of next month (Moscow time)
//	429       QuotaExceeded, retry after a second
//	5xx       UpstreamFailed; a timeout is UpstreamTimeout
//	2xx       UpstreamFailed or UpstreamTimeout: the answer could not be read
//	          or decoded (cut short, too large, not JSON, a timeout mid-body)
//
// A failure without an *HTTPError never got an answer (Garant could not be
// reached, or did not answer in time); one whose status is 2xx got a success
// answer, so Garant did the work and counted it (Answered reports that).
//
// The token is sent only in the Authorization header and never appears in an
// error.
package garant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/tenant"
)

// Upstream is the upstream name used in errors and metrics.
const Upstream = "garant"

// Method names, as /v2/limits and the tariff name them.
const (
	MethodSearch          = "search"
	MethodSnippets        = "snippets"
	MethodHyperlinks      = "find-hyperlinks"
	MethodDownloadRTF     = "topic/download"
	MethodDownloadODT     = "topic/download-odt"
	MethodDownloadPDF     = "topic/download-pdf"
	MethodTopicHTML       = "topic/html"
	MethodEntryHTML       = "entry/html"
	MethodImage           = "image"
	MethodFormula         = "formula"
	MethodFindModified    = "find-modified"
	MethodBlocksOnControl = "block-on-control/changed"
	MethodPrime           = "prime"
	MethodPrimeNews       = "prime/create-news"
	MethodTopic           = "topic"
	MethodRedactions      = "redactions"
	MethodSutyazhnik      = "sutyazhnik-search"
	MethodLimits          = "limits"
)

// Methods are the Garant methods the client calls: the method names of
// its errors (HTTPError.Method) and of the credential metrics.
var Methods = []string{
	MethodSearch, MethodSnippets, MethodHyperlinks, MethodDownloadRTF, MethodDownloadODT, MethodDownloadPDF,
	MethodTopicHTML, MethodEntryHTML, MethodImage, MethodFormula, MethodFindModified, MethodBlocksOnControl,
	MethodPrime, MethodPrimeNews, MethodTopic, MethodRedactions, MethodSutyazhnik, MethodLimits,
}

// DefaultProximaMethods are the methods Garant Proxima offers when the
// internal-documents base is installed: search, topic info and exports.
var defaultProximaMethods = []string{
	MethodSearch, MethodTopic, MethodDownloadRTF, MethodDownloadODT, MethodDownloadPDF,
	MethodTopicHTML, MethodEntryHTML, MethodImage, MethodFormula,
}

// Config configures a Client.
type Config struct {
	// BaseURL is https://api.garant.ru (paths start with /v2), or for Proxima
	// http://<server>/api (paths are the same without /v2).
	BaseURL string
	// EditionsPath is the path of the editions method, with {topic};
	// default /v2/redactions/{topic} (the path is only likely, see REFERENCE.md).
	EditionsPath string
	// Proxima selects Garant Proxima: no Authorization header and only
	// ProximaMethods (nil: search, topic info and exports).
	Proxima        bool
	ProximaMethods []string
	Transport      http.RoundTripper // nil: http.DefaultTransport (wrap it with metrics.Upstream.Transport)
	Timeout        time.Duration     // per call; 0: 30 s
	MaxBody        int64             // largest JSON answer read; 0: 64 MiB
	Location       *time.Location    // for the 423 reset; nil: Europe/Moscow
}

// Client calls Garant. It is safe for concurrent use.
type Client struct {
	base     string
	editions string
	proxima  bool
	allowed  map[string]bool // Proxima only
	// rt is called directly, not through an http.Client: Garant's answers
	// are never followed as redirects (a 3xx is an upstream error), and the
	// client's per-call header copy and wrapping are saved.
	rt      http.RoundTripper
	timeout time.Duration
	maxBody int64
	loc     *time.Location
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("garant: base URL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	if u.User != nil {
		// The transport is called directly and would not send them; and a
		// URL is no place for a secret (the credential's token is).
		return nil, errors.New("garant: the base URL must not carry a user or password")
	}
	c := &Client{
		base:     strings.TrimSuffix(cfg.BaseURL, "/"),
		editions: cfg.EditionsPath,
		proxima:  cfg.Proxima,
		timeout:  cfg.Timeout,
		maxBody:  cfg.MaxBody,
		loc:      cfg.Location,
	}
	if c.editions == "" {
		c.editions = "/v2/redactions/{topic}"
	}
	if !strings.Contains(c.editions, "{topic}") || !strings.HasPrefix(c.editions, "/") {
		return nil, fmt.Errorf("garant: editions path %q must start with / and contain {topic}", c.editions)
	}
	if c.proxima {
		c.allowed = map[string]bool{}
		methods := cfg.ProximaMethods
		if methods == nil {
			methods = defaultProximaMethods
		}
		for _, m := range methods {
			c.allowed[m] = true
		}
	}
	rt := cfg.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.rt = rt
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	if c.maxBody <= 0 {
		c.maxBody = 64 << 20
	}
	if c.loc == nil {
		if c.loc, err = time.LoadLocation("Europe/Moscow"); err != nil {
			c.loc = time.FixedZone("MSK", 3*60*60)
		}
	}
	return c, nil
}

// Proxima reports whether the client calls Garant Proxima.
func (c *Client) Proxima() bool { return c.proxima }

// Offers reports whether the upstream offers a method (always, except
// methods Proxima lacks).
func (c *Client) Offers(method string) bool { return !c.proxima || c.allowed[method] }

// HTTPError is the cause of a failure after Garant answered: a status other
// than success, or a success whose answer could not be read or decoded (Err
// says why).
type HTTPError struct {
	Method string // e.g. "topic/download"
	Status int
	Reason string // Garant's message, trimmed; or what was wrong with a 2xx answer
	Err    error  // the read or decode failure of a 2xx answer
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("garant: %s: status %d: %s", e.Method, e.Status, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *HTTPError) Unwrap() error { return e.Err }

// StatusOf returns the HTTP status Garant answered in err's chain, or 0 when
// no answer arrived. A failure to read or decode a success answer carries
// that success status (200 for a malformed 200).
func StatusOf(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// Answered reports whether Garant answered err's call with a success status
// before the call failed: Garant did the work (and counted it against its
// quota) even though the answer was lost.
func Answered(err error) bool {
	s := StatusOf(err)
	return s >= 200 && s < 300
}

// path returns the upstream path of a /v2 path for this deployment.
func (c *Client) path(p string) string {
	if c.proxima {
		return strings.TrimPrefix(p, "/v2")
	}
	return p
}

// send makes one request and returns a successful response; anything else is
// an *apperr.Error. The caller closes the body and then calls cancel.
func (c *Client) send(ctx context.Context, token tenant.Secret, method, verb, path string, query url.Values, body any) (*http.Response, context.CancelFunc, error) {
	if !c.Offers(method) {
		return nil, nil, &apperr.Error{Kind: apperr.NotImplemented, Upstream: Upstream,
			Detail: "the configured Garant Proxima server does not offer " + method}
	}
	var rd io.Reader
	st, isStream := body.(streamed) // encoded as it is sent
	switch b := body.(type) {
	case nil:
	case json.RawMessage: // already encoded: sent as is
		rd = bytes.NewReader(b)
	case streamed:
		rd = b.stream()
	default:
		enc, err := json.Marshal(body)
		if err != nil {
			return nil, nil, apperr.Wrap(apperr.Internal, "", fmt.Errorf("garant: %s: encode request: %w", method, err))
		}
		rd = bytes.NewReader(enc)
	}
	u := c.base + c.path(path)
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	cancel := context.CancelFunc(func() {})
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > c.timeout {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	req, err := http.NewRequestWithContext(ctx, verb, u, rd)
	if err != nil {
		cancel()
		return nil, nil, apperr.Wrap(apperr.Internal, "", fmt.Errorf("garant: %s: build request: %w", method, err))
	}
	if isStream {
		req.ContentLength = st.stream().size()
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(st.stream()), nil }
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !c.proxima && !token.IsZero() {
		req.Header.Set("Authorization", "Bearer "+token.Reveal())
	}
	res, err := c.rt.RoundTrip(req)
	if err != nil {
		cancel()
		return nil, nil, transportError(method, err)
	}
	if res.StatusCode/100 != 2 {
		defer cancel()
		defer res.Body.Close()
		return nil, nil, c.statusError(method, res)
	}
	return res, cancel, nil
}

// transportError maps a failure without an answer; the request URL is
// dropped from the message.
func transportError(method string, err error) error {
	if e, ok := apperr.As(err); ok { // the transport's own refusal (internal/upstreamguard): nothing was sent
		return e
	}
	err = unwrapURL(err)
	if isTimeout(err) {
		return &apperr.Error{Kind: apperr.UpstreamTimeout, Upstream: Upstream,
			Detail: "Garant did not answer in time", Err: fmt.Errorf("garant: %s: %w", method, err)}
	}
	return &apperr.Error{Kind: apperr.UpstreamFailed, Upstream: Upstream,
		Detail: "Garant could not be reached", Err: fmt.Errorf("garant: %s: %w", method, err)}
}

// readError maps a failure to read a success answer (status) of method: a
// timeout or a cut connection mid-body.
func readError(method string, status int, err error) error {
	err = unwrapURL(err)
	if isTimeout(err) {
		return badAnswer(method, status, apperr.UpstreamTimeout, "Garant's answer did not arrive in time", err)
	}
	return badAnswer(method, status, apperr.UpstreamFailed, "Garant's answer arrived incomplete", err)
}

// badAnswer is a failure after Garant answered status (2xx): detail says
// what was wrong with the answer, cause why.
func badAnswer(method string, status int, kind apperr.Kind, detail string, cause error) error {
	return &apperr.Error{Kind: kind, Upstream: Upstream, Detail: detail,
		Err: &HTTPError{Method: method, Status: status, Reason: detail, Err: cause}}
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// statusError maps a non-2xx answer.
func (c *Client) statusError(method string, res *http.Response) error {
	he := &HTTPError{Method: method, Status: res.StatusCode, Reason: reason(res.Body)}
	e := &apperr.Error{Upstream: Upstream, Err: he}
	switch s := res.StatusCode; {
	case s == http.StatusBadRequest:
		e.Kind, e.Detail = apperr.Invalid, "Garant rejected the request: "+he.Reason
	case s == http.StatusUnauthorized:
		e.Kind, e.Detail = apperr.UpstreamFailed, "upstream credential rejected"
	case s == http.StatusForbidden:
		e.Kind, e.Type, e.Title = apperr.Forbidden, "upstream-permission-denied", "Upstream permission denied"
		e.Detail = "Garant refused " + method + ": the gateway's Garant credential lacks the permission for this request"
		if c.proxima {
			e.Detail += " (on Garant Proxima: or the document is outside the internal-documents base)"
		}
		e.Extensions = map[string]any{"permission": method}
	case s == http.StatusNotFound:
		e.Kind, e.Detail = apperr.NotFound, "Garant has no such document (or, for PRIME news, no such category)"
	case s == http.StatusRequestEntityTooLarge:
		e.Kind, e.Detail = apperr.TooLarge, "Garant refused the request as too large"
	case s == http.StatusLocked:
		now := time.Now().In(c.loc)
		reset := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, c.loc)
		e.Kind, e.Type, e.Title = apperr.QuotaExceeded, "quota-exceeded", "Quota exceeded"
		e.Detail = "Garant reports the monthly quota of " + method + " exhausted until " + reset.Format(time.RFC3339)
		e.RetryAfter = reset.Sub(now)
		e.Extensions = map[string]any{"scope": "credential", "resets_at": reset.Format(time.RFC3339)}
	case s == http.StatusTooManyRequests:
		e.Kind, e.Detail, e.RetryAfter = apperr.QuotaExceeded, "Garant's rate limit was hit; retry in a second", time.Second
	case s == http.StatusGatewayTimeout || s == http.StatusRequestTimeout:
		e.Kind, e.Detail = apperr.UpstreamTimeout, fmt.Sprintf("Garant answered %d", s)
	default:
		e.Kind, e.Detail = apperr.UpstreamFailed, fmt.Sprintf("Garant answered %d", s)
	}
	return e
}

// reason extracts a short message from an error body: the "error",
// "message" or "detail" member of a JSON object, or the text itself.
func reason(body io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(body, 4<<10))
	var m map[string]any
	if json.Unmarshal(b, &m) == nil {
		for _, k := range []string{"error", "message", "detail", "description"} {
			if s, ok := m[k].(string); ok && s != "" {
				return clip(s)
			}
		}
	}
	return clip(strings.TrimSpace(string(b)))
}

func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	if s == "" {
		s = "no reason given"
	}
	return s
}

// callJSON sends a JSON request (body may be nil) and returns the answer's
// bytes (with room for one more byte) and status.
func (c *Client) callJSON(ctx context.Context, token tenant.Secret, method, verb, path string, body any) ([]byte, int, error) {
	res, cancel, err := c.send(ctx, token, method, verb, path, nil, body)
	if err != nil {
		return nil, 0, err
	}
	defer cancel()
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return nil, 0, badAnswer(method, res.StatusCode, apperr.UpstreamFailed, "Garant answered with an unexpected content type",
				fmt.Errorf("content type %q", ct))
		}
	}
	b, err := readBody(res.Body, res.ContentLength, c.maxBody)
	if err != nil {
		return nil, 0, readError(method, res.StatusCode, err)
	}
	if int64(len(b)) > c.maxBody {
		return nil, 0, badAnswer(method, res.StatusCode, apperr.UpstreamFailed, "Garant's answer is too large",
			fmt.Errorf("answer over %d bytes", c.maxBody))
	}
	return b, res.StatusCode, nil
}

// readBody reads at most limit+1 bytes of body into a buffer sized by the
// announced length (n, -1 when unknown), so a typical answer is read
// without regrowing.
func readBody(body io.Reader, n, limit int64) ([]byte, error) {
	if n < 0 || n > limit {
		return io.ReadAll(io.LimitReader(body, limit+1))
	}
	b := make([]byte, 0, n+1) // +1: room to see EOF without growing
	for int64(len(b)) <= limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := body.Read(b[len(b):min(int64(cap(b)), limit+1)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// File is a binary answer streaming from Garant. Close it. A failure to
// read Body carries the success status (Answered is true): Garant did the
// work.
type File struct {
	Body          io.ReadCloser
	ContentType   string
	ContentLength int64 // -1 when unknown

	method string
	status int
}

// ReadAll reads the whole file into one buffer sized by its length,
// refusing more than limit bytes. It does not close Body.
func (f *File) ReadAll(limit int64) ([]byte, error) {
	tooLarge := func() error {
		return badAnswer(f.method, f.status, apperr.UpstreamFailed, "Garant's file is too large",
			fmt.Errorf("file over %d bytes", limit))
	}
	if f.ContentLength > limit {
		return nil, tooLarge()
	}
	if f.ContentLength >= 0 {
		b := make([]byte, f.ContentLength)
		if _, err := io.ReadFull(f.Body, b); err != nil {
			return nil, f.readErr(err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(f.Body, limit+1))
	if err != nil {
		return nil, f.readErr(err)
	}
	if int64(len(b)) > limit {
		return nil, tooLarge()
	}
	return b, nil
}

// readErr maps a read failure that fileBody has not mapped already (a
// short body: io.ErrUnexpectedEOF).
func (f *File) readErr(err error) error {
	if _, ok := apperr.As(err); ok {
		return err
	}
	return readError(f.method, f.status, err)
}

type fileBody struct {
	io.ReadCloser
	cancel context.CancelFunc
	method string
	status int
}

func (b *fileBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = readError(b.method, b.status, err)
	}
	return n, err
}

func (b *fileBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// file sends a GET for a binary answer.
func (c *Client) file(ctx context.Context, token tenant.Secret, method, path string, query url.Values) (*File, error) {
	res, cancel, err := c.send(ctx, token, method, http.MethodGet, path, query, nil)
	if err != nil {
		return nil, err
	}
	ct := res.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	return &File{Body: &fileBody{ReadCloser: res.Body, cancel: cancel, method: method, status: res.StatusCode},
		ContentType: ct, ContentLength: res.ContentLength, method: method, status: res.StatusCode}, nil
}
