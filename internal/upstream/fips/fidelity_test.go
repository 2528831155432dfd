package fips_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/upstream/fips"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
	"github.com/legalgate/legalgate/internal/upstream/simkit"
)

func newSimClient(t *testing.T, cfg fipssim.Config) (*fipssim.Server, *fips.Client, string) {
	t.Helper()
	sim := fipssim.New(cfg)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	c, err := fips.New(fips.Config{BaseURL: ts.URL + fipssim.Prefix, OnRejected: ignoreRejected})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c, ts.URL
}

// TestFIPSClientDotNetValues: an upstream writing ids as numbers and
// timestamps without a zone (common in .NET services) is read whole:
// string ids, Moscow time.
func TestFIPSClientDotNetValues(t *testing.T) {
	cfg := fipssim.DefaultConfig()
	cfg.DotNetValues = true
	_, c, url := newSimClient(t, cfg)

	req, _ := http.NewRequest("GET", url+fipssim.Prefix+"/applications", nil)
	req.Header.Set("Authorization", "demo-fips-key")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var first []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &first); err != nil || len(first) == 0 ||
		bytes.HasPrefix(first[0]["id"], []byte(`"`)) || bytes.HasSuffix(first[0]["createdAt"], []byte(`+03:00"`)) {
		t.Fatalf("the simulator's answer %s does not have numeric ids and zone-less times", raw)
	}

	apps, err := c.ListApplications(bgctx, owner, fips.ListOptions{})
	if err != nil || len(apps) == 0 {
		t.Fatalf("ListApplications = %v, %v", apps, err)
	}
	a := apps[0]
	if a.ID == "" || string(first[0]["id"]) != a.ID || a.CreatedAt == nil {
		t.Fatalf("ListApplications[0] = %+v, want id %s and a creation time", a, first[0]["id"])
	}
	if _, off := a.CreatedAt.Zone(); off != 3*3600 {
		t.Errorf("CreatedAt = %v, want Moscow time", a.CreatedAt)
	}
	created, _, err := c.CreateApplication(bgctx, owner, tmCreate)
	if err != nil || created.ID == "" {
		t.Fatalf("CreateApplication = %+v, %v", created, err)
	}
	got, err := c.Application(bgctx, owner, created.ID)
	if err != nil || got.ID != created.ID || !got.CreatedAt.Equal(*created.CreatedAt) {
		t.Errorf("Application(%s) = %+v, %v", created.ID, got, err)
	}
}

// TestFIPSClient207EveryMethod: FIPS's document lists 207 among the codes of
// every method; whatever the operation, a 207 is answered as the outcome
// it describes, in any of the body shapes the client reads.
func TestFIPSClient207EveryMethod(t *testing.T) {
	sim, c, _ := newSimClient(t, fipssim.DefaultConfig())
	app, _, err := c.CreateApplication(bgctx, owner, tmCreate)
	if err != nil {
		t.Fatal(err)
	}
	doc, _, err := c.CreateDocument(bgctx, owner, app.ID, fips.DocumentInput{TypeTitle: "Доверенность"})
	if err != nil {
		t.Fatal(err)
	}
	appPath := fipssim.Prefix + "/applications/" + app.ID
	docPath := appPath + "/documents/" + doc.ID
	tests := []struct {
		name, path, body string
		call             func() error
		kind             apperr.Kind // 0 with want: success
		want             func() error
	}{
		{"get application, one item", appPath, `{"results":[{"code":200,"result":{"id":77,"type":"TMApplication","category":"x"}}]}`,
			func() error {
				a, err := c.Application(bgctx, owner, app.ID)
				if err == nil && a.ID != "77" {
					t.Errorf("Application = %+v, want id 77 from the item", a)
				}
				return err
			}, 0, nil},
		{"update application, failed item", appPath, `[{"status":200,"result":{"id":1}},{"status":403,"result":{"message":"нет доступа"}}]`,
			func() error {
				_, err := c.UpdateApplication(bgctx, owner, app.ID, fips.ApplicationInput{Category: legalCat})
				return err
			}, apperr.NotFound, nil}, // another account's resource answers as a missing one
		{"list applications, two items", fipssim.Prefix + "/applications", `{"Items":[{"StatusCode":"200","Data":[{"Id":1}]},{"StatusCode":200,"Data":{"Id":2}}]}`,
			func() error {
				list, err := c.ListApplications(bgctx, owner, fips.ListOptions{})
				if err == nil && (len(list) != 2 || list[0].ID != "1" || list[1].ID != "2") {
					t.Errorf("ListApplications = %+v, want the items' applications 1 and 2", list)
				}
				return err
			}, 0, nil},
		{"delete document, one item", docPath, `{"results":[{"code":204}]}`,
			func() error { return c.DeleteDocument(bgctx, owner, app.ID, doc.ID) }, 0, nil},
		{"document file, failed item", docPath + "/file", `{"results":[{"code":404,"result":{"message":"нет содержимого"}}]}`,
			func() error { _, err := c.DocumentFile(bgctx, owner, app.ID, doc.ID); return err }, apperr.NotFound, nil},
		{"document file, no content", docPath + "/file", `{"results":[{"code":200}]}`,
			func() error { _, err := c.DocumentFile(bgctx, owner, app.ID, doc.ID); return err }, apperr.UpstreamFailed, nil},
		{"upload, one item", docPath + "/file", `{"results":[{"code":200,"result":{"id":5,"size":3}}]}`,
			func() error {
				d, err := c.PutDocumentFile(bgctx, owner, app.ID, doc.ID, fips.Upload{Body: strings.NewReader("abc")})
				if err == nil && (d == nil || d.ID != "5") {
					t.Errorf("PutDocumentFile = %+v, want document 5 from the item", d)
				}
				return err
			}, 0, nil},
		{"submit, failed item", appPath + "/package/signature", `{"results":[{"code":409,"result":{"message":"Пакет не готов"}}]}`,
			func() error {
				_, err := c.Submit(bgctx, owner, app.ID, "GOST R 34.10-2012-256", []byte("cms"))
				return err
			}, apperr.Conflict, nil},
		{"get application, unreadable 207", appPath, `{"results":[{"result":{}}]}`,
			func() error { _, err := c.Application(bgctx, owner, app.ID); return err }, apperr.UpstreamFailed, nil},
	}
	for _, tt := range tests {
		sim.Kit.SetFault(&simkit.Fault{Status: http.StatusMultiStatus, Body: tt.body, PathPrefix: tt.path, Remaining: 1})
		err := tt.call()
		sim.Kit.SetFault(nil)
		if tt.kind == 0 {
			if err != nil {
				t.Errorf("%s: err = %v, want success", tt.name, err)
			}
			continue
		}
		e := kindOf(t, tt.name, err, tt.kind)
		if tt.kind == apperr.NotFound && e.Extensions["upstream_results"] == nil {
			t.Errorf("%s: extensions %v, want upstream_results", tt.name, e.Extensions)
		}
	}
}

// TestFIPSClientRouteShapes: each signature shape and a raw upload reach a
// simulator serving the same table.
func TestFIPSClientRouteShapes(t *testing.T) {
	for _, shape := range []string{fips.SignatureJSON, fips.SignatureMultipart, fips.SignatureRaw} {
		t.Run(shape, func(t *testing.T) {
			cfg := fipssim.DefaultConfig()
			cfg.Routes = map[string]fipssim.Route{
				"fipsAddSignature":      {Signature: shape},
				"fipsSubmitApplication": {Signature: shape},
				"fipsPutDocumentFile":   {ContentType: "application/octet-stream"},
			}
			sim := fipssim.New(cfg)
			ts := httptest.NewServer(sim)
			t.Cleanup(ts.Close)
			c, err := fips.New(fips.Config{BaseURL: ts.URL + fipssim.Prefix, OnRejected: ignoreRejected, Routes: map[string]fips.Route{
				fips.OpAddSignature: {Signature: shape}, fips.OpSubmitApplication: {Signature: shape},
				fips.OpPutDocumentFile: {ContentType: "application/octet-stream"},
			}})
			if err != nil {
				t.Fatal(err)
			}
			app, _, err := c.CreateApplication(bgctx, owner, tmCreate)
			if err != nil {
				t.Fatal(err)
			}
			doc, _, err := c.CreateDocument(bgctx, owner, app.ID, fips.DocumentInput{TypeTitle: "Доверенность"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.PutDocumentFile(bgctx, owner, app.ID, doc.ID, fips.Upload{Body: strings.NewReader("%PDF-1.4 raw")}); err != nil {
				t.Fatalf("PutDocumentFile(raw body): %v", err)
			}
			f, err := c.DocumentFile(bgctx, owner, app.ID, doc.ID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(f.Body)
			f.Body.Close()
			if string(b) != "%PDF-1.4 raw" || f.ContentType != "application/octet-stream" {
				t.Errorf("DocumentFile = %q (%s), want the raw bytes sent", b, f.ContentType)
			}
			status, results, err := c.AddSignatures(bgctx, owner, app.ID, doc.ID, []fips.SignatureInput{
				{Algorithm: "GOST R 34.10-2012-256", Value: []byte("cms-1")}, {Algorithm: "GOST R 34.10-2012-256", Value: []byte("cms-2")}})
			if err != nil || status != http.StatusMultiStatus || len(results) != 2 || results[0].Signature == nil || results[1].Signature == nil {
				t.Fatalf("AddSignatures = %d %+v, %v; want two signatures in a 207", status, results, err)
			}
			list, err := c.ListSignatures(bgctx, owner, app.ID, doc.ID)
			if err != nil || len(list) != 2 || list[0].SignedAt.Before(time.Now().AddDate(-10, 0, 0)) {
				t.Errorf("ListSignatures = %+v, %v; want 2", list, err)
			}
		})
	}
}

// TestFIPSClientCountsUnreadValues: every member whose value cannot be
// read is told to OnUnparsed with its operation, in a list as in one
// resource, and kept in Extra as FIPS sent it.
func TestFIPSClientCountsUnreadValues(t *testing.T) {
	sim := fipssim.New(fipssim.DefaultConfig())
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	var told []string
	c, err := fips.New(fips.Config{BaseURL: ts.URL + fipssim.Prefix, OnRejected: ignoreRejected,
		OnUnparsed: func(op, f string) { told = append(told, op+" "+f) }})
	if err != nil {
		t.Fatal(err)
	}
	sim.Kit.SetFault(&simkit.Fault{Status: 200, PathPrefix: "/api/v1/applications", Remaining: 1,
		Body: `[{"id":1,"createdAt":"2024-01-15T10:00:00"},{"id":2,"createdAt":"вчера","trusted":"может быть","documents":{"unread":"да"}}]`})
	apps, err := c.ListApplications(bgctx, owner, fips.ListOptions{})
	if err != nil || len(apps) != 2 {
		t.Fatalf("ListApplications = %+v, %v", apps, err)
	}
	want := []string{"fipsListApplications createdAt", "fipsListApplications trusted", "fipsListApplications documents.unread"}
	if !slices.Equal(told, want) {
		t.Errorf("OnUnparsed told %q, want %q", told, want)
	}
	if a := apps[1]; a.Extra["createdAt"] != "вчера" || a.Extra["trusted"] != "может быть" || a.Extra["documents"] == nil || len(apps[0].Extra) != 0 {
		t.Errorf("ListApplications = %+v, want the unread members of the second kept in Extra as sent", apps)
	}
}
