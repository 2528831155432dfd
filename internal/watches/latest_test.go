package watches

import (
	"testing"

	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// TestLatestReadsEveryDateForm: a change dated as a timestamp or as
// DD.MM.YYYY is read as its day, never hidden behind an older date in
// Garant's usual form (which the watcher may already have been told of);
// a date in no known form is skipped, not taken as today (that would tell
// the same change again every round).
func TestLatestReadsEveryDateForm(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []garant.Event
		from   string
		want   string
	}{
		{"documented form", []garant.Event{{Date: "2026-11-01"}, {Date: "2026-11-20"}}, "", "2026-11-20"},
		{"a timestamp beside an older date", []garant.Event{{Date: "2026-11-01"}, {Date: "2026-12-02T10:00:00"}}, "", "2026-12-02"},
		{"DD.MM.YYYY beside an older date", []garant.Event{{Date: "2026-11-01"}, {Date: "02.12.2026"}}, "", "2026-12-02"},
		{"no known form", []garant.Event{{Date: "2026-11-01"}, {Date: "вчера"}}, "", "2026-11-01"},
		{"before the window", []garant.Event{{Date: "2026-11-01"}}, "2026-11-15", ""},
	} {
		if got := latest(tc.events, tc.from); got != tc.want {
			t.Errorf("%s: latest = %q, want %q", tc.name, got, tc.want)
		}
	}
}
