package fsspsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

const maxBody = 1 << 20

func (s *Server) searchSingle(typ int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		form := r.URL.Query()
		token := form.Get("token")
		if !s.validToken(token) {
			writeError(w, http.StatusUnauthorized, "invalid token")
			return
		}
		q, err := parseQuery(typ, form.Get)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.submit(w, token, []query{q}, s.admitSingle)
	}
}

// groupRequest is the body of POST /search/group.
type groupRequest struct {
	Token   string `json:"token"`
	Request []struct {
		Type   json.RawMessage            `json:"type"`
		Params map[string]json.RawMessage `json:"params"`
	} `json:"request"`
}

func (s *Server) searchGroup(w http.ResponseWriter, r *http.Request) {
	var body groupRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, paramError("body is not a JSON group request").Error())
		return
	}
	if !s.validToken(body.Token) { // the token goes in the body, never the query
		writeError(w, http.StatusUnauthorized, "invalid token")
		return
	}
	queries, err := s.groupQueries(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.submit(w, body.Token, queries, s.admitGroup)
}

func (s *Server) groupQueries(body groupRequest) ([]query, error) {
	switch n := len(body.Request); {
	case n == 0:
		return nil, paramError("empty request")
	case n > s.cfg.GroupLimit:
		return nil, paramErrorf("%d sub-requests, at most %d allowed", n, s.cfg.GroupLimit)
	}
	queries := make([]query, len(body.Request))
	for i, req := range body.Request {
		typ, err := groupInt(req.Type)
		if err != nil {
			return nil, paramErrorf("request[%d]: bad type", i)
		}
		params := map[string]string{}
		for k, raw := range req.Params {
			if params[k], err = groupParam(raw); err != nil {
				return nil, paramErrorf("request[%d]: %s must be a string or a number", i, k)
			}
		}
		q, err := parseQuery(typ, func(k string) string { return params[k] })
		if err != nil {
			return nil, fmt.Errorf("%w (request[%d])", err, i)
		}
		queries[i] = q
	}
	return queries, nil
}

func groupInt(raw json.RawMessage) (int, error) {
	var n int
	err := json.Unmarshal(raw, &n)
	return n, err
}

// submit admits the search under its limit and answers with a new task id.
func (s *Server) submit(w http.ResponseWriter, token string, queries []query, admit func(string, time.Time) error) {
	now := s.Kit.Clock.Now()
	s.mu.Lock()
	err := admit(token, now)
	var id string
	if err == nil {
		id = s.newTask(now, queries)
	}
	s.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusTooManyRequests, err.Error())
		return
	}
	writeOK(w, map[string]string{"task": id})
}

func (s *Server) taskHandler(body func(*Server, *task, time.Time) map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		form := r.URL.Query()
		if !s.validToken(form.Get("token")) {
			writeError(w, http.StatusUnauthorized, "invalid token")
			return
		}
		id := form.Get("task")
		if id == "" {
			writeError(w, http.StatusBadRequest, paramError("task is required").Error())
			return
		}
		now := s.Kit.Clock.Now()
		t := s.lookup(id, now)
		if t == nil {
			writeError(w, http.StatusNotFound, "task not found or expired")
			return
		}
		writeOK(w, body(s, t, now))
	}
}
