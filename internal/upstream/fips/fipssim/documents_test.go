package fipssim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// newDoc creates a document in application id from a JSON body and returns it.
func newDoc(t *testing.T, ts *httptest.Server, key, id string, body map[string]string) documentView {
	t.Helper()
	var d documentView
	r := call(t, ts, key, "POST", "/api/v1/applications/"+id+"/documents", body, "").
		want(t, "POST documents "+body["type"]+body["TypeTitle"], http.StatusCreated)
	r.decode(t, &d)
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, "/api/v1/applications/") || !strings.HasSuffix(loc, "/documents/"+d.ID) {
		t.Errorf("POST documents Location = %q, want /api/v1/applications/{id}/documents/%s", loc, d.ID)
	}
	return d
}

func TestCreateDocument(t *testing.T) {
	_, ts := start(t, testConfig())
	id := newApp(t, ts, demoKey, "TMApplication")
	tests := []struct {
		body                 map[string]string
		code, title          string
		structured, hasFLKSt bool
	}{
		{map[string]string{"type": "TradeMark"}, "TradeMark", "Заявление на ТЗ", true, true},
		{map[string]string{"TypeTitle": "Доверенность"}, "PowerOfAttorney", "Доверенность", false, false},
		{map[string]string{"type": "PaymentDocument", "fileName": "p.pdf"}, "PaymentDocument", "Документ об уплате пошлины", false, false},
		{map[string]string{"typeTitle": "Ходатайство"}, "", "Ходатайство", false, false},
		{map[string]string{"TypeTitle": "Доверенность на патентного поверенного"}, "PowerOfAttorney", "Доверенность на патентного поверенного", false, false},
	}
	for _, tt := range tests {
		d := newDoc(t, ts, demoKey, id, tt.body)
		got := [4]any{d.Type, d.TypeTitle, d.Structured, d.FLKStatus != ""}
		if want := [4]any{tt.code, tt.title, tt.structured, tt.hasFLKSt}; got != want {
			t.Errorf("POST documents %v = %v, want %v", tt.body, got, want)
		}
	}
	var docs []documentView
	call(t, ts, demoKey, "GET", "/api/v1/applications/"+id+"/documents", nil, "").want(t, "GET documents", 200).decode(t, &docs)
	if len(docs) != len(tests) || docs[2].FileName != "p.pdf" {
		t.Errorf("GET documents = %+v, want %d in creation order", docs, len(tests))
	}
}

func TestCreateDocumentErrors(t *testing.T) {
	_, ts := start(t, testConfig())
	id := newApp(t, ts, demoKey, "TMApplication")
	newDoc(t, ts, demoKey, id, map[string]string{"type": "TradeMark"})
	tests := []struct {
		body map[string]string
		want []string
	}{
		{map[string]string{"type": "Passport"}, []string{"FLK_DICTIONARY type"}},
		{map[string]string{"TypeTitle": "Справка"}, []string{"FLK_DICTIONARY type"}},
		{map[string]string{}, []string{"FLK_REQUIRED type"}},
		{map[string]string{"type": "Invention"}, []string{"FLK_CONSISTENCY type"}},
		{map[string]string{"type": "TradeMark"}, []string{"FLK_DUPLICATE type"}},
		{map[string]string{"type": "Image", "TypeTitle": "Доверенность"}, []string{"FLK_DICTIONARY type"}},
	}
	for _, tt := range tests {
		r := call(t, ts, demoKey, "POST", "/api/v1/applications/"+id+"/documents", tt.body, "").want(t, "POST documents", 400)
		if diff := cmp.Diff(tt.want, r.errorCodes(t)); diff != "" {
			t.Errorf("POST documents %v errors (-want +got):\n%s", tt.body, diff)
		}
	}
	call(t, ts, demoKey2, "POST", "/api/v1/applications/"+id+"/documents", map[string]string{"type": "Image"}, "").want(t, "POST documents as other key", 403)
	call(t, ts, demoKey, "POST", "/api/v1/applications/404/documents", map[string]string{"type": "Image"}, "").want(t, "POST documents unknown app", 404)
}

func TestDocumentAttributes(t *testing.T) {
	_, ts := start(t, testConfig())
	id := newApp(t, ts, demoKey, "TMApplication")
	d := newDoc(t, ts, demoKey, id, map[string]string{"type": "Image"})
	path := "/api/v1/applications/" + id + "/documents/" + d.ID
	var got documentView
	call(t, ts, trustee, "GET", path, nil, "").want(t, "GET document as trustee", 200).decode(t, &got)
	if diff := cmp.Diff(d, got); diff != "" {
		t.Errorf("GET %s mismatch (-created +got):\n%s", path, diff)
	}
	call(t, ts, demoKey, "PUT", path, map[string]any{"fileName": "logo.png", "description": "Логотип", "pageCount": 1}, "").
		want(t, "PUT document", 200).decode(t, &got)
	if got.FileName != "logo.png" || got.Description != "Логотип" || got.PageCount != 1 || got.Type != "Image" {
		t.Errorf("PUT %s = %+v, want attributes changed", path, got)
	}
	for _, body := range []map[string]any{{"pageCount": -1}, {"type": "PowerOfAttorney"}} {
		call(t, ts, demoKey, "PUT", path, body, "").want(t, "PUT document invalid", 400)
	}
	call(t, ts, stranger, "PUT", path, map[string]any{"fileName": "x"}, "").want(t, "PUT document as stranger", 403)
	call(t, ts, stranger, "DELETE", path, nil, "").want(t, "DELETE document as stranger", 403)
	call(t, ts, demoKey, "GET", "/api/v1/applications/"+id+"/documents/1", nil, "").want(t, "GET unknown document", 404)
	if r := call(t, ts, demoKey, "DELETE", path, nil, "").want(t, "DELETE document", 204); len(r.body) != 0 {
		t.Errorf("DELETE document body = %q, want empty", r.body)
	}
	call(t, ts, demoKey, "GET", path, nil, "").want(t, "GET deleted document", 404)
}

func TestRegisteredDocuments(t *testing.T) {
	_, ts := start(t, testConfig())
	var list []applicationView
	call(t, ts, demoKey, "GET", "/api/v1/applications?kind=HasUnreadDoc", nil, "").want(t, "list", 200).decode(t, &list)
	reg := list[0].RegistrationNumber
	var docs []documentView
	call(t, ts, demoKey, "GET", "/api/v1/applications/"+reg+"/documents", nil, "").want(t, "GET documents by number", 200).decode(t, &docs)
	note := docs[len(docs)-1]
	if note.Direction != "incoming" || note.Read || note.RegistrationNumber != reg+"-4" {
		t.Fatalf("last document = %+v, want the unread incoming notification %s-4", note, reg)
	}
	// a document is reachable by its registration number too; reading it marks it read
	r := call(t, ts, demoKey, "GET", "/api/v1/applications/"+reg+"/documents/"+note.RegistrationNumber+"/file", nil, "").want(t, "GET notification file", 200)
	if r.header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(r.body), "%PDF") {
		t.Errorf("notification file = %q %.20q, want a PDF", r.header.Get("Content-Type"), r.body)
	}
	var after []applicationView
	call(t, ts, demoKey, "GET", "/api/v1/applications?kind=HasUnreadDoc", nil, "").want(t, "list", 200).decode(t, &after)
	if len(after) != 0 {
		t.Errorf("kind=HasUnreadDoc after reading = %d items, want 0", len(after))
	}
	path := "/api/v1/applications/" + reg + "/documents/" + docs[0].ID
	call(t, ts, demoKey, "PUT", path, map[string]string{"description": "x"}, "").want(t, "PUT registered document", 409)
	call(t, ts, demoKey, "DELETE", path, nil, "").want(t, "DELETE registered document", 409)
	call(t, ts, demoKey, "DELETE", path+"/file", nil, "").want(t, "DELETE registered file", 409)
	// a new, unregistered document may still be added to a registered application
	newDoc(t, ts, demoKey, reg, map[string]string{"type": "PaymentDocument"})
	call(t, ts, demoKey, "POST", "/api/v1/applications/"+reg+"/documents", map[string]string{"type": "TradeMark"}, "").want(t, "POST statement to registered", 409)
}
