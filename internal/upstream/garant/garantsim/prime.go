package garantsim

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// category is a node of the PRIME categories tree.
type category struct {
	Text     string     `json:"text"`
	ID       int        `json:"id,omitempty"`
	Children []category `json:"children,omitempty"`
}

func primeTree() []category {
	leaf := func(id int, text string) category { return category{Text: text, ID: id} }
	return []category{
		{Text: "Вид информации", ID: 1008, Children: []category{
			leaf(24, "Федеральное законодательство и проекты федеральных законов"),
			{Text: "Региональное законодательство", ID: 33, Children: []category{leaf(142, "г.Москва"), leaf(143, "г.Санкт-Петербург")}},
			leaf(25, "Судебная практика"), leaf(26, "Разъяснения органов власти"),
		}},
		{Text: "Сфера интересов", ID: 1001, Children: []category{
			leaf(1, "Налоги и сборы"), leaf(2, "Бухгалтерский учет"), leaf(3, "Трудовые отношения"),
			leaf(4, "Государственные закупки"), leaf(5, "Банки и финансы"), leaf(6, "Недвижимость"),
		}},
		{Text: "Ваша профессия", ID: 1004, Children: []category{
			leaf(144, "Руководитель"), leaf(145, "Бухгалтер"), leaf(146, "Юрист"), leaf(147, "Кадровик"),
		}},
	}
}

// categoryRoots maps every category id to the id of its first-level group.
func categoryRoots() map[int]int {
	out := map[int]int{}
	var walk func(root int, cs []category)
	walk = func(root int, cs []category) {
		for _, c := range cs {
			out[c.ID] = root
			walk(root, c.Children)
		}
	}
	for _, c := range primeTree() {
		out[c.ID] = c.ID
		walk(c.ID, c.Children)
	}
	return out
}

// primeCategories answers GET /v2/prime.
func (s *Server) primeCategories(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"categories": primeTree()})
	return nil
}

type newsRequest struct {
	Categories *[]int  `json:"categories"`
	FromDate   *string `json:"fromDate"`
	ToDate     *string `json:"toDate"`
	Sort       *int    `json:"sort"`
}

type newsItem struct {
	Name       string   `json:"name"`
	Document   docLink  `json:"document"`
	Paragraphs []string `json:"paragraphs"`
	created    time.Time
	docDate    time.Time
	categories []int
}

// newsOn generates the news created on day t, deterministically.
func (s *Server) newsOn(t time.Time) []newsItem {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d|%s", s.cfg.Seed, t.Format(time.DateOnly))
	rng := rand.New(rand.NewPCG(h.Sum64(), s.cfg.Seed))
	pick := func(ids ...int) int { return ids[rng.IntN(len(ids))] }
	var out []newsItem
	for range 2 + rng.IntN(5) {
		d := s.corpus.docs[rng.IntN(len(s.corpus.docs))]
		subj := subjects()[rng.IntN(len(subjects()))]
		head := fmt.Sprintf(newsHeadlines()[rng.IntN(len(newsHeadlines()))], subj)
		kind := map[docClass]int{classCourt: 25, classLetter: 26, classAnalytics: 26}[d.class]
		if kind == 0 {
			kind = pick(24, 24, 142, 143)
		}
		out = append(out, newsItem{
			Name:     head,
			Document: docLink{URL: d.url(), Topic: d.topic, Name: d.name},
			Paragraphs: []string{head, "В документе " + d.name + " уточнен порядок " + subj + ".",
				"Изменения вступают в силу со дня официального опубликования."},
			created:    t,
			docDate:    t.AddDate(0, 0, -rng.IntN(6)),
			categories: []int{kind, pick(1, 2, 3, 4, 5, 6), pick(144, 145, 146, 147)},
		})
	}
	return out
}

// createNews answers POST /v2/prime/create-news.
func (s *Server) createNews(w http.ResponseWriter, r *http.Request) error {
	var req newsRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Categories == nil || len(*req.Categories) == 0 {
		return badRequest("categories must not be empty")
	}
	if req.FromDate == nil {
		return badRequest("fromDate is required")
	}
	from, err := parseDay("fromDate", *req.FromDate)
	if err != nil {
		return err
	}
	today := s.today()
	to := today
	if req.ToDate != nil {
		if to, err = parseDay("toDate", *req.ToDate); err != nil {
			return err
		}
	}
	sort := 1
	if req.Sort != nil {
		sort = *req.Sort
	}
	switch {
	case from.Before(today.AddDate(-1, 0, 0)):
		return badRequest("fromDate is more than one year ago")
	case to.Before(from):
		return badRequest("toDate is before fromDate")
	case to.Sub(from) > 10*24*time.Hour:
		return badRequest("toDate is more than 10 days after fromDate")
	case sort != 1 && sort != 2:
		return badRequest("sort must be 1 or 2")
	}
	roots := categoryRoots()
	want := map[int][]int{} // group → requested ids
	for _, id := range *req.Categories {
		root, ok := roots[id]
		if !ok {
			return notFound("category %d not found", id)
		}
		want[root] = append(want[root], id)
	}
	parent := map[int]int{142: 33, 143: 33}
	matches := func(n newsItem) bool {
		for root, ids := range want {
			ok := false
			for _, c := range n.categories {
				ok = ok || slices.Contains(ids, c) || slices.Contains(ids, parent[c]) || slices.Contains(ids, root) && roots[c] == root
			}
			if !ok {
				return false // groups intersect, as the doc warns
			}
		}
		return true
	}
	date := func(n newsItem) time.Time { return map[bool]time.Time{true: n.docDate, false: n.created}[sort == 1] }
	out := []newsItem{}
	last := to.AddDate(0, 0, 6)
	if last.After(today) {
		last = today
	}
	for t := from.AddDate(0, 0, -6); !t.After(last); t = t.AddDate(0, 0, 1) {
		for _, n := range s.newsOn(t) {
			if d := date(n); !d.Before(from) && !d.After(to) && !n.created.After(today) && matches(n) {
				out = append(out, n)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b newsItem) int { return date(b).Compare(date(a)) })
	writeJSON(w, http.StatusOK, map[string]any{"news": out})
	return nil
}
