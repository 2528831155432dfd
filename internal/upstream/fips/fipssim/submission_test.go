package fipssim

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// readyDraft returns the id of the seeded trademark draft that is ready to submit.
func readyDraft(t *testing.T, ts *httptest.Server) applicationView {
	t.Helper()
	var list []applicationView
	call(t, ts, demoKey, "GET", "/api/v1/applications", nil, "").want(t, "list", 200).decode(t, &list)
	for _, a := range list {
		if a.Status == "draft" && a.Type == "TMApplication" {
			return a
		}
	}
	t.Fatalf("no seeded trademark draft in %+v", list)
	return applicationView{}
}

func TestPackage(t *testing.T) {
	_, ts := start(t, testConfig())
	a := readyDraft(t, ts)
	path := "/api/v1/applications/" + a.ID + "/package"
	r := call(t, ts, demoKey, "GET", path, nil, "").want(t, "GET package", 200)
	if r.header.Get("Content-Type") != "application/xml" {
		t.Errorf("GET package Content-Type = %q, want application/xml", r.header.Get("Content-Type"))
	}
	again := call(t, ts, trustee, "GET", path, nil, "").want(t, "GET package again", 200)
	if !bytes.Equal(r.body, again.body) {
		t.Errorf("GET package is not deterministic:\n%s\n%s", r.body, again.body)
	}
	var p packageXML
	if err := xml.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("package is not XML: %v\n%s", err, r.body)
	}
	if p.ID != a.ID || p.Type != "TMApplication" || p.Applicant != `ООО «Ромашка»` || len(p.Documents) != 2 {
		t.Fatalf("package = %+v, want application %s with 2 documents", p, a.ID)
	}
	for _, d := range p.Documents {
		file := call(t, ts, demoKey, "GET", "/api/v1/applications/"+a.ID+"/documents/"+d.ID+"/file", nil, "").want(t, "GET file", 200)
		sum := sha256.Sum256(file.body)
		if want := base64.StdEncoding.EncodeToString(sum[:]); d.Digest.Value != want || d.Digest.Algorithm != "SHA-256" {
			t.Errorf("package digest of %s = %s %s, want SHA-256 %s", d.ID, d.Digest.Algorithm, d.Digest.Value, want)
		}
	}
	call(t, ts, stranger, "GET", path, nil, "").want(t, "GET package as stranger", 403)
	call(t, ts, demoKey, "GET", "/api/v1/applications/0/package", nil, "").want(t, "GET package of unknown", 404)
}

func TestSubmit(t *testing.T) {
	sim, ts := start(t, testConfig())
	a := readyDraft(t, ts)
	path := "/api/v1/applications/" + a.ID + "/package/signature"
	good := map[string]string{"algorithm": "GOST R 34.10-2012-512", "signature": testCMS()}
	for name, body := range map[string]any{
		"unknown algorithm": map[string]string{"algorithm": "GOST R 34.11-94", "signature": testCMS()},
		"bad base64":        map[string]string{"algorithm": "GOST R 34.10-2001", "signature": "@@@"},
		"empty signature":   map[string]string{"algorithm": "GOST R 34.10-2001"},
		"no body":           nil,
	} {
		call(t, ts, demoKey, "POST", path, body, "application/json").want(t, "POST package/signature ("+name+")", 400)
	}
	call(t, ts, stranger, "POST", path, good, "").want(t, "POST package/signature as stranger", 403)

	sim.Kit.Clock.Set(time.Date(2026, time.April, 1, 8, 0, 0, 0, time.UTC))
	var reg registration
	call(t, ts, demoKey, "POST", path, good, "").want(t, "POST package/signature", 200).decode(t, &reg)
	if !regexp.MustCompile(`^TMA26\d{7}$`).MatchString(reg.RegistrationNumber) || reg.Status != "registered" ||
		!regexp.MustCompile(`^2026-\d{6}$`).MatchString(reg.IncomingNumber) ||
		!reg.RegistrationDate.Equal(time.Date(2026, time.April, 1, 11, 0, 0, 0, time.FixedZone("", 3*3600))) {
		t.Errorf("POST package/signature = %+v, want registered TMA26…, 2026-…, 2026-04-01T11:00+03:00", reg)
	}
	var got applicationView
	call(t, ts, demoKey, "GET", "/api/v1/applications/"+reg.RegistrationNumber, nil, "").want(t, "GET by new number", 200).decode(t, &got)
	want := a
	want.Status, want.RegistrationNumber, want.IncomingNumber = "registered", reg.RegistrationNumber, reg.IncomingNumber
	want.RegistrationDate, want.UpdatedAt = &reg.RegistrationDate, reg.RegistrationDate
	want.Documents = docCounts{Total: 3, Unread: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET %s after submission (-want +got):\n%s", reg.RegistrationNumber, diff)
	}
	call(t, ts, demoKey, "POST", "/api/v1/applications/"+reg.RegistrationNumber+"/package/signature", good, "").
		want(t, "POST package/signature again", http.StatusConflict)
}

func TestSubmitIncomplete(t *testing.T) {
	_, ts := start(t, testConfig())
	good := map[string]string{"algorithm": "GOST R 34.10-2001", "signature": testCMS()}
	id := newApp(t, ts, demoKey, "Invention")
	submit := "/api/v1/applications/" + id + "/package/signature"
	r := call(t, ts, demoKey, "POST", submit, good, "").want(t, "submit without documents", http.StatusConflict)
	if diff := cmp.Diff([]string{"FLK_REQUIRED documents"}, r.errorCodes(t)); diff != "" {
		t.Errorf("submit without documents errors (-want +got):\n%s", diff)
	}
	stmt := newDoc(t, ts, demoKey, id, map[string]string{"type": "Invention"})
	claims := newDoc(t, ts, demoKey, id, map[string]string{"type": "Claims"})
	r = call(t, ts, demoKey, "POST", submit, good, "").want(t, "submit with empty documents", http.StatusConflict)
	want := []string{"FLK_STATEMENT documents/" + stmt.ID, "FLK_EMPTY documents/" + claims.ID}
	if diff := cmp.Diff(want, r.errorCodes(t)); diff != "" {
		t.Errorf("submit with empty documents errors (-want +got):\n%s", diff)
	}
	docs := "/api/v1/applications/" + id + "/documents/"
	body, ct := multipartFile(t, "file", "s.xml", "application/xml", SampleStatement("Invention", "Иванов И. И.", "Способ"))
	call(t, ts, demoKey, "PUT", docs+stmt.ID+"/statement", body, ct).want(t, "PUT statement", 200)
	body, ct = multipartFile(t, "file", "claims.pdf", "application/pdf", []byte("%PDF-1.4 формула"))
	call(t, ts, demoKey, "PUT", docs+claims.ID+"/file", body, ct).want(t, "PUT claims", 200)
	var reg registration
	call(t, ts, demoKey, "POST", submit, good, "").want(t, "submit complete", 200).decode(t, &reg)
	if !regexp.MustCompile(`^2026\d{6}$`).MatchString(reg.RegistrationNumber) {
		t.Errorf("invention registration number = %q, want 2026 and six digits", reg.RegistrationNumber)
	}
	call(t, ts, demoKey, "GET", docs+stmt.ID, nil, "").want(t, "GET statement by id", 200)
	call(t, ts, demoKey, "GET", "/api/v1/applications/"+reg.RegistrationNumber+"/documents/"+reg.RegistrationNumber+"-1/statement", nil, "").
		want(t, "GET statement by numbers", 200)
}
