package garantsim

import (
	"regexp"
	"strings"
	"testing"
)

func TestFindHyperlinks(t *testing.T) {
	t.Parallel()
	_, ts := newTest(t)
	const base = "https://internet.garant.ru"
	tests := []struct {
		text string
		want []string // hrefs in order
	}{
		{"Настоящий Закон в соответствии с Федеральным законом от 29 декабря 2017 года N 443-ФЗ регулирует отношения.",
			[]string{base + "/#/document/71848756"}},
		{"согласно федеральному закону от 29.12.2017 № 443-ФЗ", []string{base + "/#/document/71848756"}},
		{"Федерального закона от 5 апреля 2013 г. N 44-ФЗ и статьей 15 Гражданского кодекса Российской Федерации",
			[]string{base + "/#/document/70353464", base + "/#/document/10900200/entry/15"}},
		{"в силу статьи 333 ГК РФ и статьи 81 Трудового кодекса РФ", []string{base + "/#/document/10900200/entry/333", base + "/#/document/12125270/entry/81"}},
		{"нормы Налогового кодекса РФ", []string{base + "/#/document/12125268"}},
		{"статьей 9999 ГК РФ", []string{base + "/#/document/10900200"}},
		{"<p>Постановление ВС РФ от 30 марта 1993 г. N 4694-I</p>", []string{base + "/#/document/102004"}},
		{`<p><a href="/x">Федеральным законом от 29 декабря 2017 г. N 443-ФЗ</a> и ГК РФ</p>`, []string{"/x", base + "/#/document/10900200"}},
		{"Федеральным законом от 1 января 2001 г. N 999-ФЗ", nil},
		{"Простой текст без ссылок.", nil},
	}
	href := regexp.MustCompile(`href="([^"]*)"`)
	for _, tt := range tests {
		r := call(t, ts, "POST", "/v2/find-hyperlinks", DemoToken, map[string]string{"text": tt.text, "baseUrl": base + "/"})
		got := decode[struct{ Text string }](t, r).Text
		var hrefs []string
		for _, m := range href.FindAllStringSubmatch(got, -1) {
			hrefs = append(hrefs, m[1])
		}
		if r.status != 200 || strings.Join(hrefs, " ") != strings.Join(tt.want, " ") {
			t.Errorf("find-hyperlinks(%q) = %d %q, want links %v", tt.text, r.status, got, tt.want)
		}
		if plain := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(got, ""); plain != regexp.MustCompile(`<[^>]*>`).ReplaceAllString(tt.text, "") {
			t.Errorf("find-hyperlinks(%q) changed the text: %q", tt.text, plain)
		}
	}
	for _, body := range []any{
		map[string]string{"text": "ГК РФ"},
		map[string]string{"baseUrl": base},
		map[string]string{"text": strings.Repeat("ГК РФ ", 20<<20/10+1), "baseUrl": base},
	} {
		if r := call(t, ts, "POST", "/v2/find-hyperlinks", DemoToken, body); r.status != 400 {
			t.Errorf("find-hyperlinks(bad body) = %d, want 400", r.status)
		}
	}
}

// TestLinkerFindsCorpusCitations feeds the plain text of every document to
// the linker: every citation the corpus made must come back as a link.
func TestLinkerFindsCorpusCitations(t *testing.T) {
	t.Parallel()
	c := buildCorpus(7)
	checked := 0
	for _, d := range c.docs {
		for _, e := range d.entries {
			for _, p := range e.paras {
				for _, s := range p.segs {
					if s.link.Topic == 0 {
						continue
					}
					want := "b/#/document/" + itoa(s.link.Topic)
					if s.link.Entry != 0 {
						want += "/entry/" + itoa(s.link.Entry)
					}
					if got := c.linker.link(c, "Текст: "+s.text+".", "b"); !strings.Contains(got, `href="`+want+`"`) {
						t.Errorf("link(%q) = %q, want a link to %s", s.text, got, want)
					}
					checked++
				}
			}
		}
	}
	if checked < 1000 {
		t.Errorf("checked %d citations, want a corpus full of them", checked)
	}
}
