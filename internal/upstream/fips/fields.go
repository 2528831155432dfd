package fips

import (
	"cmp"
	"fmt"
	"strings"
)

// Fields are the member names of the JSON request bodies FIPS takes. The
// FIPS document names only the type code, "type", of an application and a
// document, and a document's type name, "TypeTitle" («"TypeTitle" в
// JSON»), and shows no body; the rest are published in its Swagger UI.
// So each is configuration with a default (DefaultFields). Empty fields
// keep the default.
type Fields struct {
	// Application create and update: {type, category, title}.
	ApplicationType, ApplicationCategory, ApplicationTitle string
	// Document create and update: {type, TypeTitle, description}.
	DocumentType, DocumentTypeTitle, DocumentDescription string
	// Adding signatures with the json shape: {signatures: [{algorithm,
	// value}]}; SignatureAlgorithm is also the form field of the multipart
	// shape.
	SignatureList, SignatureAlgorithm, SignatureValue string
	// Submission with the json shape: {algorithm, signature};
	// SubmissionAlgorithm is also the form field of the multipart shape.
	SubmissionAlgorithm, SubmissionSignature string
}

// DefaultFields are the names REFERENCE.md §3.2 proposes (and the
// simulator takes by default); of them the document names only type and
// TypeTitle.
func DefaultFields() Fields {
	return Fields{
		ApplicationType: "type", ApplicationCategory: "category", ApplicationTitle: "title",
		DocumentType: "type", DocumentTypeTitle: "TypeTitle", DocumentDescription: "description",
		SignatureList: "signatures", SignatureAlgorithm: "algorithm", SignatureValue: "value",
		SubmissionAlgorithm: "algorithm", SubmissionSignature: "signature",
	}
}

// ResolveFields lays f over DefaultFields and checks that every name is
// usable and that the names of one body differ, naming the field at fault
// by its configuration key.
func ResolveFields(f Fields) (Fields, error) {
	d := DefaultFields()
	r := Fields{
		ApplicationType: cmp.Or(f.ApplicationType, d.ApplicationType), ApplicationCategory: cmp.Or(f.ApplicationCategory, d.ApplicationCategory),
		ApplicationTitle: cmp.Or(f.ApplicationTitle, d.ApplicationTitle),
		DocumentType:     cmp.Or(f.DocumentType, d.DocumentType), DocumentTypeTitle: cmp.Or(f.DocumentTypeTitle, d.DocumentTypeTitle),
		DocumentDescription: cmp.Or(f.DocumentDescription, d.DocumentDescription),
		SignatureList:       cmp.Or(f.SignatureList, d.SignatureList), SignatureAlgorithm: cmp.Or(f.SignatureAlgorithm, d.SignatureAlgorithm),
		SignatureValue:      cmp.Or(f.SignatureValue, d.SignatureValue),
		SubmissionAlgorithm: cmp.Or(f.SubmissionAlgorithm, d.SubmissionAlgorithm), SubmissionSignature: cmp.Or(f.SubmissionSignature, d.SubmissionSignature),
	}
	for _, body := range r.bodies() {
		seen := map[string]string{}
		for _, m := range body {
			if strings.TrimSpace(m.name) == "" || strings.ContainsAny(m.name, "\"\r\n") {
				return Fields{}, fmt.Errorf("fields.%s: %q is not a usable member name", m.key, m.name)
			}
			if other, dup := seen[m.name]; dup {
				return Fields{}, fmt.Errorf("fields.%s: %q is also fields.%s of the same body", m.key, m.name, other)
			}
			seen[m.name] = m.key
		}
	}
	return r, nil
}

type fieldName struct{ key, name string }

// bodies lists the members of each request body by configuration key.
func (f Fields) bodies() [][]fieldName {
	return [][]fieldName{
		{{"application.type", f.ApplicationType}, {"application.category", f.ApplicationCategory}, {"application.title", f.ApplicationTitle}},
		{{"document.type", f.DocumentType}, {"document.type_title", f.DocumentTypeTitle}, {"document.description", f.DocumentDescription}},
		{{"signatures.list", f.SignatureList}},
		{{"signatures.algorithm", f.SignatureAlgorithm}, {"signatures.value", f.SignatureValue}},
		{{"submission.algorithm", f.SubmissionAlgorithm}, {"submission.signature", f.SubmissionSignature}},
	}
}

// FieldTable lists every member name by configuration key, for
// `gateway -print-routes`.
func (f Fields) FieldTable() [][2]string {
	var out [][2]string
	for _, body := range f.bodies() {
		for _, m := range body {
			out = append(out, [2]string{m.key, m.name})
		}
	}
	return out
}
