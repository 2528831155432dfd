package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/fssptasks"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
)

// compatFSSPBase is where FSSP's own API v1.0 is served: a client written
// for FSSP changes its base URL to it and its token to a tenant key.
const compatFSSPBase = "/compat/fssp/api/v1.0"

// compatFSSP serves FSSP's own API v1.0 (search/physical, legal, ip, group,
// status, result) on the gateway's task engine: the same tasks, quotas,
// ledger and tenant isolation as /v1/fssp, in FSSP's shapes. The tenant key
// is FSSP's token: a query parameter, or the body's for a group (as FSSP
// takes them). Every answer is FSSP's envelope {status, code, exception,
// response} with the HTTP status as code on an error, written as FSSP's
// simulator writes it; error texts are FSSP's ("invalid token", "invalid
// request params: …", "task not found or expired"). The token is read here
// and nowhere else: never logged, never in a metric or an error.
type compatFSSP struct {
	deps  *Deps
	tasks *fssptasks.Engine
}

// FSSP's search types (the group's request[].type).
const (
	fsspTypePhysical = 1
	fsspTypeLegal    = 2
	fsspTypeIP       = 3
)

var fsspKinds = map[int]string{fsspTypePhysical: fssptasks.KindPhysical, fsspTypeLegal: fssptasks.KindLegal, fsspTypeIP: fssptasks.KindIP}

// nativeEnvelope is FSSP's wrapper of every answer.
type nativeEnvelope struct {
	Status    string `json:"status"`
	Code      int    `json:"code"`
	Exception string `json:"exception"`
	Response  any    `json:"response"`
}

func writeNative(w http.ResponseWriter, status int, v nativeEnvelope) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeNativeOK(w http.ResponseWriter, response any) {
	writeNative(w, http.StatusOK, nativeEnvelope{Status: "success", Response: response})
}

func (c compatFSSP) writeNativeError(w http.ResponseWriter, r *http.Request, status int, kind apperr.Kind, exception string) {
	infoFrom(r.Context()).errKind = kind.String()
	writeNative(w, status, nativeEnvelope{Status: "error", Code: status, Exception: exception, Response: []any{}})
}

// paramsError is FSSP's 400 "invalid request params", with its detail.
func (c compatFSSP) paramsError(w http.ResponseWriter, r *http.Request, detail string) {
	c.writeNativeError(w, r, http.StatusBadRequest, apperr.Invalid, "invalid request params: "+detail)
}

// search serves GET /search/physical, /search/legal and /search/ip.
func (c compatFSSP) search(typ int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead { // HEAD: the same call, as everywhere
			c.writeNativeError(w, r, http.StatusMethodNotAllowed, apperr.MethodNotAllowed, "method not allowed")
			return
		}
		form := r.URL.Query()
		r, t, cred, ok := c.authenticate(w, r, form.Get("token"))
		if !ok {
			return
		}
		q, err := nativeQuery(typ, form.Get)
		if err != nil {
			c.paramsError(w, r, err.Error())
			return
		}
		c.submit(w, r, t, cred, fsspKinds[typ], q)
	}
}

// searchGroup serves POST /search/group: {"token", "request": [{"type",
// "params"}]}, the token in the body, parameters strings or numbers.
func (c compatFSSP) searchGroup(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		c.writeNativeError(w, r, http.StatusMethodNotAllowed, apperr.MethodNotAllowed, "method not allowed")
		return
	}
	var body struct {
		Token   string `json:"token"`
		Request []struct {
			Type   json.RawMessage            `json:"type"`
			Params map[string]json.RawMessage `json:"params"`
		} `json:"request"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.writeNativeError(w, r, http.StatusRequestEntityTooLarge, apperr.TooLarge,
				fmt.Sprintf("request entity too large: at most %d bytes", tooBig.Limit))
			return
		}
		c.paramsError(w, r, "body is not a JSON group request")
		return
	}
	r, t, cred, ok := c.authenticate(w, r, body.Token) // never a GET parameter for a group
	if !ok {
		return
	}
	if len(body.Request) == 0 {
		c.paramsError(w, r, "empty request")
		return
	}
	qs := make([]fssptasks.Query, len(body.Request))
	for i, req := range body.Request {
		var typ int
		if json.Unmarshal(req.Type, &typ) != nil {
			c.paramsError(w, r, fmt.Sprintf("request[%d]: bad type", i))
			return
		}
		params := make(map[string]string, len(req.Params))
		for _, k := range slices.Sorted(mapsKeys(req.Params)) {
			v, ok := groupParam(req.Params[k])
			if !ok {
				c.paramsError(w, r, fmt.Sprintf("request[%d]: %s must be a string or a number", i, k))
				return
			}
			params[k] = v
		}
		q, err := nativeQuery(typ, func(k string) string { return params[k] })
		if err != nil {
			c.paramsError(w, r, fmt.Sprintf("%s (request[%d])", err, i))
			return
		}
		qs[i] = q
	}
	c.submit(w, r, t, cred, fssptasks.KindGroup, qs...)
}

func mapsKeys(m map[string]json.RawMessage) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// groupParam is a group parameter as a GET search would carry it: a
// string as it is, a number as written.
func groupParam(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// authenticate finds the tenant of token and its FSSP credential, or
// answers FSSP's 401 (the gateway's 403 for a tenant without FSSP). The
// returned request carries the tenant.
func (c compatFSSP) authenticate(w http.ResponseWriter, r *http.Request, token string) (*http.Request, *tenant.Tenant, *tenant.Credential, bool) {
	t, ok := authenticateKey(r.Context(), c.deps.Tenants.Load(), strings.TrimSpace(token))
	if !ok {
		c.writeNativeError(w, r, http.StatusUnauthorized, apperr.Unauthenticated, "invalid token")
		return r, nil, nil, false
	}
	infoFrom(r.Context()).tenant = t.ID
	r = r.WithContext(tenant.NewContext(r.Context(), t))
	cred, ok := t.Credential(fssp.Upstream)
	if !ok {
		c.writeNativeError(w, r, http.StatusForbidden, apperr.Forbidden, "forbidden: this key has no FSSP access")
		return r, nil, nil, false
	}
	if c.tasks == nil {
		c.fail(w, r, notBuilt(infoFrom(r.Context()).operation))
		return r, nil, nil, false
	}
	return r, t, cred, true
}

// submit queues the searches as a gateway task and answers its id.
func (c compatFSSP) submit(w http.ResponseWriter, r *http.Request, t *tenant.Tenant, cred *tenant.Credential, kind string, qs ...fssptasks.Query) {
	sub, err := c.tasks.Submit(r.Context(), fssptasks.Submission{Tenant: t.ID, Credential: cred.Name, Token: cred.Secret, Kind: kind, Requests: qs})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for k, v := range sub.Header {
		w.Header()[k] = v
	}
	writeNativeOK(w, map[string]string{"task": sub.Task.ID})
}

// taskRead serves GET /status and /result of a task of the tenant.
func (c compatFSSP) taskRead(answer func(*fssptasks.Task) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			c.writeNativeError(w, r, http.StatusMethodNotAllowed, apperr.MethodNotAllowed, "method not allowed")
			return
		}
		form := r.URL.Query()
		r, t, _, ok := c.authenticate(w, r, form.Get("token"))
		if !ok {
			return
		}
		id := strings.TrimSpace(form.Get("task"))
		if id == "" {
			c.paramsError(w, r, "task is required")
			return
		}
		task, err := c.tasks.Get(r.Context(), t.ID, id)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		writeNativeOK(w, answer(task))
	}
}

// unknown answers a path under the prefix that FSSP does not serve.
func (c compatFSSP) unknown(w http.ResponseWriter, r *http.Request) {
	c.writeNativeError(w, r, http.StatusNotFound, apperr.NotFound, "unknown method")
}

var engineField = regexp.MustCompile(`^body\.(?:requests\.(\d+)\.(?:params\.)?)?`)

// fail answers err in FSSP's envelope with the status errors.go gives its
// kind: a task that is not the tenant's, does not exist or expired is
// FSSP's 404; a spent quota 429 with Retry-After; an upstream failure
// names the request id. Failures are logged as writeError logs them.
func (c compatFSSP) fail(w http.ResponseWriter, r *http.Request, err error) {
	info := infoFrom(r.Context())
	e, status := nativeFailure(r, c.deps.Log, err)
	if e.RetryAfter > 0 && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	for k, v := range e.Header {
		w.Header()[k] = v
	}
	switch {
	case e.Kind == apperr.NotFound || e.Kind == apperr.Gone:
		c.writeNativeError(w, r, http.StatusNotFound, e.Kind, "task not found or expired")
	case e.Kind == apperr.Invalid && len(e.Fields) > 0:
		f := e.Fields[0]
		m := engineField.FindStringSubmatch(f.Field)
		name := engineField.ReplaceAllString(f.Field, "")
		detail := strings.TrimSpace(name + " " + f.Message)
		if len(m) > 1 && m[1] != "" {
			detail += " (request[" + m[1] + "])"
		}
		c.paramsError(w, r, detail)
	case e.Kind == apperr.Invalid:
		c.paramsError(w, r, e.Detail)
	case status >= 500:
		detail := strings.ToLower(http.StatusText(status))
		if e.Detail != "" && e.Kind != apperr.Internal {
			detail += ": " + e.Detail
		}
		c.writeNativeError(w, r, status, e.Kind, detail+" (request id "+info.id+")")
	default:
		detail := strings.ToLower(http.StatusText(status))
		if e.Detail != "" {
			detail += ": " + e.Detail
		}
		c.writeNativeError(w, r, status, e.Kind, detail)
	}
}

// nativeQuery reads one search of FSSP type typ from its parameters as FSSP
// does: required ones in FSSP's order, optional ones sent empty are absent,
// and the texts of FSSP's refusals. The task engine validates it again
// (lengths) before anything is sent or spent.
func nativeQuery(typ int, get func(string) string) (fssptasks.Query, error) {
	kind, ok := fsspKinds[typ]
	if !ok {
		return fssptasks.Query{}, fmt.Errorf("unknown type %d", typ)
	}
	var required, optional []string
	switch typ {
	case fsspTypePhysical:
		required, optional = []string{"region", "lastname", "firstname"}, []string{"secondname", "birthdate"}
	case fsspTypeLegal:
		required, optional = []string{"region", "name"}, []string{"address"}
	case fsspTypeIP:
		required = []string{"number"}
	}
	vals := map[string]*string{}
	for _, k := range required {
		v := strings.TrimSpace(get(k))
		if v == "" {
			return fssptasks.Query{}, fmt.Errorf("%s is required", k)
		}
		vals[k] = &v
	}
	for _, k := range optional {
		if v := strings.TrimSpace(get(k)); v != "" {
			vals[k] = &v
		}
	}
	q := fssptasks.Query{Type: kind}
	if v := vals["region"]; v != nil {
		code, err := strconv.Atoi(*v)
		if err != nil || !fssp.ValidRegion(code) {
			return fssptasks.Query{}, fmt.Errorf("bad region %q", *v)
		}
		q.Params.Region = &code
	}
	if v := vals["birthdate"]; v != nil && !fssp.ValidBirthdate(*v) {
		return fssptasks.Query{}, fmt.Errorf("bad birthdate %q, want DD.MM.YYYY", *v)
	}
	if v := vals["number"]; v != nil && !fssp.ValidNumber(*v) {
		return fssptasks.Query{}, fmt.Errorf("bad number %q, want n…n/yy/dd/rr or n…n/yy/ddddd-ИП", *v)
	}
	p := &q.Params
	p.Lastname, p.Firstname, p.Secondname, p.Birthdate = vals["lastname"], vals["firstname"], vals["secondname"], vals["birthdate"]
	p.Name, p.Address, p.Number = vals["name"], vals["address"], vals["number"]
	return q, nil
}
