package garantsim

import (
	"net/http"
	"time"
)

// topicOf reads the {topic} path value and finds the document.
func (s *Server) topicOf(r *http.Request) (*document, error) {
	topic, err := pathInt(r, "topic")
	if err != nil {
		return nil, err
	}
	d := s.corpus.byTopic[topic]
	if d == nil {
		return nil, notFound("document %d not found", topic)
	}
	return d, nil
}

type topicInfo struct {
	Topic        int      `json:"topic"`
	Name         string   `json:"name"`
	Type         []string `json:"type"`
	Adopted      []string `json:"adopted"`
	Class        []string `json:"class"`
	Date         []string `json:"date"`
	Number       []string `json:"number"`
	RDate        string   `json:"rdate,omitempty"`
	RCode        string   `json:"rcode,omitempty"`
	RStatus      string   `json:"rstatus"`
	Category     []string `json:"category"`
	Status       string   `json:"status"`
	Kind         []string `json:"kind"`
	Territory    []string `json:"territory"`
	Active       []string `json:"active"`
	ChDate       []string `json:"chdate"`
	LastModified string   `json:"last_modified"`
	Access       string   `json:"access,omitempty"`
}

func dates(ts []time.Time) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, dotDate(t))
	}
	return out
}

// topicInfo answers GET /v2/topic/{topic}.
func (s *Server) topicInfo(w http.ResponseWriter, r *http.Request) error {
	d, err := s.topicOf(r)
	if err != nil {
		return err
	}
	info := topicInfo{
		Topic: d.topic, Name: d.name, Type: d.types, Adopted: d.adopted, Class: d.classes,
		Date: []string{dotDate(d.date)}, Number: []string{}, RStatus: d.rstatus, Category: d.category,
		Status: d.status, Kind: d.kinds, Territory: d.territory, Active: []string{}, ChDate: dates(d.chdates),
		LastModified: dotDate(d.lastMod), Access: d.access,
	}
	s.mu.Lock() // Change adds change dates
	latest := d.lastMod
	for _, t := range s.changed[d.topic] {
		info.ChDate = append(info.ChDate, dotDate(t))
		if t.After(latest) {
			latest = t
		}
	}
	s.mu.Unlock()
	info.LastModified = dotDate(latest)
	if s.cfg.OmitAccess {
		info.Access = ""
	}
	if d.number != "" {
		info.Number = []string{d.number}
	}
	if !d.rdate.IsZero() {
		info.RDate, info.RCode = dotDate(d.rdate), d.rcode
	}
	for _, ed := range d.editions {
		if ed.Topic == d.topic {
			for _, a := range ed.Activity {
				info.Active = append(info.Active, "с "+a.From+map[bool]string{true: " по " + a.To}[a.To != ""])
			}
		}
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

// redactions answers GET /v2/redactions/{topic}: a bare array, newest first.
func (s *Server) redactions(w http.ResponseWriter, r *http.Request) error {
	d, err := s.topicOf(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d.editions)
	return nil
}
