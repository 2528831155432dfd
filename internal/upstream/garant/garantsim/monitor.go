package garantsim

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

const (
	// maxControlTopics is the documented limit of one monitoring call: "no
	// more than 100 documents per call". The document states it once for
	// monitoring; the simulator applies it to block-on-control's fragment
	// links as well.
	maxControlTopics = 100
	modStatusChanged = 1
	modStatusUnknown = 2
)

type eventJSON struct {
	Date string `json:"date"`
	Type int    `json:"type"`
}

// today is the simulated current date in the configured location.
func (s *Server) today() time.Time {
	now := s.Kit.Clock.Now().In(s.cfg.Location)
	return day(now.Year(), now.Month(), now.Day())
}

// controlDate parses a monitoring start date: YYYY-MM-DD, not before 2018.
func controlDate(field string, v *string) (time.Time, error) {
	if v == nil {
		return time.Time{}, badRequest("%s is required", field)
	}
	t, err := parseDay(field, *v)
	if err != nil {
		return time.Time{}, err
	}
	if t.Before(day(2018, 1, 1)) {
		return time.Time{}, badRequest("%s must not be earlier than 2018-01-01", field)
	}
	return t, nil
}

// Change records a change of the document topic on date (the day in the
// simulator's location), of event type typ: find-modified and
// block-on-control/changed (for a link to the whole document) report it
// from then on, and topic info shows the date in chdate and last_modified.
func (s *Server) Change(topic int, date time.Time, typ int) error {
	d := s.corpus.byTopic[topic]
	if d == nil {
		return fmt.Errorf("garantsim: no document %d", topic)
	}
	date = date.In(s.cfg.Location)
	on := day(date.Year(), date.Month(), date.Day())
	s.mu.Lock()
	defer s.mu.Unlock()
	d.events = append(d.events, event{date: on, typ: typ})
	s.changed[topic] = append(s.changed[topic], on)
	return nil
}

// ChangeFragment records that the text of fragment entry of document
// topic changed on date, in a new edition of the document: Change(topic,
// date, 2) and, from then on, block-on-control/changed reports the
// fragment's links (and those of the blocks containing it) as changed.
func (s *Server) ChangeFragment(topic, entry int, date time.Time) error {
	d := s.corpus.byTopic[topic]
	if d == nil {
		return fmt.Errorf("garantsim: no document %d", topic)
	}
	e := d.byEntry[entry]
	if e == nil {
		return fmt.Errorf("garantsim: document %d has no entry %d", topic, entry)
	}
	if err := s.Change(topic, date, 2); err != nil {
		return err
	}
	date = date.In(s.cfg.Location)
	s.mu.Lock()
	defer s.mu.Unlock()
	e.changed = append(e.changed, day(date.Year(), date.Month(), date.Day()))
	return nil
}

// Entries returns the fragment (entry) numbers of document topic, in
// document order; none for an unknown document.
func (s *Server) Entries(topic int) []int {
	d := s.corpus.byTopic[topic]
	if d == nil {
		return nil
	}
	out := make([]int, 0, len(d.entries))
	for _, e := range d.entries {
		out = append(out, e.number)
	}
	return out
}

// eventsBetween lists d's events in [from, to].
func eventsBetween(d *document, from, to time.Time) []eventJSON {
	out := []eventJSON{}
	for _, e := range d.events {
		if !e.date.Before(from) && !e.date.After(to) {
			out = append(out, eventJSON{Date: e.date.Format(time.DateOnly), Type: e.typ})
		}
	}
	return out
}

type findModifiedRequest struct {
	Topics     *[]int  `json:"topics"`
	ModDate    *string `json:"modDate"`
	NeedEvents bool    `json:"needEvents"`
}

type modifiedTopic struct {
	Topic     int         `json:"topic"`
	ModStatus int         `json:"modStatus"`
	Events    []eventJSON `json:"events,omitempty"`
}

// modifiedTopicTypo carries the misspelled key of the official example.
type modifiedTopicTypo struct {
	Topic     int         `json:"topic:"`
	ModStatus int         `json:"modStatus"`
	Events    []eventJSON `json:"events,omitempty"`
}

// findModified answers POST /v2/find-modified: only changed or unknown topics.
func (s *Server) findModified(w http.ResponseWriter, r *http.Request) error {
	var req findModifiedRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.Topics == nil {
		return badRequest("topics is required")
	}
	if len(*req.Topics) > maxControlTopics {
		return badRequest("at most %d topics per call, got %d", maxControlTopics, len(*req.Topics))
	}
	from, err := controlDate("modDate", req.ModDate)
	if err != nil {
		return err
	}
	today := s.today()
	s.mu.Lock() // Change adds events
	defer s.mu.Unlock()
	out := []any{}
	for _, topic := range *req.Topics {
		item := modifiedTopic{Topic: topic, ModStatus: modStatusUnknown}
		if d := s.corpus.byTopic[topic]; d != nil {
			evs := eventsBetween(d, from, today)
			if len(evs) == 0 {
				continue
			}
			item.ModStatus = modStatusChanged
			if req.NeedEvents {
				item.Events = evs
			}
		}
		if s.cfg.MisspelledKeys {
			out = append(out, modifiedTopicTypo(item))
		} else {
			out = append(out, item)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"topics": out})
	return nil
}

type blocksRequest struct {
	FromDate   *string   `json:"fromDate"`
	URLArray   *[]string `json:"urlArray"`
	NeedEvents bool      `json:"needEvents"`
}

type blockChange struct {
	URL       string      `json:"url"`
	ModStatus int         `json:"modStatus"`
	Events    []eventJSON `json:"events,omitempty"`
}

// blocksChanged answers POST /v2/block-on-control/changed.
func (s *Server) blocksChanged(w http.ResponseWriter, r *http.Request) error {
	var req blocksRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.URLArray == nil {
		return badRequest("urlArray is required")
	}
	if len(*req.URLArray) > maxControlTopics {
		return badRequest("at most %d links per call, got %d", maxControlTopics, len(*req.URLArray))
	}
	from, err := controlDate("fromDate", req.FromDate)
	if err != nil {
		return err
	}
	today := s.today()
	s.mu.Lock() // Change adds events
	defer s.mu.Unlock()
	out := []blockChange{}
	for _, u := range *req.URLArray {
		m := s.blockLink.FindStringSubmatch(u)
		if m == nil {
			return badRequest("not a document link: %q", u)
		}
		topic, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		d := s.corpus.byTopic[topic]
		var e *entry
		if d != nil && m[2] != "" {
			e = d.byEntry[n]
		}
		if d == nil || d.class == classCourt || m[2] != "" && e == nil {
			out = append(out, blockChange{URL: u, ModStatus: modStatusUnknown})
			continue
		}
		changed := e == nil && len(eventsBetween(d, from, today)) > 0
		if e != nil {
			changed = blockChangedBetween(e, from, today)
		}
		if !changed {
			continue
		}
		item := blockChange{URL: u, ModStatus: modStatusChanged}
		if req.NeedEvents {
			item.Events = eventsBetween(d, from, today)
		}
		out = append(out, item)
	}
	writeJSON(w, http.StatusOK, map[string]any{"urlArray": out})
	return nil
}

// blockChangedBetween reports a change of e or its children in [from, to].
func blockChangedBetween(e *entry, from, to time.Time) bool {
	for _, t := range e.changed {
		if !t.Before(from) && !t.After(to) {
			return true
		}
	}
	for _, ch := range e.children {
		if blockChangedBetween(ch, from, to) {
			return true
		}
	}
	return false
}
