package fipssim

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"testing"
)

// multipartFile builds a multipart/form-data body with data in part field.
func multipartFile(t *testing.T, field, fileName, contentType string, data []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("comment", "ignored")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, fileName))
	h.Set("Content-Type", contentType)
	pw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

func randomBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

func TestFileRoundTrip20MB(t *testing.T) {
	_, ts := start(t, testConfig())
	id := newApp(t, ts, demoKey, "TMApplication")
	d := newDoc(t, ts, demoKey, id, map[string]string{"type": "Image"})
	path := "/api/v1/applications/" + id + "/documents/" + d.ID + "/file"
	data := randomBytes(MaxFileSize, 1)
	body, ct := multipartFile(t, "file", "знак.tiff", "image/tiff", data)
	var got documentView
	call(t, ts, demoKey, "PUT", path, body, ct).want(t, "PUT file 20 MB", 200).decode(t, &got)
	sum := sha256.Sum256(data)
	if got.Size != len(data) || got.ContentType != "image/tiff" || got.FileName != "знак.tiff" || got.SHA256 != digest(data) {
		t.Errorf("PUT file = %+v, want size %d, image/tiff, знак.tiff", got, len(data))
	}
	r := call(t, ts, demoKey, "GET", path, nil, "").want(t, "GET file", 200)
	if sha256.Sum256(r.body) != sum {
		t.Errorf("GET file SHA-256 = %x, want %x (len %d, want %d)", sha256.Sum256(r.body), sum, len(r.body), len(data))
	}
	if ct, cl := r.header.Get("Content-Type"), r.header.Get("Content-Length"); ct != "image/tiff" || cl != strconv.Itoa(len(data)) {
		t.Errorf("GET file headers = %q, %q, want image/tiff, %d", ct, cl, len(data))
	}
	r = call(t, ts, demoKey, "DELETE", path, nil, "").want(t, "DELETE file", 204)
	if len(r.body) != 0 {
		t.Errorf("DELETE file body = %q, want empty", r.body)
	}
	call(t, ts, demoKey, "GET", path, nil, "").want(t, "GET cleared file", 404)
	call(t, ts, demoKey, "GET", "/api/v1/applications/"+id+"/documents/"+d.ID, nil, "").want(t, "GET document after DELETE file", 200)
}

func TestFileTooLarge(t *testing.T) {
	_, ts := start(t, testConfig())
	id := newApp(t, ts, demoKey, "TMApplication")
	d := newDoc(t, ts, demoKey, id, map[string]string{"type": "PowerOfAttorney"})
	path := "/api/v1/applications/" + id + "/documents/" + d.ID + "/file"
	body, ct := multipartFile(t, "file", "big.pdf", "application/pdf", randomBytes(MaxFileSize+1, 2))
	r := call(t, ts, demoKey, "PUT", path, body, ct).want(t, "PUT file 20 MB + 1", http.StatusRequestEntityTooLarge)
	if codes := r.errorCodes(t); len(codes) != 0 {
		t.Errorf("413 errors = %v, want none", codes)
	}
	var got documentView
	call(t, ts, demoKey, "GET", "/api/v1/applications/"+id+"/documents/"+d.ID, nil, "").want(t, "GET document", 200).decode(t, &got)
	if got.Size != 0 {
		t.Errorf("document size after 413 = %d, want 0", got.Size)
	}
}

func TestPutFileErrors(t *testing.T) {
	_, ts := start(t, testConfig())
	id := newApp(t, ts, demoKey, "TMApplication")
	file := newDoc(t, ts, demoKey, id, map[string]string{"type": "PaymentDocument"})
	stmt := newDoc(t, ts, demoKey, id, map[string]string{"type": "TradeMark"})
	docPath := func(d documentView) string { return "/api/v1/applications/" + id + "/documents/" + d.ID + "/file" }
	good, goodCT := multipartFile(t, "file", "a.pdf", "application/pdf", []byte("%PDF-1.4"))
	wrongPart, wrongCT := multipartFile(t, "attachment", "a.pdf", "application/pdf", []byte("%PDF-1.4"))
	empty, emptyCT := multipartFile(t, "file", "a.pdf", "application/pdf", nil)
	tests := []struct {
		name, key, path, ct string
		body                []byte
		want                int
	}{
		{"raw body", demoKey, docPath(file), "application/pdf", []byte("%PDF-1.4"), 415},
		{"no boundary", demoKey, docPath(file), "multipart/form-data", good, 400},
		{"no file part", demoKey, docPath(file), wrongCT, wrongPart, 400},
		{"empty file", demoKey, docPath(file), emptyCT, empty, 400},
		{"structured document", demoKey, docPath(stmt), goodCT, good, 400},
		{"other key", demoKey2, docPath(file), goodCT, good, 403},
		{"no key", "", docPath(file), goodCT, good, 401},
		{"trustee", trustee, docPath(file), goodCT, good, 200},
	}
	for _, tt := range tests {
		call(t, ts, tt.key, "PUT", tt.path, tt.body, tt.ct).want(t, "PUT file ("+tt.name+")", tt.want)
	}
}
