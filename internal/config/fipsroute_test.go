package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFIPSRoutes(t *testing.T) {
	yaml := validYAML + `
  fips:
    base_url: https://kpsrtz.fips.ru/api/v1
    routes:
      fipsSubmitApplication: /applications/{applicationId}/send
      fipsUpdateApplication: {method: PATCH}
      fipsPutDocumentFile: {path: "/a/{applicationId}/d/{documentId}/content", content_type: multipart/form-data, part: content}
      fipsAddSignature: {signature: raw, content_type: application/octet-stream}
`
	c, err := Parse([]byte(yaml), env(map[string]string{"G_TOKEN": "tok"}))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	want := map[string]FIPSRoute{
		"fipsSubmitApplication": {Path: "/applications/{applicationId}/send"},
		"fipsUpdateApplication": {Method: "PATCH"},
		"fipsPutDocumentFile":   {Path: "/a/{applicationId}/d/{documentId}/content", ContentType: "multipart/form-data", Part: "content"},
		"fipsAddSignature":      {Signature: "raw", ContentType: "application/octet-stream"},
	}
	if diff := cmp.Diff(want, c.Upstreams.FIPS.Routes); diff != "" {
		t.Errorf("routes mismatch (-want +got):\n%s", diff)
	}
	for _, bad := range []string{
		"      fipsUpdateApplication: {verb: PATCH}",
		"      fipsUpdateApplication: [PATCH]",
	} {
		_, err := Parse([]byte(validYAML+"\n  fips:\n    routes:\n"+bad+"\n"), env(map[string]string{"G_TOKEN": "tok"}))
		if err == nil || !strings.Contains(err.Error(), "FIPS route") {
			t.Errorf("Parse(%s) = %v, want an error about the FIPS route", bad, err)
		}
	}
}

func TestFIPSFields(t *testing.T) {
	parse := func(fields string) (*Config, error) {
		return Parse([]byte(validYAML+"\n  fips:\n    base_url: https://kpsrtz.fips.ru/api/v1\n    fields:\n"+fields+"\n"), env(map[string]string{"G_TOKEN": "tok"}))
	}
	c, err := parse("      application: {category: applicantCategory}\n      signatures: {list: items, value: cms}")
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	var want FIPSFields
	want.Application.Type, want.Application.Category, want.Application.Title = "type", "applicantCategory", "title"
	want.Document.Type, want.Document.TypeTitle, want.Document.Description = "type", "TypeTitle", "description"
	want.Signatures.List, want.Signatures.Algorithm, want.Signatures.Value = "items", "algorithm", "cms"
	want.Submission.Algorithm, want.Submission.Signature = "algorithm", "signature"
	if diff := cmp.Diff(want, c.Upstreams.FIPS.Fields); diff != "" {
		t.Errorf("fields mismatch (-want +got):\n%s", diff)
	}
	for bad, wantErr := range map[string]string{
		"      application: {kind: x}":                   "field kind not found",
		"      document: {description: type}":            "upstreams.fips.fields.document.type",
		"      submission: {signature: \"a\\\"b\"}":      "upstreams.fips.fields.submission.signature",
		"      signatures: {algorithm: \" \"}":           "upstreams.fips.fields.signatures.algorithm",
		"      signatures: {algorithm: cms, value: cms}": "upstreams.fips.fields.signatures.value",
	} {
		if _, err := parse(bad); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("Parse(%s) = %v, want an error containing %q", bad, err, wantErr)
		}
	}
}
