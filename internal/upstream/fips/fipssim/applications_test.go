package fipssim

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"

	apispec "github.com/legalgate/legalgate/api"
)

// newApp creates a TM draft for key and returns its id.
func newApp(t *testing.T, ts *httptest.Server, key, typ string) string {
	t.Helper()
	var a applicationView
	call(t, ts, key, "POST", "/api/v1/applications", map[string]string{"type": typ, "category": legalCat, "title": "Тест"}, "").
		want(t, "POST /applications", http.StatusCreated).decode(t, &a)
	return a.ID
}

func TestCreateApplication(t *testing.T) {
	_, ts := start(t, testConfig())
	r := call(t, ts, demoKey2, "POST", "/api/v1/applications",
		map[string]string{"type": "TMApplication", "category": legalCat, "title": "Знак «ОБЛАКО»"}, "").
		want(t, "POST /applications", http.StatusCreated)
	var a applicationView
	r.decode(t, &a)
	if want := "/api/v1/applications/" + a.ID; r.header.Get("Location") != want || a.ID == "" {
		t.Errorf("POST /applications Location = %q (id %q), want %q", r.header.Get("Location"), a.ID, want)
	}
	want := applicationView{ID: a.ID, Type: "TMApplication", Category: legalCat, Title: "Знак «ОБЛАКО»", Status: "draft",
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, Owner: "Петров Пётр Петрович"}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("POST /applications body mismatch (-want +got):\n%s", diff)
	}
	if got := a.CreatedAt.Format("2006-01-02T15:04:05Z07:00"); got != "2026-03-02T12:30:00+03:00" {
		t.Errorf("createdAt = %s, want the simulated clock in Moscow time", got)
	}
	var back applicationView
	call(t, ts, demoKey2, "GET", r.header.Get("Location"), nil, "").want(t, "GET Location", 200).decode(t, &back)
	if diff := cmp.Diff(a, back); diff != "" {
		t.Errorf("GET Location mismatch (-created +got):\n%s", diff)
	}
	if strings.Contains(string(r.body), demoKey2) {
		t.Errorf("application body %s leaks the key", r.body)
	}
}

func TestCreateApplicationErrors(t *testing.T) {
	_, ts := start(t, testConfig())
	tests := []struct {
		name string
		body any
		want []string
	}{
		{"unknown category", map[string]string{"type": "Invention", "category": "Юридическое лицо"}, []string{"FLK_DICTIONARY category"}},
		{"unknown type", map[string]string{"type": "Patent", "category": legalCat}, []string{"FLK_ENUM type"}},
		{"missing both", map[string]string{}, []string{"FLK_REQUIRED type", "FLK_REQUIRED category"}},
		{"malformed json", []byte(`{"type":`), nil},
	}
	for _, tt := range tests {
		r := call(t, ts, demoKey, "POST", "/api/v1/applications", tt.body, "application/json").want(t, "POST /applications "+tt.name, 400)
		if diff := cmp.Diff(tt.want, r.errorCodes(t)); diff != "" {
			t.Errorf("POST /applications (%s) errors mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestListApplications(t *testing.T) {
	_, ts := start(t, testConfig())
	list := func(key, query string) []applicationView {
		t.Helper()
		var out []applicationView
		call(t, ts, key, "GET", "/api/v1/applications?"+query, nil, "").want(t, "GET /applications?"+query, 200).decode(t, &out)
		return out
	}
	all := list(demoKey, "")
	if len(all) != 5 {
		t.Fatalf("GET /applications = %d items, want 5 seeded", len(all))
	}
	if !slices.IsSortedFunc(all, func(a, b applicationView) int { return a.CreatedAt.Compare(b.CreatedAt) }) {
		t.Errorf("GET /applications not sorted by created ascending")
	}
	desc := list(demoKey, "sortField=created&sortDescend=true")
	if desc[0].ID != all[4].ID {
		t.Errorf("sortDescend=true first = %s, want %s", desc[0].ID, all[4].ID)
	}
	byNum := list(demoKey, "sortField=registrationNumber&sortDescend=true")
	if byNum[0].RegistrationNumber == "" || byNum[1].RegistrationNumber == "" || byNum[2].RegistrationNumber != "" {
		t.Errorf("sortField=registrationNumber desc = %v, want two registered first", byNum)
	}
	unread := list(demoKey, "kind=HasUnreadDoc")
	if len(unread) != 1 || !strings.HasPrefix(unread[0].RegistrationNumber, "TMA26") || unread[0].Documents.Unread != 1 {
		t.Errorf("kind=HasUnreadDoc = %+v, want the registered trademark TMA26…", unread)
	}
	if got := list(demoKey, "kind=HasUnregisteredDoc"); len(got) != 2 {
		t.Errorf("kind=HasUnregisteredDoc = %d items, want the 2 drafts with documents", len(got))
	}
	if got := list(demoKey, "kind=Trusted"); len(got) != 0 {
		t.Errorf("owner kind=Trusted = %d items, want 0", len(got))
	}
	// «На подписании»: the drafts shared with the trustee, not the registered ones.
	if got := list(trustee, "kind=Trusted"); len(got) != 3 || !got[0].Trusted || got[0].Owner != `ООО «Ромашка»` ||
		slices.ContainsFunc(got, func(a applicationView) bool { return a.Status != statusDraft }) {
		t.Errorf("trustee kind=Trusted = %+v, want the 3 drafts of demo-fips-key", got)
	}
	if got := list(trustee, "kind=All"); len(got) != 5 {
		t.Errorf("trustee kind=All = %d items, want the 5 applications of demo-fips-key", len(got))
	}
	if got := list(demoKey, "sortField=CreationDate&sortDescend=true"); got[0].ID != all[4].ID {
		t.Errorf("sortField=CreationDate desc first = %s, want %s", got[0].ID, all[4].ID)
	}
	if got := list(demoKey2, "kind=All"); len(got) != 0 {
		t.Errorf("demo-fips-key-2 list = %d items, want 0", len(got))
	}
	for _, q := range []string{"kind=Mine", "sortField=color", "sortDescend=maybe"} {
		call(t, ts, demoKey, "GET", "/api/v1/applications?"+q, nil, "").want(t, "GET /applications?"+q, 400)
	}
}

func TestApplicationAccess(t *testing.T) {
	_, ts := start(t, testConfig())
	id := newApp(t, ts, demoKey, "Invention")
	for _, tt := range []struct {
		key  string
		want int
	}{{demoKey, 200}, {trustee, 200}, {demoKey2, 403}, {stranger, 403}} {
		call(t, ts, tt.key, "GET", "/api/v1/applications/"+id, nil, "").want(t, "GET /applications/{id} as "+tt.key, tt.want)
		call(t, ts, tt.key, "GET", "/api/v1/applications/"+id+"/documents", nil, "").want(t, "GET documents as "+tt.key, tt.want)
	}
	call(t, ts, demoKey, "GET", "/api/v1/applications/999", nil, "").want(t, "GET unknown id", 404)
	call(t, ts, stranger, "DELETE", "/api/v1/applications/"+id, nil, "").want(t, "DELETE as stranger", 403)
	call(t, ts, trustee, "PUT", "/api/v1/applications/"+id, map[string]string{"title": "от доверенного"}, "").want(t, "PUT as trustee", 200)
}

func TestApplicationByRegistrationNumber(t *testing.T) {
	_, ts := start(t, testConfig())
	var list []applicationView
	call(t, ts, demoKey, "GET", "/api/v1/applications?kind=HasUnreadDoc", nil, "").want(t, "list", 200).decode(t, &list)
	reg := list[0].RegistrationNumber
	var a applicationView
	call(t, ts, demoKey, "GET", "/api/v1/applications/"+url.PathEscape(reg), nil, "").want(t, "GET by "+reg, 200).decode(t, &a)
	if a.ID != list[0].ID || a.RegistrationDate == nil || a.IncomingNumber == "" || a.Status != "registered" {
		t.Errorf("GET /applications/%s = %+v, want application %s registered", reg, a, list[0].ID)
	}
	call(t, ts, demoKey2, "GET", "/api/v1/applications/"+reg, nil, "").want(t, "GET by number as other key", 403)
}

func TestUpdateAndDeleteApplication(t *testing.T) {
	_, ts := start(t, testConfig())
	id := newApp(t, ts, demoKey, "TMApplication")
	path := "/api/v1/applications/" + id
	foreign := `Юридическое лицо\Иностранная организация`
	var a applicationView
	call(t, ts, demoKey, "PUT", path, map[string]string{"category": foreign, "title": "Новое"}, "").want(t, "PUT", 200).decode(t, &a)
	if a.Category != foreign || a.Title != "Новое" || a.Type != "TMApplication" {
		t.Errorf("PUT %s = %+v, want category and title changed, type kept", path, a)
	}
	r := call(t, ts, demoKey, "PUT", path, map[string]string{"category": "Иностранная организация"}, "").want(t, "PUT bad category", 400)
	if diff := cmp.Diff([]string{"FLK_DICTIONARY category"}, r.errorCodes(t)); diff != "" {
		t.Errorf("PUT bad category errors (-want +got):\n%s", diff)
	}
	r = call(t, ts, demoKey, "DELETE", path, nil, "").want(t, "DELETE", 204)
	if len(r.body) != 0 {
		t.Errorf("DELETE body = %q, want empty", r.body)
	}
	call(t, ts, demoKey, "GET", path, nil, "").want(t, "GET deleted", 404)
	call(t, ts, demoKey, "DELETE", path, nil, "").want(t, "DELETE again", 404)

	var list []applicationView
	call(t, ts, demoKey, "GET", "/api/v1/applications?kind=HasUnreadDoc", nil, "").want(t, "list", 200).decode(t, &list)
	reg := "/api/v1/applications/" + list[0].RegistrationNumber
	call(t, ts, demoKey, "PUT", reg, map[string]string{"title": "x"}, "").want(t, "PUT registered", 409)
	call(t, ts, demoKey, "DELETE", reg, nil, "").want(t, "DELETE registered", 409)
}

// TestContractSortFieldExample: the contract's own example of sortField is
// a field the simulator sorts by.
func TestContractSortFieldExample(t *testing.T) {
	spec, err := openapi3.NewLoader().LoadFromData(apispec.YAML)
	if err != nil {
		t.Fatal(err)
	}
	op := spec.Paths.Find("/v1/fips/applications").Get
	p := op.Parameters.GetByInAndName("query", "sortField")
	example, ok := p.Example.(string)
	if !ok || example == "" {
		t.Fatalf("sortField example = %v, want a string", p.Example)
	}
	_, ts := start(t, testConfig())
	call(t, ts, demoKey, "GET", "/api/v1/applications?sortField="+url.QueryEscape(example), nil, "").want(t, "GET /applications?sortField="+example, 200)
}
