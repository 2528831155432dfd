package fipssim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testCMS is a stand-in for a base64 detached CMS.
func testCMS() string { return base64.StdEncoding.EncodeToString([]byte("0\x82\x01\x00detached-cms")) }

// signableDoc returns the path of a draft document with content.
func signableDoc(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	id := newApp(t, ts, demoKey, "TMApplication")
	d := newDoc(t, ts, demoKey, id, map[string]string{"type": "PowerOfAttorney"})
	path := "/api/v1/applications/" + id + "/documents/" + d.ID
	body, ct := multipartFile(t, "file", "poa.pdf", "application/pdf", []byte("%PDF-1.4 доверенность"))
	call(t, ts, demoKey, "PUT", path+"/file", body, ct).want(t, "PUT file", 200)
	return path
}

func TestAddOneSignature(t *testing.T) {
	_, ts := start(t, testConfig())
	path := signableDoc(t, ts)
	var sig signature
	r := call(t, ts, trustee, "POST", path+"/signatures",
		map[string]any{"signatures": []map[string]string{{"algorithm": "GOST R 34.10-2012-256", "value": testCMS()}}}, "").
		want(t, "POST signatures (one)", http.StatusCreated)
	r.decode(t, &sig)
	if r.header.Get("Location") != path+"/signatures" {
		t.Errorf("POST signatures Location = %q, want %q", r.header.Get("Location"), path+"/signatures")
	}
	if sig.ID == "" || sig.Signer != generatedName(1, 2) || len(sig.CertificateSerial) != 32 || sig.Algorithm != "GOST R 34.10-2012-256" || sig.SignedAt.IsZero() {
		t.Errorf("POST signatures = %+v, want the trustee's signature", sig)
	}
	var list []signature
	call(t, ts, demoKey, "GET", path+"/signatures", nil, "").want(t, "GET signatures", 200).decode(t, &list)
	if diff := cmp.Diff([]signature{sig}, list); diff != "" {
		t.Errorf("GET signatures mismatch (-want +got):\n%s", diff)
	}
	// new content invalidates the signatures
	body, ct := multipartFile(t, "file", "poa.pdf", "application/pdf", []byte("%PDF-1.4 другая"))
	call(t, ts, demoKey, "PUT", path+"/file", body, ct).want(t, "PUT file", 200)
	call(t, ts, demoKey, "GET", path+"/signatures", nil, "").want(t, "GET signatures", 200).decode(t, &list)
	if len(list) != 0 {
		t.Errorf("GET signatures after new content = %v, want none", list)
	}
}

func TestAddSignatureErrors(t *testing.T) {
	_, ts := start(t, testConfig())
	path := signableDoc(t, ts)
	one := func(alg, val string) any {
		return map[string]any{"signatures": []map[string]string{{"algorithm": alg, "value": val}}}
	}
	tests := []struct {
		name, key, path string
		body            any
		want            int
	}{
		{"unknown algorithm", demoKey, path, one("RSA-SHA256", testCMS()), 400},
		{"bad base64", demoKey, path, one("GOST R 34.10-2001", "не base64"), 400},
		{"empty value", demoKey, path, one("GOST R 34.10-2001", ""), 400},
		{"no items", demoKey, path, map[string]any{"signatures": []any{}}, 400},
		{"not json", demoKey, path, []byte("signature"), 400},
		{"stranger", stranger, path, one("GOST R 34.10-2001", testCMS()), 403},
		{"unknown document", demoKey, path[:strings.LastIndex(path, "/")] + "/42", one("GOST R 34.10-2001", testCMS()), 404},
	}
	for _, tt := range tests {
		call(t, ts, tt.key, "POST", tt.path+"/signatures", tt.body, "application/json").want(t, "POST signatures ("+tt.name+")", tt.want)
	}
	empty := newDoc(t, ts, demoKey, strings.Split(path, "/")[4], map[string]string{"type": "Image"})
	emptyPath := path[:strings.LastIndex(path, "/")] + "/" + empty.ID
	call(t, ts, demoKey, "POST", emptyPath+"/signatures", one("GOST R 34.10-2001", testCMS()), "").want(t, "POST signatures (no content)", http.StatusConflict)
}

func TestAddSignaturesBatch(t *testing.T) {
	_, ts := start(t, testConfig())
	path := signableDoc(t, ts)
	body := map[string]any{"signatures": []map[string]string{
		{"algorithm": "GOST R 34.10-2012-256", "value": testCMS()},
		{"algorithm": "GOST R 34.10-94", "value": testCMS()},
		{"algorithm": "GOST R 34.10-2012-512", "value": "%%%"},
		{"algorithm": "GOST R 34.10-2001", "value": testCMS()},
	}}
	r := call(t, ts, demoKey, "POST", path+"/signatures", body, "").want(t, "POST signatures (batch)", http.StatusMultiStatus)
	var out struct {
		Results []struct {
			Code   int             `json:"code"`
			Result json.RawMessage `json:"result"`
		} `json:"results"`
	}
	r.decode(t, &out)
	var codes []int
	for i, res := range out.Results {
		codes = append(codes, res.Code)
		var item struct {
			ID, Algorithm, Message string
		}
		if err := json.Unmarshal(res.Result, &item); err != nil {
			t.Fatal(err)
		}
		if (res.Code == 201) != (item.ID != "" && item.Message == "") {
			t.Errorf("batch result %d = %d %s, want a signature for 201 and a message for 400", i, res.Code, res.Result)
		}
	}
	if diff := cmp.Diff([]int{201, 400, 400, 201}, codes); diff != "" {
		t.Errorf("batch codes mismatch (-want +got):\n%s", diff)
	}
	var list []signature
	call(t, ts, demoKey, "GET", path+"/signatures", nil, "").want(t, "GET signatures", 200).decode(t, &list)
	if len(list) != 2 || list[0].Algorithm != "GOST R 34.10-2012-256" || list[1].Algorithm != "GOST R 34.10-2001" {
		t.Errorf("GET signatures after batch = %+v, want the two valid ones", list)
	}
}
