package handlers_test

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
)

// TestFIPSOperations walks every FIPS operation through the gateway against
// the simulator: dictionaries, an application with a statement and a power of
// attorney, content both ways, signatures (201 and 207), the package, the
// submission, and the deletes.
func TestFIPSOperations(t *testing.T) {
	sim, g := startFIPS(t)
	a := fipsKeyAlpha

	// Dictionaries.
	var cats api.FIPSDictionary
	g.call(t, a, "GET", "/v1/fips/dictionaries/applicant-categories", nil, "").want(t, "fipsListApplicantCategories", 200).decode(t, &cats)
	if len(cats.Items) != 7 || cats.Items[0].Name != fipsLegalCat {
		t.Errorf("fipsListApplicantCategories = %+v, want 7 full paths", cats.Items)
	}
	var own api.FIPSDictionary
	g.call(t, a, "GET", "/v1/fips/dictionaries/applicant-document-types", nil, "").want(t, "fipsListApplicantDocumentTypes", 200).decode(t, &own)
	var types api.FIPSDocumentTypeList
	g.call(t, a, "GET", "/v1/fips/dictionaries/document-types", nil, "").want(t, "fipsListDocumentTypes", 200).decode(t, &types)
	if len(own.Items) != 3 || types.Items[0].Code == nil || *types.Items[0].Code != "TradeMark" {
		t.Errorf("dictionaries = %+v / %+v", own.Items, types.Items)
	}

	// Applications: list (kind, sortField, sortDescend), create, get, update.
	var list api.FIPSApplicationList
	g.call(t, a, "GET", fipsApps+"?kind=HasUnregisteredDoc&sortField=created&sortDescend=true", nil, "").want(t, "fipsListApplications", 200).decode(t, &list)
	if len(list.Applications) != 2 || !list.Applications[0].CreatedAt.After(*list.Applications[1].CreatedAt) {
		t.Errorf("fipsListApplications(HasUnregisteredDoc, desc) = %+v, want the 2 drafts, newest first", list.Applications)
	}
	created := g.call(t, a, "POST", fipsApps, map[string]any{"type": "TMApplication", "category": fipsLegalCat,
		"title": "Знак «ОБЛАКО»", "attributes": map[string]any{"colour": "синий"}}, "", "Idempotency-Key", "create-1").want(t, "fipsCreateApplication", 201)
	var app api.FIPSApplication
	created.decode(t, &app)
	if want := fipsApps + "/" + app.ID; created.header.Get("Location") != want {
		t.Errorf("fipsCreateApplication Location = %q, want %q", created.header.Get("Location"), want)
	}
	if app.Type != "TMApplication" || app.Category != fipsLegalCat || *app.Status != "draft" || (*app.Attributes)["owner"] != `ООО «Ромашка»` {
		t.Errorf("fipsCreateApplication = %+v", app)
	}
	var got api.FIPSApplication
	g.call(t, a, "GET", created.header.Get("Location"), nil, "").want(t, "fipsGetApplication", 200).decode(t, &got)
	if diff := cmp.Diff(app, got); diff != "" {
		t.Errorf("fipsGetApplication mismatch (-created +got):\n%s", diff)
	}
	appPath := fipsApps + "/" + app.ID
	g.call(t, a, "PUT", appPath, map[string]any{"category": `Юридическое лицо\Иностранная организация`, "title": "Знак «ОБЛАКО-2»"}, "").
		want(t, "fipsUpdateApplication", 200).decode(t, &got)
	if got.Category != `Юридическое лицо\Иностранная организация` || *got.Title != "Знак «ОБЛАКО-2»" {
		t.Errorf("fipsUpdateApplication = %+v", got)
	}

	// Documents: a statement by type code, a power of attorney by TypeTitle.
	st := g.call(t, a, "POST", appPath+"/documents", map[string]any{"type": "TradeMark"}, "", "Idempotency-Key", "doc-1").want(t, "fipsCreateDocument(type)", 201)
	var stDoc api.FIPSDocument
	st.decode(t, &stDoc)
	if want := appPath + "/documents/" + stDoc.ID; st.header.Get("Location") != want || !*stDoc.Structured {
		t.Errorf("fipsCreateDocument(type) = Location %q %+v, want %q, structured", st.header.Get("Location"), stDoc, want)
	}
	poa := g.call(t, a, "POST", appPath+"/documents", map[string]any{"typeTitle": "Доверенность", "name": "Доверенность представителя"}, "").want(t, "fipsCreateDocument(typeTitle)", 201)
	var poaDoc api.FIPSDocument
	poa.decode(t, &poaDoc)
	if poaDoc.Type != "PowerOfAttorney" || *poaDoc.Name != "Доверенность представителя" || *poaDoc.HasFile {
		t.Errorf("fipsCreateDocument(typeTitle) = %+v", poaDoc)
	}
	stPath, poaPath := appPath+"/documents/"+stDoc.ID, appPath+"/documents/"+poaDoc.ID

	// Statement: the ФЛК rejection lists each finding, then a good one passes.
	bad := []byte(`<TradeMarkStatement><Applicant><Name></Name><Address><Country>Russia</Country></Address></Applicant></TradeMarkStatement>`)
	body, ct := fipsMultipart(t, "statement.xml", "application/xml", bad)
	p := g.call(t, a, "PUT", stPath+"/statement", body, ct).problem(t, "fipsPutStatement(bad)", 400)
	fields := map[string]bool{}
	for _, e := range p.Errors {
		fields[e["field"]] = e["message"] != ""
	}
	if p.Upstream != "fips" || p.Type != handlers.ProblemTypeBase+"fips-check-failed" || !fields["Applicant/Name"] || !fields["Applicant/Address/Country"] || !fields["Mark"] {
		t.Errorf("fipsPutStatement(bad) problem = %+v, want each ФЛК finding by XML path", p)
	}
	g.call(t, a, "GET", stPath+"/file", nil, "").problem(t, "fipsGetDocumentFile(before ФЛК)", 409)
	good := fipssim.SampleStatement("TradeMark", "ООО «Ромашка»", "ОБЛАКО")
	body, ct = fipsMultipart(t, "statement.xml", "application/xml", good)
	var passed api.FIPSDocument
	g.call(t, a, "PUT", stPath+"/statement", body, ct).want(t, "fipsPutStatement(good)", 200).decode(t, &passed)
	if (*passed.Attributes)["flkStatus"] != "passed" || !*passed.HasFile {
		t.Errorf("fipsPutStatement(good) = %+v, want ФЛК passed", passed)
	}
	xml := g.call(t, a, "GET", stPath+"/statement", nil, "").want(t, "fipsGetStatement", 200)
	file := g.call(t, a, "GET", stPath+"/file", nil, "").want(t, "fipsGetDocumentFile(statement)", 200)
	if !bytes.Equal(xml.body, good) || !bytes.Equal(file.body, good) || xml.header.Get("Content-Type") != "application/xml" {
		t.Errorf("statement read back = %d and %d bytes (%s), want the %d bytes sent", len(xml.body), len(file.body), xml.header.Get("Content-Type"), len(good))
	}

	// File: multipart upload, download byte for byte with type, length and name.
	scan := bytes.Repeat([]byte("%PDF\x00\xff\r\n"), 10_000)
	body, ct = fipsMultipart(t, "доверенность.pdf", "application/pdf", scan)
	var up api.FIPSDocument
	g.call(t, a, "PUT", poaPath+"/file", body, ct).want(t, "fipsPutDocumentFile", 200).decode(t, &up)
	if !*up.HasFile || (*up.Attributes)["fileName"] != "доверенность.pdf" {
		t.Errorf("fipsPutDocumentFile = %+v", up)
	}
	dl := g.call(t, a, "GET", poaPath+"/file", nil, "").want(t, "fipsGetDocumentFile", 200)
	if !bytes.Equal(dl.body, scan) || dl.header.Get("Content-Type") != "application/pdf" ||
		dl.header.Get("Content-Length") != fmt.Sprint(len(scan)) || !strings.Contains(dl.header.Get("Content-Disposition"), "filename") {
		t.Errorf("fipsGetDocumentFile = %d bytes %v, want the %d bytes uploaded", len(dl.body), dl.header, len(scan))
	}
	g.call(t, a, "DELETE", poaPath+"/file", nil, "").want(t, "fipsClearDocumentFile", 204)
	g.call(t, a, "GET", poaPath+"/file", nil, "").problem(t, "fipsGetDocumentFile(cleared)", 404)
	body, ct = fipsMultipart(t, "доверенность.pdf", "application/pdf", scan)
	g.call(t, a, "PUT", poaPath+"/file", body, ct).want(t, "fipsPutDocumentFile(again)", 200)

	// Documents: list, get, update.
	var docs api.FIPSDocumentList
	g.call(t, a, "GET", appPath+"/documents", nil, "").want(t, "fipsListDocuments", 200).decode(t, &docs)
	if len(docs.Documents) != 2 {
		t.Errorf("fipsListDocuments = %d documents, want 2", len(docs.Documents))
	}
	var doc api.FIPSDocument
	g.call(t, a, "PUT", poaPath, map[string]any{"name": "Доверенность №1", "attributes": map[string]any{"pageCount": 2}}, "").want(t, "fipsUpdateDocument", 200).decode(t, &doc)
	g.call(t, a, "GET", poaPath, nil, "").want(t, "fipsGetDocument", 200).decode(t, &doc)
	if *doc.Name != "Доверенность №1" || fmt.Sprint((*doc.Attributes)["pageCount"]) != "2" {
		t.Errorf("fipsGetDocument after update = %+v", doc)
	}

	// Signatures: one (201), a batch with a bad algorithm (207), the list.
	sig := g.call(t, a, "POST", poaPath+"/signatures", map[string]any{"signatures": []map[string]any{
		{"algorithm": "GOST R 34.10-2012-256", "value": []byte("cms-1")}}}, "", "Idempotency-Key", "sig-1").want(t, "fipsAddSignature(one)", 201)
	var one api.FIPSSignatureCreated
	sig.decode(t, &one)
	if one.Signature.Signer != `ООО «Ромашка»` || sig.header.Get("Location") != poaPath+"/signatures" {
		t.Errorf("fipsAddSignature(one) = %+v Location %q", one, sig.header.Get("Location"))
	}
	var multi api.FIPSSignatureMultiStatus
	g.call(t, a, "POST", poaPath+"/signatures", map[string]any{"signatures": []map[string]any{
		{"algorithm": "GOST R 34.10-2001", "value": []byte("cms-2")}, {"algorithm": "GOST R 34.10-2012-512", "value": []byte{}},
	}}, "").want(t, "fipsAddSignature(batch)", 207).decode(t, &multi)
	if len(multi.Results) != 2 || multi.Results[0].Code != 201 || multi.Results[0].Signature == nil ||
		multi.Results[1].Code != 400 || multi.Results[1].Error == nil || multi.Results[1].Error.Errors[0].Field != "value" ||
		multi.Results[1].Error.Status != 400 || *multi.Results[1].Error.Upstream != "fips" {
		t.Errorf("fipsAddSignature(batch) = %s, want a 201 item and a typed 400 problem", mustJSON(multi))
	}
	var sigs api.FIPSSignatureList
	g.call(t, a, "GET", poaPath+"/signatures", nil, "").want(t, "fipsListSignatures", 200).decode(t, &sigs)
	if len(sigs.Signatures) != 2 || sigs.Signatures[1].Algorithm != "GOST R 34.10-2001" {
		t.Errorf("fipsListSignatures = %+v, want 2", sigs.Signatures)
	}

	// A third document, deleted.
	var letter api.FIPSDocument
	g.call(t, a, "POST", appPath+"/documents", map[string]any{"typeTitle": "Письмо"}, "").want(t, "fipsCreateDocument(Письмо)", 201).decode(t, &letter)
	g.call(t, a, "DELETE", appPath+"/documents/"+letter.ID, nil, "").want(t, "fipsDeleteDocument", 204)

	// Package and submission with a detached signature; then by registration number.
	pkg := g.call(t, a, "GET", appPath+"/package", nil, "").want(t, "fipsGetPackage", 200)
	if !bytes.HasPrefix(pkg.body, []byte("<?xml")) || pkg.header.Get("Content-Type") != "application/xml" || pkg.header.Get("Content-Length") != fmt.Sprint(len(pkg.body)) {
		t.Errorf("fipsGetPackage = %q…, %v", pkg.body[:min(40, len(pkg.body))], pkg.header)
	}
	var reg api.FIPSSubmissionResult
	g.call(t, a, "POST", appPath+"/submission", map[string]any{"algorithm": "GOST R 34.10-2012-256", "signature": []byte("detached-cms-of-package")}, "",
		"Idempotency-Key", "submit-1").want(t, "fipsSubmitApplication", 200).decode(t, &reg)
	if !strings.HasPrefix(reg.RegistrationNumber, "TMA26") || reg.Status != "registered" {
		t.Errorf("fipsSubmitApplication = %+v", reg)
	}
	g.call(t, a, "GET", fipsApps+"/"+url.PathEscape(reg.RegistrationNumber), nil, "").want(t, "fipsGetApplication(reg number)", 200).decode(t, &got)
	if got.ID != app.ID || *got.RegistrationNumber != reg.RegistrationNumber {
		t.Errorf("fipsGetApplication(%s) = %+v, want application %s", reg.RegistrationNumber, got, app.ID)
	}
	g.call(t, a, "DELETE", appPath, nil, "").problem(t, "fipsDeleteApplication(registered)", 409)

	// Delete a draft.
	var draft api.FIPSApplication
	g.call(t, a, "POST", fipsApps, map[string]any{"type": "Invention", "category": fipsLegalCat}, "").want(t, "fipsCreateApplication(draft)", 201).decode(t, &draft)
	g.call(t, a, "DELETE", fipsApps+"/"+draft.ID, nil, "").want(t, "fipsDeleteApplication", 204)
	g.call(t, a, "GET", fipsApps+"/"+draft.ID, nil, "").problem(t, "fipsGetApplication(deleted)", 404)

	// The dictionaries were fetched from FIPS once: later checks used the cache.
	for _, route := range []string{"GET /api/v1/dictionaries/applicant-categories", "GET /api/v1/dictionaries/document-types"} {
		if n := sim.Kit.Calls.Get(route); n != 1 {
			t.Errorf("calls %q = %d, want 1 (cached for an hour)", route, n)
		}
	}
}
