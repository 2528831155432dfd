package fsspsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestInvalidParams(t *testing.T) {
	phys := func(kv ...string) url.Values {
		v := values("token", DemoToken, "region", "66", "lastname", "Иванов", "firstname", "Иван")
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	sub := func(typ any, params map[string]any) map[string]any {
		return map[string]any{"type": typ, "params": params}
	}
	group := func(reqs ...any) map[string]any { return map[string]any{"token": DemoToken, "request": reqs} }
	many := make([]any, 51)
	for i := range many {
		many[i] = sub(3, map[string]any{"number": "1/21/77/77"})
	}
	tests := []struct {
		name   string
		method string
		path   string
		q      url.Values
		body   any
	}{
		{"physical without region", "GET", "/search/physical", phys("region", ""), nil},
		{"physical without lastname", "GET", "/search/physical", phys("lastname", ""), nil},
		{"physical without firstname", "GET", "/search/physical", phys("firstname", ""), nil},
		{"physical blank firstname", "GET", "/search/physical", phys("firstname", "  "), nil},
		{"birthdate ISO", "GET", "/search/physical", phys("birthdate", "1980-02-01"), nil},
		{"birthdate one digit", "GET", "/search/physical", phys("birthdate", "1.2.1980"), nil},
		{"birthdate 31 February", "GET", "/search/physical", phys("birthdate", "31.02.1990"), nil},
		{"birthdate month 13", "GET", "/search/physical", phys("birthdate", "01.13.1990"), nil},
		{"region 0", "GET", "/search/physical", phys("region", "0"), nil},
		{"region 100", "GET", "/search/physical", phys("region", "100"), nil},
		{"region 200", "GET", "/search/physical", phys("region", "200"), nil},
		{"region -2", "GET", "/search/physical", phys("region", "-2"), nil},
		{"region text", "GET", "/search/physical", phys("region", "Москва"), nil},
		{"legal without name", "GET", "/search/legal", values("token", DemoToken, "region", "66"), nil},
		{"legal without region", "GET", "/search/legal", values("token", DemoToken, "name", "Ромашка"), nil},
		{"ip without number", "GET", "/search/ip", values("token", DemoToken, "region", "66"), nil},
		{"ip free text", "GET", "/search/ip", values("token", DemoToken, "number", "Иванов"), nil},
		{"ip short yy", "GET", "/search/ip", values("token", DemoToken, "number", "6860/2012/61/66"), nil},
		{"ip region 00", "GET", "/search/ip", values("token", DemoToken, "number", "6860/12/61/00"), nil},
		{"ip dept of 4", "GET", "/search/ip", values("token", DemoToken, "number", "6860/12/6606-ИП"), nil},
		{"ip latin IP", "GET", "/search/ip", values("token", DemoToken, "number", "6860/12/66061-IP"), nil},
		{"ip own part empty", "GET", "/search/ip", values("token", DemoToken, "number", "/12/61/66"), nil},
		{"group empty", "POST", "/search/group", nil, group()},
		{"group without request", "POST", "/search/group", nil, map[string]any{"token": DemoToken}},
		{"group of 51", "POST", "/search/group", nil, group(many...)},
		{"group type 4", "POST", "/search/group", nil, group(sub(4, map[string]any{"number": "1/21/77/77"}))},
		{"group type text", "POST", "/search/group", nil, group(sub("ip", map[string]any{"number": "1/21/77/77"}))},
		{"group bad sub-request", "POST", "/search/group", nil, group(sub(1, map[string]any{"lastname": "Иванов", "region": 66}))},
		{"group bad region", "POST", "/search/group", nil, group(sub(2, map[string]any{"name": "Ромашка", "region": 300}))},
		{"group param of bool", "POST", "/search/group", nil, group(sub(3, map[string]any{"number": true}))},
		{"group body not JSON", "POST", "/search/group", nil, "token=" + DemoToken},
		{"status without task", "GET", "/status", values("token", DemoToken), nil},
		{"result without task", "GET", "/result", values("token", DemoToken), nil},
	}
	_, ts := start(t, instant())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, a := call(t, ts, tt.method, tt.path, tt.q, tt.body)
			if code != http.StatusBadRequest || a.Status != "error" || a.Code != 400 ||
				!strings.HasPrefix(a.Exception, "invalid request params") || string(a.Response) != "[]" {
				t.Errorf("%s %s(%v) = %d %+v, want 400 envelope invalid request params, response []", tt.method, tt.path, tt.q, code, a)
			}
		})
	}
}

func TestGroupLimitIsConfigurable(t *testing.T) {
	cfg := instant()
	cfg.GroupLimit = 100 // the older doc
	_, ts := start(t, cfg)
	reqs := make([]any, 100)
	for i := range reqs {
		reqs[i] = map[string]any{"type": 3, "params": map[string]any{"number": "1/21/77/77"}}
	}
	submit(t, ts, "POST", "/search/group", nil, map[string]any{"token": DemoToken, "request": reqs})
	code, a := call(t, ts, "POST", "/search/group", nil, map[string]any{"token": DemoToken, "request": append(reqs, reqs[0])})
	if code != http.StatusBadRequest || a.Code != 400 {
		t.Errorf("group(101 of max 100) = %d %+v, want 400", code, a)
	}
}

func TestInvalidToken(t *testing.T) {
	_, ts := start(t, instant())
	task := submit(t, ts, "GET", "/search/ip", values("token", DemoToken, "number", "1/21/77/77"), nil)
	want := answer{Status: "error", Code: 401, Exception: "invalid token", Response: []byte("[]")}
	group := []any{map[string]any{"type": 3, "params": map[string]any{"number": "1/21/77/77"}}}
	for _, token := range []string{"", "wrong-token", strings.ToUpper(DemoToken)} {
		tests := []struct {
			method, path string
			q            url.Values
			body         any
		}{
			{"GET", "/search/physical", values("token", token, "region", "66", "lastname", "Иванов", "firstname", "Иван"), nil},
			{"GET", "/search/legal", values("token", token, "region", "66", "name", "Ромашка"), nil},
			{"GET", "/search/ip", values("token", token, "number", "1/21/77/77"), nil},
			{"GET", "/search/physical", values("token", token), nil}, // 401 comes before 400
			{"POST", "/search/group", nil, map[string]any{"token": token, "request": group}},
			{"GET", "/status", values("token", token, "task", task), nil},
			{"GET", "/result", values("token", token, "task", task), nil},
		}
		for _, tt := range tests {
			code, got := call(t, ts, tt.method, tt.path, tt.q, tt.body)
			if code != http.StatusUnauthorized || !cmp.Equal(got, want) {
				t.Errorf("%s %s(token %q) = %d %+v, want 401 %+v", tt.method, tt.path, token, code, got, want)
			}
		}
	}
	// The group token belongs in the body; one in the query does not count.
	code, _ := call(t, ts, "POST", "/search/group", values("token", DemoToken), map[string]any{"request": group})
	if code != http.StatusUnauthorized {
		t.Errorf("group(token in query only) = %d, want 401", code)
	}
}

func TestUnknownTaskAndExpiry(t *testing.T) {
	sim, ts := start(t, DefaultConfig())
	for _, id := range []string{"ADAB49B2-F435-49CC-80DF-55F2F57D3057", "nonsense"} {
		for _, path := range []string{"/status", "/result"} {
			code, a := call(t, ts, "GET", path, values("token", DemoToken, "task", id), nil)
			if code != http.StatusNotFound || a.Status != "error" || a.Code != 404 || string(a.Response) != "[]" {
				t.Errorf("%s(%s) = %d %+v, want 404 error envelope", path, id, code, a)
			}
		}
	}
	task := submit(t, ts, "GET", "/search/ip", values("token", DemoToken, "number", "1/21/77/77"), nil)
	sim.Kit.Clock.Advance(24*time.Hour - time.Second)
	if r := result(t, ts, strings.ToLower(task)); r.Status != StatusDone || len(r.Result) != 1 {
		t.Errorf("result(23:59:59 later, lower-case id) = %+v, want done with 1 sub-result", r)
	}
	sim.Kit.Clock.Advance(time.Second)
	for _, path := range []string{"/status", "/result"} {
		code, a := call(t, ts, "GET", path, values("token", DemoToken, "task", task), nil)
		if code != http.StatusNotFound || a.Code != 404 || a.Exception != "task not found or expired" {
			t.Errorf("%s(24 h later) = %d %+v, want 404 task not found or expired", path, code, a)
		}
	}
}

func TestPartialResultsWithAddressError(t *testing.T) {
	cfg := instant()
	cfg.AddressQuirk = true
	_, ts := start(t, cfg)
	body := map[string]any{"token": DemoToken, "request": []any{
		map[string]any{"type": 1, "params": map[string]any{"lastname": "Иванов", "firstname": "Сергей", "region": 66}},
		map[string]any{"type": 2, "params": map[string]any{"name": "Ромашка", "region": 66}},
		map[string]any{"type": 3, "params": map[string]any{"number": "6860/12/61/66"}},
	}}
	task := submit(t, ts, "POST", "/search/group", nil, body)
	if got, want := status(t, ts, task), (taskStatus{StatusDoneErrors, "2 of 3"}); got != want {
		t.Errorf("status(group with a failing sub-request) = %+v, want %+v", got, want)
	}
	r := result(t, ts, task)
	var statuses []int
	for _, s := range r.Result {
		statuses = append(statuses, s.Status)
	}
	if r.Status != StatusDoneErrors || !cmp.Equal(statuses, []int{0, 3, 0}) {
		t.Errorf("result statuses = %d %v, want 3 [0 3 0]", r.Status, statuses)
	}
	if got, want := string(r.Result[1].Result), `{"code":0,"message":"Undefined index: address"}`; got != want {
		t.Errorf("result[1].result = %s, want %s", got, want)
	}
	// The same quirk on a single legal search.
	single := submit(t, ts, "GET", "/search/legal", values("token", DemoToken, "region", "66", "name", "Ромашка"), nil)
	if got := status(t, ts, single); got != (taskStatus{StatusDoneErrors, "0 of 1"}) {
		t.Errorf("status(legal without address) = %+v, want {3 0 of 1}", got)
	}
}

// TestLegalWithoutAddress: address is optional in the parameter table
// (5.2); without AddressQuirk a legal search without it finds records,
// alone and in a group.
func TestLegalWithoutAddress(t *testing.T) {
	_, ts := start(t, instant())
	single := submit(t, ts, "GET", "/search/legal", values("token", DemoToken, "region", "66", "name", ManyLegalName), nil)
	r := result(t, ts, single)
	if r.Status != StatusDone || len(r.Result) != 1 || len(recordsOf(t, r.Result[0])) < ManyRecords {
		t.Errorf("result(legal %s without address) = status %d, %+v; want done with >= %d records", ManyLegalName, r.Status, r.Result, ManyRecords)
	}
	group := submit(t, ts, "POST", "/search/group", nil, map[string]any{"token": DemoToken, "request": []any{
		map[string]any{"type": 2, "params": map[string]any{"name": "Ромашка", "region": 66}},
	}})
	if got := status(t, ts, group); got != (taskStatus{StatusDone, "1 of 1"}) {
		t.Errorf("status(group legal without address) = %+v, want {0 1 of 1}", got)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	_, ts := start(t, instant())
	if code, a := call(t, ts, "GET", "/search/nothing", values("token", DemoToken), nil); code != 404 || a.Code != 404 {
		t.Errorf("GET /search/nothing = %d %+v, want 404 envelope", code, a)
	}
	if code, a := call(t, ts, "POST", "/status", values("token", DemoToken), nil); code != 405 || a.Code != 405 {
		t.Errorf("POST /status = %d %+v, want 405 envelope", code, a)
	}
	if code, a := call(t, ts, "GET", "/search/group", values("token", DemoToken), nil); code != 405 || a.Code != 405 {
		t.Errorf("GET /search/group = %d %+v, want 405 envelope", code, a)
	}
}
