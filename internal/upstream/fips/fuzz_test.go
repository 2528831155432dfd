package fips_test

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

var fuzzCred = &tenant.Credential{Name: "fuzz", Upstream: fips.Upstream, Secret: tenant.NewSecret("fuzz-fips-key")}

// fuzzCalls calls each method of the client; the result is what it decoded.
var fuzzCalls = map[string]func(context.Context, *fips.Client) (any, error){
	"listApplications": func(ctx context.Context, c *fips.Client) (any, error) {
		return c.ListApplications(ctx, fuzzCred, fips.ListOptions{Kind: "All"})
	},
	"createApplication": func(ctx context.Context, c *fips.Client) (any, error) {
		a, loc, err := c.CreateApplication(ctx, fuzzCred, fips.ApplicationInput{Type: "TMApplication", Category: "x"})
		if err == nil {
			c.ResolveLocation(loc, fips.OpGetApplication)
		}
		return a, err
	},
	"application": func(ctx context.Context, c *fips.Client) (any, error) { return c.Application(ctx, fuzzCred, "1") },
	"updateApplication": func(ctx context.Context, c *fips.Client) (any, error) {
		return c.UpdateApplication(ctx, fuzzCred, "1", fips.ApplicationInput{Category: "x"})
	},
	"deleteApplication": func(ctx context.Context, c *fips.Client) (any, error) {
		return nil, c.DeleteApplication(ctx, fuzzCred, "1")
	},
	"listDocuments": func(ctx context.Context, c *fips.Client) (any, error) { return c.ListDocuments(ctx, fuzzCred, "1") },
	"createDocument": func(ctx context.Context, c *fips.Client) (any, error) {
		d, loc, err := c.CreateDocument(ctx, fuzzCred, "1", fips.DocumentInput{Type: "PowerOfAttorney"})
		if err == nil {
			c.ResolveLocation(loc, fips.OpGetDocument)
		}
		return d, err
	},
	"document": func(ctx context.Context, c *fips.Client) (any, error) { return c.Document(ctx, fuzzCred, "1", "2") },
	"updateDocument": func(ctx context.Context, c *fips.Client) (any, error) {
		return c.UpdateDocument(ctx, fuzzCred, "1", "2", fips.DocumentInput{})
	},
	"deleteDocument": func(ctx context.Context, c *fips.Client) (any, error) {
		return nil, c.DeleteDocument(ctx, fuzzCred, "1", "2")
	},
	"clearDocumentFile": func(ctx context.Context, c *fips.Client) (any, error) {
		return nil, c.ClearDocumentFile(ctx, fuzzCred, "1", "2")
	},
	"listSignatures": func(ctx context.Context, c *fips.Client) (any, error) {
		return c.ListSignatures(ctx, fuzzCred, "1", "2")
	},
	"addSignatures": func(ctx context.Context, c *fips.Client) (any, error) {
		_, res, err := c.AddSignatures(ctx, fuzzCred, "1", "2", []fips.SignatureInput{{Algorithm: "GOST R 34.10-2012-256", Value: []byte("cms")}})
		for _, r := range res {
			if r.Error != nil {
				if e, ok := apperr.As(r.Error); !ok || e.Upstream != fips.Upstream {
					return nil, errors.New("an item's error is not an *apperr.Error of fips")
				}
				r.Error = nil // checked; the rest must encode
			}
		}
		return res, err
	},
	"submit": func(ctx context.Context, c *fips.Client) (any, error) {
		return c.Submit(ctx, fuzzCred, "1", "GOST R 34.10-2012-256", []byte("cms"))
	},
	"applicantCategories":    func(ctx context.Context, c *fips.Client) (any, error) { return c.ApplicantCategories(ctx, fuzzCred) },
	"applicantDocumentTypes": func(ctx context.Context, c *fips.Client) (any, error) { return c.ApplicantDocumentTypes(ctx, fuzzCred) },
	"documentTypes":          func(ctx context.Context, c *fips.Client) (any, error) { return c.DocumentTypes(ctx, fuzzCred) },
	"putDocumentFile": func(ctx context.Context, c *fips.Client) (any, error) {
		return c.PutDocumentFile(ctx, fuzzCred, "1", "2", fips.Upload{Body: strings.NewReader("%PDF"), FileName: "a.pdf"})
	},
	"documentFile": func(ctx context.Context, c *fips.Client) (any, error) {
		content, err := c.DocumentFile(ctx, fuzzCred, "1", "2")
		if err != nil {
			return nil, err
		}
		defer content.Body.Close()
		_, err = io.Copy(io.Discard, content.Body)
		return nil, err
	},
}

// fuzzStatuses are the HTTP statuses the fuzzed answers come with.
var fuzzStatuses = []int{200, 201, 204, 207, 400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503, 504}

// FuzzDecode answers any bytes, as JSON with one of the statuses FIPS
// uses, to every call of the client. A call either decodes a value the
// gateway can encode, or fails with an *apperr.Error of fips (a 2xx it
// could not read is an upstream failure whose outcome is unknown), and it
// allocates in proportion to the answer.
func FuzzDecode(f *testing.F) {
	var mu sync.Mutex
	var answer []byte
	var status int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		b, s := answer, status
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/api/v1/applications/1/documents/2")
		w.WriteHeader(s)
		_, _ = w.Write(b)
	}))
	f.Cleanup(srv.Close)
	c, err := fips.New(fips.Config{BaseURL: srv.URL + "/api/v1", Timeout: 10 * time.Second, OnRejected: func(string) {}})
	if err != nil {
		f.Fatal(err)
	}
	const (
		app = `{"id":"a-1","registrationNumber":"2026100001","type":"TMApplication","category":"Юридическое лицо\\Резидент РФ",` +
			`"title":"Ромашка","status":"draft","createdAt":"2026-11-01T10:00:00Z","registrationDate":null,"incomingNumber":"",` +
			`"trusted":false,"applicantInn":"7701234567","priority":{"date":"2026-10-30","country":"RU"},"fees":[12.5,3],` +
			`"documents":{"total":4,"unread":1,"unregistered":0}}`
		doc = `{"id":"d-1","registrationNumber":"r-1","type":"PowerOfAttorney","typeTitle":"Доверенность","description":"x",` +
			`"structured":false,"read":false,"size":1024,"signatures":1,"createdAt":"2026-11-01T10:00:00+03:00","pages":3}`
		sig = `{"id":"s-1","algorithm":"GOST R 34.10-2012-256","signer":"ООО «Ромашка»","certificateSerial":"01AB","signedAt":"2026-11-01T10:00:00Z"}`
	)
	for _, s := range []struct {
		call   string
		status int
		body   string
	}{
		{"listApplications", 200, "[" + app + "]"},
		{"createApplication", 201, app},
		{"application", 200, app},
		{"updateApplication", 200, `{"id":"a-1","createdAt":"0000-01-01T00:00:00+23:59"}`},
		{"deleteApplication", 204, ""},
		{"listDocuments", 200, "[" + doc + "]"},
		{"createDocument", 201, doc},
		{"document", 200, doc},
		{"updateDocument", 409, `{"message":"submitted"}`},
		{"listSignatures", 200, "[" + sig + "]"},
		{"addSignatures", 201, sig},
		{"addSignatures", 207, `{"results":[{"code":201,"result":` + sig + `},{"code":400,"result":{"message":"bad","errors":[{"code":"E1","field":"algorithm","message":"unknown"}]}},{"code":0}]}`},
		{"submit", 200, `{"id":"a-1","status":"submitted","registrationNumber":"2026100001","registrationDate":"2026-11-02T09:00:00Z","incomingNumber":"in-7"}`},
		{"applicantCategories", 200, `[{"name":"Юридическое лицо\\Резидент РФ","description":""}]`},
		{"documentTypes", 200, `[{"name":"Доверенность","code":"PowerOfAttorney","description":"x"}]`},
		{"putDocumentFile", 200, doc},
		{"putDocumentFile", 400, `{"message":"ФЛК","errors":[{"code":"FLK-1","field":"/TradeMarkStatement/Applicant/INN","message":"ИНН"}]}`},
		{"documentFile", 200, "%PDF-1.4"},
		{"application", 401, `{"message":"expired"}`},
		{"application", 429, `{}`},
		{"application", 500, `not json`},
	} {
		st := uint8(0)
		for i, v := range fuzzStatuses {
			if v == s.status {
				st = uint8(i)
			}
		}
		f.Add(s.call, st, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, name string, st uint8, body []byte) {
		op, call := pickCall(name)
		mu.Lock()
		answer, status = body, fuzzStatuses[int(st)%len(fuzzStatuses)]
		s := status
		mu.Unlock()
		var out any
		var err error
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out, err = call(context.Background(), c)
		runtime.ReadMemStats(&after)
		if n, limit := after.TotalAlloc-before.TotalAlloc, uint64(1<<20+64*len(body)); n > limit {
			t.Errorf("%s: decoding %d bytes allocated %d, want at most %d", op, len(body), n, limit)
		}
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Upstream != fips.Upstream {
				t.Fatalf("%s (%d): error %v (%T), want an *apperr.Error of fips", op, s, err, err)
			}
			if s/100 == 2 && (e.Kind != apperr.UpstreamFailed || !errors.Is(err, fips.ErrOutcomeUnknown)) {
				t.Fatalf("%s (%d): error %v, want an upstream failure with an unknown outcome", op, s, err)
			}
			if e.Kind == apperr.Internal {
				t.Fatalf("%s (%d): internal error %v", op, s, err)
			}
			return
		}
		if s/100 != 2 {
			t.Fatalf("%s: FIPS answered %d, yet no error", op, s)
		}
		if _, err := json.Marshal(out); err != nil {
			t.Errorf("%s decoded %s into %+v, which does not encode: %v", op, body, out, err)
		}
	})
}

func pickCall(name string) (string, func(context.Context, *fips.Client) (any, error)) {
	if c, ok := fuzzCalls[name]; ok {
		return name, c
	}
	names := make([]string, 0, len(fuzzCalls))
	for k := range fuzzCalls {
		names = append(names, k)
	}
	slices.Sort(names)
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	k := names[h.Sum32()%uint32(len(names))]
	return k, fuzzCalls[k]
}

// FuzzPaths sends any application and document ids and checks what reaches
// FIPS: each id is one path segment of the route that unescapes to it, the
// path stays under the base path once resolved, and ResolveLocation reads
// the ids back from it. Ids that cannot be one segment are refused before
// anything is sent.
func FuzzPaths(f *testing.F) {
	var mu sync.Mutex
	var seen []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
	}))
	f.Cleanup(srv.Close)
	const base = "/api/v1"
	c, err := fips.New(fips.Config{BaseURL: srv.URL + base, Timeout: 10 * time.Second, OnRejected: func(string) {}})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][2]string{{"1", "2"}, {"TMA260537887", "d-1"}, {"..", "."}, {"%2e%2e", "a/b"}, {"a?b#c", "%"},
		{"", "x"}, {"2026100001", "..."}, {"тест", "\x00"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, appID, docID string) {
		mu.Lock()
		seen = nil
		mu.Unlock()
		_, err := c.Document(context.Background(), fuzzCred, appID, docID)
		mu.Lock()
		reqs := seen
		mu.Unlock()
		if apperr.KindOf(err) == apperr.Invalid {
			if len(reqs) != 0 {
				t.Fatalf("Document(%q, %q) refused the ids, yet sent %d request(s)", appID, docID, len(reqs))
			}
			for _, id := range []string{appID, docID} {
				if id != "" && id != "." && id != ".." {
					continue
				}
				return // refused for a good reason
			}
			t.Fatalf("Document(%q, %q) = %v, want the ids sent", appID, docID, err)
		}
		if len(reqs) != 1 {
			t.Fatalf("Document(%q, %q) = %v after %d requests, want 1", appID, docID, err, len(reqs))
		}
		u := reqs[0].URL
		p := u.EscapedPath()
		segs := strings.Split(strings.TrimPrefix(p, base+"/"), "/")
		if !strings.HasPrefix(p, base+"/") || len(segs) != 4 || segs[0] != "applications" || segs[2] != "documents" || u.RawQuery != "" {
			t.Fatalf("Document(%q, %q) requested %q, want %s/applications/{app}/documents/{doc}", appID, docID, u.String(), base)
		}
		for i, want := range map[int]string{1: appID, 3: docID} {
			if got, err := url.PathUnescape(segs[i]); err != nil || got != want {
				t.Fatalf("Document(%q, %q) requested %q: segment %q unescapes to %q (%v)", appID, docID, p, segs[i], got, err)
			}
		}
		if clean := path.Clean(p); clean != p {
			t.Fatalf("Document(%q, %q) requested %q, which resolves to %q", appID, docID, p, clean)
		}
		r, ok := c.ResolveLocation(u.String(), fips.OpGetDocument)
		if !ok || r.ApplicationID != appID || r.DocumentID != docID {
			t.Fatalf("ResolveLocation(%q) = %+v, %v; want %q and %q back", u.String(), r, ok, appID, docID)
		}
	})
}

// FuzzResolveLocation reads any Location FIPS may send: what it resolves
// is non-empty ids that the route table turns back into the same Location
// path.
func FuzzResolveLocation(f *testing.F) {
	c, err := fips.New(fips.Config{BaseURL: "https://kpsrtz.fips.ru/api/v1", OnRejected: func(string) {}})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"/api/v1/applications/TMA260537887", "https://kpsrtz.fips.ru/api/v1/applications/1/documents/2",
		"/api/v1/applications/a%2Fb/documents/%2e%2e", "applications/1", "/api/v1/applications/%zz", "//host/api/v1/applications/1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, location string) {
		r, ok := c.ResolveLocation(location, fips.OpGetDocument, fips.OpGetApplication)
		if !ok {
			return
		}
		if r.ApplicationID == "" || (r.Op == fips.OpGetDocument && r.DocumentID == "") {
			t.Fatalf("ResolveLocation(%q) = %+v: an empty id", location, r)
		}
		want := "/api/v1/applications/" + url.PathEscape(r.ApplicationID)
		if r.Op == fips.OpGetDocument {
			want += "/documents/" + url.PathEscape(r.DocumentID)
		}
		again, ok := c.ResolveLocation(want, r.Op)
		if !ok || again != r {
			t.Fatalf("ResolveLocation(%q) = %+v, but its path %q resolves to %+v, %v", location, r, want, again, ok)
		}
	})
}
