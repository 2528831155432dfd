package garantsim

import (
	"fmt"
	"net/http"
	"time"
)

// family is one quota family of /v2/limits.
type family struct {
	title string
	names []string
}

// families lists the metered families in the order /v2/limits answers them.
func families() []family {
	return []family{
		{FamilyHyperlinks, []string{"find-hyperlinks"}},
		{FamilyExport, []string{"topic/download", "topic/html", "entry/html", "topic/download-odt", "topic/download-pdf", "image", "formula"}},
		{FamilyOnControl, []string{"find-modified"}},
		{FamilyBlocksOnControl, []string{"block-on-control/changed"}},
		{FamilyTopicInfo, []string{"topic"}},
	}
}

// familyOf returns the family title of a method name or of a family title;
// "" for free methods.
func familyOf(name string) string {
	for _, f := range families() {
		if f.title == name {
			return f.title
		}
		for _, n := range f.names {
			if n == name {
				return f.title
			}
		}
	}
	return ""
}

// usage is one token's spending in one family during one month.
type usage struct {
	month string // "2026-11" in the configured location
	n     int
}

func (s *Server) month() string { return s.Kit.Clock.Now().In(s.cfg.Location).Format("2006-01") }

// limitOf returns the monthly limit of family for tok (Unlimited if none).
func limitOf(tok Token, fam string) int {
	for k, v := range tok.Quotas {
		if familyOf(k) == fam {
			return v
		}
	}
	return Unlimited
}

// usedLocked returns the family's use this month. Call with s.mu held.
func (s *Server) usedLocked(token, fam, month string) *usage {
	m := s.usage[token]
	if m == nil {
		m = map[string]*usage{}
		s.usage[token] = m
	}
	u := m[fam]
	if u == nil || u.month != month {
		u = &usage{month: month}
		m[fam] = u
	}
	return u
}

// reserve spends one unit of fam, or answers 423 until the 1st of next month.
func (s *Server) reserve(token string, tok Token, fam string) (string, error) {
	limit := limitOf(tok, fam)
	month := s.month()
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.usedLocked(token, fam, month)
	if limit != Unlimited && u.n >= limit {
		next := s.nextMonth()
		return "", errorf(http.StatusLocked, "monthly limit of %d exhausted for %s until %s", limit, fam, next.Format(time.DateOnly))
	}
	u.n++
	return month, nil
}

// refund gives back a unit reserved for a call that failed.
func (s *Server) refund(token, fam, month string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.usedLocked(token, fam, month); u.n > 0 {
		u.n--
	}
}

func (s *Server) nextMonth() time.Time {
	now := s.Kit.Clock.Now().In(s.cfg.Location)
	return time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, s.cfg.Location)
}

// SetUsed sets how many units token has spent this month in family (a
// family title or a member name such as "topic/download").
func (s *Server) SetUsed(token, family string, n int) error {
	fam := familyOf(family)
	if fam == "" {
		return fmt.Errorf("garantsim: unknown quota family %q", family)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.usedLocked(token, fam, s.month()).n = n
	return nil
}

// Used returns how many units token has spent this month in family.
func (s *Server) Used(token, family string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usedLocked(token, familyOf(family), s.month()).n
}

// ResetUsage forgets all quota spending and rate-limit history.
func (s *Server) ResetUsage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.usage = map[string]map[string]*usage{}
	s.hits = map[string][]time.Time{}
}

type limitItem struct {
	Title string   `json:"title"`
	Value int      `json:"value"`
	Names []string `json:"names"`
}

// limits answers GET /v2/limits: the remaining calls per family this month.
func (s *Server) limits(w http.ResponseWriter, r *http.Request) error {
	token, _ := bearer(r)
	tok := s.cfg.Tokens[token]
	month := s.month()
	out := []limitItem{}
	s.mu.Lock()
	for _, f := range families() {
		limit := limitOf(tok, f.title)
		value := limit
		if limit != Unlimited {
			value = max(0, limit-s.usedLocked(token, f.title, month).n)
		}
		out = append(out, limitItem{Title: f.title, Value: value, Names: f.names})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
	return nil
}
