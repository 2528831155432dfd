package garantsim

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxHyperlinkText is the documented 20 MB limit of find-hyperlinks.
const maxHyperlinkText = 20 << 20

// linker finds citations of corpus documents in free text. Go's regexp has
// no DFA, so a big alternation over 20 MB would take minutes: the linker
// finds candidate words with strings.Index on a lower-cased copy, then
// matches small anchored patterns and the code names at each candidate.
type linker struct {
	article  *regexp.Regexp // "статьей 15 "
	law      *regexp.Regexp // "Федеральным законом от 29 декабря 2017 г. N 443-ФЗ"
	aliases  []alias        // code names, longest first
	triggers []string       // lower-case words a citation can start with
	byKey    map[string]int // "2017-12-29|443-ФЗ" → topic
	tag      *regexp.Regexp
}

type alias struct {
	name string
	doc  *document
}

func newLinker(c *corpus) *linker {
	month := strings.Join(monthsGenitive(), "|")
	l := &linker{
		article: regexp.MustCompile(`^(?i:стать\p{L}*)\s+(\d+)(?:\.\d+)?\s+`),
		law: regexp.MustCompile(`^(?P<head>(?i:федеральн\p{L}*\s+закон\p{L}*|закон\p{L}*\s+(?:РФ|Российской\s+Федерации)|постановлени\p{L}*\s+(?:Правительства\s+(?:РФ|Российской\s+Федерации|Москвы)|ВС\s+РФ)|указ\p{L}*\s+Президента\s+(?:РФ|Российской\s+Федерации)|приказ\p{L}*\s+\p{L}+\s+России|письм\p{L}*\s+\p{L}+\s+России))` +
			`\s+от\s+(?:(?P<d1>\d{1,2})\s+(?P<m1>` + month + `)\s+(?P<y1>\d{4})(?:\s*г\.|\s+года)?|(?P<d2>\d{1,2})\.(?P<m2>\d{1,2})\.(?P<y2>\d{4})(?:\s*г\.)?)` +
			`\s*(?:N|№)\s*(?P<num>[0-9A-Za-zА-Яа-яЁё][0-9A-Za-zА-Яа-яЁё\-/@]*)`),
		triggers: []string{"стать", "федеральн", "закон", "постановлени", "указ", "приказ", "письм"},
		byKey:    map[string]int{},
		tag:      regexp.MustCompile(`<[^>]*>`),
	}
	for _, d := range c.docs {
		if d.number != "" && d.class != classCourt {
			l.byKey[d.date.Format("2006-01-02")+"|"+normNumber(d.number)] = d.topic
		}
		for _, a := range d.aliases {
			l.aliases = append(l.aliases, alias{name: a, doc: d})
			if first := lower(strings.Fields(a)[0]); !slices.Contains(l.triggers, first) {
				l.triggers = append(l.triggers, first)
			}
		}
	}
	// Longest first, so "Гражданского кодекса РФ" wins over "Гражданского кодекса".
	slices.SortStableFunc(l.aliases, func(a, b alias) int { return len(b.name) - len(a.name) })
	return l
}

// lower lower-cases the runes whose encoding keeps its length, so byte
// offsets in the copy are offsets in the original.
func lower(s string) string {
	return strings.Map(func(r rune) rune {
		if lr := unicode.ToLower(r); utf8.RuneLen(lr) == utf8.RuneLen(r) {
			return lr
		}
		return r
	}, s)
}

func normNumber(n string) string {
	n = strings.ToUpper(strings.TrimRight(n, ".,;"))
	return strings.NewReplacer("I", "1", "№", "", " ", "").Replace(n)
}

// link wraps every citation found in text (plain or HTML) in a link to base.
func (l *linker) link(c *corpus, text, base string) string {
	base = strings.TrimRight(base, "/")
	var b strings.Builder
	b.Grow(len(text) + len(text)/8)
	inAnchor := false
	last := 0
	for _, loc := range l.tag.FindAllStringIndex(text, -1) {
		if !inAnchor {
			l.linkText(&b, c, text[last:loc[0]], base)
		} else {
			b.WriteString(text[last:loc[0]])
		}
		t := strings.ToLower(text[loc[0]:loc[1]])
		switch {
		case strings.HasPrefix(t, "<a ") || t == "<a>":
			inAnchor = true
		case strings.HasPrefix(t, "</a"):
			inAnchor = false
		}
		b.WriteString(text[loc[0]:loc[1]])
		last = loc[1]
	}
	if inAnchor {
		b.WriteString(text[last:])
	} else {
		l.linkText(&b, c, text[last:], base)
	}
	return b.String()
}

// candidates returns the sorted offsets where a trigger word starts a word.
func (l *linker) candidates(s string) []int {
	low := lower(s)
	var out []int
	for _, t := range l.triggers {
		for i := 0; ; {
			j := strings.Index(low[i:], t)
			if j < 0 {
				break
			}
			p := i + j
			if r, _ := utf8.DecodeLastRuneInString(s[:p]); p == 0 || !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				out = append(out, p)
			}
			i = p + len(t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// citation is one found reference: text[start:end] is wrapped in the link.
type citation struct {
	start, end int
	href       string
}

// matchAt recognises a citation starting at p.
func (l *linker) matchAt(c *corpus, s string, p int, base string) (citation, bool) {
	window := func(from int) string { return s[from:min(len(s), from+400)] }
	rest, artN, hasArt := p, 0, false
	if m := l.article.FindStringSubmatchIndex(window(p)); m != nil {
		rest, artN, hasArt = p+m[1], atoiOr(s[p+m[2]:p+m[3]]), true
	}
	var doc *document
	headEnd := -1
	if m := l.law.FindStringSubmatchIndex(window(rest)); m != nil {
		group := func(name string) string {
			i := l.law.SubexpIndex(name)
			if m[2*i] < 0 {
				return ""
			}
			return s[rest+m[2*i] : rest+m[2*i+1]]
		}
		doc = c.byTopic[l.byKey[citedDate(group)+"|"+normNumber(group("num"))]]
		headEnd = rest + m[3] // end of the head group
	} else {
		for _, a := range l.aliases {
			if n := prefixFold(s[rest:], a.name); n > 0 {
				doc, headEnd = a.doc, rest+n
				break
			}
		}
	}
	if doc == nil {
		return citation{}, false
	}
	href := base + doc.url()
	start := rest
	if e := doc.byEntry[artN]; hasArt && e != nil && artN < 1000 {
		href, start = href+"/entry/"+itoa(artN), p
	}
	return citation{start: start, end: headEnd, href: href}, true
}

// prefixFold returns how many bytes of s match name case-insensitively, any
// run of white space matching one space, ending at a word boundary; 0 if not.
func prefixFold(s, name string) int {
	i := 0
	for _, r := range name {
		if i >= len(s) {
			return 0
		}
		got, size := utf8.DecodeRuneInString(s[i:])
		if r == ' ' {
			if !unicode.IsSpace(got) {
				return 0
			}
			for i < len(s) {
				if got, size = utf8.DecodeRuneInString(s[i:]); !unicode.IsSpace(got) {
					break
				}
				i += size
			}
			continue
		}
		if unicode.ToLower(got) != unicode.ToLower(r) {
			return 0
		}
		i += size
	}
	if next, _ := utf8.DecodeRuneInString(s[i:]); i < len(s) && (unicode.IsLetter(next) || unicode.IsDigit(next)) {
		return 0
	}
	return i
}

func (l *linker) linkText(b *strings.Builder, c *corpus, s, base string) {
	last := 0
	for _, p := range l.candidates(s) {
		if p < last {
			continue
		}
		ct, ok := l.matchAt(c, s, p, base)
		if !ok {
			continue
		}
		b.WriteString(s[last:ct.start])
		b.WriteString(`<a href="` + ct.href + `">` + s[ct.start:ct.end] + `</a>`)
		last = ct.end
	}
	b.WriteString(s[last:])
}

// citedDate renders the matched date as YYYY-MM-DD.
func citedDate(group func(string) string) string {
	d, m, y := group("d1"), 0, group("y1")
	if d != "" {
		m = slices.Index(monthsGenitive(), strings.ToLower(group("m1"))) + 1
	} else {
		d, m, y = group("d2"), atoiOr(group("m2")), group("y2")
	}
	return pad(atoiOr(y), 4) + "-" + pad(m, 2) + "-" + pad(atoiOr(d), 2)
}

func pad(n, w int) string {
	s := itoa(n)
	for len(s) < w {
		s = "0" + s
	}
	return s
}

func atoiOr(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + int(r-'0')
	}
	return n
}

type hyperlinksRequest struct {
	Text    *string `json:"text"`
	BaseURL *string `json:"baseUrl"`
}

// findHyperlinks answers POST /v2/find-hyperlinks.
func (s *Server) findHyperlinks(w http.ResponseWriter, r *http.Request) error {
	var req hyperlinksRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	switch {
	case req.Text == nil || *req.Text == "":
		return badRequest("text is required")
	case len(*req.Text) > maxHyperlinkText:
		return badRequest("text exceeds 20 MB")
	case req.BaseURL == nil || *req.BaseURL == "":
		return badRequest("baseUrl is required")
	}
	writeJSON(w, http.StatusOK, map[string]string{"text": s.corpus.linker.link(s.corpus, *req.Text, *req.BaseURL)})
	return nil
}

func normSpace(s string) string { return strings.Join(strings.Fields(s), " ") }
