package fipssim

import (
	"bytes"
	"net/http"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStatementFLK(t *testing.T) {
	valid, err := os.ReadFile("testdata/statement-trademark.xml")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, repl string) []byte { return bytes.Replace(valid, []byte(old), []byte(repl), 1) }
	tests := []struct {
		name string
		xml  []byte
		want []string
	}{
		{"malformed", edit("</Goods>", "</Good>"), []string{"FLK_XML "}},
		{"not xml", []byte("%PDF-1.4"), []string{"FLK_XML "}},
		{"cp1251", edit(`encoding="UTF-8"`, `encoding="windows-1251"`), []string{"FLK_XML "}},
		{"wrong root", []byte("<InventionStatement/>"), []string{"FLK_ROOT InventionStatement"}},
		{"no applicant name", edit("<Name>ООО «Ромашка»</Name>", ""), []string{"FLK_REQUIRED Applicant/Name"}},
		{"bad inn", edit("<INN>7701234567</INN>", "<INN>77</INN>"), []string{"FLK_FORMAT Applicant/INN"}},
		{"no address", edit("<Text>125167, Москва, Ленинградский пр-т, д. 39, стр. 80</Text>", ""), []string{"FLK_REQUIRED Applicant/Address/Text"}},
		{"bad mark kind", edit("<Kind>combined</Kind>", "<Kind>colour</Kind>"), []string{"FLK_ENUM Mark/Kind"}},
		{"class out of range", edit(`number="35"`, `number="46"`), []string{"FLK_MKTU_CLASS Goods/Class[2]/@number"}},
		{"repeated class", edit(`number="43"`, `number="30"`), []string{"FLK_DUPLICATE Goods/Class[3]/@number"}},
		{"several findings", []byte(`<TradeMarkStatement><Applicant><Name> </Name><Address><Country>Russia</Country><Text>Москва</Text>` +
			`</Address></Applicant><Mark><Kind>word</Kind></Mark></TradeMarkStatement>`),
			[]string{"FLK_REQUIRED Applicant/Name", "FLK_FORMAT Applicant/Address/Country", "FLK_REQUIRED Mark/Text", "FLK_REQUIRED Goods/Class"}},
	}

	_, ts := start(t, testConfig())
	id := newApp(t, ts, demoKey, "TMApplication")
	d := newDoc(t, ts, demoKey, id, map[string]string{"type": "TradeMark"})
	path := "/api/v1/applications/" + id + "/documents/" + d.ID
	call(t, ts, demoKey, "GET", path+"/file", nil, "").want(t, "GET file of empty statement", http.StatusConflict)
	call(t, ts, demoKey, "GET", path+"/statement", nil, "").want(t, "GET empty statement", http.StatusNotFound)
	for _, tt := range tests {
		body, ct := multipartFile(t, "file", "statement.xml", "application/xml", tt.xml)
		r := call(t, ts, demoKey, "PUT", path+"/statement", body, ct).want(t, "PUT statement ("+tt.name+")", http.StatusBadRequest)
		if diff := cmp.Diff(tt.want, r.errorCodes(t)); diff != "" {
			t.Errorf("PUT statement (%s) errors (-want +got):\n%s", tt.name, diff)
		}
		// a rejected statement is kept as a draft, but its file is not available
		call(t, ts, demoKey, "GET", path+"/file", nil, "").want(t, "GET file after failed ФЛК", http.StatusConflict)
	}
	var doc documentView
	call(t, ts, demoKey, "GET", path, nil, "").want(t, "GET document", 200).decode(t, &doc)
	if doc.FLKStatus != "failed" || len(doc.FLKErrors) == 0 {
		t.Errorf("document after failed ФЛК = %+v, want flkStatus failed with errors", doc)
	}

	body, ct := multipartFile(t, "file", "statement.xml", "text/xml", valid)
	doc = documentView{}
	call(t, ts, demoKey, "PUT", path+"/statement", body, ct).want(t, "PUT valid statement", 200).decode(t, &doc)
	if doc.FLKStatus != "passed" || doc.FLKErrors != nil || doc.Size != len(valid) {
		t.Errorf("document after ФЛК = %+v, want passed", doc)
	}
	for _, p := range []string{path + "/statement", path + "/file"} {
		r := call(t, ts, demoKey, "GET", p, nil, "").want(t, "GET "+p, 200)
		if !bytes.Equal(r.body, valid) || r.header.Get("Content-Type") != "application/xml" {
			t.Errorf("GET %s = %q %q, want the statement bytes as application/xml", p, r.header.Get("Content-Type"), r.body)
		}
	}
	file := newDoc(t, ts, demoKey, id, map[string]string{"type": "Image"})
	filePath := "/api/v1/applications/" + id + "/documents/" + file.ID
	call(t, ts, demoKey, "PUT", filePath+"/statement", body, ct).want(t, "PUT statement into a file document", 400)
	call(t, ts, demoKey, "GET", filePath+"/statement", nil, "").want(t, "GET statement of a file document", 400)
	call(t, ts, demoKey, "PUT", path+"/statement", valid, "application/xml").want(t, "PUT statement without multipart", 415)
	call(t, ts, stranger, "GET", path+"/statement", nil, "").want(t, "GET statement as stranger", 403)

	call(t, ts, demoKey, "DELETE", path+"/file", nil, "").want(t, "DELETE statement content", 204)
	call(t, ts, demoKey, "GET", path+"/file", nil, "").want(t, "GET file after clearing", http.StatusConflict)
}

func TestSampleStatementsPassFLK(t *testing.T) {
	for _, codes := range appTypes() {
		for _, code := range codes {
			if errs := checkStatement(code, SampleStatement(code, `ООО «Рога & копыта»`, "Обозначение <1>")); len(errs) != 0 {
				t.Errorf("checkStatement(%s, SampleStatement) = %v, want none", code, errs)
			}
		}
	}
	if errs := checkStatement("Invention", SampleStatement("UsefulModel", "x", "y")); len(errs) != 1 || errs[0].Code != "FLK_ROOT" {
		t.Errorf("checkStatement(Invention, UsefulModel statement) = %v, want FLK_ROOT", errs)
	}
}
