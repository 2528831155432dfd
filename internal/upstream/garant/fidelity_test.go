package garant_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/upstream/garant"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// TestClientForbidden: Garant's 403 means the token lacks the permission
// for the request (the document's error table, every method), not "no such
// document": it is Forbidden naming the method, per method and per document.
func TestClientForbidden(t *testing.T) {
	cfg := garantsim.DefaultConfig()
	tok := cfg.Tokens[garantsim.DemoToken]
	tok.Denied = []string{"search"}
	tok.DeniedTopics = []int{garantsim.TopicCivilCode}
	cfg.Tokens[garantsim.DemoToken] = tok
	c, _ := newClient(t, cfg)
	ctx := context.Background()

	check := func(name string, err error, method string) {
		t.Helper()
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Forbidden || garant.StatusOf(err) != 403 || e.Extensions["permission"] != method {
			t.Errorf("%s: err = %v, want Forbidden (403) with permission %q", name, err, method)
		}
	}
	_, err := c.Search(ctx, token, garant.SearchRequest{Text: "налог", Env: "internet", Page: 1})
	check("Search (method denied)", err, garant.MethodSearch)
	_, err = c.Topic(ctx, token, garantsim.TopicCivilCode)
	check("Topic (document denied)", err, garant.MethodTopic)
	_, err = c.EntryHTML(ctx, token, garantsim.TopicCivilCode, 36)
	check("EntryHTML (document denied)", err, garant.MethodEntryHTML)
	if _, err := c.Topic(ctx, token, garantsim.TopicConstitution); err != nil {
		t.Errorf("Topic(another document) = %v, want it served", err)
	}
	if _, err := c.Topic(ctx, token, 1); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("Topic(1) = %v, want NotFound (404 stays 404)", err)
	}
}

// TestCourtPracticeForms: the document's example repeats "kind" and
// "courts" in one object; decoded member by member, every kind comes out
// with its decisions, as when Garant sends one object per kind.
func TestCourtPracticeForms(t *testing.T) {
	req := garant.SutyazhnikRequest{Text: "неустойка по договору поставки", Count: 5, Kind: []string{"301", "302"}}
	var got [2]*garant.Practice
	for i, repeated := range []bool{false, true} {
		cfg := garantsim.DefaultConfig()
		cfg.RepeatedPracticeKeys = repeated
		c, _ := newClient(t, cfg)
		p, err := c.CourtPractice(context.Background(), token, req)
		if err != nil {
			t.Fatalf("CourtPractice(repeated keys %v): %v", repeated, err)
		}
		got[i] = p
	}
	kinds := func(p *garant.Practice) (out []string) {
		for _, d := range p.Documents {
			out = append(out, string(d.Kind))
		}
		return out
	}
	if k := kinds(got[1]); !cmp.Equal(k, []string{"301", "302"}) {
		t.Fatalf("CourtPractice(repeated keys) kinds = %v, want [301 302]", k)
	}
	for i := range got[0].Documents {
		per, rep := got[0].Documents[i], got[1].Documents[i]
		if !cmp.Equal(per.Courts, rep.Courts) || len(per.Courts) == 0 {
			t.Errorf("kind %s: courts per kind %v, repeated keys %v; want the same, non-empty", per.Kind, per.Courts, rep.Courts)
		}
		if len(rep.Norms) == 0 {
			t.Errorf("kind %s (repeated keys): no norms", rep.Kind)
		}
	}
}

func TestPracticeDecode(t *testing.T) {
	doc, err := os.ReadFile("garantsim/testdata/examples/sutyazhnik-search.resp.json")
	if err != nil {
		t.Fatal(err)
	}
	norm := garant.DocLink{Topic: 70353464, URL: "/#/document/70353464/entry/6",
		Name: `Федеральный закон от 5 апреля 2013 г. N 44-ФЗ "О контрактной системе в сфере закупок товаров, работ, услуг для обеспечения государственных и муниципальных нужд" (с изменениями и дополнениями)`}
	tests := []struct {
		name string
		in   string
		want []garant.KindPractice
	}{
		{"the document's example", string(doc), []garant.KindPractice{
			{Kind: "301", Norms: []garant.DocLink{norm}, Courts: []garant.DocLink{{Topic: 341911797, URL: "/#/document/341911797/paragraph/18",
				Name: "Решение Ленинского районного суда г. Севастополя от 16 сентября 2024 г. по делу N -3135/2024"}}},
			{Kind: "302", Norms: []garant.DocLink{norm}, Courts: []garant.DocLink{{Topic: 582418996, URL: "/#/document/582418996/paragraph/36",
				Name: "Решение Арбитражного суда г.Санкт-Петербурга и Ленинградской области от 12 марта 2025 г. по делу N А56-93948/2024"}}},
		}},
		{"one object per kind, members in any order",
			`{"documents":[{"courts":[{"topic":1}],"kind":301,"norms":[{"topic":2}]},{"kind":"303","norms":[],"courts":[{"topic":"3"}],"extra":{"x":[1]}}],"more":true}`,
			[]garant.KindPractice{{Kind: "301", Norms: []garant.DocLink{{Topic: 2}}, Courts: []garant.DocLink{{Topic: 1}}},
				{Kind: "303", Norms: []garant.DocLink{}, Courts: []garant.DocLink{{Topic: 3}}}}},
		{"courts before the repeated kinds",
			`{"documents":[{"norms":[{"topic":9}],"courts":[{"topic":1}],"kind":"301","courts":[{"topic":2}],"kind":"302"}]}`,
			[]garant.KindPractice{{Kind: "301", Norms: []garant.DocLink{{Topic: 9}}, Courts: []garant.DocLink{{Topic: 1}}},
				{Kind: "302", Norms: []garant.DocLink{{Topic: 9}}, Courts: []garant.DocLink{{Topic: 2}}}}},
		{"empty", `{"documents":[]}`, nil},
		{"null documents", `{"documents":null}`, nil},
	}
	for _, tt := range tests {
		var p garant.Practice
		if err := json.Unmarshal([]byte(tt.in), &p); err != nil {
			t.Errorf("%s: Unmarshal: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.want, p.Documents); diff != "" {
			t.Errorf("%s: Unmarshal(%s) mismatch (-want +got):\n%s", tt.name, tt.in, diff)
		}
	}
	for _, bad := range []string{`[]`, `{"documents":{}}`, `{"documents":[1]}`, `{"documents":[{"courts":3}]}`, `{"documents":[{"kind":"301","courts":[{"topic":{}}]}]}`} {
		var p garant.Practice
		if err := json.Unmarshal([]byte(bad), &p); err == nil {
			t.Errorf("Unmarshal(%s) = %+v, want an error", bad, p)
		}
	}
}
