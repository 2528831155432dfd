package garantsim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// pred is a compiled search condition.
type pred func(d *document) bool

// query is a parsed search: the condition and the words that rank results.
type query struct {
	match pred
	terms []string
}

// stem cuts a word to the prefix the simulated morphology matches on;
// short words and words with digits must match exactly.
func stem(w string) (string, bool) {
	r := []rune(w)
	if strings.ContainsFunc(w, unicode.IsDigit) || len(r) < 4 {
		return w, false
	}
	if len(r) >= 6 {
		return string(r[:len(r)-2]), true
	}
	return string(r[:len(r)-1]), true
}

// hasWord reports whether sorted words hold w (or a word starting with its stem).
func hasWord(sorted []string, w string) bool {
	s, prefix := stem(w)
	i, found := slices.BinarySearch(sorted, s)
	if found || !prefix {
		return found
	}
	return i < len(sorted) && strings.HasPrefix(sorted[i], s)
}

// searchTerms are the significant words of a phrase.
func searchTerms(text string) []string {
	var out []string
	for _, w := range words(text) {
		if len([]rune(w)) > 2 || strings.ContainsFunc(w, unicode.IsDigit) {
			out = append(out, w)
		}
	}
	return out
}

func allWords(sorted []string, terms []string) bool {
	for _, t := range terms {
		if !hasWord(sorted, t) {
			return false
		}
	}
	return len(terms) > 0
}

// parseQuery compiles the query language: commands such as MorphoText(...),
// Type(...), Date(a;b), joined by & and |, grouped with BOOL(...).
func parseQuery(s string, c *corpus) (query, error) {
	p := &parser{src: s, c: c}
	q, err := p.or()
	if err != nil {
		return query{}, err
	}
	p.skip()
	if p.pos < len(p.src) {
		return query{}, fmt.Errorf("unexpected %q at %d", p.src[p.pos:], p.pos)
	}
	return query{match: q, terms: p.terms}, nil
}

type parser struct {
	src   string
	pos   int
	c     *corpus
	terms []string
}

func (p *parser) skip() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n' || p.src[p.pos] == '\r') {
		p.pos++
	}
}

func (p *parser) or() (pred, error) {
	left, err := p.and()
	for err == nil {
		p.skip()
		if p.pos >= len(p.src) || p.src[p.pos] != '|' {
			return left, nil
		}
		p.pos++
		var right pred
		if right, err = p.and(); err == nil {
			l := left
			left = func(d *document) bool { return l(d) || right(d) }
		}
	}
	return nil, err
}

func (p *parser) and() (pred, error) {
	left, err := p.command()
	for err == nil {
		p.skip()
		if p.pos >= len(p.src) || p.src[p.pos] != '&' {
			return left, nil
		}
		p.pos++
		var right pred
		if right, err = p.command(); err == nil {
			l := left
			left = func(d *document) bool { return l(d) && right(d) }
		}
	}
	return nil, err
}

func (p *parser) command() (pred, error) {
	p.skip()
	start := p.pos
	for p.pos < len(p.src) && (p.src[p.pos] >= 'A' && p.src[p.pos] <= 'Z' || p.src[p.pos] >= 'a' && p.src[p.pos] <= 'z') {
		p.pos++
	}
	name := p.src[start:p.pos]
	p.skip()
	if name == "" || p.pos >= len(p.src) || p.src[p.pos] != '(' {
		return nil, fmt.Errorf("command expected at %d", start)
	}
	p.pos++
	if strings.EqualFold(name, "BOOL") {
		inner, err := p.or()
		if err != nil {
			return nil, err
		}
		p.skip()
		if p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, fmt.Errorf("missing ) of BOOL at %d", p.pos)
		}
		p.pos++
		return inner, nil
	}
	depth, argStart := 1, p.pos
	for ; p.pos < len(p.src) && depth > 0; p.pos++ {
		switch p.src[p.pos] {
		case '(':
			depth++
		case ')':
			depth--
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("missing ) of %s", name)
	}
	return p.compile(name, strings.TrimSpace(p.src[argStart:p.pos-1]))
}

func (p *parser) compile(name, arg string) (pred, error) {
	if arg == "" {
		return nil, fmt.Errorf("%s: empty argument", name)
	}
	term := func(values func(d *document) []string) pred {
		want := strings.ToLower(normSpace(arg))
		return func(d *document) bool {
			for _, v := range values(d) {
				for part := range strings.SplitSeq(strings.ToLower(v), "\\") {
					if part == want {
						return true
					}
				}
			}
			return false
		}
	}
	switch strings.ToLower(name) {
	case "morphotext", "morphoname":
		ts := searchTerms(arg)
		if len(ts) == 0 {
			return nil, fmt.Errorf("%s: no words", name)
		}
		p.terms = append(p.terms, ts...)
		if strings.EqualFold(name, "morphoname") {
			return func(d *document) bool { return allWords(d.nameWds, ts) }, nil
		}
		return func(d *document) bool { return allWords(d.words, ts) }, nil
	case "type":
		return term(func(d *document) []string { return d.types }), nil
	case "adopted":
		return term(func(d *document) []string { return d.adopted }), nil
	case "number":
		want := strings.ToLower(arg)
		return func(d *document) bool {
			n := strings.ToLower(d.number)
			return n != "" && (n == want || strings.HasPrefix(n, want+"-"))
		}, nil
	case "date", "rdate", "sortdate", "changed":
		return p.dates(strings.ToLower(name), arg)
	case "correspondents", "respondents":
		return p.links(strings.ToLower(name), arg)
	}
	return nil, fmt.Errorf("unknown command %s", name)
}

func (p *parser) dates(name, arg string) (pred, error) {
	a, b, ok := strings.Cut(arg, ";")
	if !ok {
		b = a
	}
	var lo, hi time.Time
	var err error
	if a = strings.TrimSpace(a); a != "" {
		if lo, err = time.Parse("02.01.2006", a); err != nil {
			return nil, fmt.Errorf("%s: bad date %q", name, a)
		}
	}
	if b = strings.TrimSpace(b); b != "" {
		if hi, err = time.Parse("02.01.2006", b); err != nil {
			return nil, fmt.Errorf("%s: bad date %q", name, b)
		}
	}
	if lo.IsZero() && hi.IsZero() {
		return nil, fmt.Errorf("%s: no dates", name)
	}
	in := func(t time.Time) bool {
		return !t.IsZero() && (lo.IsZero() || !t.Before(lo)) && (hi.IsZero() || !t.After(hi))
	}
	return func(d *document) bool {
		switch name {
		case "rdate":
			return in(d.rdate)
		case "sortdate":
			return in(d.added)
		case "changed":
			return slices.ContainsFunc(d.chdates, in)
		}
		return in(d.date)
	}, nil
}

func (p *parser) links(name, arg string) (pred, error) {
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 {
		return nil, fmt.Errorf("%s: want topic and entry", name)
	}
	var r ref
	var err error
	if r.Topic, err = strconv.Atoi(f[0]); err != nil {
		return nil, fmt.Errorf("%s: bad topic %q", name, f[0])
	}
	if len(f) == 2 {
		if r.Entry, err = strconv.Atoi(f[1]); err != nil {
			return nil, fmt.Errorf("%s: bad entry %q", name, f[1])
		}
	}
	if name == "correspondents" {
		citing := p.c.citedBy[r]
		return func(d *document) bool { _, ok := slices.BinarySearch(citing, d.topic); return ok }, nil
	}
	cited := map[int]bool{}
	if src := p.c.byTopic[r.Topic]; src != nil {
		blocks := src.entries
		if e := src.byEntry[r.Entry]; r.Entry != 0 && e != nil {
			blocks = []*entry{e}
		}
		for _, e := range blocks {
			for _, x := range blockRefs(e, true) {
				cited[x.Topic] = true
			}
		}
	}
	return func(d *document) bool { return cited[d.topic] }, nil
}
