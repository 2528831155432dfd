package fips

import (
	"encoding/json"
	"testing"

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
