package watches

import (
	"testing"

	"github.com/legalgate/legalgate/internal/upstream/garant"
)

// TestLatestUnreadableDateIsToday: a change whose date Garant sent in a form
// the gateway cannot read is a change of today, never hidden behind an
// older readable date (which the watcher may already have been told of).
func TestLatestUnreadableDateIsToday(t *testing.T) {
	const today = "2026-12-02"
	for _, tc := range []struct {
		name   string
		events []garant.Event
		from   string
		want   string
	}{
		{"readable", []garant.Event{{Date: "2026-11-01"}, {Date: "2026-11-20"}}, "", "2026-11-20"},
		{"unreadable beside an older one", []garant.Event{{Date: "2026-11-01"}, {Date: "02.12.2026"}}, "", today},
		{"unreadable, window from yesterday", []garant.Event{{Date: "вчера"}}, "2026-12-01", today},
		{"before the window", []garant.Event{{Date: "2026-11-01"}}, "2026-11-15", ""},
	} {
		if got := latest(tc.events, tc.from, today); got != tc.want {
			t.Errorf("%s: latest = %q, want %q", tc.name, got, tc.want)
		}
	}
}
