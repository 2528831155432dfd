package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFIPSDocumentedAnswers: the FIPS document shows no example answer; it
// says in words what comes back: 201 with Location and the new resource's
// id and attributes, 204 without a body for deletes, 207 with each
// operation's code and result, 401 for a missing or expired key, 403 for
// an account that is neither author nor trustee. An upstream answering so
// in the form of an ASP.NET service (PascalCase members, numeric ids, times
// without a zone, members the contract does not name) comes out whole.
func TestFIPSDocumentedAnswers(t *testing.T) {
	const cat = `Юридическое лицо\Российская организация\Коммерческая организация`
	answer := func(status int, location, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if location != "" {
				w.Header().Set("Location", location)
			}
			if body != "" {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
			}
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/dictionaries/applicant-categories", answer(200, "", `[{"Name":"`+strings.ReplaceAll(cat, `\`, `\\`)+`","Description":"Коммерческая","Group":1}]`))
	mux.Handle("POST /api/v1/applications", answer(201, "/api/v1/applications/123",
		`{"Id":123,"RegistrationNumber":null,"Type":"TMApplication","Category":"`+strings.ReplaceAll(cat, `\`, `\\`)+`","Title":"Знак","CreatedAt":"2024-01-15T10:00:00","Owner":"ООО «Ромашка»"}`))
	mux.Handle("GET /api/v1/applications/TMA240000001", answer(200, "",
		`{"Id":"123","RegistrationNumber":"TMA240000001","Type":"TMApplication","Category":"x","RegistrationDate":"/Date(1705302000000)/","IncomingNumber":2024000001}`))
	mux.Handle("DELETE /api/v1/applications/123", answer(204, "", ""))
	mux.Handle("PUT /api/v1/applications/123", answer(207, "", `{"results":[{"code":403,"result":{"Message":"Нет доступа к заявке"}}]}`))
	mux.Handle("GET /api/v1/applications", answer(401, "", `{"Message":"Authorization has been denied for this request."}`))
	mux.Handle("GET /api/v1/dictionaries/document-types", answer(200, "", `[{"Name":"Заявление на ТЗ","Code":"TradeMark","Description":"d","Template":"tm.xml"}]`))
	up := httptest.NewServer(mux)
	t.Cleanup(up.Close)
	g := newFIPSGateway(t, up.URL, fipsOptions{})

	tests := []struct {
		name, method, path string
		body               any
		status             int
		want               []string // in the answer
		location           string
	}{
		{"201 with Location, id and attributes", "POST", fipsApps, map[string]any{"type": "TMApplication", "category": cat, "title": "Знак"}, 201,
			[]string{`"id":"123"`, `"createdAt":"2024-01-15T10:00:00+03:00"`, `"attributes":{"Owner":"ООО «Ромашка»"}`}, fipsApps + "/123"},
		{"200 by registration number", "GET", fipsApps + "/TMA240000001", nil, 200,
			[]string{`"id":"123"`, `"registrationNumber":"TMA240000001"`, `"registrationDate":"2024-01-15T10:00:00+03:00"`, `"incomingNumber":"2024000001"`}, ""},
		{"204 without a body", "DELETE", fipsApps + "/123", nil, 204, nil, ""},
		// Another account's application answers as a missing one (issue 12).
		{"207 with a failed operation", "PUT", fipsApps + "/123", map[string]any{"category": cat}, 404,
			[]string{`"upstream_results":[{"code":404}]`}, ""},
		{"401", "GET", fipsApps, nil, 502, []string{`upstream-credential-rejected`}, ""},
		{"dictionary members kept", "GET", "/v1/fips/dictionaries/document-types", nil, 200,
			[]string{`"code":"TradeMark"`, `"attributes":{"Template":"tm.xml"}`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := g.call(t, fipsKeyAlpha, tt.method, tt.path, tt.body, "")
			if r.status != tt.status {
				t.Fatalf("%s %s = %d, want %d; %s", tt.method, tt.path, r.status, tt.status, r.body)
			}
			var v any
			if len(r.body) > 0 && json.Unmarshal(r.body, &v) != nil {
				t.Fatalf("answer %s is not JSON", r.body)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(r.body), w) {
					t.Errorf("%s %s = %s, want it to contain %s", tt.method, tt.path, r.body, w)
				}
			}
			if tt.location != "" && r.header.Get("Location") != tt.location {
				t.Errorf("Location = %q, want %q", r.header.Get("Location"), tt.location)
			}
		})
	}
}
