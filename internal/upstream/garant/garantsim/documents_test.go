package garantsim

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSnippets(t *testing.T) {
	t.Parallel()
	_, ts := newTest(t)
	type snippets struct {
		Snippets []struct {
			Relevance *string    `json:"relevance"`
			Entry     int        `json:"entry"`
			Ancestors []ancestor `json:"ancestors"`
		} `json:"snippets"`
	}
	r := call(t, ts, "POST", "/v2/snippets", DemoToken, map[string]any{"topic": TopicCivilCode, "text": "возмещение убытков"})
	got := decode[snippets](t, r)
	if r.status != 200 || len(got.Snippets) == 0 {
		t.Fatalf("snippets(ГК, убытки) = %d %s, want 200 with snippets", r.status, r.body)
	}
	var entries []int
	for _, s := range got.Snippets {
		entries = append(entries, s.Entry)
		rel, err := strconv.ParseFloat(deref(s.Relevance), 64)
		if err != nil || rel <= 0 || rel > 1 {
			t.Errorf("snippets(ГК, убытки) relevance = %q, want a string number in (0, 1]", deref(s.Relevance))
		}
		if last := s.Ancestors[len(s.Ancestors)-1]; last.Entry != s.Entry || len(s.Ancestors) < 2 {
			t.Errorf("snippets(ГК) ancestors of %d = %v, want the chapters down to the block itself", s.Entry, s.Ancestors)
		}
	}
	if !slices.Contains(entries, 15) || !slices.IsSorted(entries) {
		t.Errorf("snippets(ГК, убытки) entries = %v, want 15 (Возмещение убытков) among them, in text order", entries)
	}

	r = call(t, ts, "POST", "/v2/snippets", DemoToken, map[string]any{"topic": TopicCivilCode, "correspondent": map[string]int{"topic": TopicAdminOffencesCode, "entry": 150}})
	corr := decode[snippets](t, r)
	if r.status != 200 || len(corr.Snippets) == 0 || corr.Snippets[0].Entry != 1 || corr.Snippets[0].Relevance != nil {
		t.Errorf("snippets(ГК, correspondent КоАП 150) = %d %s, want entry 1 without relevance", r.status, r.body)
	}

	for _, tt := range []struct {
		body any
		want int
	}{
		{map[string]any{"topic": TopicCivilCode}, 400},
		{map[string]any{"topic": TopicCivilCode, "text": "убытки", "correspondent": map[string]int{"topic": 1, "entry": 1}}, 400},
		{map[string]any{"text": "убытки"}, 400},
		{map[string]any{"topic": TopicCivilCode, "correspondent": map[string]int{"topic": 1}}, 400},
		{map[string]any{"topic": 999, "text": "убытки"}, 404},
	} {
		if r := call(t, ts, "POST", "/v2/snippets", DemoToken, tt.body); r.status != tt.want {
			t.Errorf("snippets(%v) = %d %s, want %d", tt.body, r.status, r.body, tt.want)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<absent>"
	}
	return *s
}

func TestTopicInfoAndRedactions(t *testing.T) {
	t.Parallel()
	sim, ts := newTest(t)
	r := call(t, ts, "GET", "/v2/topic/102004", DemoToken, nil)
	got := decode[topicInfo](t, r)
	want := topicInfo{
		Topic: 102004, Name: got.Name, Type: []string{"Постановление"},
		Adopted: []string{"Органы законодательной власти России и СССР\\Верховный Совет России\\ВС РФ (Верховный Совет России)"},
		Class:   []string{"Труд, трудоустройство, занятость населения\\Оплата труда\\Размер заработной платы, минимальная заработная плата (МРОТ)"},
		Date:    []string{"30.3.1993"}, Number: []string{"4694-1"}, RStatus: "Иные", Category: []string{"Общие"},
		Status: "Действующие", Kind: []string{"Акты органов власти\\Федеральные акты"}, Territory: []string{"Российская Федерация"},
		Active: got.Active, ChDate: got.ChDate, LastModified: got.LastModified, Access: "ACCESS_IS_FREE",
	}
	if diff := cmp.Diff(want, got); r.status != 200 || diff != "" {
		t.Errorf("GET /v2/topic/102004 = %d, diff (-want +got):\n%s", r.status, diff)
	}
	if r := call(t, ts, "GET", "/v2/topic/1", DemoToken, nil); r.status != 404 {
		t.Errorf("GET /v2/topic/1 = %d, want 404", r.status)
	}
	if r := call(t, ts, "GET", "/v2/topic/abc", DemoToken, nil); r.status != 400 {
		t.Errorf("GET /v2/topic/abc = %d, want 400", r.status)
	}

	// Editions: a bare array, newest first, the actual one under the topic,
	// and every status somewhere in the corpus.
	statuses := map[string]bool{}
	for _, topic := range sim.Topics() {
		r := call(t, ts, "GET", "/v2/redactions/"+strconv.Itoa(topic), DemoToken, nil)
		eds := decode[[]edition](t, r)
		actual := slices.IndexFunc(eds, func(e edition) bool { return e.Topic == topic })
		if r.status != 200 || actual < 0 || !strings.HasPrefix(eds[actual].Status, "rs_Actual") {
			t.Fatalf("GET /v2/redactions/%d = %d %s, want the actual edition under the topic", topic, r.status, r.body)
		}
		for _, e := range eds {
			statuses[e.Status] = true
		}
	}
	want7 := []string{"rs_Actual", "rs_ActualAbolished", "rs_ActualPreactive", "rs_New", "rs_NewAbolished", "rs_NewPreactive", "rs_Old"}
	var gotStatuses []string
	for s := range statuses {
		gotStatuses = append(gotStatuses, s)
	}
	slices.Sort(gotStatuses)
	if diff := cmp.Diff(want7, gotStatuses); diff != "" {
		t.Errorf("edition statuses across the corpus (-want +got):\n%s", diff)
	}
	if n := len(sim.Topics()); n < 300 {
		t.Errorf("Topics() = %d documents, want at least 300", n)
	}
}

func TestHTMLExportAndObjects(t *testing.T) {
	t.Parallel()
	_, ts := newTest(t)
	type page struct {
		Number int    `json:"number"`
		Text   string `json:"text"`
	}
	r := call(t, ts, "GET", "/v2/topic/10900200/html", DemoToken, nil)
	pages := decode[struct{ Items []page }](t, r).Items
	if r.status != 200 || len(pages) < 5 {
		t.Fatalf("GET /v2/topic/10900200/html = %d with %d pages, want a multi-page document", r.status, len(pages))
	}
	for i, p := range pages {
		if p.Number != i+1 || !strings.Contains(p.Text, `<div class="block" data-relativeBlockId="`) {
			t.Errorf("page %d = number %d %.80q, want numbered pages of blocks", i+1, p.Number, p.Text)
		}
	}
	if !strings.HasPrefix(pages[0].Text, `<p id="p_`) || !strings.Contains(pages[0].Text, "Гражданский кодекс") {
		t.Errorf("page 1 starts %.100q, want the document name", pages[0].Text)
	}

	var text string
	for _, p := range decode[struct{ Items []page }](t, call(t, ts, "GET", "/v2/topic/409276126/html", DemoToken, nil)).Items {
		text += p.Text
	}
	img := regexp.MustCompile(`src="/document/image\?revision=\d+&document_id=409276126&object_id=(\d+)"`).FindStringSubmatch(text)
	formula := regexp.MustCompile(`src="/document/formula\?revision=\d+&text=([^&"]+)&fmt=png"`).FindStringSubmatch(text)
	if img == nil || formula == nil {
		t.Fatalf("GET /v2/topic/409276126/html = %.300s, want image and formula links", text)
	}
	if r := call(t, ts, "GET", "/v2/image/"+img[1], DemoToken, nil); r.status != 200 || r.header.Get("Content-Type") != "image/png" {
		t.Errorf("GET /v2/image/%s = %d %s, want 200 image/png", img[1], r.status, r.header.Get("Content-Type"))
	}
	if r := call(t, ts, "GET", "/v2/formula?text="+formula[1]+"&fmt=png", DemoToken, nil); r.status != 200 || r.header.Get("Content-Type") != "image/png" {
		t.Errorf("GET /v2/formula?text=%s = %d, want 200 image/png", formula[1], r.status)
	}
	for path, want := range map[string]int{
		"/v2/image/1":                                 404,
		"/v2/image/x":                                 400,
		"/v2/formula?text=bm9wZQ&fmt=png":             404,
		"/v2/formula?text=" + formula[1]:              400,
		"/v2/formula?text=" + formula[1] + "&fmt=gif": 400,
		"/v2/formula?fmt=png":                         400,
	} {
		if r := call(t, ts, "GET", path, DemoToken, nil); r.status != want {
			t.Errorf("GET %s = %d, want %d", path, r.status, want)
		}
	}
}

func TestEntryHTML(t *testing.T) {
	t.Parallel()
	_, ts := newTest(t)
	r := call(t, ts, "GET", "/v2/topic/10900200/entry/15/html", DemoToken, nil)
	got := decode[entryHTMLResponse](t, r)
	if r.status != 200 || got.Entry != 15 || !strings.HasPrefix(got.Title, "Гражданский кодекс") ||
		!strings.Contains(got.Text, "Статья 15. Возмещение убытков") || got.Ancestors[len(got.Ancestors)-1].Entry != 15 {
		t.Errorf("GET entry 15 html = %d %+v, want the article with its ancestors", r.status, got)
	}
	// A chapter carries its articles and all their citations, capped and sorted.
	chapter := decode[entryHTMLResponse](t, call(t, ts, "GET", "/v2/topic/10900200/entry/1000001/html", DemoToken, nil))
	if len(chapter.Respondents) == 0 || len(chapter.Respondents) > 100 ||
		!slices.IsSortedFunc(chapter.Respondents, func(a, b ref) int { return a.Topic - b.Topic }) {
		t.Errorf("GET section html respondents = %v, want 1..100 sorted by topic", chapter.Respondents)
	}
	if r := call(t, ts, "GET", "/v2/topic/10900200/entry/999999/html", DemoToken, nil); r.status != 404 {
		t.Errorf("GET unknown entry = %d, want 404", r.status)
	}
}
