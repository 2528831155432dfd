package fssptasks

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
)

// FuzzValidate checks any search, decoded as the handlers decode it (the
// body of a single search as its params, a group's body as its requests),
// the way Submit does before anything is sent. A search is refused with an
// Invalid error naming a body field, or becomes upstream queries that FSSP
// accepts: the required parameters, trimmed, within their lengths, a real
// region, date and proceeding number, nothing of another search type.
func FuzzValidate(f *testing.F) {
	for _, s := range []struct{ kind, body string }{
		{KindPhysical, `{"region":77,"lastname":"ИВАНОВ","firstname":"ИВАН","secondname":"ИВАНОВИЧ","birthdate":"01.01.1980"}`},
		{KindPhysical, `{"region":0,"lastname":" ","firstname":"ИВАН","birthdate":"31.02.1980"}`},
		{KindPhysical, `{"region":-1,"lastname":"И","firstname":"И","name":"x"}`},
		{KindLegal, `{"region":174,"name":"РОМАШКА","address":"Москва"}`},
		{KindLegal, `{"region":100,"name":"` + strings.Repeat("Я", 301) + `"}`},
		{KindIP, `{"number":"12345/21/77001-ИП"}`},
		{KindIP, `{"number":" 1/21/77/00 "}`},
		{KindGroup, `{"requests":[{"type":"physical","params":{"region":77,"lastname":"ИВАНОВ","firstname":"ИВАН"}},{"type":"legal","params":{"region":50,"name":"РОМАШКА"}},{"type":"ip","params":{"number":"1/21/77/01"}}]}`},
		{KindGroup, `{"requests":[{"type":"group","params":{}}]}`},
		{KindGroup, `{"requests":[]}`},
	} {
		f.Add(s.kind, []byte(s.body))
	}
	e := &Engine{cfg: Config{}.withDefaults()}
	kinds := []string{KindPhysical, KindLegal, KindIP, KindGroup}
	f.Fuzz(func(t *testing.T, kind string, body []byte) {
		if !slices.Contains(kinds, kind) {
			kind = kinds[len(kind)%len(kinds)]
		}
		s := Submission{Kind: kind}
		if kind == KindGroup {
			var g struct{ Requests []Query }
			if json.Unmarshal(body, &g) != nil {
				return
			}
			s.Requests = g.Requests
		} else {
			var p Params
			if json.Unmarshal(body, &p) != nil {
				return
			}
			s.Requests = []Query{{Type: kind, Params: p}}
		}
		qs, err := e.validate(s)
		if err != nil {
			ae, ok := apperr.As(err)
			if !ok || ae.Kind != apperr.Invalid || len(ae.Fields) == 0 || !strings.HasPrefix(ae.Fields[0].Field, "body.") {
				t.Fatalf("validate(%s %s) = %v, want an Invalid error naming a body field", kind, body, err)
			}
			return
		}
		if len(qs) != len(s.Requests) {
			t.Fatalf("validate(%s %s) = %d queries, want %d", kind, body, len(qs), len(s.Requests))
		}
		for i, q := range qs {
			checkQuery(t, s.Requests[i].Type, q)
		}
	})
}

// searchParams lists each search type's parameters: required first, then
// optional, with their longest value in characters.
var searchParams = map[string]struct {
	typ      int
	required []string
	limits   map[string]int
}{
	KindPhysical: {fssp.TypePhysical, []string{"region", "lastname", "firstname"},
		map[string]int{"region": 4, "lastname": 100, "firstname": 100, "secondname": 100, "birthdate": 10}},
	KindLegal: {fssp.TypeLegal, []string{"region", "name"}, map[string]int{"region": 4, "name": 300, "address": 300}},
	KindIP:    {fssp.TypeIP, []string{"number"}, map[string]int{"number": 40}},
}

func checkQuery(t *testing.T, kind string, q fssp.Query) {
	t.Helper()
	want, ok := searchParams[kind]
	if !ok || q.Type != want.typ {
		t.Fatalf("a %q search became upstream type %d", kind, q.Type)
	}
	for _, k := range want.required {
		if _, ok := q.Params[k]; !ok {
			t.Fatalf("%s query %v lacks %s", kind, q.Params, k)
		}
	}
	for k, v := range q.Params {
		limit, ok := want.limits[k]
		switch {
		case !ok:
			t.Fatalf("%s query %v carries %s", kind, q.Params, k)
		case v == "" || v != strings.TrimSpace(v) || utf8.RuneCountInString(v) > limit:
			t.Fatalf("%s query %v: %s = %q is empty, untrimmed or longer than %d", kind, q.Params, k, v, limit)
		}
	}
	if v, ok := q.Params["region"]; ok {
		if n, err := strconv.Atoi(v); err != nil || !fssp.ValidRegion(n) {
			t.Fatalf("%s query %v: region %q", kind, q.Params, v)
		}
	}
	if v, ok := q.Params["birthdate"]; ok && !fssp.ValidBirthdate(v) {
		t.Fatalf("%s query %v: birthdate %q", kind, q.Params, v)
	}
	if v, ok := q.Params["number"]; ok && !fssp.ValidNumber(v) {
		t.Fatalf("%s query %v: number %q", kind, q.Params, v)
	}
}
