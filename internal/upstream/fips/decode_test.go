package fips

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// applicationJSON is an application as FIPS answers it: known members,
// document counts, and members the client does not map (kept in Extra).
const applicationJSON = `{"id":"a-1","registrationNumber":"2026100001","type":"invention","category":"patent",
"title":"Способ","status":"registered","createdAt":"2026-11-01T10:00:00Z","registrationDate":"2026-11-02T09:00:00Z",
"incomingNumber":"in-7","trusted":true,"applicantInn":"7701234567","priority":{"date":"2026-10-30","country":"RU"},
"fees":[12.5,3],"documents":{"total":4,"unread":1,"unregistered":0}}`

// documentJSON is a document with one unmapped member.
const documentJSON = `{"id":"d-1","registrationNumber":"r-1","type":"claims","typeTitle":"Формула","description":"x",
"structured":true,"read":false,"createdAt":"2026-11-01T10:00:00Z","pages":3}`

func TestDecodeExtraKeepsUnmappedMembers(t *testing.T) {
	var a Application
	if err := json.Unmarshal([]byte(applicationJSON), &a); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"applicantInn": "7701234567",
		"priority":     map[string]any{"date": "2026-10-30", "country": "RU"},
		"fees":         []any{json.Number("12.5"), json.Number("3")},
	}
	if diff := cmp.Diff(want, a.Extra); diff != "" {
		t.Errorf("Application.Extra mismatch (-want +got):\n%s", diff)
	}
	if a.Documents.Total != 4 || a.ID != "a-1" {
		t.Errorf("Application = %+v, want the mapped members decoded", a)
	}
	var d Document
	if err := json.Unmarshal([]byte(documentJSON), &d); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"pages": json.Number("3")}, d.Extra); diff != "" {
		t.Errorf("Document.Extra mismatch (-want +got):\n%s", diff)
	}
	var none Document
	if err := json.Unmarshal([]byte(`{"id":"d-2","read":true}`), &none); err != nil || none.Extra != nil {
		t.Errorf("Document without unmapped members: Extra = %v, %v; want nil", none.Extra, err)
	}
}

func BenchmarkDecodeApplication(b *testing.B) {
	raw := []byte(applicationJSON)
	b.ReportAllocs()
	for b.Loop() {
		var a Application
		if err := json.Unmarshal(raw, &a); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseTime(t *testing.T) {
	msk := time.FixedZone("MSK", 3*60*60)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2024-01-15T10:00:00+03:00", time.Date(2024, 1, 15, 10, 0, 0, 0, msk)},
		{"2024-01-15T07:00:00Z", time.Date(2024, 1, 15, 10, 0, 0, 0, msk)},
		{"2024-01-15T10:00:00", time.Date(2024, 1, 15, 10, 0, 0, 0, msk)},
		{"2024-01-15T10:00:00.1234567", time.Date(2024, 1, 15, 10, 0, 0, 123456700, msk)},
		{"2024-01-15 10:00:00", time.Date(2024, 1, 15, 10, 0, 0, 0, msk)},
		{"2024-01-15", time.Date(2024, 1, 15, 0, 0, 0, 0, msk)},
		{"15.01.2024 10:00:00", time.Date(2024, 1, 15, 10, 0, 0, 0, msk)},
		{"/Date(1705302000000)/", time.Date(2024, 1, 15, 10, 0, 0, 0, msk)},
		{"/Date(1705302000000+0300)/", time.Date(2024, 1, 15, 10, 0, 0, 0, msk)},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "вчера", "2024-13-01", "10:00"} {
		if got, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) = %v, want an error", bad, got)
		}
	}
}

// TestDecodeLenient: numeric ids, a timestamp without a zone (Moscow
// time), PascalCase names and booleans or counts as strings are read; a
// value that cannot be read stays, as sent, among the unnamed members.
func TestDecodeLenient(t *testing.T) {
	var a Application
	in := `{"Id":12,"RegistrationNumber":2024123456,"Type":"Invention","Category":"x","CreatedAt":"2024-01-15T10:00:00",
"registrationDate":"когда-нибудь","IncomingNumber":77,"Trusted":"true","Documents":{"Total":"3","Unread":1},"CreatedBy":"Иванов"}`
	if err := json.Unmarshal([]byte(in), &a); err != nil {
		t.Fatal(err)
	}
	want := Application{ID: "12", RegistrationNumber: "2024123456", Type: "Invention", Category: "x",
		CreatedAt: ptr(time.Date(2024, 1, 15, 7, 0, 0, 0, time.UTC)), IncomingNumber: "77", Trusted: true,
		Documents: DocumentCounts{Total: 3, Unread: 1},
		Extra:     map[string]any{"registrationDate": "когда-нибудь", "CreatedBy": "Иванов"},
		Unread:    []string{"registrationDate"}} // kept in Extra as sent, and named
	if diff := cmp.Diff(want, a, cmp.Comparer(func(x, y time.Time) bool { return x.Equal(y) })); diff != "" {
		t.Errorf("Unmarshal(%s) mismatch (-want +got):\n%s", in, diff)
	}
	for _, in := range []string{`{"Id":"1","id":"2"}`, `{"id":"2","Id":"1"}`} {
		var d Document
		if err := json.Unmarshal([]byte(in), &d); err != nil || d.ID != "2" || d.Extra["Id"] != "1" {
			t.Errorf("Unmarshal(%s) = %+v, %v; want id 2 and Id kept in Extra", in, d, err)
		}
	}
	var s Signature
	if err := json.Unmarshal([]byte(`{"id":991,"algorithm":"GOST R 34.10-2012-256","signedAt":"2024-01-15T10:00:00","thumbprint":"AB"}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.ID != "991" || s.SignedAt.IsZero() || s.Extra["thumbprint"] != "AB" {
		t.Errorf("Signature = %+v, want id 991, the time, thumbprint kept", s)
	}
	var e Entry
	if err := json.Unmarshal([]byte(`{"Name":"Доверенность","Code":12,"Description":"d","Group":"Прочие"}`), &e); err != nil {
		t.Fatal(err)
	}
	if e.Name != "Доверенность" || e.Code != "12" || e.Extra["Group"] != "Прочие" {
		t.Errorf("Entry = %+v", e)
	}
	b, _ := json.Marshal(e)
	var back Entry
	if err := json.Unmarshal(b, &back); err != nil || !cmp.Equal(back, e) {
		t.Errorf("Entry round trip (the dictionary cache) = %+v, %v; want %+v", back, err, e)
	}
}

func ptr[T any](v T) *T { return &v }

// TestFailureBodies: FIPS's error body is read in the shapes an ASP.NET
// service writes as well as the simulator's.
func TestFailureBodies(t *testing.T) {
	tests := []struct {
		in   string
		want Failure
	}{
		{`{"message":"ФЛК","errors":[{"code":"FLK_REQUIRED","field":"type","message":"Не указан тип"}]}`,
			Failure{Message: "ФЛК", Errors: []Finding{{Code: "FLK_REQUIRED", Field: "type", Message: "Не указан тип"}}}},
		{`{"Message":"The request is invalid.","ModelState":{"model.Title":["Required"],"model.Type":["Unknown","Bad"]}}`,
			Failure{Message: "The request is invalid.", Errors: []Finding{{Field: "model.Title", Message: "Required"},
				{Field: "model.Type", Message: "Unknown"}, {Field: "model.Type", Message: "Bad"}}}},
		{`{"type":"https://tools.ietf.org/html/rfc7231#section-6.5.1","title":"One or more validation errors occurred.","status":400,"errors":{"Category":"Not found"}}`,
			Failure{Message: "One or more validation errors occurred.", Errors: []Finding{{Field: "Category", Message: "Not found"}}}},
		{`{"Errors":[{"Key":"Title","ErrorMessage":"Too long"}],"ExceptionMessage":"boom"}`,
			Failure{Message: "boom", Errors: []Finding{{Field: "Title", Message: "Too long"}}}},
		{`"Заявка не найдена"`, Failure{Message: "Заявка не найдена"}},
	}
	for _, tt := range tests {
		var f Failure
		if err := json.Unmarshal([]byte(tt.in), &f); err != nil {
			t.Errorf("Unmarshal(%s): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, f); diff != "" {
			t.Errorf("Unmarshal(%s) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}
