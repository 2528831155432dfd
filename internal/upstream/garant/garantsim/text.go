package garantsim

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

func itoa(n int) string { return strconv.Itoa(n) }

// target is something a block can cite: a document or one of its blocks.
type target struct {
	doc   *document
	entry int
}

// phrase renders the citation in a grammatical case: 'i' instrumental,
// 'g' genitive, 'd' dative.
func (t target) phrase(cas byte) string {
	d := t.doc
	article := map[byte]string{'i': "статьей", 'g': "статьи", 'd': "статье"}[cas]
	if d.class == classCode {
		return article + " " + itoa(t.entry) + " " + d.aliases[0]
	}
	var head string
	switch {
	case d.types[0] == "Федеральный закон":
		head = map[byte]string{'i': "Федеральным законом", 'g': "Федерального закона", 'd': "Федеральному закону"}[cas]
	case d.types[0] == "Указ":
		head = map[byte]string{'i': "Указом Президента РФ", 'g': "Указа Президента РФ", 'd': "Указу Президента РФ"}[cas]
	default:
		head = map[byte]string{'i': "постановлением Правительства РФ", 'g': "постановления Правительства РФ", 'd': "постановлению Правительства РФ"}[cas]
	}
	head += " от " + dateWords(d.date) + " N " + d.number
	if t.entry != 0 {
		// "статьей 5 Федерального закона от ..." names the law in the genitive.
		gen := target{doc: d}.phrase('g')
		return article + " " + itoa(t.entry) + " " + gen
	}
	return head
}

type targets struct {
	codes, laws, acts []*document
}

func refTargets(c *corpus) targets {
	var t targets
	for _, d := range c.docs {
		switch {
		case d.class == classCode:
			t.codes = append(t.codes, d)
		case d.class == classLaw && d.number != "" && d.status != statusFuture:
			t.laws = append(t.laws, d)
		case d.class == classResolution && d.kinds[0] == kindFederal && d.topic != TopicMinWageResolution:
			t.acts = append(t.acts, d)
		}
	}
	return t
}

// pick chooses a citation suitable for a document of class from.
func (t targets) pick(rng *rand.Rand, from *document) target {
	article := func(d *document) target {
		if d.class == classCode || d.class == classLaw {
			return target{doc: d, entry: 1 + rng.IntN(d.size)}
		}
		return target{doc: d}
	}
	byTopic := func(topics ...int) target {
		topic := topics[rng.IntN(len(topics))]
		for _, d := range t.codes {
			if d.topic == topic {
				return article(d)
			}
		}
		return article(t.codes[0])
	}
	switch from.court {
	case "301":
		return byTopic(TopicCivilCode, TopicLabourCode, TopicAdminOffencesCode)
	case "302":
		return byTopic(TopicCivilCode, TopicTaxCode, TopicAdminOffencesCode)
	case "303":
		return byTopic(TopicCriminalCode)
	}
	for {
		var tg target
		switch r := rng.IntN(10); {
		case r < 5:
			tg = article(t.codes[rng.IntN(len(t.codes))])
		case r < 7:
			tg = target{doc: t.laws[rng.IntN(len(t.laws))]}
		case r < 8:
			tg = article(t.laws[rng.IntN(len(t.laws))])
		default:
			tg = target{doc: t.acts[rng.IntN(len(t.acts))]}
		}
		if tg.doc != from {
			return tg
		}
	}
}

// sentence expands a template: {N} a subject, {R:i|g|d} a citation.
func sentence(tmpl string, rng *rand.Rand, cite func() target) []seg {
	var out []seg
	for tmpl != "" {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			out = append(out, seg{text: tmpl})
			break
		}
		j := strings.IndexByte(tmpl[i:], '}') + i
		out = append(out, seg{text: tmpl[:i]})
		switch ph := tmpl[i+1 : j]; {
		case ph == "N":
			out = append(out, seg{text: subjects()[rng.IntN(len(subjects()))]})
		case strings.HasPrefix(ph, "R:"):
			tg := cite()
			out = append(out, seg{text: tg.phrase(ph[2]), link: ref{Topic: tg.doc.topic, Entry: tg.entry}})
		}
		tmpl = tmpl[j+1:]
	}
	return out
}

// fillText writes the paragraphs of every leaf block.
func fillText(d *document, rng *rand.Rand, t targets) {
	templates := legalSentences()
	switch d.court {
	case "301", "302":
		templates = courtSentences()
	case "303":
		templates = criminalSentences()
	}
	cite := func() target { return t.pick(rng, d) }
	for _, e := range d.entries {
		if len(e.children) > 0 {
			continue
		}
		for range 1 + rng.IntN(3) {
			var p para
			for range 1 + rng.IntN(2) {
				if len(p.segs) > 0 {
					p.segs = append(p.segs, seg{text: " "})
				}
				p.segs = append(p.segs, sentence(templates[rng.IntN(len(templates))], rng, cite)...)
			}
			e.paras = append(e.paras, p)
		}
	}
	special(d, t)
}

// special adds the citations the official examples and other tests expect.
func special(d *document, t targets) {
	find := func(topic int) *document {
		for _, xs := range [][]*document{t.codes, t.laws} {
			for _, x := range xs {
				if x.topic == topic {
					return x
				}
			}
		}
		return nil
	}
	cite := func(e *entry, before string, tg target, after string) {
		e.paras = append(e.paras, para{segs: []seg{{text: before}, {text: tg.phrase('i'), link: ref{Topic: tg.doc.topic, Entry: tg.entry}}, {text: after}}})
	}
	switch d.topic {
	case TopicCivilCode:
		cite(d.byEntry[1], "Особенности ответственности за нарушение порядка исполнения обязательств устанавливаются ",
			target{doc: find(TopicAdminOffencesCode), entry: 150}, ".")
	case 57742222, 77519493:
		law := find(TopicContractLaw)
		for i, e := range d.entries {
			cite(e, "Закупки товаров, работ, услуг для обеспечения государственных и муниципальных нужд осуществляются в соответствии с ",
				target{doc: law, entry: 1 + i*7%law.size}, " о контрактной системе.")
		}
	case 57589736:
		cite(d.byEntry[21], "К федеральным налогам и сборам относятся налоги, установленные ", target{doc: find(TopicTaxCode), entry: 13}, ".")
	case TopicTrafficLaw:
		cite(d.byEntry[1], "Настоящий Федеральный закон регулирует отношения, возникающие в связи с организацией дорожного движения, в соответствии с ",
			target{doc: find(TopicConstitution), entry: 71}, ".")
	}
}
