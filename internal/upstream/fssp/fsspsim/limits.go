package fsspsim

import (
	"fmt"
	"time"
)

// limitError is the 429 answer.
type limitError string

func (e limitError) Error() string { return string(e) }

// window counts the entries of log after now-d (entries stamped in the
// simulated future count too).
func window(log []time.Time, now time.Time, d time.Duration) int {
	n := 0
	for _, t := range log {
		if t.After(now.Add(-d)) {
			n++
		}
	}
	return n
}

// prune drops the entries older than a day.
func prune(log []time.Time, now time.Time) []time.Time {
	out := log[:0]
	for _, t := range log {
		if t.After(now.Add(-24 * time.Hour)) {
			out = append(out, t)
		}
	}
	return out
}

// admitSingle records a single search by token at now, or refuses it when
// the sliding hourly or daily limit is reached. The caller holds s.mu.
func (s *Server) admitSingle(token string, now time.Time) error {
	log := prune(s.single[token], now)
	s.single[token] = log
	if window(log, now, time.Hour) >= s.cfg.HourLimit {
		return limitError(fmt.Sprintf("too many requests: limit of %d single requests per hour exceeded", s.cfg.HourLimit))
	}
	if len(log) >= s.cfg.DayLimit {
		return limitError(fmt.Sprintf("too many requests: limit of %d single requests per day exceeded", s.cfg.DayLimit))
	}
	s.single[token] = append(log, now)
	return nil
}

// admitGroup records a group search by token at now, or refuses it when the
// sliding daily limit is reached. The caller holds s.mu.
func (s *Server) admitGroup(token string, now time.Time) error {
	log := prune(s.group[token], now)
	s.group[token] = log
	if len(log) >= s.cfg.GroupDayLimit {
		return limitError(fmt.Sprintf("too many requests: limit of %d group requests per day exceeded", s.cfg.GroupDayLimit))
	}
	s.group[token] = append(log, now)
	return nil
}
