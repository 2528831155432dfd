package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/go-chi/chi/v5"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/fairshare"
	"github.com/legalgate/legalgate/internal/ops"
)

// shareClasses maps the contract's fair-sharing classes to fairshare's.
var shareClasses = map[string]fairshare.Class{
	ops.ShareNone: fairshare.None, ops.ShareLongPoll: fairshare.LongPoll,
	ops.ShareCall: fairshare.Call, ops.ShareFreeCall: fairshare.FreeCall,
}

// operation is one contract operation as the guard needs it.
type operation struct {
	id            string
	upstream      string // an upstream name; "" for the gateway's own
	authenticated bool
	maxBody       int64
	streamBody    bool            // multipart or binary: validated by the handler, never buffered here
	share         fairshare.Class // fair-sharing class (shareClass)
	route         *routers.Route
}

// operationIndex finds a contract operation by method and chi route pattern
// (chi patterns and OpenAPI paths share the {param} syntax).
type operationIndex struct {
	byRoute map[string]*operation
	opts    *openapi3filter.Options
}

func newOperationIndex(spec *openapi3.T, table *ops.Table) (*operationIndex, error) {
	idx := &operationIndex{byRoute: map[string]*operation{}, opts: &openapi3filter.Options{
		MultiError:         true,
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, // the guard authenticated already
	}}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			id := lowerFirst(op.OperationID) // the embedded spec capitalises operation ids
			rules, ok := table.Get(id)
			if !ok {
				return nil, fmt.Errorf("handlers: operation %s is not in the operations table", id)
			}
			o := &operation{
				id:            id,
				authenticated: rules.Authenticated,
				maxBody:       rules.MaxBody,
				streamBody:    rules.StreamBody,
				route:         &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op},
			}
			if rules.Upstream != ops.Gateway {
				o.upstream = rules.Upstream
			}
			o.share = shareClasses[rules.Share]
			idx.byRoute[method+" "+path] = o
		}
	}
	return idx, nil
}

func (x *operationIndex) lookup(method, pattern string) (*operation, bool) {
	o, ok := x.byRoute[method+" "+pattern]
	return o, ok
}

// validate checks r against the contract and returns an Invalid error that
// names every wrong field.
func (x *operationIndex) validate(r *http.Request, op *operation, urlParams chi.RouteParams) error {
	params := make(map[string]string, len(urlParams.Keys))
	for i, k := range urlParams.Keys {
		params[k] = urlParams.Values[i]
	}
	opts := x.opts
	if op.streamBody {
		cp := *x.opts
		cp.ExcludeRequestBody = true
		opts = &cp
		// kin-openapi's security check reads the whole body into memory even
		// when body validation is off: hide a streamed body from it.
		shallow := *r
		shallow.Body = http.NoBody
		r = &shallow
	}
	err := openapi3filter.ValidateRequest(context.WithoutCancel(r.Context()), &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: op.route, Options: opts,
	})
	if err == nil {
		return nil
	}
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return err
	}
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
			return apperr.FieldError{Field: field + "." + m[1], Message: "is required"}
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

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
