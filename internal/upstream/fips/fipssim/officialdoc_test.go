package fipssim

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

// officialDoc is testdata/official-doc.json: what fips-registrator.ru.txt
// states literally. The document has no request/response examples to replay,
// so the test replays its enumerations and status codes instead.
type officialDoc struct {
	AuthorizationHeader string `json:"authorizationHeader"`
	ListKinds           []struct{ Code, Label string }
	ListParams          []string `json:"listParams"`
	ApplicationTypes    []struct{ Code, Label string }
	StatementTypes      []struct{ Code, Label string }
	DocumentTitleField  string   `json:"documentTitleField"`
	SignatureAlgorithms []string `json:"signatureAlgorithms"`
	Statuses            map[string]int
}

func TestOfficialDocument(t *testing.T) {
	raw, err := os.ReadFile("testdata/official-doc.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc officialDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.AuthorizationHeader != "Authorization" || doc.DocumentTitleField != "TypeTitle" {
		t.Fatalf("testdata = %+v, want header Authorization and field TypeTitle", doc)
	}
	_, ts := start(t, testConfig())

	for _, k := range doc.ListKinds {
		q := "?" + doc.ListParams[0] + "=" + k.Code + "&" + doc.ListParams[1] + "=registrationDate&" + doc.ListParams[2] + "=true"
		call(t, ts, demoKey, "GET", "/api/v1/applications"+q, nil, "").want(t, "list "+k.Label, http.StatusOK)
	}
	statementsOf := appTypes()
	covered := 0
	for _, at := range doc.ApplicationTypes {
		r := call(t, ts, demoKey, "POST", "/api/v1/applications", map[string]string{"type": at.Code, "category": legalCat}, "").
			want(t, "create "+at.Label, doc.Statuses["create"])
		var a applicationView
		r.decode(t, &a)
		if r.header.Get("Location") == "" || a.ID == "" {
			t.Errorf("create %s: Location %q, id %q, want both", at.Code, r.header.Get("Location"), a.ID)
		}
		for _, st := range doc.StatementTypes {
			if !slices.Contains(statementsOf[at.Code], st.Code) {
				continue
			}
			covered++
			d := newDoc(t, ts, demoKey, a.ID, map[string]string{"type": st.Code})
			call(t, ts, demoKey, "DELETE", "/api/v1/applications/"+a.ID+"/documents/"+d.ID, nil, "").want(t, "delete "+st.Label, doc.Statuses["delete"])
		}
		call(t, ts, demoKey2, "GET", "/api/v1/applications/"+a.ID, nil, "").want(t, "other applicant reads "+at.Code, doc.Statuses["notAuthorOrTrustee"])
		call(t, ts, demoKey, "DELETE", "/api/v1/applications/"+a.ID, nil, "").want(t, "delete "+at.Label, doc.Statuses["delete"])
	}
	if covered != len(doc.StatementTypes) {
		t.Errorf("statement types usable in some application type = %d, want all %d", covered, len(doc.StatementTypes))
	}
	call(t, ts, "", "GET", "/api/v1/dictionaries/document-types", nil, "").want(t, "no key", doc.Statuses["noKey"])

	// every algorithm family of the document is accepted, in one batch (207)
	path := signableDoc(t, ts)
	var items []map[string]string
	for _, ru := range doc.SignatureAlgorithms {
		prefix := strings.Replace(ru, "ГОСТ Р", "GOST R", 1)
		i := slices.IndexFunc(algorithms(), func(a string) bool { return strings.HasPrefix(a, prefix) })
		if i < 0 {
			t.Fatalf("no accepted algorithm for %q in %v", ru, algorithms())
		}
		items = append(items, map[string]string{"algorithm": algorithms()[i], "value": testCMS()})
	}
	r := call(t, ts, demoKey, "POST", path+"/signatures", map[string]any{"signatures": items}, "").want(t, "batch", doc.Statuses["batch"])
	if strings.Contains(string(r.body), `"code":400`) {
		t.Errorf("batch of the document's algorithms = %s, want all 201", r.body)
	}
}
