package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

// compatCall is one request to an upstream's own routes (/compat/...) and
// the contract operation that must describe it.
type compatCall struct {
	op           string // the contract's operation id
	method, path string // path with its query
	key          string // Authorization, as the upstream's clients send it ("" none)
	body         string // JSON
	want         int
}

// answer sends c to base and checks the answer against the contract: the
// request must resolve to c.op, and the status, the headers and the body
// must be what that operation documents (a JSON body against its
// response schema, by kin-openapi; any other body by its content type).
func (c compatCall) answer(t *testing.T, router routers.Router, client *http.Client, base string) []byte {
	t.Helper()
	if c.body == "" {
		return c.answerWith(t, router, client, base, nil, "")
	}
	return c.answerWith(t, router, client, base, strings.NewReader(c.body), "application/json")
}

// answerWith is answer with a body of another type (a multipart upload).
func (c compatCall) answerWith(t *testing.T, router routers.Router, client *http.Client, base string, rd io.Reader, contentType string) []byte {
	t.Helper()
	req, err := http.NewRequest(c.method, base+c.path, rd)
	must(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.key != "" {
		req.Header.Set("Authorization", c.key)
	}
	res, err := client.Do(req)
	must(t, err)
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	must(t, err)
	name := c.method + " " + c.path
	if res.StatusCode != c.want {
		t.Errorf("%s = %d %.300s, want %d", name, res.StatusCode, body, c.want)
	}
	if err := compatContractErr(router, c.op, httptest.NewRequest(c.method, c.path, nil), res.StatusCode, res.Header, body); err != nil {
		t.Errorf("%s answered %d %.300s, which %s does not describe: %v", name, res.StatusCode, body, c.op, err)
	}
	return body
}

// compatContractErr checks one answer to req against operation op of the
// contract; req must resolve to op.
func compatContractErr(router routers.Router, op string, req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("no contract operation: %w", err)
	}
	if route.Operation.OperationID != op {
		return fmt.Errorf("the request resolves to %s", route.Operation.OperationID)
	}
	ct, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	isJSON := ct == "application/json" || strings.HasSuffix(ct, "+json")
	if resp := route.Operation.Responses.Status(status); !isJSON && resp != nil && resp.Value != nil && len(resp.Value.Content) > 0 && resp.Value.Content.Get(ct) == nil {
		return fmt.Errorf("content type %q is not documented for %d", ct, status)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
			ExcludeResponseBody:   !isJSON, // files: status, headers and content type only
		},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// TestCompatAnswersMatchContract calls every route of Garant's and FSSP's
// own shapes (and FIPS's reads and a client's workflow) through the real router, over real Redis, with
// the simulators behind it over real HTTP, and validates each answer (its
// successes and its documented errors) against the contract's operation.
func TestCompatAnswersMatchContract(t *testing.T) {
	router, err := contractRouter()
	must(t, err)

	t.Run("garant", func(t *testing.T) {
		env := newGarantEnv(t, simConfig(), nil)
		topic := garantsim.TopicCivilCode
		bearer := "Bearer " + keyAlpha
		from := time.Now().AddDate(0, 0, -5).Format(time.DateOnly)
		calls := []compatCall{
			{"compatGarantSearch", "POST", "/compat/garant/v2/search", bearer, `{"text":"трудовой кодекс","page":1,"env":"internet","sort":0,"sortOrder":0}`, 200},
			{"compatGarantSnippets", "POST", "/compat/garant/v2/snippets", bearer, fmt.Sprintf(`{"topic":%d,"text":"возмещение убытков"}`, topic), 200},
			{"compatGarantSnippets", "POST", "/compat/garant/v2/snippets", bearer, `{"topic":10900200,"correspondent":{"topic":12125267,"entry":150}}`, 200},
			{"compatGarantFindHyperlinks", "POST", "/compat/garant/v2/find-hyperlinks", bearer, `{"text":"статья 15 ГК РФ","baseUrl":"https://internet.garant.ru"}`, 200},
			{"compatGarantGetTopic", "GET", fmt.Sprintf("/compat/garant/v2/topic/%d", topic), bearer, "", 200},
			{"compatGarantDownloadRTF", "GET", fmt.Sprintf("/compat/garant/v2/topic/%d/download", topic), bearer, "", 200},
			{"compatGarantDownloadODT", "GET", fmt.Sprintf("/compat/garant/v2/topic/%d/download-odt", topic), bearer, "", 200},
			{"compatGarantDownloadPDF", "GET", fmt.Sprintf("/compat/garant/v2/topic/%d/download-pdf", topic), bearer, "", 200},
			{"compatGarantGetTopicHTML", "GET", fmt.Sprintf("/compat/garant/v2/topic/%d/html", topic), bearer, "", 200},
			{"compatGarantGetEntryHTML", "GET", fmt.Sprintf("/compat/garant/v2/topic/%d/entry/15/html", topic), bearer, "", 200},
			{"compatGarantGetImage", "GET", "/compat/garant/v2/image/36576886", bearer, "", 200},
			{"compatGarantGetFormula", "GET", "/compat/garant/v2/formula?text=c3RyaW5nKCkrLXN0cmluZygp&fmt=png", bearer, "", 200},
			{"compatGarantGetRedactions", "GET", fmt.Sprintf("/compat/garant/v2/redactions/%d", topic), bearer, "", 200},
			{"compatGarantFindModified", "POST", "/compat/garant/v2/find-modified", bearer, fmt.Sprintf(`{"topics":[%d,12125270,1],"modDate":"2019-07-01","needEvents":true}`, topic), 200},
			{"compatGarantBlocksChanged", "POST", "/compat/garant/v2/block-on-control/changed", bearer, `{"fromDate":"2019-06-01","urlArray":["https://internet.garant.ru/#/document/12125270/entry/70"],"needEvents":true}`, 200},
			{"compatGarantPrimeCategories", "GET", "/compat/garant/v2/prime", bearer, "", 200},
			{"compatGarantPrimeNews", "POST", "/compat/garant/v2/prime/create-news", bearer, `{"categories":[1008],"fromDate":"` + from + `","sort":2}`, 200},
			{"compatGarantSutyazhnikSearch", "POST", "/compat/garant/v2/sutyazhnik-search", bearer, `{"text":"Ставка ндс","count":5,"kind":["301","302"]}`, 200},
			{"compatGarantGetLimits", "GET", "/compat/garant/v2/limits", bearer, "", 200},
			// Garant's errors.
			{"compatGarantGetLimits", "GET", "/compat/garant/v2/limits", "Bearer not-a-tenant-key", "", 401},
			{"compatGarantSearch", "POST", "/compat/garant/v2/search", bearer, `{"text":"","env":"internet"}`, 400},
			{"compatGarantGetTopic", "GET", "/compat/garant/v2/topic/1", bearer, "", 404},
			{"compatGarantGetTopic", "GET", fmt.Sprintf("/compat/garant/v2/topic/%d", topic), "Bearer " + keyNoCreds, "", 403},
		}
		for _, c := range calls {
			c.answer(t, router, env.Client(), env.URL)
		}
	})

	t.Run("garant spent", func(t *testing.T) {
		env := newGarantEnv(t, simConfig(), nil)
		must(t, env.sim.SetUsed(garantsim.DemoToken, garantsim.FamilyTopicInfo, 1<<20))
		compatCall{"compatGarantGetTopic", "GET", fmt.Sprintf("/compat/garant/v2/topic/%d", garantsim.TopicCivilCode), "Bearer " + keyAlpha, "", 423}.answer(t, router, env.Client(), env.URL)
	})

	t.Run("fips", func(t *testing.T) { compatFIPSAnswers(t, router) })

	t.Run("fssp", func(t *testing.T) {
		n := newNativeFSSP(t, fsspQuota)
		key := keyAlpha
		calls := []compatCall{
			{"compatFsspSearchPhysical", "GET", compatFSSP + "/search/physical?token=" + key + "&region=66&lastname=Иванов&firstname=Иван&secondname=&birthdate=", "", "", 200},
			{"compatFsspSearchLegal", "GET", compatFSSP + "/search/legal?token=" + key + "&region=66&name=Ромашка&address=", "", "", 200},
			{"compatFsspSearchIP", "GET", compatFSSP + "/search/ip?token=" + key + "&number=6860/12/61/66", "", "", 200},
			{"compatFsspSearchGroup", "POST", compatFSSP + "/search/group", "", `{"token":"` + key + `","request":[{"type":1,"params":{"firstname":"Сергей","lastname":"Иванов","region":66}},{"type":3,"params":{"number":"6860/12/61/66"}}]}`, 200},
			// FSSP's errors.
			{"compatFsspSearchPhysical", "GET", compatFSSP + "/search/physical?token=nope&region=66&lastname=Иванов&firstname=Иван", "", "", 401},
			{"compatFsspSearchIP", "GET", compatFSSP + "/search/ip?token=" + key + "&number=12345", "", "", 400},
			{"compatFsspStatus", "GET", compatFSSP + "/status?token=" + key + "&task=ADAB49B2-F435-49CC-80DF-55F2F57D3057", "", "", 404},
		}
		for _, c := range calls {
			c.answer(t, router, n.g.Client(), n.g.URL)
		}
		body := compatCall{"compatFsspSearchIP", "GET", compatFSSP + "/search/ip?token=" + key + "&number=6860/12/61/66", "", "", 200}.answer(t, router, n.g.Client(), n.g.URL)
		id := taskOf(t, nativeAnswer{status: 200, body: body})
		n.finish(t, key, id)
		for _, op := range []string{"Status", "Result"} {
			compatCall{"compatFssp" + op, "GET", compatFSSP + "/" + strings.ToLower(op) + "?token=" + key + "&task=" + id, "", "", 200}.answer(t, router, n.g.Client(), n.g.URL)
		}
	})
}

// compatFIPSAnswers is the FIPS part of TestCompatAnswersMatchContract: a
// client written for FIPS creates an application and a document, uploads,
// reads and removes its file, and is refused.
func compatFIPSAnswers(t *testing.T, router routers.Router) {
	_, g := startCompatFIPS(t, io.Discard)
	key := fipsKeyAlpha
	call := func(op, method, path string, want int, body string) []byte {
		t.Helper()
		return compatCall{op, method, compatFIPS + path, key, body, want}.answer(t, router, g.Client(), g.URL)
	}
	call("compatFipsListApplications", "GET", "/applications", 200, "")
	call("compatFipsListDocumentTypes", "GET", "/dictionaries/document-types", 200, "")
	call("compatFipsListApplicantCategories", "GET", "/dictionaries/applicant-categories", 200, "")
	created := g.native(t, key, "POST", "/applications", strings.NewReader(`{"type":"TMApplication","category":`+mustJSON(fipsLegalCat)+`}`), "application/json").want(t, "POST /applications", 201)
	appPath := strings.TrimPrefix(created.header.Get("Location"), compatFIPS)
	must(t, compatContractErr(router, "compatFipsCreateApplication", httptest.NewRequest("POST", compatFIPS+"/applications", nil), created.status, created.header, created.body))
	call("compatFipsGetApplication", "GET", appPath, 200, "")
	call("compatFipsListDocuments", "GET", appPath+"/documents", 200, "")
	call("compatFipsCreateDocument", "POST", appPath+"/documents", 201, `{"type":"PowerOfAttorney"}`)
	docs := g.native(t, key, "GET", appPath+"/documents", nil, "").want(t, "GET documents", 200)
	var list []struct{ ID string }
	must(t, json.Unmarshal(docs.body, &list))
	if len(list) == 0 {
		t.Fatalf("GET %s/documents = %s, want the document just created", appPath, docs.body)
	}
	docPath := appPath + "/documents/" + list[len(list)-1].ID
	body, ct := fipsMultipart(t, "poa.pdf", "application/pdf", []byte("%PDF-1.7 a power of attorney"))
	compatCall{"compatFipsPutDocumentFile", "PUT", compatFIPS + docPath + "/file", key, "", 200}.answerWith(t, router, g.Client(), g.URL, body, ct)
	call("compatFipsGetDocument", "GET", docPath, 200, "")
	call("compatFipsGetDocumentFile", "GET", docPath+"/file", 200, "")
	call("compatFipsListSignatures", "GET", docPath+"/signatures", 200, "")
	call("compatFipsClearDocumentFile", "DELETE", docPath+"/file", 204, "")
	call("compatFipsDeleteDocument", "DELETE", docPath, 204, "")
	call("compatFipsGetDocument", "GET", docPath, 404, "")
	compatCall{"compatFipsListApplications", "GET", compatFIPS + "/applications", "not-a-tenant-key", "", 401}.answer(t, router, g.Client(), g.URL)
}

// TestCompatContractCheckCatchesDrift: the check above refuses a body of
// another shape than Garant's, FSSP's or FIPS's own (it is not vacuous).
func TestCompatContractCheckCatchesDrift(t *testing.T) {
	router, err := contractRouter()
	must(t, err)
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	for _, tc := range []struct {
		op, method, path string
		status           int
		body             string
	}{
		{"compatGarantSearch", "POST", "/compat/garant/v2/search", 200, `{"documents":{},"page":1,"totalDocs":1,"totalPages":1}`},
		{"compatGarantGetLimits", "GET", "/compat/garant/v2/limits", 200, `{"limits":[]}`},
		{"compatGarantGetTopic", "GET", "/compat/garant/v2/topic/12125270", 423, `{"message":"spent"}`},
		{"compatGarantGetTopic", "GET", "/compat/garant/v2/topic/12125270", 418, `{"error":"teapot"}`},
		{"compatFsspStatus", "GET", compatFSSP + "/status?token=k&task=t", 200, `{"status":"success","code":0,"exception":"","response":{"status":"done"}}`},
	} {
		if err := compatContractErr(router, tc.op, httptest.NewRequest(tc.method, tc.path, nil), tc.status, jsonCT, []byte(tc.body)); err == nil {
			t.Errorf("%s %s answering %d %s: the check passed, want it refused", tc.method, tc.path, tc.status, tc.body)
		}
	}
	if err := compatContractErr(router, "compatGarantGetLimits", httptest.NewRequest("GET", "/compat/garant/v2/limits", nil), 200, jsonCT,
		[]byte(`[{"title":"Экспорт","value":25000,"names":["topic/download"]}]`)); err != nil {
		t.Errorf("Garant's own limits answer: %v, want it accepted", err)
	}
}
