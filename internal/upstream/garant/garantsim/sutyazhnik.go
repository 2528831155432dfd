package garantsim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
)

type sutyazhnikRequest struct {
	Text  *string   `json:"text"`
	Count *int      `json:"count"`
	Kind  *[]string `json:"kind"`
}

type kindResult struct {
	Kind   string    `json:"kind"`
	Norms  []docLink `json:"norms"`
	Courts []docLink `json:"courts"`
}

// sutyazhnik answers POST /v2/sutyazhnik-search: per kind, the court
// decisions matching the text and the norms they cite most.
func (s *Server) sutyazhnik(w http.ResponseWriter, r *http.Request) error {
	var req sutyazhnikRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	switch {
	case req.Text == nil || *req.Text == "":
		return badRequest("text is required")
	case req.Count == nil || *req.Count < 1 || *req.Count > 1000:
		return badRequest("count is required: 1..1000")
	case req.Kind == nil || len(*req.Kind) == 0:
		return badRequest("kind is required")
	}
	terms := searchTerms(*req.Text)
	out := []kindResult{}
	var seen []string
	for _, kind := range *req.Kind {
		if kind != "301" && kind != "302" && kind != "303" {
			return badRequest("unknown kind %q: 301, 302 or 303", kind)
		}
		if slices.Contains(seen, kind) {
			continue
		}
		seen = append(seen, kind)
		res := kindResult{Kind: kind, Norms: []docLink{}, Courts: []docLink{}}
		type hit struct {
			d     *document
			score int
		}
		var hits []hit
		for _, d := range s.corpus.docs {
			if d.court != kind {
				continue
			}
			n := 0
			for _, t := range terms {
				if hasWord(d.words, t) {
					n++
				}
			}
			if n > 0 {
				hits = append(hits, hit{d, n})
			}
		}
		slices.SortFunc(hits, func(a, b hit) int { return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.d.topic, b.d.topic)) })
		cited := map[ref]int{}
		for _, h := range hits[:min(len(hits), *req.Count)] {
			first := h.d.leaves()[0].number
			res.Courts = append(res.Courts, docLink{Topic: h.d.topic, URL: h.d.url() + "/paragraph/" + itoa(first), Name: h.d.name})
			for _, e := range h.d.entries {
				for _, x := range blockRefs(e, false) {
					cited[x]++
				}
			}
		}
		norms := make([]ref, 0, len(cited))
		for x := range cited {
			norms = append(norms, x)
		}
		slices.SortFunc(norms, func(a, b ref) int {
			return cmp.Or(cmp.Compare(cited[b], cited[a]), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Entry, b.Entry))
		})
		for _, x := range norms[:min(len(norms), *req.Count)] {
			d := s.corpus.byTopic[x.Topic]
			url := d.url()
			if x.Entry != 0 {
				url += "/entry/" + itoa(x.Entry)
			}
			res.Norms = append(res.Norms, docLink{Topic: d.topic, URL: url, Name: d.name})
		}
		out = append(out, res)
	}
	if s.cfg.RepeatedPracticeKeys {
		writeRepeated(w, out, *req.Count)
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"documents": out})
	return nil
}

// writeRepeated answers in the form of the document's example: one object,
// the norms of every kind once (without repeats, at most count), then "kind"
// and "courts" for each kind in turn: keys repeat, as in
// {"norms":[…],"kind":"301","courts":[…],"kind":"302","courts":[…]}.
func writeRepeated(w http.ResponseWriter, kinds []kindResult, count int) {
	norms := []docLink{}
	for _, k := range kinds {
		for _, n := range k.Norms {
			if len(norms) < count && !slices.Contains(norms, n) {
				norms = append(norms, n)
			}
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	member := func(key string, v any) {
		b.WriteString(`"` + key + `":`)
		_ = enc.Encode(v) // links and kinds: cannot fail
		b.Truncate(b.Len() - 1)
	}
	b.WriteString(`{"documents":[`)
	if len(kinds) > 0 {
		b.WriteString("{")
		member("norms", norms)
		for _, k := range kinds {
			b.WriteString(",")
			member("kind", k.Kind)
			b.WriteString(",")
			member("courts", k.Courts)
		}
		b.WriteString("}")
	}
	b.WriteString("]}")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}
