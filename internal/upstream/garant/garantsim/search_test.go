package garantsim

import (
	"slices"
	"strings"
	"testing"
)

func searchBody(text string, isQuery bool, page int) map[string]any {
	return map[string]any{"text": text, "isQuery": isQuery, "page": page, "env": "internet", "sort": 0, "sortOrder": 0}
}

func topicsOf(r searchResponse) []int {
	var out []int
	for _, d := range r.Documents {
		out = append(out, d.Topic)
	}
	return out
}

func TestSearchPlainPagesAndSorts(t *testing.T) {
	t.Parallel()
	_, ts := newTest(t)
	r := call(t, ts, "POST", "/v2/search", DemoToken, searchBody("44-фз о контрактной системе", false, 1))
	got := decode[searchResponse](t, r)
	if r.status != 200 || len(got.Documents) == 0 || got.Documents[0].Topic != TopicContractLaw {
		t.Fatalf("search(44-фз) = %d %v, want 200 with %d first", r.status, topicsOf(got), TopicContractLaw)
	}
	if d := got.Documents[0]; d.URL != "/#/document/70353464" || !strings.Contains(d.Name, "44-ФЗ") {
		t.Errorf("search(44-фз) first = %+v, want relative url and name", d)
	}

	first := decode[searchResponse](t, call(t, ts, "POST", "/v2/search", DemoToken, searchBody("порядок", false, 1)))
	if first.TotalDocs <= pageSize || len(first.Documents) != pageSize || first.TotalPages != (first.TotalDocs+pageSize-1)/pageSize {
		t.Fatalf("search(порядок) = %d docs on page, total %d, pages %d; want %d per page over several pages", len(first.Documents), first.TotalDocs, first.TotalPages, pageSize)
	}
	last := decode[searchResponse](t, call(t, ts, "POST", "/v2/search", DemoToken, searchBody("порядок", false, first.TotalPages)))
	if want := first.TotalDocs - (first.TotalPages-1)*pageSize; len(last.Documents) != want || last.Page != first.TotalPages {
		t.Errorf("search(порядок, last page) = %d docs page %d, want %d page %d", len(last.Documents), last.Page, want, first.TotalPages)
	}
	beyond := call(t, ts, "POST", "/v2/search", DemoToken, searchBody("порядок", false, first.TotalPages+1))
	if !strings.Contains(string(beyond.body), `"documents":[]`) {
		t.Errorf("search(beyond last page) = %s, want documents: []", beyond.body)
	}
	none := call(t, ts, "POST", "/v2/search", DemoToken, searchBody("абракадабра", false, 1))
	if none.status != 200 || !strings.Contains(string(none.body), `"documents":[]`) || !strings.Contains(string(none.body), `"totalDocs":0`) {
		t.Errorf("search(nothing) = %d %s, want 200 with documents: []", none.status, none.body)
	}

	// env arbitr holds the court practice only.
	arbitr := decode[searchResponse](t, call(t, ts, "POST", "/v2/search", DemoToken, map[string]any{"text": "суд", "env": "arbitr", "sort": 1, "sortOrder": 1}))
	if arbitr.TotalDocs == 0 {
		t.Fatal("search(суд, arbitr) found nothing")
	}
	for _, d := range arbitr.Documents {
		if !strings.HasPrefix(d.Name, "Решение") && !strings.HasPrefix(d.Name, "Приговор") {
			t.Errorf("search(arbitr) returned %q, want court practice only", d.Name)
		}
	}
	sim := New(DefaultConfig())
	var dates []string
	for _, d := range arbitr.Documents {
		dates = append(dates, sim.corpus.byTopic[d.Topic].date.Format("2006-01-02"))
	}
	if !slices.IsSorted(dates) {
		t.Errorf("search(sort=1, sortOrder=1) dates = %v, want ascending", dates)
	}
}

func TestSearchQueryLanguage(t *testing.T) {
	t.Parallel()
	_, ts := newTest(t)
	tests := []struct {
		query string
		want  []int // must be among the results
		not   []int // must not be
	}{
		{"Type(Кодекс)", []int{TopicCivilCode, TopicTaxCode, TopicLabourCode}, []int{TopicConstitution}},
		{"Type(Федеральный закон) & Number(44)", []int{TopicContractLaw}, []int{TopicTrafficLaw}},
		{"Date(05.04.2013;05.04.2013)", []int{TopicContractLaw}, []int{TopicTrafficLaw}},
		{"Date(;31.12.1993)", []int{TopicMinWageResolution, TopicConstitution}, []int{TopicContractLaw}},
		{"Date(01.12.2017;)", []int{TopicTrafficLaw}, []int{TopicCivilCode}},
		{"MorphoName(контрактной системе) | Type(Конституция)", []int{TopicContractLaw, TopicConstitution}, []int{TopicCivilCode}},
		{"BOOL(Type(Кодекс) | Type(Конституция)) & MorphoName(гражданский)", []int{TopicCivilCode}, []int{TopicConstitution, TopicTaxCode}},
		{"MorphoText(возмещение убытков) & Type(Кодекс)", []int{TopicCivilCode}, nil},
		{"Adopted(Органы власти г. Москвы)", nil, []int{TopicCivilCode}},
		{"Changed(01.01.2019;)", []int{TopicCivilCode}, []int{45069704}},
		{"Respondents(10900200 1)", []int{TopicAdminOffencesCode}, nil},
		{"Correspondents(12125267 150)", []int{TopicCivilCode}, nil},
	}
	for _, tt := range tests {
		r := call(t, ts, "POST", "/v2/search", DemoToken, searchBody(tt.query, true, 1))
		got := topicsOf(decode[searchResponse](t, r))
		if r.status != 200 {
			t.Errorf("search(%q) = %d %s, want 200", tt.query, r.status, r.body)
			continue
		}
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("search(%q) = %v, want it to contain %d", tt.query, got, w)
			}
		}
		for _, n := range tt.not {
			if slices.Contains(got, n) {
				t.Errorf("search(%q) = %v, want it without %d", tt.query, got, n)
			}
		}
	}
	for _, bad := range []string{"MorphoText(налог", "Foo(x)", "Date(32.13.2020;)", "Date(;)", "Type(Кодекс) &", "MorphoText(налог) Type(x)",
		"BOOL(Type(Кодекс)", "налог", "Correspondents(abc)", "MorphoText()"} {
		if r := call(t, ts, "POST", "/v2/search", DemoToken, searchBody(bad, true, 1)); r.status != 400 {
			t.Errorf("search(%q) = %d %s, want 400", bad, r.status, r.body)
		}
	}
}

func TestSearchValidation(t *testing.T) {
	t.Parallel()
	_, ts := newTest(t)
	tests := []struct {
		name string
		body any
	}{
		{"no text", map[string]any{"env": "internet", "sort": 0, "sortOrder": 0}},
		{"empty text", map[string]any{"text": "", "env": "internet", "sort": 0, "sortOrder": 0}},
		{"text over 16 KB", map[string]any{"text": strings.Repeat("налог ", 3000), "env": "internet", "sort": 0, "sortOrder": 0}},
		{"no env", map[string]any{"text": "налог", "sort": 0, "sortOrder": 0}},
		{"bad env", map[string]any{"text": "налог", "env": "arbitrazh", "sort": 0, "sortOrder": 0}},
		{"no sort", map[string]any{"text": "налог", "env": "internet", "sortOrder": 0}},
		{"sort 4", map[string]any{"text": "налог", "env": "internet", "sort": 4, "sortOrder": 0}},
		{"sortOrder 2", map[string]any{"text": "налог", "env": "internet", "sort": 0, "sortOrder": 2}},
		{"page 0", map[string]any{"text": "налог", "env": "internet", "sort": 0, "sortOrder": 0, "page": 0}},
		{"page as string", map[string]any{"text": "налог", "env": "internet", "sort": 0, "sortOrder": 0, "page": "1"}},
		{"unknown field", map[string]any{"text": "налог", "env": "internet", "sort": 0, "sortOrder": 0, "count": 20}},
		{"not JSON", `{"text": "налог",`},
	}
	for _, tt := range tests {
		if r := call(t, ts, "POST", "/v2/search", DemoToken, tt.body); r.status != 400 || !strings.Contains(string(r.body), `"error"`) {
			t.Errorf("search(%s) = %d %s, want 400 with an error body", tt.name, r.status, r.body)
		}
	}
}
