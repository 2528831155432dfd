package garantsim

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// maxHyperlinkText is the documented 20 MB limit of find-hyperlinks.
const maxHyperlinkText = 20 << 20

// linker finds citations of corpus documents in free text.
type linker struct {
	re      *regexp.Regexp
	byKey   map[string]int       // "2017-12-29|443-ФЗ" → topic
	byAlias map[string]*document // lower-case code name → code
	tag     *regexp.Regexp
}

func newLinker(c *corpus) *linker {
	l := &linker{byKey: map[string]int{}, byAlias: map[string]*document{}, tag: regexp.MustCompile(`<[^>]*>`)}
	var aliases []string
	for _, d := range c.docs {
		if d.number != "" && d.class != classCourt {
			l.byKey[d.date.Format("2006-01-02")+"|"+normNumber(d.number)] = d.topic
		}
		for _, a := range d.aliases {
			l.byAlias[normSpace(strings.ToLower(a))] = d
			aliases = append(aliases, strings.ReplaceAll(regexp.QuoteMeta(a), " ", `\s+`))
		}
	}
	// Longest first, so "Гражданского кодекса РФ" wins over "Гражданского кодекса".
	slices.SortFunc(aliases, func(a, b string) int { return len(b) - len(a) })
	month := strings.Join(monthsGenitive(), "|")
	article := `(?i:(?P<art>стать\p{L}*\s+(?P<artn>\d+)(?:\.\d+)?)\s+)?`
	head := `(?i:федеральн\p{L}*\s+закон\p{L}*|закон\p{L}*\s+(?:РФ|Российской\s+Федерации)|постановлени\p{L}*\s+(?:Правительства\s+(?:РФ|Российской\s+Федерации|Москвы)|ВС\s+РФ)|указ\p{L}*\s+Президента\s+(?:РФ|Российской\s+Федерации)|приказ\p{L}*\s+\p{L}+\s+России|письм\p{L}*\s+\p{L}+\s+России)`
	date := `от\s+(?:(?P<d1>\d{1,2})\s+(?P<m1>` + month + `)\s+(?P<y1>\d{4})(?:\s*г\.|\s+года)?|(?P<d2>\d{1,2})\.(?P<m2>\d{1,2})\.(?P<y2>\d{4})(?:\s*г\.)?)`
	number := `\s*(?:N|№)\s*(?P<num>[0-9A-Za-zА-Яа-яЁё][0-9A-Za-zА-Яа-яЁё\-/@]*)`
	law := article + `(?P<head>` + head + `)\s+` + date + number
	codeRef := `(?i:(?P<cart>стать\p{L}*\s+(?P<cartn>\d+)(?:\.\d+)?)\s+)?(?P<alias>(?i:` + strings.Join(aliases, "|") + `))`
	l.re = regexp.MustCompile(law + "|" + codeRef)
	return l
}

func normNumber(n string) string {
	n = strings.ToUpper(strings.TrimRight(n, ".,;"))
	return strings.NewReplacer("I", "1", "№", "", " ", "").Replace(n)
}

func normSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

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

func (l *linker) linkText(b *strings.Builder, c *corpus, s, base string) {
	last := 0
	for _, m := range l.re.FindAllStringSubmatchIndex(s, -1) {
		group := func(name string) (int, int, string) {
			i := l.re.SubexpIndex(name)
			if m[2*i] < 0 {
				return -1, -1, ""
			}
			return m[2*i], m[2*i+1], s[m[2*i]:m[2*i+1]]
		}
		var doc *document
		var artStart, artN, headStart, headEnd int
		if hs, he, _ := group("head"); hs >= 0 {
			headStart, headEnd = hs, he
			doc = c.byTopic[l.byKey[citedDate(group)+"|"+normNumber(groupText(group, "num"))]]
			artStart, _, _ = group("art")
			artN = atoiOr(groupText(group, "artn"))
		} else {
			headStart, headEnd, _ = group("alias")
			doc = l.byAlias[normSpace(strings.ToLower(s[headStart:headEnd]))]
			artStart, _, _ = group("cart")
			artN = atoiOr(groupText(group, "cartn"))
		}
		if doc == nil {
			continue
		}
		href := base + doc.url()
		from := headStart
		if e := doc.byEntry[artN]; artStart >= 0 && e != nil && artN < 1000 {
			href, from = href+"/entry/"+itoa(artN), artStart
		}
		b.WriteString(s[last:from])
		b.WriteString(`<a href="` + href + `">` + s[from:headEnd] + `</a>`)
		last = headEnd
	}
	b.WriteString(s[last:])
}

func groupText(group func(string) (int, int, string), name string) string {
	_, _, t := group(name)
	return t
}

// citedDate renders the matched date as YYYY-MM-DD.
func citedDate(group func(string) (int, int, string)) string {
	d, m, y := groupText(group, "d1"), 0, groupText(group, "y1")
	if d != "" {
		m = slices.Index(monthsGenitive(), strings.ToLower(groupText(group, "m1"))) + 1
	} else {
		d, m, y = groupText(group, "d2"), atoiOr(groupText(group, "m2")), groupText(group, "y2")
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
