package garantsim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFindModified(t *testing.T) {
	t.Parallel()
	_, ts := newTest(t)
	type resp struct {
		Topics []modifiedTopic `json:"topics"`
	}
	r := call(t, ts, "POST", "/v2/find-modified", DemoToken, map[string]any{"topics": []int{TopicAbolished, 45069704, 49054494}, "modDate": "2019-07-01", "needEvents": true})
	got := decode[resp](t, r)
	if r.status != 200 || len(got.Topics) != 2 {
		t.Fatalf("find-modified = %d %s, want the changed and the unknown topic only", r.status, r.body)
	}
	if c := got.Topics[0]; c.Topic != TopicAbolished || c.ModStatus != 1 || len(c.Events) == 0 ||
		!slices.ContainsFunc(c.Events, func(e eventJSON) bool { return e.Date == "2023-12-31" && e.Type == 1 }) {
		t.Errorf("find-modified changed = %+v, want modStatus 1 with the loss of force on 2023-12-31", c)
	}
	if u := got.Topics[1]; u.Topic != 49054494 || u.ModStatus != 2 {
		t.Errorf("find-modified unknown = %+v, want modStatus 2", u)
	}
	for _, e := range got.Topics[0].Events {
		if e.Date < "2019-07-01" || e.Type < 1 || e.Type > 5 {
			t.Errorf("event %+v, want on or after modDate with type 1..5", e)
		}
	}
	quiet := call(t, ts, "POST", "/v2/find-modified", DemoToken, map[string]any{"topics": []int{TopicCivilCode}, "modDate": "2019-07-01"})
	if strings.Contains(string(quiet.body), "events") {
		t.Errorf("find-modified without needEvents = %s, want no events", quiet.body)
	}
	many := make([]int, 101)
	for _, tt := range []struct {
		name string
		body any
	}{
		{"101 topics", map[string]any{"topics": many, "modDate": "2019-07-01"}},
		{"before 2018", map[string]any{"topics": []int{1}, "modDate": "2017-12-31"}},
		{"bad date", map[string]any{"topics": []int{1}, "modDate": "01.07.2019"}},
		{"no date", map[string]any{"topics": []int{1}}},
		{"no topics", map[string]any{"modDate": "2019-07-01"}},
	} {
		if r := call(t, ts, "POST", "/v2/find-modified", DemoToken, tt.body); r.status != 400 {
			t.Errorf("find-modified(%s) = %d, want 400", tt.name, r.status)
		}
	}
}

func TestBlocksOnControl(t *testing.T) {
	t.Parallel()
	_, ts := newTest(t)
	changed := "https://internet.garant.ru/#/document/10900200/entry/323"
	unknown := "https://internet.garant.ru/#/document/1/entry/1"
	r := call(t, ts, "POST", "/v2/block-on-control/changed", DemoToken, map[string]any{"fromDate": "2019-06-01", "urlArray": []string{changed, unknown}, "needEvents": true})
	got := decode[struct{ URLArray []blockChange }](t, r)
	if r.status != 200 || len(got.URLArray) != 2 || got.URLArray[0].URL != changed || got.URLArray[0].ModStatus != 1 ||
		len(got.URLArray[0].Events) == 0 || got.URLArray[1].ModStatus != 2 {
		t.Errorf("block-on-control = %d %s, want the changed block with events and the unknown one", r.status, r.body)
	}
	late := decode[struct{ URLArray []blockChange }](t, call(t, ts, "POST", "/v2/block-on-control/changed", DemoToken,
		map[string]any{"fromDate": "2026-11-01", "urlArray": []string{changed}}))
	if len(late.URLArray) != 0 {
		t.Errorf("block-on-control(unchanged since) = %+v, want nothing", late.URLArray)
	}
	for _, body := range []any{
		map[string]any{"fromDate": "2019-06-01", "urlArray": []string{"not a link"}},
		map[string]any{"fromDate": "2017-06-01", "urlArray": []string{changed}},
		map[string]any{"urlArray": []string{changed}},
		map[string]any{"fromDate": "2019-06-01"},
	} {
		if r := call(t, ts, "POST", "/v2/block-on-control/changed", DemoToken, body); r.status != 400 {
			t.Errorf("block-on-control(%v) = %d, want 400", body, r.status)
		}
	}
}

// ChangeFragment: a changed fragment (and the block containing it) is
// reported from its date, a sibling is not, the document's change shows in
// find-modified and topic info; more than 100 links are refused.
func TestChangeFragment(t *testing.T) {
	t.Parallel()
	sim, ts := newTest(t)
	today := sim.today()
	entries := sim.Entries(TopicLabourCode)
	if len(entries) < 3 {
		t.Fatalf("Entries(labour code) = %v, want several", entries)
	}
	var leaf, sibling int
	for _, n := range entries {
		e := sim.corpus.byTopic[TopicLabourCode].byEntry[n]
		if len(e.children) == 0 && e.parent != nil {
			if leaf == 0 {
				leaf = n
			} else if sibling == 0 && sim.corpus.byTopic[TopicLabourCode].byEntry[leaf].parent == e.parent {
				sibling = n
			}
		}
	}
	if leaf == 0 || sibling == 0 {
		t.Fatalf("no two sibling leaves among %v", entries)
	}
	parent := sim.corpus.byTopic[TopicLabourCode].byEntry[leaf].parent.number
	link := func(n int) string {
		return "https://internet.garant.ru/#/document/" + itoa(TopicLabourCode) + "/entry/" + itoa(n)
	}
	from := today.Format(time.DateOnly)
	ask := func() []string {
		t.Helper()
		r := call(t, ts, "POST", "/v2/block-on-control/changed", DemoToken,
			map[string]any{"fromDate": from, "urlArray": []string{link(leaf), link(sibling), link(parent)}, "needEvents": true})
		got := decode[struct{ URLArray []blockChange }](t, r)
		var urls []string
		for _, b := range got.URLArray {
			if b.ModStatus != 1 || len(b.Events) == 0 || b.Events[len(b.Events)-1].Date != from {
				t.Errorf("block %+v, want modStatus 1 with today's event", b)
			}
			urls = append(urls, b.URL)
		}
		return urls
	}
	if got := ask(); len(got) != 0 {
		t.Fatalf("block-on-control before the change = %v, want nothing", got)
	}
	if err := sim.ChangeFragment(TopicLabourCode, leaf, fixedNow); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{link(leaf), link(parent)}, ask()); diff != "" {
		t.Errorf("block-on-control after ChangeFragment (-want +got):\n%s", diff)
	}
	fm := decode[struct{ Topics []modifiedTopic }](t, call(t, ts, "POST", "/v2/find-modified", DemoToken,
		map[string]any{"topics": []int{TopicLabourCode}, "modDate": from}))
	if len(fm.Topics) != 1 || fm.Topics[0].ModStatus != 1 {
		t.Errorf("find-modified after ChangeFragment = %+v, want the document changed", fm.Topics)
	}
	info := decode[struct {
		ChDate       []string `json:"chdate"`
		LastModified string   `json:"last_modified"`
	}](t, call(t, ts, "GET", "/v2/topic/"+itoa(TopicLabourCode), DemoToken, nil))
	if want := dotDate(today); info.LastModified != want || !slices.Contains(info.ChDate, want) {
		t.Errorf("topic info after the change = %+v, want last_modified and a chdate %s", info, want)
	}
	if err := sim.ChangeFragment(TopicLabourCode, 99999999, fixedNow); err == nil {
		t.Error("ChangeFragment(no such entry) = nil, want an error")
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = link(leaf)
	}
	if r := call(t, ts, "POST", "/v2/block-on-control/changed", DemoToken, map[string]any{"fromDate": from, "urlArray": many}); r.status != 400 {
		t.Errorf("block-on-control(101 links) = %d, want 400", r.status)
	}
}

func TestPrime(t *testing.T) {
	t.Parallel()
	sim, ts := newTest(t)
	tree := decode[struct{ Categories []category }](t, call(t, ts, "GET", "/v2/prime", DemoToken, nil))
	if len(tree.Categories) < 2 || tree.Categories[0].Text != "Вид информации" || len(tree.Categories[0].Children) == 0 {
		t.Fatalf("GET /v2/prime = %+v, want the categories tree", tree)
	}
	today := sim.today()
	from := today.AddDate(0, 0, -9).Format(time.DateOnly)
	type newsResp struct {
		News []struct {
			Name       string   `json:"name"`
			Document   docLink  `json:"document"`
			Paragraphs []string `json:"paragraphs"`
		} `json:"news"`
	}
	r := call(t, ts, "POST", "/v2/prime/create-news", DemoToken, map[string]any{"categories": []int{1, 2, 3, 4, 5, 6}, "fromDate": from, "sort": 2})
	news := decode[newsResp](t, r)
	if r.status != 200 || len(news.News) == 0 {
		t.Fatalf("create-news = %d %s, want news", r.status, r.body)
	}
	for _, n := range news.News {
		if n.Name == "" || n.Document.Topic == 0 || !strings.HasPrefix(n.Document.URL, "/#/document/") || len(n.Paragraphs) == 0 {
			t.Errorf("news item %+v, want name, document and paragraphs", n)
		}
	}
	// Categories from two groups intersect: fewer or equal news.
	narrow := decode[newsResp](t, call(t, ts, "POST", "/v2/prime/create-news", DemoToken, map[string]any{"categories": []int{1, 25}, "fromDate": from, "sort": 2}))
	if len(narrow.News) > len(news.News) {
		t.Errorf("create-news(1 & 25) = %d news, want at most %d", len(narrow.News), len(news.News))
	}
	for _, tt := range []struct {
		body any
		want int
	}{
		{map[string]any{"categories": []int{}, "fromDate": from}, 400},
		{map[string]any{"categories": []int{1}}, 400},
		{map[string]any{"categories": []int{1}, "fromDate": today.AddDate(-1, 0, -1).Format(time.DateOnly), "toDate": today.AddDate(-1, 0, 5).Format(time.DateOnly)}, 400},
		{map[string]any{"categories": []int{1}, "fromDate": today.AddDate(0, 0, -20).Format(time.DateOnly)}, 400},
		{map[string]any{"categories": []int{1}, "fromDate": from, "toDate": today.AddDate(0, 0, -10).Format(time.DateOnly)}, 400},
		{map[string]any{"categories": []int{1}, "fromDate": from, "sort": 3}, 400},
		{map[string]any{"categories": []int{1}, "fromDate": "01.11.2026"}, 400},
		{map[string]any{"categories": []int{99999}, "fromDate": from}, 404},
	} {
		if r := call(t, ts, "POST", "/v2/prime/create-news", DemoToken, tt.body); r.status != tt.want {
			t.Errorf("create-news(%v) = %d %s, want %d", tt.body, r.status, r.body, tt.want)
		}
	}
}

func TestSutyazhnik(t *testing.T) {
	t.Parallel()
	_, ts := newTest(t)
	r := call(t, ts, "POST", "/v2/sutyazhnik-search", DemoToken, map[string]any{"text": "Ставка ндс", "count": 3, "kind": []string{"301", "302"}})
	got := decode[struct{ Documents []kindResult }](t, r)
	var kinds []string
	for _, d := range got.Documents {
		kinds = append(kinds, d.Kind)
		if len(d.Courts) == 0 || len(d.Courts) > 3 || len(d.Norms) == 0 || len(d.Norms) > 3 {
			t.Errorf("kind %s: %d courts, %d norms, want 1..3 of each", d.Kind, len(d.Courts), len(d.Norms))
		}
		for _, c := range d.Courts {
			arbitration := strings.Contains(c.Name, "Арбитражн") || strings.Contains(c.Name, "арбитражн")
			if arbitration != (d.Kind == "302") || !strings.Contains(c.URL, "/paragraph/") {
				t.Errorf("kind %s court %+v, want courts of that kind with paragraph links", d.Kind, c)
			}
		}
	}
	if diff := cmp.Diff([]string{"301", "302"}, kinds); r.status != 200 || diff != "" {
		t.Errorf("sutyazhnik kinds = %d, diff (-want +got):\n%s", r.status, diff)
	}
	for _, body := range []any{
		map[string]any{"text": "ндс", "count": 0, "kind": []string{"301"}},
		map[string]any{"text": "ндс", "count": 1001, "kind": []string{"301"}},
		map[string]any{"text": "ндс", "count": 5, "kind": []string{"304"}},
		map[string]any{"text": "ндс", "count": 5, "kind": []string{}},
		map[string]any{"count": 5, "kind": []string{"301"}},
		map[string]any{"text": "ндс", "count": 5, "kind": []int{301}},
	} {
		if r := call(t, ts, "POST", "/v2/sutyazhnik-search", DemoToken, body); r.status != 400 {
			t.Errorf("sutyazhnik(%v) = %d, want 400", body, r.status)
		}
	}
}

func TestMisspelledKeys(t *testing.T) {
	t.Parallel()
	for _, misspelled := range []bool{false, true} {
		_, ts := newTest(t, func(c *Config) { c.MisspelledKeys = misspelled })
		html := string(call(t, ts, "GET", "/v2/topic/10103000/html", DemoToken, nil).body)
		mod := string(call(t, ts, "POST", "/v2/find-modified", DemoToken, map[string]any{"topics": []int{TopicAbolished}, "modDate": "2019-07-01"}).body)
		if got := strings.Contains(html, `"number:":1`); got != misspelled || strings.Contains(html, `"number":1`) == misspelled {
			t.Errorf("topic/html with MisspelledKeys=%v = %.80s, want \"number:\" only when misspelled", misspelled, html)
		}
		if got := strings.Contains(mod, `"topic:":`); got != misspelled || strings.Contains(mod, `"topic":`) == misspelled {
			t.Errorf("find-modified with MisspelledKeys=%v = %s, want \"topic:\" only when misspelled", misspelled, mod)
		}
	}
}
