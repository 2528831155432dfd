package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/go-chi/chi/v5"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/fairshare"
	"github.com/legalgate/legalgate/internal/jsonscan"
	"github.com/legalgate/legalgate/internal/ops"
)

// operation is one contract operation as the guard needs it.
type operation struct {
	id            string
	upstream      string // an upstream name; "" for the gateway's own
	authenticated bool
	maxBody       int64
	streamBody    bool            // multipart or binary: validated by the handler, never buffered here
	share         fairshare.Class // fair-sharing class
	native        bool            // the upstream's own shapes: its handler authenticates and validates
	body          *jsonBody       // a JSON body, checked and decoded here
	route         *routers.Route
	params        *paramCheck // nil: kin-openapi checks every request's parameters
}

// jsonBody is an operation's JSON request body: its contract and the shape
// checked while it is read.
type jsonBody struct {
	spec  *openapi3.RequestBody
	shape *jsonscan.Shape
}

// operationIndex finds a contract operation by method and chi route pattern
// (chi patterns and OpenAPI paths share the {param} syntax).
type operationIndex struct {
	byRoute map[routeKey]*operation
	byID    map[string]*operation
	opts    *openapi3filter.Options
}

// bodyLimits bound a JSON body whatever its schema: a legitimate one (a
// group of 500 FSSP searches) has a few thousand values.
var bodyLimits = jsonscan.Limits{MaxDepth: 32, MaxValues: 100_000}

func newOperationIndex(spec *openapi3.T, table *ops.Table) (*operationIndex, error) {
	idx := &operationIndex{byRoute: map[routeKey]*operation{}, byID: map[string]*operation{}, opts: &openapi3filter.Options{
		MultiError:         true,
		ExcludeRequestBody: true,                                  // checked by validateBody, as it is read
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, // the guard authenticated already
	}}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			id := ops.ID(op.OperationID)
			rules, ok := table.Get(id)
			if !ok {
				return nil, fmt.Errorf("handlers: operation %s is not in the operations table", id)
			}
			if rules.ServedBy != "" {
				continue // rewritten to its ServedBy's route before routing (garant_compat.go)
			}
			o := &operation{
				id:            id,
				authenticated: rules.Authenticated,
				maxBody:       rules.MaxBody,
				streamBody:    rules.StreamBody,
				native:        rules.Native,
				route:         &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op},
			}
			o.params = compileParams(o.route)
			if rules.Upstream != ops.Gateway {
				o.upstream = rules.Upstream
			}
			if rb := op.RequestBody; rb != nil && rb.Value != nil {
				for ct := range rb.Value.Content {
					if ct != "application/json" {
						o.streamBody = true
					}
				}
				if mt := rb.Value.Content.Get("application/json"); mt != nil && !o.streamBody {
					o.body = &jsonBody{spec: rb.Value, shape: shapeOf(mt.Schema, map[*openapi3.Schema]bool{})}
				}
			}
			o.share = fairshare.ClassOf(rules.Share)
			idx.byRoute[routeKey{method, path}] = o
			idx.byID[id] = o
		}
	}
	return idx, nil
}

// routeKey is a route: its method and its chi pattern.
type routeKey struct{ method, pattern string }

// alias routes method and pattern to the contract operation id, whose own
// route may differ (a route of FIPS's table that the configuration moved).
func (x *operationIndex) alias(method, pattern, id string) error {
	o, ok := x.operation(id)
	if !ok {
		return fmt.Errorf("handlers: %s %s: the contract has no operation %s", method, pattern, id)
	}
	x.byRoute[routeKey{method, pattern}] = o
	return nil
}

// operation is the contract operation id.
func (x *operationIndex) operation(id string) (*operation, bool) {
	o, ok := x.byID[id]
	return o, ok
}

func (x *operationIndex) lookup(method, pattern string) (*operation, bool) {
	o, ok := x.byRoute[routeKey{method, pattern}]
	return o, ok
}

// validate checks r against the contract and returns an Invalid error that
// names every wrong field. The parameters are checked first (by the
// operation's compiled paramCheck when it accepts them, else by
// kin-openapi); then a JSON body, as it is read (validateBody).
func (x *operationIndex) validate(r *http.Request, op *operation, urlParams *chi.RouteParams) error {
	if op.params == nil || !op.params.accept(r, urlParams) {
		if err := x.validateParams(r, op, urlParams); err != nil {
			return err
		}
	}
	if op.body != nil {
		return validateBody(r, op.body)
	}
	return nil
}

// validateParams checks r's parameters with kin-openapi.
func (x *operationIndex) validateParams(r *http.Request, op *operation, urlParams *chi.RouteParams) error {
	params := make(map[string]string, len(urlParams.Keys))
	for i, k := range urlParams.Keys {
		params[k] = urlParams.Values[i]
	}
	// kin-openapi's security check reads the whole body into memory even
	// when body validation is off: hide the body from it.
	shallow := *r
	shallow.Body = http.NoBody
	err := openapi3filter.ValidateRequest(context.WithoutCancel(r.Context()), &openapi3filter.RequestValidationInput{
		Request: &shallow, PathParams: params, Route: op.route, Options: x.opts,
	})
	if err != nil {
		return invalid(err)
	}
	return nil
}

// validateBody reads a JSON body and checks it against the contract: its
// shape while it is read (jsonscan: an undeclared member, an array over
// its maxItems or a document too deep or too large is refused there, before
// the rest is read and before anything is decoded), then its values. The
// body is decoded once (jsonscan.Decode: long strings in place, sharing the
// buffer); the generated handler binds the decoded value
// (runtime.BindJSONBody), so the handler sees exactly what was checked,
// defaults included.
func validateBody(r *http.Request, b *jsonBody) error {
	if r.Body == nil || r.Body == http.NoBody {
		if b.spec.Required {
			return apperr.InvalidField("body", "a request body is required")
		}
		return nil
	}
	ct := r.Header.Get("Content-Type")
	media := b.spec.Content.Get(ct)
	if media == nil || media.Schema == nil || media.Schema.Value == nil {
		return apperr.InvalidField("header.Content-Type", fmt.Sprintf("must be application/json, got %q", ct))
	}
	raw, err := jsonscan.Read(r.Body, r.ContentLength, b.shape, bodyLimits)
	var scanErr *jsonscan.Error
	switch {
	case errors.Is(err, jsonscan.ErrEmpty) && b.spec.Required:
		return apperr.InvalidField("body", "a request body is required")
	case errors.Is(err, jsonscan.ErrEmpty):
		r.Body = http.NoBody
		return nil
	case errors.As(err, &scanErr) && scanErr.Syntax:
		return apperr.InvalidField("body", "is not valid JSON: "+scanErr.Reason)
	case errors.As(err, &scanErr):
		return apperr.InvalidField(strings.Join(append([]string{"body"}, scanErr.Path...), "."), scanErr.Reason)
	case err != nil:
		return readError(err)
	}
	// Decoded once, its long strings in place: a 20 MB text is a view of
	// the buffer, not a second copy.
	v, rewrote, err := jsonscan.Decode(raw)
	if err != nil {
		return apperr.InvalidField("body", "is not valid JSON: "+strings.TrimPrefix(err.Error(), "json: "))
	}
	exactIntegers(v)
	body := &validatedBody{value: v, raw: raw, rewrote: rewrote}
	opts := []openapi3.SchemaValidationOption{openapi3.VisitAsRequest(), openapi3.MultiErrors(),
		openapi3.DefaultsSet(func() { body.defaulted = true })}
	if err := media.Schema.Value.VisitJSON(v, opts...); err != nil {
		return invalid(&openapi3filter.RequestError{RequestBody: b.spec, Reason: "doesn't match schema", Err: err})
	}
	r.Body = body
	return nil
}

// readError is a failure to read a request body: over its limit (413), too
// slow (the body deadlines' 408) or cut short by the client.
func readError(err error) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return err
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	return apperr.Wrap(apperr.Invalid, "the request body could not be read to its end", err)
}

// invalid turns kin-openapi's validation errors into one Invalid error.
func invalid(err error) error {
	fields := fieldErrors(err, nil)
	if len(fields) == 0 {
		fields = []apperr.FieldError{{Field: "request", Message: "does not match the contract"}}
	}
	msgs := make([]string, len(fields))
	for i, f := range fields {
		msgs[i] = f.Field + ": " + f.Message
	}
	return &apperr.Error{Kind: apperr.Invalid, Detail: strings.Join(msgs, "; "), Fields: fields}
}

// exactIntegers turns the integers encoding/json decoded as float64 into
// json.Number, as the generated handler's binding expects (a float64 binds
// only to float fields): those within ±2^53, which float64 holds exactly.
// Larger ones stay float64, and binding them falls back to decoding the
// body, which refuses them for an integer field.
func exactIntegers(v any) {
	const exact = 1 << 53
	fix := func(x any) any {
		if f, ok := x.(float64); ok && f == math.Trunc(f) && math.Abs(f) <= exact {
			return json.Number(strconv.FormatFloat(f, 'f', -1, 64))
		}
		exactIntegers(x)
		return x
	}
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = fix(x)
		}
	case []any:
		for i, x := range t {
			t[i] = fix(x)
		}
	}
}

// validatedBody is a checked JSON body: the generated handler binds its
// value (runtime.BindJSONBody asks for ValidatedValue); read as bytes, as
// the binding's fallback does, it is the body as sent, or the value encoded
// again when the contract's defaults were filled in or a string was decoded
// over the body's bytes.
type validatedBody struct {
	value     any
	raw       []byte // the body as sent, unless rewrote; value's long strings share it
	defaulted bool   // value has defaults raw lacks
	rewrote   bool   // raw holds decoded strings, no longer the body as sent
	r         *bytes.Reader
}

func (b *validatedBody) ValidatedValue() any { return b.value }

func (b *validatedBody) Read(p []byte) (int, error) {
	if b.r == nil {
		raw := b.raw
		if b.defaulted || b.rewrote {
			var err error
			if raw, err = json.Marshal(b.value); err != nil {
				return 0, err
			}
		}
		b.r = bytes.NewReader(raw)
	}
	return b.r.Read(p)
}

func (b *validatedBody) Close() error { return nil }

// shapeOf is the shape jsonscan checks for a schema: its objects closed
// where the contract says additionalProperties: false, its arrays capped at
// maxItems. A schema combined with allOf, anyOf, oneOf or not allows any
// value here (the schema validator checks it).
func shapeOf(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) *jsonscan.Shape {
	if ref == nil || ref.Value == nil {
		return nil
	}
	s := ref.Value
	if seen[s] || len(s.AllOf) > 0 || len(s.AnyOf) > 0 || len(s.OneOf) > 0 || s.Not != nil {
		return nil
	}
	seen[s] = true
	defer delete(seen, s)
	switch {
	case s.Type.Is("array") || s.Items != nil:
		maxItems := 0
		if s.MaxItems != nil && *s.MaxItems <= math.MaxInt32 {
			maxItems = int(*s.MaxItems)
		}
		return jsonscan.Array(shapeOf(s.Items, seen), maxItems)
	case s.Type.Is("object") || len(s.Properties) > 0:
		closed := s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has && s.AdditionalProperties.Schema == nil
		if !closed && len(s.Properties) == 0 {
			return nil
		}
		members := make(map[string]*jsonscan.Shape, len(s.Properties))
		for name, p := range s.Properties {
			members[name] = shapeOf(p, seen)
		}
		return jsonscan.Object(members, closed)
	}
	return nil
}

var missingProperty = regexp.MustCompile(`^property "([^"]+)" is missing$`)

// fieldErrors flattens kin-openapi's errors into field errors.
func fieldErrors(err error, out []apperr.FieldError) []apperr.FieldError {
	// Type switches, not errors.As: a MultiError "is" any of its elements.
	if multi, ok := err.(openapi3.MultiError); ok {
		for _, e := range multi {
			out = fieldErrors(e, out)
		}
		return out
	}
	if reqErr, ok := err.(*openapi3filter.RequestError); ok {
		prefix := "body"
		if reqErr.Parameter != nil {
			prefix = reqErr.Parameter.In + "." + reqErr.Parameter.Name
		}
		if reqErr.Err != nil {
			if inner, ok := reqErr.Err.(openapi3.MultiError); ok {
				for _, e := range inner {
					out = append(out, schemaField(prefix, e))
				}
				return out
			}
			return append(out, schemaField(prefix, reqErr.Err))
		}
		return append(out, apperr.FieldError{Field: prefix, Message: reqErr.Reason})
	}
	var secErr *openapi3filter.SecurityRequirementsError
	if errors.As(err, &secErr) {
		return append(out, apperr.FieldError{Field: "header.Authorization", Message: "is required"})
	}
	return append(out, apperr.FieldError{Field: "request", Message: err.Error()})
}

func schemaField(prefix string, err error) apperr.FieldError {
	if se, ok := err.(*openapi3.SchemaError); ok {
		field := prefix
		if ptr := se.JSONPointer(); len(ptr) > 0 {
			field += "." + strings.Join(ptr, ".")
		}
		if m := missingProperty.FindStringSubmatch(se.Reason); m != nil {
			if ptr := se.JSONPointer(); len(ptr) == 0 || ptr[len(ptr)-1] != m[1] {
				field += "." + m[1]
			}
			return apperr.FieldError{Field: field, Message: "is required"}
		}
		return apperr.FieldError{Field: field, Message: se.Reason}
	}
	var pe *openapi3filter.ParseError
	if errors.As(err, &pe) {
		return apperr.FieldError{Field: prefix, Message: pe.Error()}
	}
	msg := err.Error()
	if prefix == "body" && strings.Contains(msg, "value is required but missing") {
		msg = "a request body is required"
	}
	return apperr.FieldError{Field: prefix, Message: msg}
}
