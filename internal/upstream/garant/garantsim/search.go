package garantsim

import (
	"cmp"
	"net/http"
	"slices"
)

const (
	pageSize      = 50
	maxSearchText = 16 << 10
)

type searchRequest struct {
	Text      *string `json:"text"`
	IsQuery   bool    `json:"isQuery"`
	Page      *int    `json:"page"`
	Env       *string `json:"env"`
	Sort      *int    `json:"sort"`
	SortOrder *int    `json:"sortOrder"`
}

type docLink struct {
	Topic int    `json:"topic"`
	Name  string `json:"name"`
	URL   string `json:"url"`
}

type searchResponse struct {
	Documents  []docLink `json:"documents"`
	TotalDocs  int       `json:"totalDocs"`
	TotalPages int       `json:"totalPages"`
	Page       int       `json:"page"`
}

// search answers POST /v2/search.
func (s *Server) search(w http.ResponseWriter, r *http.Request) error {
	var req searchRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	page := 1
	switch {
	case req.Text == nil || *req.Text == "":
		return badRequest("text is required")
	case len(*req.Text) > maxSearchText:
		return badRequest("text exceeds 16 KB")
	case req.Env == nil:
		return badRequest("env is required")
	case *req.Env != "internet" && *req.Env != "arbitr":
		return badRequest("env must be internet or arbitr, got %q", *req.Env)
	case req.Sort == nil || *req.Sort < 0 || *req.Sort > 3:
		return badRequest("sort is required: 0..3")
	case req.SortOrder == nil || *req.SortOrder < 0 || *req.SortOrder > 1:
		return badRequest("sortOrder is required: 0 or 1")
	case req.Page != nil && *req.Page < 1:
		return badRequest("page starts at 1")
	case req.Page != nil:
		page = *req.Page
	}
	var q query
	if req.IsQuery {
		var err error
		if q, err = parseQuery(*req.Text, s.corpus); err != nil {
			return badRequest("query syntax error: %v", err)
		}
	} else {
		terms := searchTerms(*req.Text)
		q = query{terms: terms, match: func(d *document) bool { return allWords(d.words, terms) }}
	}
	type hit struct {
		d     *document
		score int
	}
	var hits []hit
	for _, d := range s.corpus.docs {
		if slices.Contains(d.envs, *req.Env) && q.match(d) {
			score := 0
			for _, t := range q.terms {
				if hasWord(d.nameWds, t) {
					score += 3
				} else if hasWord(d.words, t) {
					score++
				}
			}
			hits = append(hits, hit{d, score*16 + d.force})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		var c int
		switch *req.Sort {
		case 0:
			c = cmp.Compare(a.score, b.score)
		case 1:
			c = a.d.date.Compare(b.d.date)
		case 2:
			c = a.d.lastMod.Compare(b.d.lastMod)
		case 3:
			c = cmp.Compare(a.d.force, b.d.force)
		}
		if *req.SortOrder == 0 {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(a.d.topic, b.d.topic))
	})
	resp := searchResponse{Documents: []docLink{}, TotalDocs: len(hits), TotalPages: (len(hits) + pageSize - 1) / pageSize, Page: page}
	for _, h := range hits[min(len(hits), (page-1)*pageSize):min(len(hits), page*pageSize)] {
		resp.Documents = append(resp.Documents, docLink{Topic: h.d.topic, Name: h.d.name, URL: h.d.url()})
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
