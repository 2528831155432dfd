package fsspsim

import (
	"fmt"
	"strings"
	"time"
)

// Task statuses of /status and /result.
const (
	StatusDone       = 0
	StatusRunning    = 1
	StatusQueued     = 2
	StatusDoneErrors = 3
)

// msk is the zone of task_start and task_end (Moscow, UTC+3).
func msk() *time.Location { return time.FixedZone("MSK", 3*60*60) }

// task is one submitted search, single or group; its state follows the clock.
type task struct {
	submitted time.Time
	subs      []sub
}

// sub is one sub-request and its precomputed outcome.
type sub struct {
	query   query
	records []Record
	err     error // a subError
}

// subResult is one element of /result's response.result.
type subResult struct {
	Status int   `json:"status"`
	Query  query `json:"query"`
	Result any   `json:"result"` // []Record, or {code, message}
}

// taskState is the task at one instant.
type taskState struct {
	status    int
	processed int // sub-requests finished, in request order
	ok        int // of which successful
	start     *time.Time
	end       *time.Time
}

func (s *Server) state(t *task, now time.Time) taskState {
	n := len(t.subs)
	start := t.submitted.Add(s.cfg.QueueFor)
	end := start.Add(s.cfg.RunFor)
	st := taskState{status: StatusQueued}
	if now.Before(start) {
		return st
	}
	st.start = &start
	running := now.Before(end)
	st.processed = n
	if running {
		st.processed = int(int64(n) * int64(now.Sub(start)) / int64(s.cfg.RunFor))
	}
	failed := false
	for _, sb := range t.subs[:st.processed] {
		if sb.err != nil {
			failed = true
		} else {
			st.ok++
		}
	}
	switch {
	case running:
		st.status = StatusRunning
	case failed:
		st.status, st.end = StatusDoneErrors, &end
	default:
		st.status, st.end = StatusDone, &end
	}
	return st
}

// newTask precomputes the outcome of every sub-request, stores the task and
// returns its id. The caller holds s.mu.
func (s *Server) newTask(now time.Time, queries []query) string {
	t := &task{submitted: now, subs: make([]sub, len(queries))}
	for i, q := range queries {
		recs, err := records(s.cfg.Seed, q, s.cfg.AddressQuirk)
		t.subs[i] = sub{query: q, records: recs, err: err}
	}
	for id, old := range s.tasks {
		if s.expired(old, now) {
			delete(s.tasks, id)
		}
	}
	id := s.newID()
	s.tasks[id] = t
	return id
}

func (s *Server) expired(t *task, now time.Time) bool {
	return !now.Before(t.submitted.Add(s.cfg.Retention))
}

// newID returns an upper-case random (version 4) UUID drawn from the seeded
// source, so ids are deterministic for a seed. The caller holds s.mu.
func (s *Server) newID() string {
	for {
		hi, lo := s.rng.Uint64(), s.rng.Uint64()
		hi = hi&^0xf000 | 0x4000     // version 4
		lo = lo&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
		id := fmt.Sprintf("%08X-%04X-%04X-%04X-%012X", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
		if _, dup := s.tasks[id]; !dup {
			return id
		}
	}
}

// lookup returns the live task id (any case), or nil.
func (s *Server) lookup(id string, now time.Time) *task {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[strings.ToUpper(strings.TrimSpace(id))]
	if !ok || s.expired(t, now) {
		return nil
	}
	return t
}

func (s *Server) statusBody(t *task, now time.Time) map[string]any {
	st := s.state(t, now)
	return map[string]any{"status": st.status, "progress": fmt.Sprintf("%d of %d", st.ok, len(t.subs))}
}

// resultBody is /result's response: the processed sub-results in request
// order (all of them once done, a prefix while running, none while queued).
func (s *Server) resultBody(t *task, now time.Time) map[string]any {
	st := s.state(t, now)
	results := make([]subResult, 0, st.processed)
	for _, sb := range t.subs[:st.processed] {
		r := subResult{Status: StatusDone, Query: sb.query, Result: sb.records}
		if sb.err != nil {
			r.Status = StatusDoneErrors
			r.Result = map[string]any{"code": 0, "message": sb.err.Error()}
		}
		results = append(results, r)
	}
	return map[string]any{
		"status":     st.status,
		"task_start": stamp(st.start),
		"task_end":   stamp(st.end),
		"result":     results,
	}
}

// stamp formats t as "YYYY-MM-DD HH:MM:SS" Moscow time, or nil.
func stamp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.In(msk()).Format(time.DateTime)
}
