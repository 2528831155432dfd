package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/fipssvc"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/quota"
	"github.com/legalgate/legalgate/internal/upstream/fips"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
	"github.com/legalgate/legalgate/internal/usage"
)

// fakeUpstream answers every request it is given with the status and body
// last set (pass, when set and true for a request, hands it to a real
// simulator instead).
type fakeUpstream struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	body   []byte
	pass   func(*http.Request) bool
}

func newFakeUpstream(tb testing.TB, sim http.Handler, pass func(*http.Request) bool) *fakeUpstream {
	u := &fakeUpstream{status: http.StatusOK}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		status, body, p := u.status, u.body, u.pass
		u.mu.Unlock()
		if p != nil && p(r) {
			sim.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	tb.Cleanup(u.Close)
	u.pass = pass
	return u
}

func (u *fakeUpstream) answer(status int, body []byte, pass func(*http.Request) bool) {
	u.mu.Lock()
	u.status, u.body, u.pass = status, body, pass
	u.mu.Unlock()
}

// garantAnswerStatuses are the statuses of the fuzzed Garant answers (423
// and 429 are left out: they change quota state for the rest of the run).
var garantAnswerStatuses = []int{200, 200, 200, 200, 400, 403, 404, 500}

// FuzzGarantAnswer has a Garant answer any bytes to any Garant operation of
// the gateway (bypassing the cache): whatever Garant says, the client gets
// its answer or a problem, never a 500 or a panic.
func FuzzGarantAnswer(f *testing.F) {
	up := newFakeUpstream(f, nil, nil)
	env := &fuzzEnv{}
	env.serve(f, newGateway(f, func(d *handlers.Deps) {
		q, err := quota.New(d.Redis, quota.Config{}, nil)
		must(f, err)
		d.Quotas = &usage.Reports{Quota: q}
		d.Garant = fuzzGarant(f, d, up.URL)
	}))
	env.ids = map[string]string{"topic": "12125268", "entry": "70", "format": "pdf", "objectId": "1084623"}
	env.gone = env.ids
	var ops []string
	for _, o := range env.ops {
		if strings.HasPrefix(o.id, "garant") && o.id != "garantPurgeCache" {
			ops = append(ops, o.id)
		}
	}
	bodies := fuzzBodies(f)
	files, _ := filepath.Glob("../upstream/garant/garantsim/testdata/examples/*.resp.json")
	answers := map[string]string{"search": "garantSearch", "snippets-text": "garantSnippets", "snippets-correspondent": "garantSnippets",
		"find-hyperlinks": "garantFindHyperlinks", "topic-html": "garantGetTopicHTML", "entry-html": "garantGetEntryHTML",
		"find-modified": "garantFindModified", "block-on-control": "garantBlocksChanged", "prime": "garantPrimeCategories",
		"create-news": "garantPrimeNews", "topic": "garantGetTopic", "redactions": "garantGetTopicEditions",
		"sutyazhnik-search": "garantCourtPractice", "limits": "garantGetLimits"}
	for _, file := range files {
		b, err := os.ReadFile(file)
		must(f, err)
		if op, ok := answers[strings.TrimSuffix(filepath.Base(file), ".resp.json")]; ok {
			f.Add(op, uint8(0), b)
		}
	}
	f.Add("garantSnippets", uint8(0), []byte(`{"snippets":[{"relevance":"0,99","entry":70,"ancestors":[{"entry":"1","title":"x"}]}]}`))
	f.Add("garantGetTopicEditions", uint8(0), []byte(`[{"status":"active","topic":1,"activity":[{"from":"1.1.2020","to":"31.12.9999"}],"changingDocuments":[{"topic":"2","entry":null}]}]`))
	f.Add("garantGetTopicHTML", uint8(0), []byte(`{"items":[{"number":1,"text":"<img src=\"/document/image?object_id=1\">"}]}`))
	f.Add("garantExportTopic", uint8(0), []byte("%PDF-1.4"))
	f.Add("garantGetImage", uint8(0), []byte("\x89PNG"))
	f.Add("garantSearch", uint8(4), []byte(`{"error":"bad query"}`))
	f.Add("garantGetTopic", uint8(7), []byte(`<html>oops</html>`))
	f.Fuzz(func(t *testing.T, name string, st uint8, answer []byte) {
		op := env.op(name)
		if !strings.HasPrefix(op.id, "garant") || op.id == "garantPurgeCache" {
			op = env.byID[ops[int(st)%len(ops)]]
		}
		status := garantAnswerStatuses[int(st)%len(garantAnswerStatuses)]
		up.answer(status, answer, nil)
		hdr := []string{"Cache-Control", "no-cache, no-store"}
		var body []byte
		if op.body != "" {
			hdr = append(hdr, "Content-Type", contentType(op))
			body = []byte(bodies[op.id][0])
		}
		a, err := env.send(op.method, env.fill(op), hdr, body)
		env.checkWith(t, op.method+" "+op.id+" answered "+http.StatusText(status), len(answer), a, err, true)
	})
}

// fipsAnswerStatuses are the statuses of the fuzzed FIPS answers.
var fipsAnswerStatuses = []int{200, 201, 204, 207, 400, 401, 403, 404, 409, 413, 422, 429, 500, 503}

// FuzzFIPSAnswer has FIPS answer any bytes to any FIPS operation of the
// gateway. The dictionaries the gateway checks input against come from the
// simulator, except when the operation fuzzed reads a dictionary.
func FuzzFIPSAnswer(f *testing.F) {
	sim := fipssim.New(fipssim.DefaultConfig())
	isDict := func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/dictionaries/") }
	up := newFakeUpstream(f, sim, isDict)
	env := &fuzzEnv{}
	env.serve(f, newGateway(f, func(d *handlers.Deps) {
		fc, err := fips.New(fips.Config{BaseURL: up.URL + fipssim.Prefix, Timeout: 10 * time.Second, Redis: d.Redis,
			OnRejected: func(string) {}})
		must(f, err)
		d.FIPS = &fipssvc.Service{Client: fc, Idem: idempotency.New(d.Redis, idempotency.Options{Log: d.Log})}
	}))
	env.ids = map[string]string{"applicationId": "TMA260537887", "documentId": "2"}
	env.gone = env.ids
	var ops []string
	for _, o := range env.ops {
		if strings.HasPrefix(o.id, "fips") {
			ops = append(ops, o.id)
		}
	}
	bodies := fuzzBodies(f)
	const (
		app = `{"id":"a-1","registrationNumber":"2026100001","type":"TMApplication","category":"x","title":"Ромашка","status":"draft",` +
			`"createdAt":"2026-11-01T10:00:00Z","trusted":false,"applicantInn":"7701234567","fees":[12.5,3],"documents":{"total":4,"unread":1}}`
		doc = `{"id":"d-1","type":"PowerOfAttorney","typeTitle":"Доверенность","description":"x","size":1024,"signatures":1,"createdAt":"2026-11-01T10:00:00+03:00","pages":3}`
		sig = `{"id":"s-1","algorithm":"GOST R 34.10-2012-256","signer":"ООО «Ромашка»","certificateSerial":"01AB","signedAt":"2026-11-01T10:00:00Z"}`
	)
	status := func(s int) uint8 {
		for i, v := range fipsAnswerStatuses {
			if v == s {
				return uint8(i)
			}
		}
		return 0
	}
	for _, s := range []struct {
		op     string
		status int
		body   string
	}{
		{"fipsListApplications", 200, "[" + app + "]"},
		{"fipsCreateApplication", 201, app},
		{"fipsGetApplication", 200, app},
		{"fipsUpdateApplication", 200, `{"id":"a-1","createdAt":"0000-01-01T00:00:00+23:59"}`},
		{"fipsDeleteApplication", 204, ""},
		{"fipsListDocuments", 200, "[" + doc + "]"},
		{"fipsCreateDocument", 201, doc},
		{"fipsGetDocument", 200, doc},
		{"fipsUpdateDocument", 409, `{"message":"submitted"}`},
		{"fipsListSignatures", 200, "[" + sig + "]"},
		{"fipsAddSignature", 201, sig},
		{"fipsAddSignature", 207, `{"results":[{"code":201,"result":` + sig + `},{"code":400,"result":{"message":"bad","errors":[{"code":"E1","field":"algorithm","message":"unknown"}]}},{"code":0}]}`},
		{"fipsSubmitApplication", 200, `{"id":"a-1","status":"submitted","registrationNumber":"2026100001","registrationDate":"2026-11-02T09:00:00Z","incomingNumber":"in-7"}`},
		{"fipsListApplicantCategories", 200, `[{"name":"Юридическое лицо\\Резидент РФ","description":""}]`},
		{"fipsListDocumentTypes", 200, `[{"name":"Доверенность","code":"PowerOfAttorney","description":"x"}]`},
		{"fipsPutDocumentFile", 200, doc},
		{"fipsPutStatement", 400, `{"message":"ФЛК","errors":[{"code":"FLK-1","field":"/TradeMarkStatement/Applicant/INN","message":"ИНН"}]}`},
		{"fipsGetDocumentFile", 200, "%PDF-1.4"},
		{"fipsGetPackage", 200, "<package/>"},
		{"fipsGetApplication", 401, `{"message":"expired"}`},
		{"fipsGetApplication", 429, `{}`},
		{"fipsGetApplication", 500, `not json`},
	} {
		f.Add(s.op, status(s.status), []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, name string, st uint8, answer []byte) {
		op := env.op(name)
		if !strings.HasPrefix(op.id, "fips") {
			op = env.byID[ops[int(st)%len(ops)]]
		}
		status := fipsAnswerStatuses[int(st)%len(fipsAnswerStatuses)]
		pass := isDict
		if strings.Contains(op.path, "/dictionaries/") {
			pass = nil
			ctx := context.Background()
			keys, err := env.Deps.Redis.Keys(ctx, "fips:dict:*").Result()
			must(t, err)
			if len(keys) > 0 {
				must(t, env.Deps.Redis.Del(ctx, keys...).Err())
			}
		}
		up.answer(status, answer, pass)
		var hdr []string
		var body []byte
		if op.body != "" {
			hdr = append(hdr, "Content-Type", contentType(op))
			body = []byte(bodies[op.id][0])
		}
		a, err := env.send(op.method, env.fill(op), hdr, body)
		env.checkWith(t, op.method+" "+op.id+" answered "+http.StatusText(status), len(answer), a, err, true)
	})
}
