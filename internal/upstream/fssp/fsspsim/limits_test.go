package fsspsim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func ipQuery(token string) url.Values { return values("token", token, "number", "1/21/77/77") }

func wantLimited(t *testing.T, what string, code int, a answer, words string) {
	t.Helper()
	if code != http.StatusTooManyRequests || a.Status != "error" || a.Code != 429 || string(a.Response) != "[]" ||
		!strings.Contains(a.Exception, words) {
		t.Errorf("%s = %d %+v, want 429 envelope mentioning %q", what, code, a, words)
	}
}

func wantOK(t *testing.T, what string, code int, a answer) {
	t.Helper()
	if code != http.StatusOK || a.Code != 0 {
		t.Errorf("%s = %d %+v, want 200 success", what, code, a)
	}
}

func TestHourlyLimitSlides(t *testing.T) {
	cfg := instant()
	cfg.Tokens = []string{DemoToken, "other-token"}
	sim, ts := start(t, cfg)
	paths := []string{"/search/physical", "/search/legal", "/search/ip"}
	queries := []url.Values{
		values("token", DemoToken, "region", "1", "lastname", "Петров", "firstname", "Пётр"),
		values("token", DemoToken, "region", "1", "name", "Ромашка"),
		ipQuery(DemoToken),
	}
	for i := range 100 { // one every 30 s: the 100th at 49:30
		code, a := call(t, ts, "GET", paths[i%3], queries[i%3], nil)
		wantOK(t, "search #"+itoa(i+1), code, a)
		sim.Kit.Clock.Advance(30 * time.Second)
	}
	code, a := call(t, ts, "GET", "/search/ip", ipQuery(DemoToken), nil)
	wantLimited(t, "search #101 at 50:00", code, a, "per hour")
	code, a = call(t, ts, "GET", "/search/ip", ipQuery("other-token"), nil)
	wantOK(t, "search by another token", code, a)
	code, _ = call(t, ts, "GET", "/status", values("token", DemoToken, "task", "x"), nil)
	if code != http.StatusNotFound {
		t.Errorf("status(over the search limit) = %d, want 404 (status is not limited)", code)
	}

	sim.Kit.Clock.Advance(9*time.Minute + 59*time.Second) // 59:59: the first is still in the window
	code, a = call(t, ts, "GET", "/search/ip", ipQuery(DemoToken), nil)
	wantLimited(t, "search at 59:59", code, a, "per hour")
	sim.Kit.Clock.Advance(time.Second) // 1:00:00: the first slid out
	code, a = call(t, ts, "GET", "/search/ip", ipQuery(DemoToken), nil)
	wantOK(t, "search at 1:00:00", code, a)
	code, a = call(t, ts, "GET", "/search/ip", ipQuery(DemoToken), nil)
	wantLimited(t, "second search at 1:00:00", code, a, "per hour")
	sim.Kit.Clock.Advance(30 * time.Second) // the second slid out
	code, a = call(t, ts, "GET", "/search/ip", ipQuery(DemoToken), nil)
	wantOK(t, "search at 1:00:30", code, a)
}

func TestDailyLimitSlides(t *testing.T) {
	cfg := instant()
	cfg.HourLimit, cfg.DayLimit = 5, 12
	sim, ts := start(t, cfg)
	for hour := range 3 {
		for i := range 5 {
			code, a := call(t, ts, "GET", "/search/ip", ipQuery(DemoToken), nil)
			if n := hour*5 + i; n < 12 {
				wantOK(t, "search #"+itoa(n+1), code, a)
			} else {
				wantLimited(t, "search #"+itoa(n+1), code, a, "per day")
			}
		}
		sim.Kit.Clock.Advance(time.Hour)
	}
	sim.Kit.Clock.Set(epoch().Add(24*time.Hour - time.Second))
	code, a := call(t, ts, "GET", "/search/ip", ipQuery(DemoToken), nil)
	wantLimited(t, "search at 23:59:59", code, a, "per day")
	sim.Kit.Clock.Set(epoch().Add(24 * time.Hour))
	for i := range 5 { // the first hour's five slid out
		code, a := call(t, ts, "GET", "/search/ip", ipQuery(DemoToken), nil)
		wantOK(t, "search at 24:00 #"+itoa(i+1), code, a)
	}
}

func TestGroupDailyLimit(t *testing.T) {
	cfg := instant()
	cfg.GroupDayLimit = 3
	sim, ts := start(t, cfg)
	body := map[string]any{"token": DemoToken, "request": []any{map[string]any{"type": 3, "params": map[string]any{"number": "1/21/77/77"}}}}
	for i := range 3 {
		code, a := call(t, ts, "POST", "/search/group", nil, body)
		wantOK(t, "group #"+itoa(i+1), code, a)
		sim.Kit.Clock.Advance(time.Hour)
	}
	code, a := call(t, ts, "POST", "/search/group", nil, body)
	wantLimited(t, "group #4", code, a, "group requests per day")
	code, a = call(t, ts, "GET", "/search/ip", ipQuery(DemoToken), nil)
	wantOK(t, "single search over the group limit", code, a)
	sim.Kit.Clock.Set(epoch().Add(24 * time.Hour))
	code, a = call(t, ts, "POST", "/search/group", nil, body)
	wantOK(t, "group 24 h after the first", code, a)
}

func TestInvalidSearchesDoNotCount(t *testing.T) {
	cfg := instant()
	cfg.HourLimit = 2
	_, ts := start(t, cfg)
	for range 5 {
		call(t, ts, "GET", "/search/ip", values("token", DemoToken, "number", "bad"), nil)
	}
	for i := range 2 {
		code, a := call(t, ts, "GET", "/search/ip", ipQuery(DemoToken), nil)
		wantOK(t, "valid search #"+itoa(i+1)+" after invalid ones", code, a)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
