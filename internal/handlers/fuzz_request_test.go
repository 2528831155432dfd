package handlers_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// fuzzBoundary is the multipart boundary of the fuzzed upload bodies.
const fuzzBoundary = "fuzzboundary"

// fuzzBodies are realistic request bodies of each operation with one (from
// the contract's examples and the README), the first of each valid.
func fuzzBodies(tb testing.TB) map[string][]string {
	statement, err := os.ReadFile("../upstream/fips/fipssim/testdata/statement-trademark.xml")
	must(tb, err)
	part := func(name, contentType, content string) string {
		return "--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"; filename=\"f\"\r\n" +
			"Content-Type: " + contentType + "\r\n\r\n" + content + "\r\n--" + fuzzBoundary + "--\r\n"
	}
	today := time.Now().Format(time.DateOnly)
	const sig = `"MIIBsgYJKoZIhvcNAQcCoIIBozCCAZ8CAQExDDAKBggqhQMHAQECAjALBgkqhkiG9w0BBwExggF9"`
	return map[string][]string{
		"garantSearch": {`{"text":"трудовой кодекс","env":"internet"}`,
			`{"text":"MorphoName(трудовой кодекс) & Type(Кодекс)","isQuery":true,"page":2,"env":"arbitr","sort":3,"sortOrder":1}`,
			`{"text":"x","env":"moon"}`, `{"text":"","env":"internet"}`, `{"text":"x","env":"internet","page":1e400}`},
		"garantSnippets": {`{"topic":12125268,"text":"испытательный срок"}`,
			`{"topic":12125268,"correspondent":{"topic":10900200,"entry":70}}`,
			`{"topic":12125268,"text":"x","correspondent":{"topic":1,"entry":1}}`, `{"topic":0}`},
		"garantFindHyperlinks": {`{"text":"В соответствии со статьей 70 Трудового кодекса РФ испытание не устанавливается.","baseUrl":"https://internet.garant.ru"}`,
			`{"text":"<p>ст. 81 ТК РФ</p>","baseUrl":"not a url"}`},
		"garantFindModified": {`{"topics":[12125268,10900200],"modDate":"2024-09-01","needEvents":true}`,
			`{"topics":[12125268],"modDate":"2017-12-31"}`, `{"topics":[],"modDate":"2024-13-01"}`},
		"createGarantWatch": {`{"topics":[12125268,10900200],"callback_url":"http://127.0.0.1:9/hook","interval_seconds":3600}`,
			`{"topics":[],"callback_url":""}`, `{"topics":[0],"callback_url":"http://127.0.0.1:9/hook","interval_seconds":60}`},
		"garantBlocksChanged": {`{"fromDate":"2024-09-01","urlArray":["https://internet.garant.ru/#/document/12125268/entry/70"],"needEvents":true}`,
			`{"fromDate":"2024-09-01","urlArray":["https://example.com/#/document/1/entry/x"]}`},
		"garantPrimeNews": {`{"categories":[1008],"fromDate":"` + today + `","sort":2}`,
			`{"categories":[1008],"fromDate":"` + today + `","toDate":"2000-01-01"}`, `{"categories":[],"fromDate":"1900-01-01"}`},
		"garantCourtPractice": {`{"text":"Истец просит взыскать с ответчика неустойку за просрочку передачи квартиры.","count":10,"kind":["301","302"]}`,
			`{"text":"x","count":0,"kind":["301","301"]}`},
		"fsspSearchPhysical": {`{"region":77,"lastname":"ИВАНОВ","firstname":"ИВАН","secondname":"ИВАНОВИЧ","birthdate":"01.01.1980"}`,
			`{"region":0,"lastname":" ","firstname":"ИВАН","birthdate":"31.02.1980"}`},
		"fsspSearchLegal": {`{"region":-1,"name":"РОМАШКА","address":"Москва"}`, `{"region":174,"name":""}`},
		"fsspSearchIP":    {`{"number":"12345/21/77001-ИП"}`, `{"number":"1/21/77/00"}`},
		"fsspSearchGroup": {`{"requests":[{"type":"physical","params":{"region":77,"lastname":"ИВАНОВ","firstname":"ИВАН"}},{"type":"legal","params":{"region":50,"name":"РОМАШКА"}},{"type":"ip","params":{"number":"1/21/77/01"}}]}`,
			`{"requests":[{"type":"ip","params":{"number":"1/21/77/01","region":77}}]}`, `{"requests":[]}`},
		"fipsCreateApplication": {`{"type":"TMApplication","category":"` + jsonEscape(fipsLegalCat) + `","title":"Ласточка"}`,
			`{"type":"Invention","category":"Коммерческая организация","attributes":{"applicantName":"ООО \"Ромашка\"","mktuClasses":[9,42]}}`},
		"fipsUpdateApplication": {`{"category":"` + jsonEscape(fipsLegalCat) + `","title":"Товарный знак «Ромашка»","attributes":{"mktuClasses":[9,42]}}`,
			`{"category":""}`},
		"fipsCreateDocument":    {`{"type":"PowerOfAttorney"}`, `{"typeTitle":"Доверенность","name":"Доверенность представителя"}`, `{"type":"x","typeTitle":"y"}`, `{}`},
		"fipsUpdateDocument":    {`{"name":"Доверенность представителя","attributes":{"pages":3}}`},
		"fipsAddSignature":      {`{"signatures":[{"algorithm":"GOST R 34.10-2012-256","value":` + sig + `}]}`, `{"signatures":[{"algorithm":"RSA","value":"!!"}]}`},
		"fipsSubmitApplication": {`{"algorithm":"GOST R 34.10-2012-256","signature":` + sig + `}`},
		"fipsPutDocumentFile": {part("file", "application/pdf", "%PDF-1.4 fuzz"),
			"--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nx\r\n--" + fuzzBoundary + "--\r\n",
			"--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"file\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=41=42\r\n--" + fuzzBoundary + "--\r\n"},
		"fipsPutStatement": {part("file", "application/xml", string(statement)), part("file", "application/xml", "<TradeMarkStatement/>")},
	}
}

// contentType is the Content-Type a fuzzed body of o is sent with.
func contentType(o fuzzOp) string {
	if strings.HasPrefix(o.body, "multipart/") {
		return "multipart/form-data; boundary=" + fuzzBoundary
	}
	return "application/json"
}

// FuzzRequestBody sends any bytes as the body of any operation (the ones
// without a body in the contract too), with valid path parameters. Inputs
// the contract or a validator refuses must be refused before anything goes
// upstream; nothing may answer 5xx or panic.
func FuzzRequestBody(f *testing.F) {
	env := newFuzzEnv(f)
	for op, bodies := range fuzzBodies(f) {
		for _, b := range bodies {
			f.Add(op, []byte(b))
		}
	}
	for _, s := range []string{"", "null", "[]", "{}", `{"text":`, `"x"`, strings.Repeat("[", 64) + strings.Repeat("]", 64),
		`{"text":"\ud800","env":"internet"}`, "\xff\xfe"} {
		f.Add("garantSearch", []byte(s))
	}
	f.Add("getHealthz", []byte("x"))
	f.Add("fsspGetTask", []byte(`{"wait":1}`))
	f.Add("fipsGetDocumentFile", []byte("x"))
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		o := env.op(name)
		what := o.method + " " + o.id
		a, err := env.send(o.method, env.fill(o), []string{"Content-Type", contentType(o)}, body)
		env.check(t, what, len(body), a, err)
	})
}

// FuzzRequestParams sends any path parameters, query string and value of
// the operation's header parameter (Cache-Control, Idempotency-Key,
// Prefer) to any operation, with a valid body where it takes one. The
// values go into the request target as they are: the fuzzer escapes them
// or not.
func FuzzRequestParams(f *testing.F) {
	env := newFuzzEnv(f)
	bodies := fuzzBodies(f)
	app, doc, task := env.ids["applicationId"], env.ids["documentId"], env.ids["taskId"]
	for _, s := range []struct{ op, p1, p2, query, header string }{
		{"garantGetTopic", "12125268", "", "", "no-cache"},
		{"garantGetTopic", "-1", "", "", "max-age=0, max-stale=60"},
		{"garantGetTopic", "99999999999999999999", "", "", ""},
		{"garantGetTopic", "1e3", "", "", "no-store, no-cache"},
		{"garantGetTopic", "%2e%2e", "", "", ""},
		{"garantGetTopicEditions", "12125268", "", "", ""},
		{"garantGetTopicHTML", "12125268", "", "", ""},
		{"garantGetEntryHTML", "12125268", "70", "", ""},
		{"garantGetEntryHTML", "12125268", "0x10", "", ""},
		{"garantExportTopic", "12125268", "pdf", "", ""},
		{"garantExportTopic", "12125268", "rtf", "", "no-cache, no-store"},
		{"garantExportTopic", "12125268", "..%2F..%2Flimits", "", ""},
		{"garantGetImage", "1084623", "", "", ""},
		{"garantGetImage", "..%2F..%2Fv2%2Flimits", "", "", ""},
		{"garantGetFormula", "", "", "text=eJzT1dVLz0ktLk1RSMsvyk0FAB2lBJM&fmt=png", ""},
		{"garantGetFormula", "", "", "text=%ZZ&fmt=svg&fmt=png", ""},
		{"garantPurgeCache", "", "", "operation=garantGetTopic&topic=12125268", ""},
		{"garantPurgeCache", "", "", "operation=fsspGetTask&topic=-5", ""},
		{"garantPrimeCategories", "", "", "", "max-age=60"},
		{"garantGetLimits", "", "", "x=1", ""},
		{"fsspGetTask", task, "", "wait=0", ""},
		{"fsspGetTask", task, "", "wait=61", ""},
		{"fsspGetTask", "01JD3ZK5R8M2W6Q0X4V7N9B1CE", "", "wait=-1", ""},
		{"fsspGetTask", "..", "", "wait=abc", ""},
		{"fsspSearchPhysical", "", "", "", "wait=1"},
		{"fsspSearchIP", "", "", "", "respond-async, wait=99999999999999999999"},
		{"fsspSearchLegal", "", "", "", "wait=-1"},
		{"fipsCreateApplication", "", "", "", "my-first-app"},
		{"fipsListApplications", "", "", "kind=TMApplication&sortField=CreationDate&sortDescend=true", ""},
		{"fipsListApplications", "", "", "sortDescend=maybe", ""},
		{"fipsGetApplication", app, "", "", ""},
		{"fipsGetApplication", "TMA260537887", "", "", ""},
		{"fipsGetApplication", "..", "", "", ""},
		{"fipsGetApplication", "%2e%2e", "", "", ""},
		{"fipsGetApplication", "a%2Fb%3Fc%23d", "", "", ""},
		{"fipsGetDocument", app, doc, "", ""},
		{"fipsGetDocumentFile", app, doc, "", ""},
		{"fipsGetPackage", app, "", "", ""},
		{"fipsListSignatures", app, "%00", "", ""},
		{"fipsAddSignature", app, doc, "", "sig-1"},
		{"fipsDeleteDocument", app, "999999999", "", ""},
		{"getQuotas", "", "", "", ""},
		{"getHealthz", "", "", "verbose=1", ""},
	} {
		f.Add(s.op, s.p1, s.p2, s.query, s.header)
	}
	f.Fuzz(func(t *testing.T, name, p1, p2, query, header string) {
		o := env.op(name)
		target := env.fill(o, p1, p2)
		if query != "" {
			target += "?" + query
		}
		if strings.ContainsAny(target, " \r\n") || strings.ContainsAny(header, "\r\n") {
			return // not one request line or header: the fuzzer's framing, not a request
		}
		hdr := []string{}
		if o.header != "" && header != "" {
			hdr = append(hdr, o.header, header)
		}
		var body []byte
		if o.body != "" {
			hdr = append(hdr, "Content-Type", contentType(o))
			body = []byte(bodies[o.id][0])
		}
		a, err := env.send(o.method, target, hdr, body)
		if err == nil && a.res.StatusCode == http.StatusBadRequest && a.res.Header.Get("X-Request-ID") == "" {
			return // net/http refused the request line before any handler ran
		}
		env.check(t, o.method+" "+target, len(target)+len(header), a, err)
	})
}

// TestFuzzCoversEveryOperation keeps the request fuzzers' seeds in step
// with the contract: every operation with a body has fuzzBodies, and every
// operation is reachable by name.
func TestFuzzCoversEveryOperation(t *testing.T) {
	bodies := fuzzBodies(t)
	for _, o := range fuzzOps(t) {
		if o.body != "" && len(bodies[o.id]) == 0 {
			t.Errorf("operation %s takes a body but fuzzBodies has none", o.id)
		}
	}
}
