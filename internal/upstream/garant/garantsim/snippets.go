package garantsim

import (
	"math"
	"net/http"
	"slices"
	"strconv"
)

type snippetsRequest struct {
	Topic         *int    `json:"topic"`
	Text          *string `json:"text"`
	Correspondent *struct {
		Topic *int `json:"topic"`
		Entry *int `json:"entry"`
	} `json:"correspondent"`
}

type snippet struct {
	Relevance string     `json:"relevance,omitempty"`
	Entry     int        `json:"entry"`
	Ancestors []ancestor `json:"ancestors"`
}

// snippets answers POST /v2/snippets: the blocks of topic matching text, or
// citing correspondent, in text order.
func (s *Server) snippets(w http.ResponseWriter, r *http.Request) error {
	var req snippetsRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	switch {
	case req.Topic == nil:
		return badRequest("topic is required")
	case (req.Text == nil) == (req.Correspondent == nil):
		return badRequest("exactly one of text or correspondent is required")
	case req.Text != nil && *req.Text == "":
		return badRequest("text is empty")
	case req.Correspondent != nil && (req.Correspondent.Topic == nil || req.Correspondent.Entry == nil):
		return badRequest("correspondent needs topic and entry")
	}
	d := s.corpus.byTopic[*req.Topic]
	if d == nil {
		return notFound("document %d not found", *req.Topic)
	}
	out := []snippet{}
	if req.Text != nil {
		terms := searchTerms(*req.Text)
		for _, e := range d.leaves() {
			ws := words(e.title)
			for _, p := range e.paras {
				ws = append(ws, words(p.plainText(s.corpus))...)
			}
			slices.Sort(ws)
			n := 0
			for _, t := range terms {
				if hasWord(ws, t) {
					n++
				}
			}
			if n > 0 {
				rel := math.Round(float64(n)/float64(len(terms))*99) / 100
				out = append(out, snippet{Relevance: strconv.FormatFloat(rel, 'f', -1, 64), Entry: e.number, Ancestors: e.ancestors()})
			}
		}
	} else {
		want := ref{Topic: *req.Correspondent.Topic, Entry: *req.Correspondent.Entry}
		for _, e := range d.leaves() {
			if slices.Contains(blockRefs(e, false), want) {
				out = append(out, snippet{Entry: e.number, Ancestors: e.ancestors()})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"snippets": out})
	return nil
}
