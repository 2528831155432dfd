package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	apispec "github.com/legalgate/legalgate/api"
	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/idempotency"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fips"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

// Tenant keys of the FIPS test gateway: alpha uses demo-fips-key (owner of
// the seeded applications), beta demo-fips-key-2, revoked a key FIPS refuses.
const (
	fipsKeyAlpha   = "fips-test-key-alpha"
	fipsKeyBeta    = "fips-test-key-beta"
	fipsKeyRevoked = "fips-test-key-revoked"
	fipsLegalCat   = `Юридическое лицо\Российская организация\Коммерческая организация`
)

type fipsGateway struct {
	*httptest.Server
	reg *prometheus.Registry
}

// newFIPSGateway builds the real router over real Redis with a FIPS client
// for the simulator at simURL (scheme://host, without /api/v1).
func newFIPSGateway(t *testing.T, simURL string) *fipsGateway {
	t.Helper()
	rdb := redistest.Start(t).Client(t)
	tenants := tenant.NewRegistry()
	for id, c := range map[string]struct{ key, secret string }{
		"alpha": {fipsKeyAlpha, "demo-fips-key"}, "beta": {fipsKeyBeta, "demo-fips-key-2"}, "revoked": {fipsKeyRevoked, "revoked-key"},
	} {
		cred := &tenant.Credential{Name: "fips-" + id, Upstream: "fips", Secret: tenant.NewSecret(c.secret)}
		tenants.AddCredential(cred)
		tn := &tenant.Tenant{ID: id, Credentials: map[string]*tenant.Credential{"fips": cred}}
		if err := tenants.AddTenant(tn, []string{config.HashKey(c.key)}); err != nil {
			t.Fatal(err)
		}
	}
	reg := metrics.NewRegistry()
	up := metrics.NewUpstream(reg)
	client, err := fips.New(fips.Config{
		BaseURL: simURL + fipssim.Prefix, Timeout: 20 * time.Second, Redis: rdb,
		Transport: up.Transport(fips.Upstream, http.DefaultTransport.(*http.Transport).Clone()),
		Rejected:  up.CredentialRejected,
	}, reg)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h, err := handlers.NewServer(&handlers.Deps{
		Log: log, Tenants: tenants, Redis: rdb, Registry: reg, HTTP: metrics.NewHTTP(reg), SpecYAML: apispec.YAML,
		FIPS: &handlers.FIPS{Client: client, Idem: idempotency.New(rdb, idempotency.Options{Log: log})},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fipsGateway{Server: srv, reg: reg}
}

// startFIPS starts the simulator in this process and a gateway in front of it.
func startFIPS(t *testing.T) (*fipssim.Server, *fipsGateway) {
	t.Helper()
	sim := fipssim.New(fipssim.DefaultConfig())
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return sim, newFIPSGateway(t, ts.URL)
}

// fipsAnswer is a response read whole (JSON and small content only).
type fipsAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a fipsAnswer) want(t *testing.T, op string, status int) fipsAnswer {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s = %d %s, want %d", op, a.status, a.body, status)
	}
	return a
}

func (a fipsAnswer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

type fipsProblem struct {
	Type     string              `json:"type"`
	Status   int                 `json:"status"`
	Detail   string              `json:"detail"`
	Upstream string              `json:"upstream"`
	Errors   []map[string]string `json:"errors"`
}

func (a fipsAnswer) problem(t *testing.T, op string, status int) fipsProblem {
	t.Helper()
	a.want(t, op, status)
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s Content-Type = %q, want application/problem+json", op, ct)
	}
	var p fipsProblem
	a.decode(t, &p)
	return p
}

// call sends a request; body is JSON unless it is an io.Reader (then
// contentType says what it is). hdr are extra header pairs.
func (g *fipsGateway) call(t *testing.T, key, method, path string, body any, contentType string, hdr ...string) fipsAnswer {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, contentType = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, g.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := g.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return fipsAnswer{status: res.StatusCode, header: res.Header, body: b}
}

// fipsMultipart returns a multipart body with one "file" part.
func fipsMultipart(t *testing.T, fileName, contentType string, content []byte) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, fileName))
	h.Set("Content-Type", contentType)
	if err := mw.WriteField("comment", "a part the gateway skips"); err != nil {
		t.Fatal(err)
	}
	p, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.Write(content)
	_ = mw.Close()
	return &buf, mw.FormDataContentType()
}

const fipsApps = "/v1/fips/applications"

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

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestFIPSOwnershipAndErrors(t *testing.T) {
	sim, g := startFIPS(t)
	var app api.FIPSApplication
	g.call(t, fipsKeyAlpha, "POST", fipsApps, map[string]any{"type": "Invention", "category": fipsLegalCat}, "").want(t, "create", 201).decode(t, &app)
	for _, path := range []string{"", "/documents", "/package"} {
		p := g.call(t, fipsKeyBeta, "GET", fipsApps+"/"+app.ID+path, nil, "").problem(t, "GET as another account "+path, 403)
		if p.Upstream != "fips" || !strings.Contains(p.Detail, "author nor a trustee") {
			t.Errorf("GET %s as beta = %+v, want a FIPS 403 naming author/trustee", path, p)
		}
	}
	body, ct := fipsMultipart(t, "x.pdf", "application/pdf", []byte("x"))
	g.call(t, fipsKeyBeta, "PUT", fipsApps+"/"+app.ID+"/documents/1/file", body, ct).problem(t, "PUT file as another account", 403)
	g.call(t, fipsKeyAlpha, "GET", fipsApps+"/424242", nil, "").problem(t, "GET unknown application", 404)
	g.call(t, fipsKeyAlpha, "GET", fipsApps+"/"+app.ID+"/documents/424242", nil, "").problem(t, "GET unknown document", 404)

	// 401 from FIPS: the tenant's key expired or was revoked.
	p := g.call(t, fipsKeyRevoked, "GET", fipsApps, nil, "").problem(t, "list with a revoked key", 502)
	if p.Upstream != "fips" || !strings.Contains(p.Detail, "expired or was revoked") || strings.Contains(p.Detail, "revoked-key") {
		t.Errorf("revoked key problem = %+v", p)
	}
	if got := fipsCounter(t, g.reg, "gateway_credential_rejected_total", map[string]string{"upstream": "fips", "credential": "fips-revoked"}); got != 1 {
		t.Errorf("gateway_credential_rejected_total{fips,fips-revoked} = %v, want 1", got)
	}

	// Exactly one of type and typeTitle; unknown ones never reach FIPS.
	docs := fipsApps + "/" + app.ID + "/documents"
	g.call(t, fipsKeyAlpha, "POST", docs, map[string]any{"type": "Invention", "typeTitle": "Заявление на ИЗ"}, "").problem(t, "document with both", 400)
	g.call(t, fipsKeyAlpha, "POST", docs, map[string]any{"name": "x"}, "").problem(t, "document with neither", 400)
	p = g.call(t, fipsKeyAlpha, "POST", docs, map[string]any{"type": "Patent"}, "").problem(t, "document with unknown type", 400)
	p2 := g.call(t, fipsKeyAlpha, "POST", docs, map[string]any{"typeTitle": "Справка"}, "").problem(t, "document with unknown title", 400)
	if p.Errors[0]["field"] != "body.type" || p2.Errors[0]["field"] != "body.typeTitle" {
		t.Errorf("unknown document type problems = %+v / %+v", p, p2)
	}
	if n := sim.Kit.Calls.Get("POST /api/v1/applications/{id}/documents"); n != 0 {
		t.Errorf("calls POST documents = %d, want 0", n)
	}
	// Dot segments are refused, never sent.
	g.call(t, fipsKeyAlpha, "GET", fipsApps+"/..", nil, "").want(t, "GET ..", 400)
}

// TestFIPSBadCategoryOrTypeNeverSent checks that a category outside the
// dictionary and an unknown application type are refused before FIPS sees
// a create.
func TestFIPSBadCategoryOrTypeNeverSent(t *testing.T) {
	sim, g := startFIPS(t)
	p := g.call(t, fipsKeyAlpha, "POST", fipsApps, map[string]any{"type": "TMApplication", "category": "Коммерческая организация"}, "").problem(t, "short category", 400)
	if len(p.Errors) != 1 || p.Errors[0]["field"] != "body.category" || !strings.Contains(p.Errors[0]["message"], fipsLegalCat) {
		t.Errorf("short category problem = %+v, want body.category suggesting the full path", p)
	}
	g.call(t, fipsKeyAlpha, "PUT", fipsApps+"/1", map[string]any{"category": "Юридическое лицо"}, "").problem(t, "update with a bad category", 400)
	sim.Kit.Calls.Reset()
	g.call(t, fipsKeyAlpha, "POST", fipsApps, map[string]any{"type": "Patent", "category": fipsLegalCat}, "").problem(t, "bad type", 400)
	g.call(t, fipsKeyAlpha, "POST", fipsApps, map[string]any{"type": "TMApplication", "category": "Никто"}, "").problem(t, "bad category", 400)
	if n := sim.Kit.Calls.Get("POST /api/v1/applications"); n != 0 {
		t.Errorf(`calls "POST /api/v1/applications" = %d, want 0`, n)
	}
	if n := sim.Kit.Calls.Total(); n != 0 {
		t.Errorf("upstream calls = %v, want none (the dictionary is cached)", sim.Kit.Calls.Snapshot())
	}
}

func TestFIPSIdempotency(t *testing.T) {
	sim, g := startFIPS(t)
	create := map[string]any{"type": "TMApplication", "category": fipsLegalCat, "title": "Раз"}
	first := g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "k-1").want(t, "create", 201)
	again := g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "k-1").want(t, "create again", 201)
	if !bytes.Equal(first.body, again.body) || first.header.Get("Location") != again.header.Get("Location") || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay = %s %v, want the first answer %s", again.body, again.header, first.body)
	}
	// The same JSON with members in another order and spacing is the same request.
	g.call(t, fipsKeyAlpha, "POST", fipsApps, strings.NewReader(` {"title":"Раз", "category":`+mustJSON(fipsLegalCat)+`,"type":"TMApplication"}`),
		"application/json", "Idempotency-Key", "k-1").want(t, "create reordered", 201)
	g.call(t, fipsKeyAlpha, "POST", fipsApps, map[string]any{"type": "TMApplication", "category": fipsLegalCat, "title": "Два"}, "",
		"Idempotency-Key", "k-1").problem(t, "create with another body", 422)
	// Keys are per tenant: beta's k-1 is its own.
	g.call(t, fipsKeyBeta, "POST", fipsApps, create, "", "Idempotency-Key", "k-1").want(t, "create as beta", 201)
	if n := sim.Kit.Calls.Get("POST /api/v1/applications"); n != 2 {
		t.Errorf("calls POST applications = %d, want 2 (alpha once, beta once)", n)
	}
	// A FIPS refusal creates nothing: the key is free for a corrected retry.
	sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/api/v1/applications", Status: 503, Body: `{"message":"Технические работы"}`, Remaining: 1})
	g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "k-2").problem(t, "create during maintenance", 503)
	g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "k-2").want(t, "create after maintenance", 201)
}

// TestFIPSIdempotentRetryAfterDroppedConnection: the caller gives up while
// FIPS is still creating; its retry waits (409) and then gets the first
// answer, and FIPS holds one application, not two.
func TestFIPSIdempotentRetryAfterDroppedConnection(t *testing.T) {
	sim, g := startFIPS(t)
	create := map[string]any{"type": "UsefulModel", "category": fipsLegalCat, "title": "Полезная модель"}
	g.call(t, fipsKeyAlpha, "GET", "/v1/fips/dictionaries/applicant-categories", nil, "").want(t, "warm the dictionary", 200)
	sim.Kit.SetFault(&simkit.Fault{PathPrefix: "/api/v1/applications", Latency: simkit.Duration(700 * time.Millisecond), Remaining: 1})

	raw, _ := json.Marshal(create)
	req, _ := http.NewRequest("POST", g.URL+fipsApps, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+fipsKeyAlpha)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "dropped-1")
	impatient := &http.Client{Timeout: 200 * time.Millisecond}
	if res, err := impatient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("first create answered %d within 200ms, want the caller to give up", res.StatusCode)
	}
	p := g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "dropped-1").problem(t, "retry while in flight", 409)
	if !strings.Contains(p.Detail, "still running") {
		t.Errorf("in-flight problem = %+v", p)
	}
	var replay fipsAnswer
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		replay = g.call(t, fipsKeyAlpha, "POST", fipsApps, create, "", "Idempotency-Key", "dropped-1")
		if replay.status != http.StatusConflict || time.Now().After(deadline) {
			break
		}
	}
	replay.want(t, "retry after the first finished", 201)
	if replay.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry headers = %v, want a replay", replay.header)
	}
	if n := sim.Kit.Calls.Get("POST /api/v1/applications"); n != 1 {
		t.Errorf(`calls "POST /api/v1/applications" = %d, want 1`, n)
	}
	var list api.FIPSApplicationList
	g.call(t, fipsKeyAlpha, "GET", fipsApps, nil, "").want(t, "list", 200).decode(t, &list)
	n := 0
	for _, a := range list.Applications {
		if a.Type == "UsefulModel" && a.Title != nil && *a.Title == "Полезная модель" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("FIPS holds %d such applications, want 1", n)
	}
}

// fipsCounter reads one counter of reg by labels.
func fipsCounter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestFIPSSimulatorProcess is not a test: it is the FIPS simulator run as a
// separate process by TestFIPSStreamingRoundTrip, so that the simulator's
// memory (it holds every file) is not in the gateway's heap measurement.
func TestFIPSSimulatorProcess(t *testing.T) {
	if os.Getenv("LEGALGATE_FIPS_SIM_PROCESS") != "1" {
		t.Skip("the simulator process of TestFIPSStreamingRoundTrip")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: fipssim.New(fipssim.DefaultConfig()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("FIPS_SIM_URL=http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
	_ = srv.Close()
}

// startFIPSSimProcess runs the simulator in a child process (this test
// binary) and returns its URL.
func startFIPSSimProcess(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFIPSSimulatorProcess$")
	cmd.Env = append(os.Environ(), "LEGALGATE_FIPS_SIM_PROCESS=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "FIPS_SIM_URL="); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return u
		}
	}
	t.Fatalf("the simulator process exited without a URL: %v", sc.Err())
	return ""
}

// fipsStreamUpload PUTs n pseudo-random bytes as the "file" part, generated
// and hashed as they are sent (chunked: no Content-Length), and returns the
// answer's status and the content's SHA-256.
func fipsStreamUpload(t *testing.T, g *fipsGateway, path string, n int64) (int, string) {
	t.Helper()
	h := sha256.New()
	content := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{1}), n), h)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", `form-data; name="file"; filename="big.bin"`)
		hdr.Set("Content-Type", "application/octet-stream")
		p, err := mw.CreatePart(hdr)
		if err == nil {
			_, err = io.Copy(p, content)
		}
		if err == nil {
			err = mw.Close()
		}
		_ = pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest("PUT", g.URL+path, pr)
	req.Header.Set("Authorization", "Bearer "+fipsKeyAlpha)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := g.Client().Do(req)
	if err != nil {
		t.Fatalf("PUT %s (%d bytes): %v", path, n, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	_ = pr.Close()
	return res.StatusCode, fmt.Sprintf("%x", h.Sum(nil))
}

// newFIPSDocument creates an application with a power-of-attorney document
// through g and returns the document's path.
func newFIPSDocument(t *testing.T, g *fipsGateway) string {
	t.Helper()
	var app api.FIPSApplication
	g.call(t, fipsKeyAlpha, "POST", fipsApps, map[string]any{"type": "TMApplication", "category": fipsLegalCat}, "").want(t, "create", 201).decode(t, &app)
	doc := g.call(t, fipsKeyAlpha, "POST", fipsApps+"/"+app.ID+"/documents", map[string]any{"type": "PowerOfAttorney"}, "").want(t, "create document", 201)
	return doc.header.Get("Location")
}

// TestFIPSStreamingRoundTrip uploads 20 MB through the gateway, downloads it
// and compares SHA-256, and checks that the gateway's heap stays small.
//
// Method: the simulator runs in a child process, so this process holds only
// the gateway (router, handlers, FIPS client, Redis client) and the test's
// own streaming HTTP client; Redis is a process too. Around the upload and
// the download we take runtime.MemStats after a GC and sample HeapInuse every
// 2 ms: the peak HeapInuse growth bounds what the 40 MB of traffic kept live,
// and the TotalAlloc delta bounds everything allocated on the way (both
// include the test client, so they overstate the gateway's share).
func TestFIPSStreamingRoundTrip(t *testing.T) {
	g := newFIPSGateway(t, startFIPSSimProcess(t))
	docPath := newFIPSDocument(t, g)
	const size = 20_000_000 // 20 MB: the multipart framing must fit in the 20 MiB body limit
	if fipsGuardBuffersStreamBodies(t, g) {
		t.Errorf("the route guard reads a multipart body whole before validating the request, want it streamed")
	}

	var status int
	var sent string
	up := fipsMeasure(func() { status, sent = fipsStreamUpload(t, g, docPath+"/file", size) })
	if status != 200 {
		t.Fatalf("PUT %s/file = %d, want 200", docPath, status)
	}
	var res *http.Response
	h := sha256.New()
	var n int64
	down := fipsMeasure(func() {
		req, _ := http.NewRequest("GET", g.URL+docPath+"/file", nil)
		req.Header.Set("Authorization", "Bearer "+fipsKeyAlpha)
		var err error
		if res, err = g.Client().Do(req); err != nil {
			t.Fatal(err)
		}
		n, err = io.CopyBuffer(h, res.Body, make([]byte, 32<<10))
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("GET %s/file = %d, %v", docPath, res.StatusCode, err)
		}
	})
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != sent || n != size {
		t.Errorf("downloaded %d bytes sha256 %s, want %d bytes sha256 %s", n, got, size, sent)
	}
	if res.Header.Get("Content-Length") != fmt.Sprint(size) || res.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("download headers = %v, want the length and type FIPS gave", res.Header)
	}
	t.Logf("20 MB upload: %s; 20 MB download: %s", up, down)
	check := func(dir string, m fipsHeap) {
		if m.growth > 2<<20 || m.allocated > 4<<20 {
			t.Errorf("%s: %s, want peak HeapInuse growth ≤ 2 MiB and TotalAlloc ≤ 4 MiB: content is being buffered", dir, m)
		}
	}
	check("download", down)
	check("upload", up)
}

// fipsHeap is what one measured exchange cost this process.
type fipsHeap struct {
	growth    int64  // peak HeapInuse minus HeapInuse before
	allocated uint64 // TotalAlloc delta
}

func (m fipsHeap) String() string {
	return fmt.Sprintf("peak HeapInuse growth %.2f MB, TotalAlloc delta %.2f MB", float64(m.growth)/1e6, float64(m.allocated)/1e6)
}

// fipsMeasure runs fn after a GC, sampling HeapInuse every 2 ms.
func fipsMeasure(fn func()) fipsHeap {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := make(chan uint64)
	stop := make(chan struct{})
	go func() {
		var m runtime.MemStats
		max := before.HeapInuse
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				max = maxOf(max, m.HeapInuse)
			}
		}
	}()
	fn()
	close(stop)
	p := <-peak
	runtime.ReadMemStats(&after)
	return fipsHeap{growth: int64(maxOf(p, after.HeapInuse)) - int64(before.HeapInuse), allocated: after.TotalAlloc - before.TotalAlloc}
}

// fipsGuardBuffersStreamBodies reports whether the route guard reads a
// multipart body whole before it validates the request. It sends a body that
// never ends to a path the contract refuses (so no handler runs): a guard
// that streams answers 400 at once, one that buffers waits for the body.
func fipsGuardBuffersStreamBodies(t *testing.T, g *fipsGateway) bool {
	t.Helper()
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("--b\r\n")) }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	context.AfterFunc(ctx, func() { _ = pw.CloseWithError(ctx.Err()) }) // lets the transport give up
	req, _ := http.NewRequestWithContext(ctx, "PUT", g.URL+fipsApps+"/1/documents/not%20an%20id/file", pr)
	req.Header.Set("Authorization", "Bearer "+fipsKeyAlpha)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	res, err := g.Client().Do(req)
	if err != nil {
		return true
	}
	res.Body.Close()
	return false
}

func maxOf(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// TestFIPSUploadTooLarge: over 20 MB is 413, with a Content-Length before
// FIPS is called, chunked without FIPS storing the partial content.
func TestFIPSUploadTooLarge(t *testing.T) {
	sim, g := startFIPS(t)
	docPath := newFIPSDocument(t, g)

	conn, err := net.Dial("tcp", g.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT %s/file HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 25000000\r\n\r\n", docPath, fipsKeyAlpha)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("PUT with Content-Length 25000000 = %d, want 413", res.StatusCode)
	}
	const putFile = "PUT /api/v1/applications/{id}/documents/{docId}/file"
	if n := sim.Kit.Calls.Get(putFile); n != 0 {
		t.Errorf("calls %q = %d, want 0", putFile, n)
	}

	status, _ := fipsStreamUpload(t, g, docPath+"/file", 21_000_000)
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked PUT of 21 MB = %d, want 413", status)
	}
	g.call(t, fipsKeyAlpha, "GET", docPath+"/file", nil, "").problem(t, "GET file after the refused upload", 404)
	var doc api.FIPSDocument
	g.call(t, fipsKeyAlpha, "GET", docPath, nil, "").want(t, "GET document", 200).decode(t, &doc)
	if *doc.HasFile {
		t.Errorf("document after the refused upload = %+v, want no content", doc)
	}
}
