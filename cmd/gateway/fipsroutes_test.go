package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
)

// fipsRouteTable is a FIPS wire format other than the defaults in every
// respect the config can say: methods, paths, a JSON media type, a
// multipart part name, a raw statement body, multipart signatures and a
// raw submission signature.
const fipsRouteTable = `
      fipsCreateApplication: {path: /Applications, content_type: application/vnd.fips+json}
      fipsGetApplication: /Applications/{applicationId}/Attributes
      fipsUpdateApplication: {method: patch, path: "/Applications/{applicationId}/Attributes", content_type: application/vnd.fips+json}
      fipsCreateDocument: {path: "/Applications/{applicationId}/Documents"}
      fipsGetDocument: /Applications/{applicationId}/Documents/{documentId}
      fipsPutDocumentFile: {method: POST, path: "/Applications/{applicationId}/Documents/{documentId}/Content", part: content}
      fipsGetDocumentFile: /Applications/{applicationId}/Documents/{documentId}/Content
      fipsPutStatement: {content_type: application/xml}
      fipsAddSignature: {path: "/Applications/{applicationId}/Documents/{documentId}/Sign", signature: multipart, part: sig}
      fipsSubmitApplication: {method: PUT, path: "/Applications/{applicationId}/Send", signature: raw}
`

// fipsFieldTable renames request body members as a FIPS other than the
// defaults might name them.
const fipsFieldTable = `
      application: {category: applicantCategory, title: name}
      document: {type_title: documentTypeName}
      signatures: {list: items, algorithm: alg, value: cms}
`

// TestFIPSRoutesFromConfig: a FIPS route table given only in the config
// file works end to end, through run(), against a simulator serving the
// same table (and writing ids as numbers and times without a zone, as an
// ASP.NET service may), and so does a field table renaming body members.
func TestFIPSRoutesFromConfig(t *testing.T) {
	rs := redistest.Start(t)
	// The simulator is configured from the same YAML.
	var parsed struct {
		Upstreams struct {
			FIPS struct {
				Routes map[string]config.FIPSRoute `yaml:"routes"`
				Fields config.FIPSFields           `yaml:"fields"`
			} `yaml:"fips"`
		} `yaml:"upstreams"`
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	simCfg := fipssim.DefaultConfig()
	simCfg.DotNetValues = true
	simCfg.Routes = map[string]fipssim.Route{}
	must(yaml.Unmarshal([]byte("upstreams:\n  fips:\n    routes:"+fipsRouteTable+"    fields:"+fipsFieldTable), &parsed))
	for op, r := range parsed.Upstreams.FIPS.Routes {
		simCfg.Routes[op] = fipssim.Route{Method: r.Method, Path: r.Path, ContentType: r.ContentType, Part: r.Part, Signature: r.Signature}
	}
	f := parsed.Upstreams.FIPS.Fields
	simCfg.Fields = fipssim.Fields{ApplicationCategory: f.Application.Category, ApplicationTitle: f.Application.Title,
		DocumentTypeTitle: f.Document.TypeTitle, SignatureList: f.Signatures.List, SignatureAlgorithm: f.Signatures.Algorithm,
		SignatureValue: f.Signatures.Value}
	sim := fipssim.New(simCfg)
	up := httptest.NewServer(sim)
	t.Cleanup(up.Close)

	cfg := fmt.Sprintf(`
redis: {url: %q}
credentials:
  fips-main: {upstream: fips, secret: "${FIPS_KEY}"}
tenants:
  legal:
    keys_sha256: [%s]
    credentials: {fips: fips-main}
upstreams:
  fips:
    base_url: %q
    routes:%s    fields:%s`, rs.URL(), config.HashKey("legal-key"), up.URL+"/api/v1", fipsRouteTable, fipsFieldTable)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	must(os.WriteFile(path, []byte(cfg), 0o600))

	var printed bytes.Buffer
	must(run(t.Context(), []string{"-config", path, "-print-routes"}, func(k string) string { return map[string]string{"FIPS_KEY": "demo-fips-key"}[k] }, &printed, io.Discard))
	rows := map[string]string{}
	for _, line := range strings.Split(printed.String(), "\n") {
		if f := strings.Fields(line); len(f) == 7 {
			rows[f[0]] = strings.Join(f[1:], " ")
		}
	}
	for op, want := range map[string]string{
		"fipsUpdateApplication": "PATCH /Applications/{applicationId}/Attributes application/vnd.fips+json - - config",
		"fipsAddSignature":      "POST /Applications/{applicationId}/Documents/{documentId}/Sign multipart/form-data sig multipart config",
		"fipsGetPackage":        "GET /applications/{applicationId}/package - - - default",
	} {
		if rows[op] != want {
			t.Errorf("-print-routes row %s = %q, want %q", op, rows[op], want)
		}
	}
	for _, want := range []string{"application.category  applicantCategory  config", "document.type         type               default"} {
		if !strings.Contains(printed.String(), want) {
			t.Errorf("-print-routes does not print the field row %q:\n%s", want, printed.String())
		}
	}
	if !strings.Contains(printed.String(), "https://kpsrtz.fips.ru/api/swagger") {
		t.Errorf("-print-routes does not say where FIPS publishes its routes:\n%s", printed.String())
	}

	base, _ := startGateway(t, []string{"-config", path}, map[string]string{"FIPS_KEY": "demo-fips-key"})
	do := func(method, p, contentType string, body io.Reader, want int) []byte {
		t.Helper()
		req, err := http.NewRequest(method, base+p, body)
		must(err)
		req.Header.Set("Authorization", "Bearer legal-key")
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		res, err := http.DefaultClient.Do(req)
		must(err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s %s = %d, want %d; %s", method, p, res.StatusCode, want, b)
		}
		return b
	}
	doJSON := func(method, p string, in any, want int, out any) {
		t.Helper()
		b, err := json.Marshal(in)
		must(err)
		if in == nil {
			b = nil
		}
		raw := do(method, p, map[bool]string{true: "application/json"}[in != nil], bytes.NewReader(b), want)
		if out != nil {
			must(json.Unmarshal(raw, out))
		}
	}
	form := func(name, contentType string, content []byte) (io.Reader, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{`form-data; name="file"; filename="` + name + `"`}
		h["Content-Type"] = []string{contentType}
		p, err := mw.CreatePart(h)
		must(err)
		_, _ = p.Write(content)
		must(mw.Close())
		return &buf, mw.FormDataContentType()
	}

	type app struct {
		ID        string    `json:"id"`
		Title     string    `json:"title"`
		CreatedAt time.Time `json:"createdAt"`
	}
	var a app
	doJSON("POST", "/v1/fips/applications", map[string]any{"type": "TMApplication",
		"category": `Юридическое лицо\Российская организация\Коммерческая организация`, "title": "Знак"}, 201, &a)
	if a.ID == "" || a.CreatedAt.IsZero() {
		t.Fatalf("create = %+v, want an id and a creation time", a)
	}
	if _, off := a.CreatedAt.Zone(); off != 3*3600 {
		t.Errorf("createdAt = %s, want Moscow time (the simulator sends it without a zone)", a.CreatedAt)
	}
	appPath := "/v1/fips/applications/" + a.ID
	doJSON("PUT", appPath, map[string]any{"category": `Юридическое лицо\Российская организация\Коммерческая организация`, "title": "Знак-2"}, 200, &a)
	doJSON("GET", appPath, nil, 200, &a)
	if a.Title != "Знак-2" {
		t.Errorf("application after update = %+v, want title Знак-2", a)
	}

	var st, poa struct {
		ID string `json:"id"`
	}
	doJSON("POST", appPath+"/documents", map[string]any{"type": "TradeMark"}, 201, &st)
	doJSON("POST", appPath+"/documents", map[string]any{"typeTitle": "Доверенность"}, 201, &poa)
	stPath, poaPath := appPath+"/documents/"+st.ID, appPath+"/documents/"+poa.ID

	scan := bytes.Repeat([]byte("%PDF\x00\xff"), 1000)
	body, ct := form("доверенность.pdf", "application/pdf", scan)
	do("PUT", poaPath+"/file", ct, body, 200)
	if got := do("GET", poaPath+"/file", "", nil, 200); !bytes.Equal(got, scan) {
		t.Errorf("file read back = %d bytes, want the %d sent", len(got), len(scan))
	}
	good := fipssim.SampleStatement("TradeMark", "ООО «Ромашка»", "ЗНАК")
	body, ct = form("statement.xml", "application/xml", good)
	do("PUT", stPath+"/statement", ct, body, 200)

	var multi struct {
		Results []struct {
			Code int `json:"code"`
		} `json:"results"`
	}
	doJSON("POST", poaPath+"/signatures", map[string]any{"signatures": []map[string]any{
		{"algorithm": "GOST R 34.10-2012-256", "value": []byte("cms-1")}, {"algorithm": "GOST R 34.10-2001", "value": []byte("cms-2")},
	}}, 207, &multi)
	if len(multi.Results) != 2 || multi.Results[0].Code != 201 || multi.Results[1].Code != 201 {
		t.Errorf("add signatures = %+v, want two 201 items", multi)
	}
	var reg struct {
		RegistrationNumber string `json:"registrationNumber"`
		Status             string `json:"status"`
	}
	doJSON("POST", appPath+"/submission", map[string]any{"algorithm": "GOST R 34.10-2012-256", "signature": []byte("cms-of-package")}, 200, &reg)
	if reg.Status != "registered" || !strings.HasPrefix(reg.RegistrationNumber, "TMA") {
		t.Errorf("submission = %+v, want registered", reg)
	}

	// Every call went where the table says, by the table's methods.
	for _, route := range []string{
		"POST /api/v1/Applications", "PATCH /api/v1/Applications/{id}/Attributes", "GET /api/v1/Applications/{id}/Attributes",
		"POST /api/v1/Applications/{id}/Documents/{docId}/Content", "GET /api/v1/Applications/{id}/Documents/{docId}/Content",
		"PUT /api/v1/applications/{id}/documents/{docId}/statement", "POST /api/v1/Applications/{id}/Documents/{docId}/Sign",
		"PUT /api/v1/Applications/{id}/Send",
	} {
		if sim.Kit.Calls.Get(route) == 0 {
			t.Errorf("the simulator saw no %q: %v", route, sim.Kit.Calls.Snapshot())
		}
	}
}
