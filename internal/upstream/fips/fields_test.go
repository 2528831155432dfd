package fips_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/legalgate/legalgate/internal/upstream/fips"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
)

// bodyLog records the request bodies a handler was sent, by method and path.
type bodyLog struct {
	mu     sync.Mutex
	bodies []string
	next   http.Handler
}

func (l *bodyLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	l.bodies = append(l.bodies, r.Method+" "+r.URL.Path+" "+string(b))
	l.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(b))
	l.next.ServeHTTP(w, r)
}

func (l *bodyLog) last() string { l.mu.Lock(); defer l.mu.Unlock(); return l.bodies[len(l.bodies)-1] }

// TestFieldsRenamed: member names given in the field table reach FIPS
// renamed, in every body that has them, and a simulator taking the same
// names carries the calls out; one taking the default names does not.
func TestFieldsRenamed(t *testing.T) {
	fields := fips.Fields{
		ApplicationCategory: "applicantCategory", ApplicationTitle: "name",
		DocumentTypeTitle: "documentTypeName", SignatureList: "items", SignatureValue: "cms",
		SubmissionAlgorithm: "alg", SubmissionSignature: "packageSignature",
	}
	simCfg := fipssim.DefaultConfig()
	simCfg.Fields = fipssim.Fields{
		ApplicationCategory: "applicantCategory", ApplicationTitle: "name",
		DocumentTypeTitle: "documentTypeName", SignatureList: "items", SignatureValue: "cms",
		SubmissionAlgorithm: "alg", SubmissionSignature: "packageSignature",
	}
	log := &bodyLog{next: fipssim.New(simCfg)}
	ts := httptest.NewServer(log)
	t.Cleanup(ts.Close)
	c, err := fips.New(fips.Config{BaseURL: ts.URL + fipssim.Prefix, Fields: fields, OnRejected: ignoreRejected})
	if err != nil {
		t.Fatal(err)
	}
	wantBody := func(op string, has, hasNot []string) {
		t.Helper()
		got := log.last()
		for _, s := range has {
			if !strings.Contains(got, s) {
				t.Errorf("%s sent %s, want it to contain %s", op, got, s)
			}
		}
		for _, s := range hasNot {
			if strings.Contains(got, s) {
				t.Errorf("%s sent %s, want no %s", op, got, s)
			}
		}
	}

	a, _, err := c.CreateApplication(bgctx, owner, tmCreate)
	if err != nil || a.Category != legalCat || a.Title != "Знак «ТЕСТ»" {
		t.Fatalf("CreateApplication = %+v, %v; want the renamed category and title read by the simulator", a, err)
	}
	wantBody("CreateApplication", []string{`"applicantCategory":`, `"name":`, `"type":"TMApplication"`}, []string{`"category"`, `"title"`})
	d, _, err := c.CreateDocument(bgctx, owner, a.ID, fips.DocumentInput{TypeTitle: "Доверенность"})
	if err != nil || d.Type != "PowerOfAttorney" {
		t.Fatalf("CreateDocument(TypeTitle) = %+v, %v", d, err)
	}
	wantBody("CreateDocument", []string{`"documentTypeName":"Доверенность"`}, []string{`TypeTitle`})
	if _, err := c.PutDocumentFile(bgctx, owner, a.ID, d.ID, fips.Upload{Body: strings.NewReader("scan")}); err != nil {
		t.Fatal(err)
	}
	status, res, err := c.AddSignatures(bgctx, owner, a.ID, d.ID, []fips.SignatureInput{
		{Algorithm: "GOST R 34.10-2001", Value: []byte("cms-1")}, {Algorithm: "GOST R 34.10-2012-256", Value: []byte("cms-2")}})
	if err != nil || status != 207 || len(res) != 2 || res[0].Code != 201 || res[1].Code != 201 {
		t.Fatalf("AddSignatures = %d %+v %v, want two 201 items", status, res, err)
	}
	wantBody("AddSignatures", []string{`{"items":[{"algorithm":"GOST R 34.10-2001","cms":"Y21zLTE="}`}, []string{`"signatures"`, `"value"`})

	// The same client against a simulator that takes the default names:
	// the renamed category is not one FIPS knows, so the create fails.
	plain := httptest.NewServer(fipssim.New(fipssim.DefaultConfig()))
	t.Cleanup(plain.Close)
	c2, err := fips.New(fips.Config{BaseURL: plain.URL + fipssim.Prefix, Fields: fields, OnRejected: ignoreRejected})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c2.CreateApplication(bgctx, owner, tmCreate); fips.StatusOf(err) != http.StatusBadRequest {
		t.Errorf("CreateApplication(renamed fields, default simulator) = %v, want a 400 (category missing)", err)
	}
}

// TestFieldsSubmissionRenamed: the submission's members and the multipart
// form field of the algorithm are renamed too.
func TestFieldsSubmissionRenamed(t *testing.T) {
	for _, shape := range []string{fips.SignatureJSON, fips.SignatureMultipart} {
		t.Run(shape, func(t *testing.T) {
			simCfg := fipssim.DefaultConfig()
			simCfg.Fields = fipssim.Fields{SubmissionAlgorithm: "alg", SubmissionSignature: "packageSignature"}
			simCfg.Routes = map[string]fipssim.Route{"fipsSubmitApplication": {Signature: shape}}
			log := &bodyLog{next: fipssim.New(simCfg)}
			ts := httptest.NewServer(log)
			t.Cleanup(ts.Close)
			c, err := fips.New(fips.Config{BaseURL: ts.URL + fipssim.Prefix, OnRejected: ignoreRejected,
				Fields: fips.Fields{SubmissionAlgorithm: "alg", SubmissionSignature: "packageSignature"},
				Routes: map[string]fips.Route{fips.OpSubmitApplication: {Signature: shape}}})
			if err != nil {
				t.Fatal(err)
			}
			// A seeded draft lacks a statement: the simulator refuses the
			// submission with 409 once it has read the signature (a
			// signature it could not read would be a 400).
			apps, err := c.ListApplications(bgctx, owner, fips.ListOptions{})
			if err != nil || len(apps) == 0 {
				t.Fatalf("ListApplications = %d, %v", len(apps), err)
			}
			_, err = c.Submit(bgctx, owner, apps[0].ID, "GOST R 34.10-2012-256", []byte("cms"))
			if got := fips.StatusOf(err); got != http.StatusConflict {
				t.Errorf("Submit = %v (status %d), want 409: the simulator read the renamed signature", err, got)
			}
			want := map[string]string{fips.SignatureJSON: `"alg":"GOST R 34.10-2012-256"`, fips.SignatureMultipart: `name="alg"`}[shape]
			if got := log.last(); !strings.Contains(got, want) || strings.Contains(got, "algorithm") {
				t.Errorf("Submit sent %s, want %s and no algorithm", got, want)
			}
		})
	}
}

func TestResolveFields(t *testing.T) {
	got, err := fips.ResolveFields(fips.Fields{DocumentTypeTitle: "typeName"})
	if err != nil || got.DocumentTypeTitle != "typeName" || got.ApplicationCategory != "category" {
		t.Errorf("ResolveFields(typeName) = %+v, %v", got, err)
	}
	for _, bad := range []fips.Fields{{ApplicationTitle: "category"}, {SignatureValue: "algorithm"}, {DocumentDescription: `a"b`}} {
		if _, err := fips.ResolveFields(bad); err == nil || !strings.Contains(err.Error(), "fields.") {
			t.Errorf("ResolveFields(%+v) = %v, want an error naming the field", bad, err)
		}
	}
}
