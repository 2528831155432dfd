package garantsim

import (
	"fmt"
	"html"
	"net/http"
	"strings"
)

// writePara renders one paragraph as the service does, with relative
// document links, /document/image and /document/formula sources.
func (c *corpus) writePara(b *strings.Builder, d *document, p para) {
	b.WriteString(`<p class="s_1">`)
	for _, s := range p.segs {
		if s.link.Topic == 0 {
			b.WriteString(html.EscapeString(s.text))
			continue
		}
		href := "/#/document/" + itoa(s.link.Topic)
		if s.link.Entry != 0 {
			href += "/entry/" + itoa(s.link.Entry)
		}
		fmt.Fprintf(b, `<a href="%s">%s</a>`, href, html.EscapeString(s.text))
	}
	if p.formula != "" {
		fmt.Fprintf(b, `<img src="/document/formula?revision=%d&text=%s&fmt=png" loading="lazy" title="" alt="" width="%d" height="21">`,
			d.revision, p.formula, 12*len([]rune(c.formulas[p.formula])))
	}
	if p.image != 0 {
		img := c.images[p.image]
		fmt.Fprintf(b, `<img class="resized" src="/document/image?revision=%d&document_id=%d&object_id=%d" loading="lazy" data-width="%d" data-height="%d" width="%d" height="%d" title="" alt="">`,
			d.revision, d.topic, p.image, img.width, img.height, min(img.width, 580), img.height*min(img.width, 580)/img.width)
	}
	b.WriteString("</p>")
}

// writeBlock renders a block; deep includes its children.
func (c *corpus) writeBlock(b *strings.Builder, d *document, e *entry, deep bool) {
	fmt.Fprintf(b, `<div class="block" data-relativeBlockId="%d">`, e.number)
	if e.title != "" {
		class := "s_10"
		if len(e.children) > 0 {
			class = "s_3"
		}
		fmt.Fprintf(b, `<p class="%s"><a name="%d"></a>%s</p>`, class, e.number, html.EscapeString(e.title))
	}
	for _, p := range e.paras {
		c.writePara(b, d, p)
	}
	if deep {
		for _, ch := range e.children {
			c.writeBlock(b, d, ch, true)
		}
	}
	b.WriteString("</div>")
}

// pageHTML renders page n (0-based) of the document.
func (c *corpus) pageHTML(d *document, n int) string {
	var b strings.Builder
	if n == 0 {
		fmt.Fprintf(&b, `<p id="p_%d" class="s_3">%s<br/></p>`, d.revision, html.EscapeString(d.name))
	}
	for _, e := range d.pages[n] {
		c.writeBlock(&b, d, e, false)
	}
	return b.String()
}

type pageItem struct {
	Number int    `json:"number"`
	Text   string `json:"text"`
}

// pageItemTypo carries the misspelled key of the official example.
type pageItemTypo struct {
	Number int    `json:"number:"`
	Text   string `json:"text"`
}

// topicHTML answers GET /v2/topic/{topic}/html: one item per page.
func (s *Server) topicHTML(w http.ResponseWriter, r *http.Request) error {
	d, err := s.topicOf(r)
	if err != nil {
		return err
	}
	var items []any
	for i := range d.pages {
		text := s.corpus.pageHTML(d, i)
		if s.cfg.MisspelledKeys {
			items = append(items, pageItemTypo{Number: i + 1, Text: text})
		} else {
			items = append(items, pageItem{Number: i + 1, Text: text})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

type entryHTMLResponse struct {
	Entry       int        `json:"entry"`
	Respondents []ref      `json:"respondents"`
	Ancestors   []ancestor `json:"ancestors"`
	Title       string     `json:"title"`
	Text        string     `json:"text"`
}

// entryHTML answers GET /v2/topic/{topic}/entry/{entry}/html.
func (s *Server) entryHTML(w http.ResponseWriter, r *http.Request) error {
	d, err := s.topicOf(r)
	if err != nil {
		return err
	}
	n, err := pathInt(r, "entry")
	if err != nil {
		return err
	}
	e := d.byEntry[n]
	if e == nil {
		return notFound("entry %d not found in document %d", n, d.topic)
	}
	var b strings.Builder
	s.corpus.writeBlock(&b, d, e, true)
	resp := entryHTMLResponse{Entry: n, Respondents: blockRefs(e, true), Ancestors: e.ancestors(), Title: d.name, Text: b.String()}
	if resp.Respondents == nil {
		resp.Respondents = []ref{}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
