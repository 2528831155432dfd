package fssp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fssp"
)

// fuzzToken is the token of the fuzz targets: it must never show in an error.
const fuzzToken = "fuzz-secret-fssp-token"

// fuzzCalls calls each method of the client; the result is what it decoded.
var fuzzCalls = []struct {
	name string
	call func(context.Context, *fssp.Client, tenant.Secret) (any, error)
}{
	{"search", func(ctx context.Context, c *fssp.Client, tok tenant.Secret) (any, error) {
		return c.Search(ctx, tok, fssp.Query{Type: fssp.TypePhysical, Params: fssp.Params{"region": "77", "lastname": "ИВАНОВ", "firstname": "ИВАН"}})
	}},
	{"group", func(ctx context.Context, c *fssp.Client, tok tenant.Secret) (any, error) {
		return c.SearchGroup(ctx, tok, []fssp.Query{{Type: fssp.TypeIP, Params: fssp.Params{"number": "1/21/77/01"}}})
	}},
	{"status", func(ctx context.Context, c *fssp.Client, tok tenant.Secret) (any, error) {
		return c.Status(ctx, tok, "ADAB49B2-F435-49CC-80DF-55F2F57D3057")
	}},
	{"result", func(ctx context.Context, c *fssp.Client, tok tenant.Secret) (any, error) {
		res, err := c.Result(ctx, tok, "ADAB49B2-F435-49CC-80DF-55F2F57D3057")
		if err != nil {
			return nil, err
		}
		// What the task engine keeps of it: the records, normalised.
		var recs []fssp.Record
		for _, s := range res.Results {
			for _, r := range s.Records {
				recs = append(recs, fssp.Normalize(r))
			}
		}
		return struct {
			R *fssp.Result
			N []fssp.Record
		}{res, recs}, nil
	}},
}

// fuzzStatuses are the HTTP statuses the fuzzed answers come with.
var fuzzStatuses = []int{200, 200, 200, 400, 401, 404, 429, 500, 503}

// FuzzDecode answers any bytes, with one of a few statuses, to every call
// of the client. A call either decodes a value the gateway can encode, or
// fails with an error of the FSSP kinds that never carries the token, and
// it allocates in proportion to the answer.
func FuzzDecode(f *testing.F) {
	var mu sync.Mutex
	var answer []byte
	var status int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		b, s := answer, status
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s)
		_, _ = w.Write(b)
	}))
	f.Cleanup(srv.Close)
	c, err := fssp.New(fssp.Config{BaseURL: srv.URL + "/api/v1.0", Timeout: 10 * time.Second, MaxBody: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	tok := tenant.NewSecret(fuzzToken)

	// The documentation's answers (copied to the simulator's testdata).
	files, _ := filepath.Glob("fsspsim/testdata/response_*.json")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		name := "search"
		switch {
		case strings.Contains(file, "status"):
			name = "status"
		case strings.Contains(file, "result"):
			name = "result"
		case strings.Contains(file, "5_4"):
			name = "group"
		}
		f.Add(name, uint8(0), b)
	}
	for _, s := range []string{"", "null", "{}", `{"status":"success","response":{"status":7}}`,
		`{"status":"success","response":{"status":1,"progress":"2 of 5"}}`,
		`{"status":"error","code":429,"exception":"limit"}`, `{"status":"error","code":404}`,
		`{"status":"success","response":{"status":0,"result":[{"status":0,"result":[{"name":null,"department":1e300}]},{"status":3,"result":{}},{"status":0,"result":"x"}]}}`,
		`<html>502 Bad Gateway</html>`} {
		f.Add("result", uint8(0), []byte(s))
	}
	f.Fuzz(func(t *testing.T, name string, st uint8, body []byte) {
		call := fuzzCalls[int(hashString(name))%len(fuzzCalls)]
		for _, fc := range fuzzCalls {
			if fc.name == name {
				call = fc
			}
		}
		mu.Lock()
		answer, status = body, fuzzStatuses[int(st)%len(fuzzStatuses)]
		mu.Unlock()
		var out any
		var err error
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out, err = call.call(context.Background(), c, tok)
		runtime.ReadMemStats(&after)
		if n, limit := after.TotalAlloc-before.TotalAlloc, uint64(1<<20+64*len(body)); n > limit {
			t.Errorf("%s: decoding %d bytes allocated %d, want at most %d", call.name, len(body), n, limit)
		}
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Upstream != fssp.Upstream {
				t.Fatalf("%s: error %v (%T), want an *apperr.Error of fssp", call.name, err, err)
			}
			switch e.Kind {
			case apperr.UpstreamFailed, apperr.UpstreamTimeout, apperr.Gone:
			case apperr.QuotaExceeded:
				if e.RetryAfter <= 0 {
					t.Errorf("%s: quota error without Retry-After: %v", call.name, err)
				}
			default:
				t.Fatalf("%s: error kind %v (%v), want an upstream failure, gone or quota exceeded", call.name, e.Kind, err)
			}
			if strings.Contains(err.Error(), fuzzToken) || strings.Contains(e.Detail, fuzzToken) {
				t.Fatalf("%s: error %q carries the token", call.name, err)
			}
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Errorf("%s decoded %s into %+v, which does not encode: %v", call.name, body, out, err)
		}
	})
}

func hashString(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// FuzzNormalize parses any record fields: it keeps the raw strings, and
// what it parsed encodes as the contract's FSSPRecord.
func FuzzNormalize(f *testing.F) {
	f.Add("ИВАНОВ СЕРГЕЙ ПЕТРОВИЧ 09.06.1982 г. Москва", "6860/12/61/66 от 16.04.2012 1234/12/61066-СД",
		"Исполнительный лист от 20.03.2012 № ВС 049652131", "Коммунальные платежи: 1 234,56 руб. Исполнительский сбор: 1000 руб.",
		"66061", "НИТОЧКИНА B. И. +7(499)558-16-04<br>+7(499)558-16-04<br>", "2015-06-30, 46, 1, 4")
	f.Add("ООО РОМАШКА 125167, Москва, Ленинградский пр-т", "1/21/77001-ИП от 31.02.2021", "", "99999999999999999999999999999999999999 руб.",
		"", " 8 (495) 123-45-67 ", "30.06.2015, 46, 1, 99999999999999999999")
	f.Add("", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, name, exe, details, subject, dept, bailiff, end string) {
		var raw fssp.RawRecord
		b, _ := json.Marshal(map[string]string{"name": name, "exe_production": exe, "details": details, "subject": subject,
			"department": dept, "bailiff": bailiff, "ip_end": end})
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatalf("RawRecord from %s: %v", b, err)
		}
		r := fssp.Normalize(raw)
		if r.Raw.Name != string(raw.Name) || r.Raw.Subject != string(raw.Subject) || r.Raw.IPEnd != string(raw.IPEnd) {
			t.Errorf("Normalize(%+v).Raw = %+v, want the fields as sent", raw, r.Raw)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Errorf("Normalize(%+v) = %+v, which does not encode: %v", raw, r, err)
		}
		if r.Subject.Amounts == nil || r.Bailiff.Phones == nil {
			t.Errorf("Normalize(%+v): amounts %v, phones %v, want lists (the contract requires them)", raw, r.Subject.Amounts, r.Bailiff.Phones)
		}
	})
}

// FuzzQuery sends any task id and search parameter: FSSP gets them back
// from the query string of the fixed path, next to the token, which they
// cannot override.
func FuzzQuery(f *testing.F) {
	var mu sync.Mutex
	var seen []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"error","code":404,"exception":"no such task","response":[]}`))
	}))
	f.Cleanup(srv.Close)
	c, err := fssp.New(fssp.Config{BaseURL: srv.URL + "/api/v1.0", Timeout: 10 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	tok := tenant.NewSecret(fuzzToken)
	for _, s := range [][2]string{{"ADAB49B2-F435-49CC-80DF-55F2F57D3057", "ИВАНОВ"}, {"x&token=other", "a&token=b"},
		{"../result?task=1", "%ZZ"}, {"a#b", "c d+e"}, {"", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, task, lastname string) {
		mu.Lock()
		seen = nil
		mu.Unlock()
		_, _ = c.Status(context.Background(), tok, task)
		_, _ = c.Search(context.Background(), tok, fssp.Query{Type: fssp.TypePhysical,
			Params: fssp.Params{"region": "77", "lastname": lastname, "firstname": "ИВАН"}})
		mu.Lock()
		reqs := seen
		mu.Unlock()
		if len(reqs) != 2 {
			t.Fatalf("Status(%q) and Search(%q) sent %d requests, want 2", task, lastname, len(reqs))
		}
		for i, want := range []struct{ path, key, value string }{{"/api/v1.0/status", "task", task}, {"/api/v1.0/search/physical", "lastname", lastname}} {
			u := reqs[i].URL
			q := u.Query()
			if u.EscapedPath() != want.path || q.Get(want.key) != want.value || len(q[want.key]) != 1 ||
				q.Get("token") != fuzzToken || len(q["token"]) != 1 {
				t.Fatalf("sent %q, want %s with %s=%q and the token once", u.String(), want.path, want.key, want.value)
			}
		}
	})
}
