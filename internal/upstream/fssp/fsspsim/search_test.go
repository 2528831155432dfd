package fsspsim

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSearchLifecycle(t *testing.T) {
	group := map[string]any{"token": DemoToken, "request": []any{
		map[string]any{"type": 1, "params": map[string]any{"lastname": "Петров", "firstname": "Пётр", "region": 77}},
		map[string]any{"type": 2, "params": map[string]any{"name": "Ромашка", "address": "Москва", "region": "77"}},
		map[string]any{"type": 3, "params": map[string]any{"number": "12345/21/77011-ИП"}},
	}}
	tests := []struct {
		name   string
		method string
		path   string
		q      url.Values
		body   any
		want   []query // echoed queries
	}{
		{"physical", "GET", "/search/physical",
			values("token", DemoToken, "region", "66", "lastname", "Иванов", "firstname", "Иван", "secondname", "Иванович", "birthdate", "01.02.1980"),
			nil, []query{{1, map[string]string{"region": "66", "lastname": "Иванов", "firstname": "Иван", "secondname": "Иванович", "birthdate": "01.02.1980"}}}},
		{"physical all regions under /api/v1.0", "GET", "/api/v1.0/search/physical",
			values("token", DemoToken, "region", "-1", "lastname", "Сидоров", "firstname", "Олег"),
			nil, []query{{1, map[string]string{"region": "-1", "lastname": "Сидоров", "firstname": "Олег"}}}},
		{"legal", "GET", "/search/legal/", values("token", DemoToken, "region", "150", "name", "Ромашка", "address", "Екатеринбург"),
			nil, []query{{2, map[string]string{"region": "150", "name": "Ромашка", "address": "Екатеринбург"}}}},
		{"ip short", "GET", "/search/ip", values("token", DemoToken, "number", "6860/12/61/66"),
			nil, []query{{3, map[string]string{"number": "6860/12/61/66"}}}},
		{"ip full", "GET", "/search/ip", values("token", DemoToken, "number", "6860/12/66061-ИП"),
			nil, []query{{3, map[string]string{"number": "6860/12/66061-ИП"}}}},
		{"group", "POST", "/search/group", nil, group, []query{
			{1, map[string]string{"lastname": "Петров", "firstname": "Пётр", "region": "77"}},
			{2, map[string]string{"name": "Ромашка", "address": "Москва", "region": "77"}},
			{3, map[string]string{"number": "12345/21/77011-ИП"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, ts := start(t, DefaultConfig())
			task := submit(t, ts, tt.method, tt.path, tt.q, tt.body)
			n := len(tt.want)
			progress := func(k int) string { return fmt.Sprintf("%d of %d", k, n) }

			if got, want := status(t, ts, task), (taskStatus{StatusQueued, progress(0)}); got != want {
				t.Errorf("status(queued) = %+v, want %+v", got, want)
			}
			if r := result(t, ts, task); r.Status != StatusQueued || r.TaskStart != nil || r.TaskEnd != nil || len(r.Result) != 0 {
				t.Errorf("result(queued) = %+v, want status 2, null times, no results", r)
			}

			sim.Kit.Clock.Advance(2 * time.Second) // running
			if got := status(t, ts, task); got.Status != StatusRunning || got.Progress != progress(0) {
				t.Errorf("status(running) = %+v, want status 1 progress %q", got, progress(0))
			}
			r := result(t, ts, task)
			if r.TaskStart == nil || *r.TaskStart != "2026-03-02 12:00:02" || r.TaskEnd != nil {
				t.Errorf("result(running) times = %v, %v, want 2026-03-02 12:00:02 (MSK), null", deref(r.TaskStart), deref(r.TaskEnd))
			}

			sim.Kit.Clock.Advance(3 * time.Second) // done
			if got, want := status(t, ts, task), (taskStatus{StatusDone, progress(n)}); got != want {
				t.Errorf("status(done) = %+v, want %+v", got, want)
			}
			r = result(t, ts, task)
			if r.Status != StatusDone || deref(r.TaskEnd) != "2026-03-02 12:00:05" {
				t.Errorf("result(done) = status %d end %q, want 0 2026-03-02 12:00:05", r.Status, deref(r.TaskEnd))
			}
			var got []query
			for _, s := range r.Result {
				got = append(got, s.Query)
				if s.Status != StatusDone {
					t.Errorf("sub-result status = %d, want 0", s.Status)
				}
				for _, rec := range recordsOf(t, s) {
					checkRecord(t, rec)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result queries mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunningGroupGivesPartialResults(t *testing.T) {
	sim, ts := start(t, DefaultConfig()) // 2 s queued, 3 s running
	var reqs []any
	for _, name := range []string{"Иван", "Пётр", "Олег", "Анна", "Юрий", "Нина"} {
		reqs = append(reqs, map[string]any{"type": 1, "params": map[string]any{"lastname": "Смирнов", "firstname": name, "region": 1}})
	}
	task := submit(t, ts, "POST", "/search/group", nil, map[string]any{"token": DemoToken, "request": reqs})
	sim.Kit.Clock.Advance(3500 * time.Millisecond) // half of the running time
	if got, want := status(t, ts, task), (taskStatus{StatusRunning, "3 of 6"}); got != want {
		t.Errorf("status(half run) = %+v, want %+v", got, want)
	}
	r := result(t, ts, task)
	if r.Status != StatusRunning || len(r.Result) != 3 || r.Result[2].Query.Params["firstname"] != "Олег" {
		t.Errorf("result(half run) = status %d, %d results, want 1 and the first 3 in order", r.Status, len(r.Result))
	}
}

func TestWellKnownQueries(t *testing.T) {
	_, ts := start(t, instant())
	count := func(path string, q url.Values) int {
		q.Set("token", DemoToken)
		r := result(t, ts, submit(t, ts, "GET", path, q, nil))
		return len(recordsOf(t, r.Result[0]))
	}
	if got := count("/search/physical", values("region", "77", "lastname", "иванов", "firstname", "Иван")); got < ManyRecords {
		t.Errorf("records(ИВАНОВ) = %d, want >= %d", got, ManyRecords)
	}
	if got := count("/search/physical", values("region", "-1", "lastname", NoDebtSurname, "firstname", "Иван")); got != 0 {
		t.Errorf("records(%s) = %d, want 0", NoDebtSurname, got)
	}
	if got := count("/search/legal", values("region", "66", "name", "ООО Ромашка", "address", "Москва")); got < ManyRecords {
		t.Errorf("records(legal Ромашка) = %d, want >= %d", got, ManyRecords)
	}
	if got := count("/search/legal", values("region", "66", "name", NoDebtLegalName, "address", "Москва")); got != 0 {
		t.Errorf("records(legal %s) = %d, want 0", NoDebtLegalName, got)
	}
	if got := count("/search/ip", values("number", "0123/21/77/77")); got != 0 {
		t.Errorf("records(ip 0123/21/77/77) = %d, want 0", got)
	}
	if got := count("/search/ip", values("number", "123/21/77/77")); got != 1 {
		t.Errorf("records(ip 123/21/77/77) = %d, want 1", got)
	}
}

func TestSameQuerySameRecords(t *testing.T) {
	_, ts := start(t, instant())
	q := values("token", DemoToken, "region", "77", "lastname", "Иванов", "firstname", "Иван")
	first := result(t, ts, submit(t, ts, "GET", "/search/physical", q, nil)).Result[0].Result
	second := result(t, ts, submit(t, ts, "GET", "/search/physical", q, nil)).Result[0].Result
	var a, b []Record
	_ = json.Unmarshal(first, &a)
	_ = json.Unmarshal(second, &b)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("records(same query twice) differ (-first +second):\n%s", diff)
	}
	_, other := start(t, Config{Seed: 2, QueueFor: 0, RunFor: 0})
	third := result(t, other, submit(t, other, "GET", "/search/physical", q, nil)).Result[0].Result
	var c []Record
	_ = json.Unmarshal(third, &c)
	if cmp.Equal(a, c) {
		t.Errorf("records(seed 1) = records(seed 2), want different data for another seed")
	}
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}
