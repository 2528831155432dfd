package garantsim

import (
	"encoding/base64"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode"
)

// entriesPerPage is how many blocks one page of /topic/{t}/html carries.
const entriesPerPage = 30

// leaves returns the blocks with text of its own.
func (d *document) leaves() []*entry {
	var out []*entry
	for _, e := range d.entries {
		if len(e.paras) > 0 {
			out = append(out, e)
		}
	}
	return out
}

// addObjects puts images and formulas into some documents.
func addObjects(c *corpus, d *document, rng *rand.Rand, i int) {
	leaves := d.leaves()
	if len(leaves) == 0 {
		return
	}
	addImage := func(e *entry, id int) {
		c.images[id] = imageObj{topic: d.topic, width: 120 + rng.IntN(900), height: 80 + rng.IntN(900)}
		e.paras = append(e.paras, para{image: id})
	}
	addFormula := func(e *entry, code, text string) {
		c.formulas[code] = text
		e.paras = append(e.paras, para{segs: []seg{{text: "Расчет производится по формуле: "}}, formula: code})
	}
	if d.topic == 409276126 {
		addImage(leaves[0], ImageExample)
		addFormula(leaves[1%len(leaves)], FormulaExample, "string()+-string()")
		return
	}
	if d.class == classCourt || d.class == classLetter {
		return
	}
	if i%5 == 0 {
		for {
			id := 30000000 + rng.IntN(9000000)
			if _, dup := c.images[id]; !dup {
				addImage(leaves[rng.IntN(len(leaves))], id)
				break
			}
		}
	}
	if i%7 == 0 {
		f := formulas()[rng.IntN(len(formulas()))]
		addFormula(leaves[rng.IntN(len(leaves))], base64.RawURLEncoding.EncodeToString([]byte(f)), f)
	}
}

func paginate(d *document) {
	d.pages = slices.Collect(slices.Chunk(d.entries, entriesPerPage))
}

// buildHistory creates editions (newest first), change events, change dates
// and the per-block change dates.
func buildHistory(d *document, rng *rand.Rand, i int, laws []*document) {
	inForce := d.date.AddDate(0, 0, 10)
	if d.status == statusFuture {
		inForce = day(2027, 3, 1)
	}
	d.added = d.date.AddDate(0, 0, 3)
	end := day(2026, 10, 1)
	if !d.abolished.IsZero() {
		end = d.abolished
	}
	changes := 0
	switch d.class {
	case classCode:
		changes = 4 + rng.IntN(4)
	case classLaw:
		changes = rng.IntN(6)
	case classResolution, classAnalytics:
		changes = rng.IntN(4)
	case classOrder:
		changes = rng.IntN(3)
	}
	starts := []time.Time{inForce}
	if span := int(end.Sub(inForce).Hours() / 24); span > 60 && d.status != statusFuture {
		for range changes {
			starts = append(starts, inForce.AddDate(0, 0, 30+rng.IntN(span-30)))
		}
	}
	if d.topic == TopicConstitution {
		starts = []time.Time{day(1993, 12, 25), day(2008, 12, 31), day(2014, 2, 6), day(2014, 7, 22), day(2020, 7, 4)}
	}
	slices.SortFunc(starts, time.Time.Compare)
	starts = slices.Compact(starts)

	var eds []edition
	for j, st := range starts {
		ed := edition{Status: "rs_Old", Topic: 3000000 + rng.IntN(6000000), ChangingDocuments: []changing{}, start: st}
		act := span{From: dmy(st)}
		if j+1 < len(starts) {
			act.To = dmy(starts[j+1].AddDate(0, 0, -1))
		}
		ed.Activity = []span{act}
		if j > 0 {
			law := laws[rng.IntN(len(laws))]
			ed.ChangingDocuments = []changing{{Topic: law.topic, Text: "N " + law.number + " от " + dmy(law.date), Entry: 1 + rng.IntN(law.size)}}
			if rng.IntN(8) == 0 {
				ed.NotSure = []notSure{{From: dmy(st), To: dmy(st.AddDate(0, 0, 5)), Text: "Документ официально опубликован в разные даты в нескольких изданиях"}}
			}
		}
		eds = append(eds, ed)
	}
	actual := &eds[len(eds)-1]
	actual.Topic = d.topic
	switch d.status {
	case statusLost:
		actual.Status, actual.Activity[0].To = "rs_ActualAbolished", dmy(d.abolished)
	case statusFuture:
		actual.Status, actual.Activity = "rs_ActualPreactive", []span{}
	default:
		actual.Status = "rs_Actual"
	}
	if d.topic == TopicConstitution {
		eds[0].Topic = 5430766
		actual.ChangingDocuments = []changing{{Topic: 73742836, Text: "N 1-ФКЗ от 14.03.2020", Entry: 1}}
	}

	var evs []event
	if d.class != classCourt && d.class != classLetter && d.class != classAnalytics {
		evs = append(evs, event{inForce, 3})
	}
	for _, st := range starts[1:] {
		evs = append(evs, event{st.AddDate(0, 0, -14), 4}, event{st, 2}, event{st, 5})
		d.chdates = append(d.chdates, st)
		leaves := d.leaves()
		for range 1 + rng.IntN(3) {
			if len(leaves) > 0 {
				e := leaves[rng.IntN(len(leaves))]
				e.changed = append(e.changed, st)
			}
		}
	}
	if (d.class == classLaw || d.class == classCode || d.class == classResolution) && d.status == statusActive && i%6 == 1 {
		future := day(2027, time.Month(1+rng.IntN(12)), 1)
		ed := edition{Status: []string{"rs_New", "rs_NewPreactive", "rs_NewAbolished"}[(i/6)%3], Topic: 3000000 + rng.IntN(6000000),
			ChangingDocuments: []changing{}, Activity: []span{}, start: future}
		if ed.Status == "rs_New" {
			ed.Activity = []span{{From: dmy(future)}}
		}
		eds = append(eds, ed)
		evs = append(evs, event{future.AddDate(0, 0, -45), 4})
	}
	if !d.abolished.IsZero() {
		evs = append(evs, event{d.abolished, 1})
	}
	slices.Reverse(eds)
	d.editions = eds
	slices.SortFunc(evs, func(a, b event) int {
		if c := a.date.Compare(b.date); c != 0 {
			return c
		}
		return a.typ - b.typ
	})
	d.events = evs
	d.lastMod = d.added
	for _, e := range evs {
		if e.date.After(d.lastMod) && e.date.Before(end.AddDate(0, 0, 1)) {
			d.lastMod = e.date
		}
	}
}

// indexWords collects the searchable words of a document; cache holds the
// words of text fragments, which repeat a lot across the corpus.
func indexWords(d *document, cache map[string][]string) {
	split := func(s string) []string {
		ws, ok := cache[s]
		if !ok {
			ws = words(s)
			cache[s] = ws
		}
		return ws
	}
	set := map[string]struct{}{}
	name := words(d.name)
	for _, w := range name {
		set[w] = struct{}{}
	}
	for _, e := range d.entries {
		for _, w := range split(e.title) {
			set[w] = struct{}{}
		}
		for _, p := range e.paras {
			for _, s := range p.segs {
				for _, w := range split(s.text) {
					set[w] = struct{}{}
				}
			}
		}
	}
	all := make([]string, 0, len(set))
	for w := range set {
		all = append(all, w)
	}
	slices.Sort(name)
	slices.Sort(all)
	d.nameWds, d.words = slices.Compact(name), all
}

// words splits text into lower-case words; hyphens inside a word stay.
func words(s string) []string {
	s = strings.ReplaceAll(strings.ToLower(s), "ё", "е")
	f := strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' })
	out := f[:0]
	for _, w := range f {
		if w = strings.Trim(w, "-"); w != "" {
			out = append(out, w)
		}
	}
	return out
}
