package fips_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/redistest"
	"github.com/legalgate/legalgate/internal/tenant"
	"github.com/legalgate/legalgate/internal/upstream/fips"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
)

const legalCat = `Юридическое лицо\Российская организация\Коммерческая организация`

var (
	owner    = &tenant.Credential{Name: "fips-owner", Upstream: "fips", Secret: tenant.NewSecret("demo-fips-key")}
	other    = &tenant.Credential{Name: "fips-other", Upstream: "fips", Secret: tenant.NewSecret("demo-fips-key-2")}
	revoked  = &tenant.Credential{Name: "fips-revoked", Upstream: "fips", Secret: tenant.NewSecret("revoked-key")}
	bgctx    = context.Background()
	strp     = func(s string) *string { return &s }
	tmCreate = fips.ApplicationInput{Type: "TMApplication", Category: legalCat, Title: strp("Знак «ТЕСТ»")}
)

type fixture struct {
	sim      *fipssim.Server
	client   *fips.Client
	rejected *rejections
}

// rejections records the credentials OnRejected was told about.
type rejections struct {
	mu    sync.Mutex
	names []string
}

func (r *rejections) add(name string) { r.mu.Lock(); r.names = append(r.names, name); r.mu.Unlock() }

func (r *rejections) get() []string { r.mu.Lock(); defer r.mu.Unlock(); return slices.Clone(r.names) }

func newFixture(t *testing.T, cfg fips.Config) fixture {
	t.Helper()
	sim := fipssim.New(fipssim.DefaultConfig())
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	cfg.BaseURL = ts.URL + fipssim.Prefix
	rej := &rejections{}
	cfg.OnRejected = rej.add
	c, err := fips.New(cfg)
	if err != nil {
		t.Fatalf("fips.New: %v", err)
	}
	return fixture{sim: sim, client: c, rejected: rej}
}

func ignoreRejected(string) {}

func kindOf(t *testing.T, op string, err error, want apperr.Kind) *apperr.Error {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != want {
		t.Fatalf("%s err = %v, want kind %v", op, err, want)
	}
	if e.Upstream != "" && e.Upstream != "fips" {
		t.Errorf("%s upstream = %q, want fips", op, e.Upstream)
	}
	return e
}

func TestFIPSClientApplications(t *testing.T) {
	f := newFixture(t, fips.Config{})
	c := f.client
	a, loc, err := c.CreateApplication(bgctx, owner, tmCreate)
	if err != nil {
		t.Fatalf("CreateApplication: %v", err)
	}
	res, ok := c.ResolveLocation(loc, fips.OpGetApplication)
	if !ok || res.ApplicationID != a.ID {
		t.Errorf("ResolveLocation(%q) = %+v %v, want application %s", loc, res, ok, a.ID)
	}
	if a.Type != "TMApplication" || a.Category != legalCat || a.Status != "draft" || a.Extra["owner"] != `ООО «Ромашка»` {
		t.Errorf("CreateApplication = %+v", a)
	}
	got, err := c.Application(bgctx, owner, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("Application(%s) mismatch (-created +got):\n%s", a.ID, diff)
	}
	desc := true
	list, err := c.ListApplications(bgctx, owner, fips.ListOptions{Kind: "All", SortField: "created", SortDescend: &desc})
	if err != nil || len(list) != 6 || list[0].ID != a.ID {
		t.Errorf("ListApplications(desc) = %d items (err %v), want 6 with the new one first", len(list), err)
	}
	up, err := c.UpdateApplication(bgctx, owner, a.ID, fips.ApplicationInput{Category: `Юридическое лицо\Иностранная организация`})
	if err != nil || up.Category != `Юридическое лицо\Иностранная организация` || up.Title != "Знак «ТЕСТ»" {
		t.Errorf("UpdateApplication = %+v, %v", up, err)
	}
	kindOf(t, "Application(other key)", func() error { _, err := c.Application(bgctx, other, a.ID); return err }(), apperr.NotFound) // as a missing one
	kindOf(t, "Application(unknown)", func() error { _, err := c.Application(bgctx, owner, "999"); return err }(), apperr.NotFound)
	e := kindOf(t, "CreateApplication(bad category)", func() error {
		_, _, err := c.CreateApplication(bgctx, owner, fips.ApplicationInput{Type: "Invention", Category: "Юридическое лицо"})
		return err
	}(), apperr.Invalid)
	if len(e.Fields) != 1 || e.Fields[0].Field != "category" {
		t.Errorf("CreateApplication(bad category) fields = %+v, want category", e.Fields)
	}
	if err := c.DeleteApplication(bgctx, owner, a.ID); err != nil {
		t.Errorf("DeleteApplication: %v", err)
	}
	kindOf(t, "Application(deleted)", func() error { _, err := c.Application(bgctx, owner, a.ID); return err }(), apperr.NotFound)
}

func TestFIPSClientRegistrationNumberEscaped(t *testing.T) {
	f := newFixture(t, fips.Config{})
	list, err := f.client.ListApplications(bgctx, owner, fips.ListOptions{Kind: "HasUnreadDoc"})
	if err != nil || len(list) != 1 || list[0].RegistrationNumber == "" {
		t.Fatalf("ListApplications(HasUnreadDoc) = %+v, %v", list, err)
	}
	a, err := f.client.Application(bgctx, owner, list[0].RegistrationNumber)
	if err != nil || a.ID != list[0].ID {
		t.Errorf("Application(%s) = %+v, %v; want id %s", list[0].RegistrationNumber, a, err, list[0].ID)
	}
	for _, id := range []string{"..", "."} {
		kindOf(t, "Application("+id+")", func() error { _, err := f.client.Application(bgctx, owner, id); return err }(), apperr.Invalid)
	}
	// Escaped, never parsed: "a b/c" reaches FIPS as one path segment.
	kindOf(t, "Application(a b/c)", func() error { _, err := f.client.Application(bgctx, owner, "a b/c"); return err }(), apperr.NotFound)
	if n := f.sim.Kit.Calls.Get("GET /api/v1/applications/{id}"); n != 2 {
		t.Errorf(`calls "GET /api/v1/applications/{id}" = %d, want 2 (dot ids never sent)`, n)
	}
}

func TestFIPSClientRevokedKey(t *testing.T) {
	f := newFixture(t, fips.Config{})
	_, err := f.client.ListApplications(bgctx, revoked, fips.ListOptions{})
	e := kindOf(t, "ListApplications(revoked)", err, apperr.UpstreamFailed)
	if e.Upstream != "fips" || !strings.Contains(e.Detail, "expired or was revoked") || strings.Contains(e.Error(), "revoked-key") {
		t.Errorf("ListApplications(revoked) = %v, want a 502 naming the expired/revoked key without the key", e)
	}
	if diff := cmp.Diff([]string{"fips-revoked"}, f.rejected.get()); diff != "" {
		t.Errorf("OnRejected calls mismatch (-want +got):\n%s", diff)
	}
	// Reporting a rejected key is not optional.
	if _, err := fips.New(fips.Config{BaseURL: "http://127.0.0.1:1/api/v1"}); err == nil {
		t.Errorf("fips.New(without OnRejected) = nil error, want one")
	}
}

func TestFIPSClientContentRoundTrip(t *testing.T) {
	f := newFixture(t, fips.Config{})
	c := f.client
	a, _, err := c.CreateApplication(bgctx, owner, tmCreate)
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := c.CreateDocument(bgctx, owner, a.ID, fips.DocumentInput{TypeTitle: "Доверенность", Description: strp("Доверенность представителя")})
	if err != nil || d.Type != "PowerOfAttorney" || d.Description != "Доверенность представителя" {
		t.Fatalf("CreateDocument = %+v, %v", d, err)
	}
	content := bytes.Repeat([]byte("\x00\r\n--boundary-like\xff"), 50_000)
	up, err := c.PutDocumentFile(bgctx, owner, a.ID, d.ID, fips.Upload{Body: bytes.NewReader(content), FileName: "доверенность.pdf", ContentType: "application/pdf"})
	if err != nil {
		t.Fatalf("PutDocumentFile: %v", err)
	}
	sum := sha256.Sum256(content)
	if up.Size != int64(len(content)) || up.Extra["fileName"] != "доверенность.pdf" {
		t.Errorf("PutDocumentFile = size %d extra %v, want %d bytes named доверенность.pdf", up.Size, up.Extra, len(content))
	}
	got, err := c.DocumentFile(bgctx, owner, a.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	h := sha256.New()
	n, _ := io.Copy(h, got.Body)
	if !bytes.Equal(h.Sum(nil), sum[:]) || got.ContentType != "application/pdf" || got.ContentLength != n || n != int64(len(content)) {
		t.Errorf("DocumentFile = %d bytes %q length %d, want the %d uploaded bytes as application/pdf", n, got.ContentType, got.ContentLength, len(content))
	}
	if !strings.Contains(got.Disposition, "filename") {
		t.Errorf("DocumentFile disposition = %q, want the file name", got.Disposition)
	}
	if err := c.ClearDocumentFile(bgctx, owner, a.ID, d.ID); err != nil {
		t.Errorf("ClearDocumentFile: %v", err)
	}
	kindOf(t, "DocumentFile(cleared)", func() error { _, err := c.DocumentFile(bgctx, owner, a.ID, d.ID); return err }(), apperr.NotFound)
	// Another account's document is not found, exactly as a missing one.
	kindOf(t, "PutDocumentFile(other key)", func() error {
		_, err := c.PutDocumentFile(bgctx, other, a.ID, d.ID, fips.Upload{Body: bytes.NewReader(content)})
		return err
	}(), apperr.NotFound)
}

func TestFIPSClientStatementFLK(t *testing.T) {
	f := newFixture(t, fips.Config{})
	c := f.client
	a, _, _ := c.CreateApplication(bgctx, owner, tmCreate)
	d, _, err := c.CreateDocument(bgctx, owner, a.ID, fips.DocumentInput{Type: "TradeMark"})
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte(`<TradeMarkStatement><Applicant><Name></Name></Applicant></TradeMarkStatement>`)
	_, err = c.PutStatement(bgctx, owner, a.ID, d.ID, fips.Upload{Body: bytes.NewReader(bad), FileName: "s.xml", ContentType: "application/xml"})
	e := kindOf(t, "PutStatement(bad)", err, apperr.Invalid)
	if len(e.Fields) < 2 || e.Fields[0].Field != "Applicant/Name" || e.Type != "fips-check-failed" {
		t.Errorf("PutStatement(bad) = %+v, want ФЛК findings with XML paths", e)
	}
	good := fipssim.SampleStatement("TradeMark", "ООО «Ромашка»", "РОМАШКА")
	doc, err := c.PutStatement(bgctx, owner, a.ID, d.ID, fips.Upload{Body: bytes.NewReader(good), ContentType: "application/xml"})
	if err != nil || doc.Extra["flkStatus"] != "passed" {
		t.Fatalf("PutStatement(good) = %+v, %v", doc, err)
	}
	st, err := c.Statement(bgctx, owner, a.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(st.Body) // small test XML
	st.Body.Close()
	if !bytes.Equal(b, good) {
		t.Errorf("Statement = %d bytes, want the %d uploaded bytes", len(b), len(good))
	}
}

func TestFIPSClientSignatures207(t *testing.T) {
	f := newFixture(t, fips.Config{})
	c := f.client
	a, _, _ := c.CreateApplication(bgctx, owner, tmCreate)
	d, _, _ := c.CreateDocument(bgctx, owner, a.ID, fips.DocumentInput{Type: "PowerOfAttorney"})
	if _, err := c.PutDocumentFile(bgctx, owner, a.ID, d.ID, fips.Upload{Body: strings.NewReader("scan")}); err != nil {
		t.Fatal(err)
	}
	one := []fips.SignatureInput{{Algorithm: "GOST R 34.10-2012-256", Value: []byte("cms-1")}}
	status, res, err := c.AddSignatures(bgctx, owner, a.ID, d.ID, one)
	if err != nil || status != 201 || len(res) != 1 || res[0].Signature == nil || res[0].Signature.Signer != `ООО «Ромашка»` {
		t.Fatalf("AddSignatures(one) = %d %+v %v", status, res, err)
	}
	batch := []fips.SignatureInput{
		{Algorithm: "GOST R 34.10-2001", Value: []byte("cms-2")},
		{Algorithm: "RSA", Value: []byte("cms-3")},
	}
	status, res, err = c.AddSignatures(bgctx, owner, a.ID, d.ID, batch)
	if err != nil || status != 207 || len(res) != 2 {
		t.Fatalf("AddSignatures(batch) = %d %+v %v", status, res, err)
	}
	if res[0].Code != 201 || res[0].Signature == nil || res[0].Signature.Algorithm != "GOST R 34.10-2001" {
		t.Errorf("batch[0] = %+v, want a 201 GOST 2001 signature", res[0])
	}
	if e, ok := apperr.As(res[1].Error); res[1].Code != 400 || !ok || e.Kind != apperr.Invalid || e.Fields[0].Field != "algorithm" {
		t.Errorf("batch[1] = %+v, want a 400 naming algorithm", res[1])
	}
	list, err := c.ListSignatures(bgctx, owner, a.ID, d.ID)
	if err != nil || len(list) != 2 {
		t.Errorf("ListSignatures = %d, %v; want 2", len(list), err)
	}
}

func TestFIPSClientDictionariesCached(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	f := newFixture(t, fips.Config{Redis: rdb})
	for range 3 {
		cats, err := f.client.ApplicantCategories(bgctx, owner)
		if err != nil || len(cats) != 7 || cats[0].Name != legalCat {
			t.Fatalf("ApplicantCategories = %+v, %v", cats, err)
		}
		types, err := f.client.DocumentTypes(bgctx, owner)
		if err != nil || types[0].Code != "TradeMark" {
			t.Fatalf("DocumentTypes = %+v, %v", types, err)
		}
		if _, err := f.client.ApplicantDocumentTypes(bgctx, owner); err != nil {
			t.Fatal(err)
		}
	}
	// Another account gets nothing from the first one's cache: each
	// dictionary is fetched with its own key, once.
	for range 2 {
		if _, err := f.client.ApplicantDocumentTypes(bgctx, other); err != nil {
			t.Fatal(err)
		}
		if _, err := f.client.ApplicantCategories(bgctx, other); err != nil {
			t.Fatal(err)
		}
		if _, err := f.client.DocumentTypes(bgctx, other); err != nil {
			t.Fatal(err)
		}
	}
	got := f.sim.Kit.Calls.Snapshot()
	want := map[string]int{
		"GET /api/v1/dictionaries/applicant-categories":     2, // per account
		"GET /api/v1/dictionaries/document-types":           2,
		"GET /api/v1/dictionaries/applicant-document-types": 2,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("upstream calls mismatch (-want +got):\n%s", diff)
	}
	if ttl := rdb.TTL(bgctx, "fips:dict:fipsListApplicantCategories:"+owner.Name).Val(); ttl < 59*60e9 || ttl > 60*60e9 {
		t.Errorf("TTL(categories) = %v, want an hour", ttl)
	}
}

func TestFIPSClientRouteTable(t *testing.T) {
	// A route table that moves the submission (REFERENCE.md's alternative path):
	// the simulator has no such route, so the call is a 404 at the new path.
	var seen string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Method + " " + r.URL.EscapedPath() + " auth=" + r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "1", "status": "registered", "registrationNumber": "TMA26/1"})
	}))
	t.Cleanup(up.Close)
	c, err := fips.New(fips.Config{BaseURL: up.URL + "/api/v1", OnRejected: ignoreRejected, Routes: map[string]fips.Route{
		fips.OpSubmitApplication: {Path: "/applications/{applicationId}/send"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Submit(bgctx, owner, "TMA26 1", "GOST R 34.10-2001", []byte{1, 2})
	if err != nil || r.RegistrationNumber != "TMA26/1" {
		t.Fatalf("Submit = %+v, %v", r, err)
	}
	if want := "POST /api/v1/applications/TMA26%201/send auth=demo-fips-key"; seen != want {
		t.Errorf("upstream saw %q, want %q", seen, want)
	}
	for _, bad := range []map[string]fips.Route{
		{"fipsNoSuch": {Path: "/x"}}, {fips.OpGetApplication: {Path: "applications"}}, {fips.OpGetApplication: {Path: "/a/{id}"}},
		{fips.OpGetApplication: {Method: "FETCH"}}, {fips.OpGetApplication: {ContentType: "application/json"}},
		{fips.OpUpdateApplication: {ContentType: "text/plain"}}, {fips.OpUpdateApplication: {Part: "file"}},
		{fips.OpPutDocumentFile: {Signature: "raw"}}, {fips.OpPutDocumentFile: {ContentType: "application/octet-stream", Part: "file"}},
		{fips.OpAddSignature: {Signature: "base64"}}, {fips.OpAddSignature: {Signature: "raw", Part: "sig"}},
		{fips.OpAddSignature: {Signature: "multipart", ContentType: "application/json"}}, {fips.OpPutStatement: {ContentType: "not a type/"}},
	} {
		if _, err := fips.New(fips.Config{BaseURL: up.URL, Routes: bad, OnRejected: ignoreRejected}); err == nil {
			t.Errorf("fips.New(routes %v) = nil error, want one", bad)
		}
	}
}
