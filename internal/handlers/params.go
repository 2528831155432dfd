package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/go-chi/chi/v5"
)

// paramCheck is an operation's parameters compiled once from the contract:
// accept reports whether a request's parameters are certainly valid, without
// kin-openapi's per-request decoding. It only ever accepts what kin-openapi
// accepts (TestParamCheckAgreesWithKin, FuzzParamCheck): anything it is not
// sure of (a missing required parameter, an empty or repeated value, a value
// out of its schema, a query it cannot parse) goes to kin-openapi, which
// decides and names the field. Operations with a parameter feature it does
// not know (see compileParam) have no paramCheck at all.
type paramCheck struct {
	params []paramRule
	query  bool // some parameter is in the query
}

// paramRule is one parameter's compiled schema.
type paramRule struct {
	name     string // as the contract spells it
	in       string // path, query or header
	header   string // the canonical header key, for in: header
	required bool
	typ      string // integer, string or boolean
	min, max *float64
	minLen   uint64
	maxLen   *uint64
	pattern  *regexp.Regexp
	enum     []string
}

// compileParams compiles route's parameters (the path item's and the
// operation's); nil when one of them is outside what paramRule checks.
func compileParams(route *routers.Route) *paramCheck {
	pc := &paramCheck{}
	seen := map[string]bool{}
	// The operation's parameters override the path item's of the same name and place.
	for _, list := range []openapi3.Parameters{route.Operation.Parameters, route.PathItem.Parameters} {
		for _, ref := range list {
			if ref == nil || ref.Value == nil {
				return nil
			}
			p := ref.Value
			if seen[p.In+" "+p.Name] {
				continue
			}
			seen[p.In+" "+p.Name] = true
			rule, ok := compileParam(p)
			if !ok {
				return nil
			}
			pc.query = pc.query || p.In == openapi3.ParameterInQuery
			pc.params = append(pc.params, rule)
		}
	}
	return pc
}

// compileParam compiles one parameter whose schema is a single primitive
// type with at most minimum, maximum, minLength, maxLength, pattern and
// string enum; false for anything else (formats, exclusive bounds,
// multipleOf, nullable, compositions, content, styles, cookies, and a
// default, which kin-openapi writes into the request).
func compileParam(p *openapi3.Parameter) (paramRule, bool) {
	r := paramRule{name: p.Name, in: p.In, required: p.Required}
	switch p.In {
	case openapi3.ParameterInPath, openapi3.ParameterInQuery:
	case openapi3.ParameterInHeader:
		r.header = http.CanonicalHeaderKey(p.Name)
	default:
		return r, false
	}
	if p.Content != nil || p.Schema == nil || p.Schema.Value == nil || p.Style != "" || p.Explode != nil || p.AllowEmptyValue {
		return r, false
	}
	s := p.Schema.Value
	if s.Type == nil || len(*s.Type) != 1 || s.Format != "" || s.ExclusiveMin.IsSet() || s.ExclusiveMax.IsSet() ||
		s.MultipleOf != nil || s.Nullable || len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) > 0 || s.Not != nil ||
		s.Items != nil || len(s.Properties) > 0 || s.Const != nil || s.Default != nil {
		return r, false
	}
	r.typ = (*s.Type)[0]
	switch r.typ {
	case "integer":
		if s.MinLength != 0 || s.MaxLength != nil || s.Pattern != "" || len(s.Enum) > 0 {
			return r, false
		}
		r.min, r.max = s.Min, s.Max
	case "string":
		if s.Min != nil || s.Max != nil {
			return r, false
		}
		r.minLen, r.maxLen = s.MinLength, s.MaxLength
		if s.Pattern != "" {
			re, err := regexp.Compile(goPattern(s.Pattern))
			if err != nil {
				return r, false
			}
			r.pattern = re
		}
		for _, v := range s.Enum {
			str, ok := v.(string)
			if !ok {
				return r, false
			}
			r.enum = append(r.enum, str)
		}
	case "boolean":
		if s.Min != nil || s.Max != nil || s.MinLength != 0 || s.MaxLength != nil || s.Pattern != "" || len(s.Enum) > 0 {
			return r, false
		}
	default:
		return r, false
	}
	return r, true
}

// goPattern is kin-openapi's translation of an ECMA-262 pattern for Go's
// regexp (openapi3.intoGoRegexp): \uXXXX escapes become \x{XXXX}.
func goPattern(re string) string {
	return ecmaCodepoint.ReplaceAllString(re, `\x{${code}}`)
}

var ecmaCodepoint = regexp.MustCompile(`(?P<slash_u>\\u)(?P<code>[0-9A-F]{4})`)

// accept reports whether r's parameters are certainly valid; urlParams are
// the route's path parameters as chi matched them.
func (pc *paramCheck) accept(r *http.Request, urlParams *chi.RouteParams) bool {
	var query url.Values
	if pc.query && r.URL.RawQuery != "" {
		var err error
		if query, err = url.ParseQuery(r.URL.RawQuery); err != nil {
			return false
		}
	}
	for i := range pc.params {
		p := &pc.params[i]
		var v string
		switch p.in {
		case openapi3.ParameterInPath:
			j := slices.Index(urlParams.Keys, p.name)
			if j < 0 {
				return false
			}
			v = urlParams.Values[j]
		case openapi3.ParameterInQuery:
			vs, ok := query[p.name]
			if !ok {
				if p.required {
					return false
				}
				continue
			}
			if len(vs) != 1 {
				return false
			}
			v = vs[0]
		case openapi3.ParameterInHeader:
			vs, ok := r.Header[p.header]
			if !ok {
				if p.required {
					return false
				}
				continue
			}
			if len(vs) != 1 {
				return false
			}
			v = vs[0]
		}
		if v == "" || !p.valid(v) {
			return false
		}
	}
	return true
}

// valid checks one non-empty value against the parameter's schema.
func (p *paramRule) valid(v string) bool {
	switch p.typ {
	case "integer":
		// Plain decimal digits, at most 15 of them: exact as the float64
		// kin-openapi compares against minimum and maximum.
		digits := strings.TrimPrefix(v, "-")
		if digits == "" || len(digits) > 15 || strings.TrimLeft(digits, "0123456789") != "" {
			return false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		f := float64(n)
		return (p.min == nil || f >= *p.min) && (p.max == nil || f <= *p.max)
	case "boolean":
		return v == "true" || v == "false"
	case "string":
		if p.minLen > 0 || p.maxLen != nil {
			n := uint64(utf8.RuneCountInString(v))
			if n < p.minLen || (p.maxLen != nil && n > *p.maxLen) {
				return false
			}
		}
		if p.pattern != nil && !p.pattern.MatchString(v) {
			return false
		}
		return len(p.enum) == 0 || slices.Contains(p.enum, v)
	}
	return false
}
