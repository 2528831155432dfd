package handlers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/ops"
)

// contractIndex is the operation index of the contract, as NewServer builds it.
func contractIndex(tb testing.TB) *operationIndex {
	tb.Helper()
	spec, err := api.GetSpec()
	if err != nil {
		tb.Fatal(err)
	}
	spec.Servers = nil
	table, err := ops.Contract()
	if err != nil {
		tb.Fatal(err)
	}
	idx, err := newOperationIndex(spec, table)
	if err != nil {
		tb.Fatal(err)
	}
	return idx
}

// paramRequest is a request for op with the given parameter values (absent
// when missing from values), keyed by paramRule.in + " " + name.
func paramRequest(op *operation, values map[string]string) (*http.Request, *chi.RouteParams) {
	rp := &chi.RouteParams{}
	q := url.Values{}
	hdr := http.Header{}
	for _, p := range op.params.params {
		v, ok := values[p.in+" "+p.name]
		if !ok {
			continue
		}
		switch p.in {
		case openapi3.ParameterInPath:
			rp.Add(p.name, v)
		case openapi3.ParameterInQuery:
			q.Add(p.name, v)
		case openapi3.ParameterInHeader:
			hdr[p.header] = append(hdr[p.header], v)
		}
	}
	r := httptest.NewRequest(op.route.Method, "/x", nil)
	r.URL.RawQuery = q.Encode()
	r.Header = hdr
	return r, rp
}

// candidates are values to try for p: its contract example, boundaries of
// its schema, and values kin-openapi parses differently from a plain reading.
func candidates(p paramRule, spec *openapi3.Parameter) []string {
	out := []string{"", "0", "1", "-1", "12345", "+5", "01", "1.0", "1e3", " 1", "abc", "true", "false", "TRUE", "1",
		"999999999999999", "-999999999999999", "9999999999999999", "99999999999999999999", "é", "a b", "%zz", "x,y"}
	if spec.Example != nil {
		out = append(out, fmt.Sprint(spec.Example))
	}
	if s := spec.Schema.Value; s.Example != nil {
		out = append(out, fmt.Sprint(s.Example))
	}
	out = append(out, p.enum...)
	for _, n := range []uint64{p.minLen, p.minLen + 1} {
		out = append(out, strings.Repeat("a", int(n)), strings.Repeat("я", int(n)))
	}
	if p.maxLen != nil {
		for _, n := range []uint64{*p.maxLen - 1, *p.maxLen, *p.maxLen + 1} {
			out = append(out, strings.Repeat("7", int(n)), strings.Repeat("я", int(n)))
		}
	}
	for _, b := range []*float64{p.min, p.max} {
		if b != nil {
			out = append(out, fmt.Sprint(int64(*b)-1), fmt.Sprint(int64(*b)), fmt.Sprint(int64(*b)+1))
		}
	}
	return out
}

// TestParamCheckAgreesWithKin: for every operation with a compiled
// paramCheck, every parameter set to each candidate value (and left out,
// and sent twice) with the others at their contract examples, the check
// accepts only what kin-openapi accepts. The fast path must also be used:
// the contract's examples of garantGetTopic and fipsGetApplication are
// accepted without kin-openapi.
func TestParamCheckAgreesWithKin(t *testing.T) {
	idx := contractIndex(t)
	keys := make([]routeKey, 0, len(idx.byRoute))
	for k := range idx.byRoute {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].pattern+keys[i].method < keys[j].pattern+keys[j].method })
	compiled, fastAccepts := 0, 0
	for _, k := range keys {
		op := idx.byRoute[k]
		if op.params == nil {
			continue
		}
		compiled++
		specs := map[string]*openapi3.Parameter{}
		for _, list := range []openapi3.Parameters{op.route.Operation.Parameters, op.route.PathItem.Parameters} {
			for _, ref := range list {
				if _, ok := specs[ref.Value.In+" "+ref.Value.Name]; !ok {
					specs[ref.Value.In+" "+ref.Value.Name] = ref.Value
				}
			}
		}
		base := map[string]string{}
		for _, p := range op.params.params {
			spec := specs[p.in+" "+p.name]
			switch {
			case spec.Example != nil:
				base[p.in+" "+p.name] = fmt.Sprint(spec.Example)
			case spec.Schema.Value.Example != nil:
				base[p.in+" "+p.name] = fmt.Sprint(spec.Schema.Value.Example)
			case len(p.enum) > 0:
				base[p.in+" "+p.name] = p.enum[0]
			case p.typ == "integer":
				base[p.in+" "+p.name] = "12345"
			}
		}
		check := func(values map[string]string, twice string) {
			t.Helper()
			r, rp := paramRequest(op, values)
			if twice != "" {
				for _, p := range op.params.params {
					if p.in+" "+p.name == twice && p.in == openapi3.ParameterInHeader {
						r.Header[p.header] = append(r.Header[p.header], values[twice])
					}
					if p.in+" "+p.name == twice && p.in == openapi3.ParameterInQuery {
						r.URL.RawQuery += "&" + url.QueryEscape(p.name) + "=" + url.QueryEscape(values[twice])
					}
				}
			}
			fast := op.params.accept(r, rp)
			if fast {
				fastAccepts++
			}
			if err := idx.validateParams(r, op, rp); fast && err != nil {
				t.Errorf("%s %s with %v (twice: %q): paramCheck accepts, kin-openapi refuses: %v", k.method, k.pattern, values, twice, err)
			}
		}
		check(base, "")
		for _, p := range op.params.params {
			name := p.in + " " + p.name
			without := map[string]string{}
			for k, v := range base {
				if k != name {
					without[k] = v
				}
			}
			check(without, "")
			for _, v := range candidates(p, specs[name]) {
				values := map[string]string{}
				for k, v := range base {
					values[k] = v
				}
				values[name] = v
				check(values, "")
				check(values, name)
			}
		}
	}
	if compiled == 0 || fastAccepts == 0 {
		t.Fatalf("%d operations compiled, %d fast accepts: the fast path is never taken", compiled, fastAccepts)
	}
	for _, k := range []routeKey{{"GET", "/v1/garant/topics/{topic}"}, {"GET", "/v1/fips/applications/{applicationId}"}} {
		op, ok := idx.byRoute[k]
		if !ok || op.params == nil {
			t.Fatalf("%s %s has no compiled paramCheck", k.method, k.pattern)
		}
	}
	idx2 := contractIndex(t)
	topic := idx2.byRoute[routeKey{"GET", "/v1/garant/topics/{topic}"}]
	r, rp := paramRequest(topic, map[string]string{"path topic": "12345", "header Cache-Control": "no-cache"})
	if !topic.params.accept(r, rp) {
		t.Errorf("garantGetTopic(topic 12345, Cache-Control no-cache): paramCheck.accept = false, want true")
	}
}

// FuzzParamCheck: whatever value each parameter of an operation takes,
// paramCheck accepts only what kin-openapi accepts.
func FuzzParamCheck(f *testing.F) {
	idx := contractIndex(f)
	var compiled []*operation
	keys := make([]routeKey, 0, len(idx.byRoute))
	for k, op := range idx.byRoute {
		if op.params != nil {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].pattern+keys[i].method < keys[j].pattern+keys[j].method })
	for _, k := range keys {
		compiled = append(compiled, idx.byRoute[k])
	}
	f.Add(uint8(0), "12345", "no-cache", "")
	f.Add(uint8(3), "1", "", "x")
	f.Add(uint8(7), "abc", "true", "2026-01-01")
	f.Fuzz(func(t *testing.T, which uint8, a, b, c string) {
		op := compiled[int(which)%len(compiled)]
		values := map[string]string{}
		for i, p := range op.params.params {
			v := []string{a, b, c}[i%3]
			if v != "\x00absent" {
				values[p.in+" "+p.name] = v
			}
		}
		r, rp := paramRequest(op, values)
		if op.params.accept(r, rp) {
			if err := idx.validateParams(r, op, rp); err != nil {
				t.Errorf("%s %s with %q: paramCheck accepts, kin-openapi refuses: %v", op.route.Method, op.route.Path, values, err)
			}
		}
	})
}
