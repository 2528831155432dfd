package config

import "strings"

// FIPSFields are the member names of the JSON request bodies FIPS takes
// (upstreams.fips.fields). FIPS's document names none of them; the defaults
// are the gateway's proposal, which `gateway -print-routes` prints.
type FIPSFields struct {
	Application struct {
		Type     string `yaml:"type"`     // default type
		Category string `yaml:"category"` // default category
		Title    string `yaml:"title"`    // default title
	} `yaml:"application"`
	Document struct {
		Type        string `yaml:"type"`        // default type
		TypeTitle   string `yaml:"type_title"`  // default TypeTitle
		Description string `yaml:"description"` // default description
	} `yaml:"document"`
	// Signatures with the json shape: {list: [{algorithm, value}]};
	// algorithm is also the form field of the multipart shape.
	Signatures struct {
		List      string `yaml:"list"`      // default signatures
		Algorithm string `yaml:"algorithm"` // default algorithm
		Value     string `yaml:"value"`     // default value
	} `yaml:"signatures"`
	// The submission with the json shape: {algorithm, signature};
	// algorithm is also the form field of the multipart shape.
	Submission struct {
		Algorithm string `yaml:"algorithm"` // default algorithm
		Signature string `yaml:"signature"` // default signature
	} `yaml:"submission"`
}

// defaults fills the names left out.
func (f *FIPSFields) defaults() {
	for _, d := range []struct {
		p   *string
		def string
	}{
		{&f.Application.Type, "type"}, {&f.Application.Category, "category"}, {&f.Application.Title, "title"},
		{&f.Document.Type, "type"}, {&f.Document.TypeTitle, "TypeTitle"}, {&f.Document.Description, "description"},
		{&f.Signatures.List, "signatures"}, {&f.Signatures.Algorithm, "algorithm"}, {&f.Signatures.Value, "value"},
		{&f.Submission.Algorithm, "algorithm"}, {&f.Submission.Signature, "signature"},
	} {
		if *d.p == "" {
			*d.p = d.def
		}
	}
}

// validate names a blank or unusable member name and two members of one
// body given the same name.
func (f *FIPSFields) validate(bad func(string, string, ...any)) {
	type m struct{ key, name string }
	for _, body := range [][]m{
		{{"application.type", f.Application.Type}, {"application.category", f.Application.Category}, {"application.title", f.Application.Title}},
		{{"document.type", f.Document.Type}, {"document.type_title", f.Document.TypeTitle}, {"document.description", f.Document.Description}},
		{{"signatures.algorithm", f.Signatures.Algorithm}, {"signatures.value", f.Signatures.Value}},
		{{"submission.algorithm", f.Submission.Algorithm}, {"submission.signature", f.Submission.Signature}},
		{{"signatures.list", f.Signatures.List}},
	} {
		seen := map[string]string{}
		for _, x := range body {
			field := "upstreams.fips.fields." + x.key
			if strings.TrimSpace(x.name) == "" || strings.ContainsAny(x.name, "\"\\\r\n\t") {
				bad(field, "%q is not a usable member name", x.name)
				continue
			}
			if other, dup := seen[x.name]; dup {
				bad(field, "%q is also upstreams.fips.fields.%s of the same body", x.name, other)
			}
			seen[x.name] = x.key
		}
	}
}
