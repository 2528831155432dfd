package garantsim

import (
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// docClass says what a document is, which drives its text and structure.
type docClass int

const (
	classCode docClass = iota
	classLaw
	classResolution
	classOrder
	classLetter
	classCourt
	classAnalytics
)

// ref points at a document (entry 0 = the whole document) or one of its blocks.
type ref struct {
	Topic int `json:"topic"`
	Entry int `json:"entry"`
}

// seg is a run of paragraph text, linked when topic is non-zero.
type seg struct {
	text string
	link ref
}

// para is one paragraph of a block.
type para struct {
	segs    []seg
	image   int    // object_id of an image paragraph
	formula string // formula code shown after the text
}

// entry is a structural block (article, chapter, point, paragraph).
type entry struct {
	number   int
	title    string
	paras    []para
	parent   *entry
	children []*entry
	changed  []time.Time // dates the block's text changed
}

type document struct {
	topic     int
	class     docClass
	name      string
	types     []string
	adopted   []string
	classes   []string
	date      time.Time
	number    string
	rdate     time.Time
	rcode     string
	rstatus   string
	category  []string
	status    string
	kinds     []string
	territory []string
	access    string
	envs      []string
	court     string    // "301", "302" or "303" for court practice
	force     int       // legal force rank, higher is stronger
	added     time.Time // when the document appeared in the system
	abolished time.Time
	revision  int
	size      int // number of articles, points or paragraphs to generate

	aliases  []string // genitive names for "статьи 15 {alias}", codes only
	entries  []*entry // every block in text order
	byEntry  map[int]*entry
	top      []*entry   // top-level blocks
	pages    [][]*entry // top-level blocks per HTML page
	editions []edition
	events   []event
	chdates  []time.Time
	lastMod  time.Time
	words    []string // sorted unique lower-case words of name and text
	nameWds  []string
}

type edition struct {
	Status            string     `json:"status"`
	Topic             int        `json:"topic"`
	ChangingDocuments []changing `json:"changingDocuments"`
	Activity          []span     `json:"activity"`
	NotSure           []notSure  `json:"notSure,omitempty"`
	start             time.Time
}

type changing struct {
	Topic int    `json:"topic"`
	Text  string `json:"text"`
	Entry int    `json:"entry"`
}

type span struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

type notSure struct {
	From string `json:"from"`
	To   string `json:"to"`
	Text string `json:"text"`
}

type event struct {
	date time.Time
	typ  int
}

type imageObj struct {
	topic, width, height int
}

type corpus struct {
	docs     []*document
	byTopic  map[int]*document
	images   map[int]imageObj
	formulas map[string]string // code → formula text
	// citedBy maps a respondent (topic, entry) to the documents citing it.
	citedBy map[ref][]int
	linker  *linker
}

// buildCorpus generates the whole corpus from seed, deterministically.
func buildCorpus(seed uint64) *corpus {
	rng := rand.New(rand.NewPCG(seed, seed^0x5deece66d))
	c := &corpus{byTopic: map[int]*document{}, images: map[int]imageObj{}, formulas: map[string]string{}, citedBy: map[ref][]int{}}
	for _, d := range fixedDocuments() {
		c.add(d)
	}
	generateDocuments(c, rng)
	for _, d := range c.docs {
		if len(d.entries) == 0 {
			buildSkeleton(d, rng)
		}
	}
	targets := refTargets(c)
	for _, d := range c.docs {
		fillText(d, rng, targets)
	}
	cache := map[string][]string{}
	for i, d := range c.docs {
		addObjects(c, d, rng, i)
		paginate(d)
		buildHistory(d, rng, i, targets.laws)
		indexWords(d, cache)
		for _, e := range d.entries {
			for _, r := range blockRefs(e, false) {
				c.citedBy[r] = append(c.citedBy[r], d.topic)
				c.citedBy[ref{Topic: r.Topic}] = append(c.citedBy[ref{Topic: r.Topic}], d.topic)
			}
		}
	}
	for k, v := range c.citedBy {
		slices.Sort(v)
		c.citedBy[k] = slices.Compact(v)
	}
	c.linker = newLinker(c)
	return c
}

func (c *corpus) add(d *document) bool {
	if _, dup := c.byTopic[d.topic]; dup {
		return false
	}
	if d.revision == 0 {
		d.revision = 100000000 + d.topic%90000000
	}
	c.docs = append(c.docs, d)
	c.byTopic[d.topic] = d
	return true
}

// url is the relative document link the API answers.
func (d *document) url() string { return "/#/document/" + itoa(d.topic) }

// ancestors lists the block's containers from the top, the block itself last.
func (e *entry) ancestors() []ancestor {
	var out []ancestor
	for x := e; x != nil; x = x.parent {
		out = append(out, ancestor{Entry: x.number, Title: x.title})
	}
	slices.Reverse(out)
	return out
}

type ancestor struct {
	Entry int    `json:"entry"`
	Title string `json:"title"`
}

// blockRefs returns the references of a block (and its children when deep),
// sorted by topic and entry, at most 100.
func blockRefs(e *entry, deep bool) []ref {
	var out []ref
	var walk func(x *entry)
	walk = func(x *entry) {
		for _, p := range x.paras {
			for _, s := range p.segs {
				if s.link.Topic != 0 {
					out = append(out, s.link)
				}
			}
		}
		if deep {
			for _, ch := range x.children {
				walk(ch)
			}
		}
	}
	walk(e)
	slices.SortFunc(out, func(a, b ref) int {
		if a.Topic != b.Topic {
			return a.Topic - b.Topic
		}
		return a.Entry - b.Entry
	})
	out = slices.Compact(out)
	if len(out) > 100 {
		out = out[:100]
	}
	return out
}

// plainText is a block's own text without markup.
func (p para) plainText(c *corpus) string {
	var b strings.Builder
	for _, s := range p.segs {
		b.WriteString(s.text)
	}
	if p.formula != "" {
		b.WriteString(" " + c.formulas[p.formula])
	}
	if p.image != 0 {
		b.WriteString("[Рисунок]")
	}
	return b.String()
}

// dateWords renders "29 декабря 2017 г.".
func dateWords(t time.Time) string {
	return itoa(t.Day()) + " " + monthsGenitive()[t.Month()-1] + " " + itoa(t.Year()) + " г."
}

// dotDate renders the API's attribute dates, "30.3.1993".
func dotDate(t time.Time) string {
	return itoa(t.Day()) + "." + itoa(int(t.Month())) + "." + itoa(t.Year())
}

// dmy renders "04.07.2020".
func dmy(t time.Time) string { return t.Format("02.01.2006") }

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
