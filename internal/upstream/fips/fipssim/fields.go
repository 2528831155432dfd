package fipssim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// Fields renames the members of the JSON request bodies the simulator
// takes, with the meaning of the gateway's field table
// (upstreams.fips.fields); empty fields keep the default names (type,
// category, title; type, TypeTitle, description; signatures: [{algorithm,
// value}]; {algorithm, signature}). The algorithm names are also the form
// field of the multipart signature shape. Renamed, a body that uses the
// default name instead is read as though the member were absent.
type Fields struct {
	ApplicationType, ApplicationCategory, ApplicationTitle string
	DocumentType, DocumentTypeTitle, DocumentDescription   string
	SignatureList, SignatureAlgorithm, SignatureValue      string
	SubmissionAlgorithm, SubmissionSignature               string
}

// renaming maps the wire names of one operation's body to the simulator's
// own: top-level members, and members of each item of the list.
type renaming struct {
	top, items map[string]string
	list       string // the list member (own name) whose items are renamed
	algorithm  string // the multipart form field of the algorithm
}

// renamings is the renaming of each operation whose body f renames.
func renamings(f Fields) map[string]renaming {
	pairs := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" && kv[i+1] != kv[i] {
				m[kv[i+1]] = kv[i]
			}
		}
		return m
	}
	app := renaming{top: pairs("type", f.ApplicationType, "category", f.ApplicationCategory, "title", f.ApplicationTitle)}
	doc := renaming{top: pairs("type", f.DocumentType, "TypeTitle", f.DocumentTypeTitle, "description", f.DocumentDescription)}
	sigs := renaming{top: pairs("signatures", f.SignatureList), items: pairs("algorithm", f.SignatureAlgorithm, "value", f.SignatureValue),
		list: "signatures", algorithm: cmp.Or(f.SignatureAlgorithm, "algorithm")}
	sub := renaming{top: pairs("algorithm", f.SubmissionAlgorithm, "signature", f.SubmissionSignature),
		algorithm: cmp.Or(f.SubmissionAlgorithm, "algorithm")}
	return map[string]renaming{
		"fipsCreateApplication": app, "fipsUpdateApplication": app,
		"fipsCreateDocument": doc, "fipsUpdateDocument": doc,
		"fipsAddSignature": sigs, "fipsSubmitApplication": sub,
	}
}

type renamingKey struct{}

func withRenaming(ctx context.Context, rn renaming) context.Context {
	return context.WithValue(ctx, renamingKey{}, rn)
}

// renamingOf is the renaming of the operation r was routed to.
func renamingOf(r *http.Request) renaming {
	rn, _ := r.Context().Value(renamingKey{}).(renaming)
	return rn
}

// algorithmField is the multipart form field of the algorithm.
func (rn renaming) algorithmField() string { return cmp.Or(rn.algorithm, "algorithm") }

// apply renames the members of a JSON object body to the simulator's own
// names; a default name the table renamed is dropped, as FIPS would ignore
// a member it does not know. A body that is not an object is returned as
// it came, for the decoder to refuse.
func (rn renaming) apply(body []byte) []byte {
	if len(rn.top) == 0 && len(rn.items) == 0 {
		return body
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	out := rename(m, rn.top)
	if list, ok := out[rn.list]; ok && len(rn.items) > 0 {
		var items []map[string]json.RawMessage
		if json.Unmarshal(list, &items) == nil {
			for i := range items {
				items[i] = rename(items[i], rn.items)
			}
			out[rn.list], _ = json.Marshal(items)
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return body
	}
	return b
}

func rename(m map[string]json.RawMessage, wireToOwn map[string]string) map[string]json.RawMessage {
	renamed := map[string]bool{}
	for _, own := range wireToOwn {
		renamed[strings.ToLower(own)] = true
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		if own, ok := wireToOwn[k]; ok {
			out[own] = v
		} else if !renamed[strings.ToLower(k)] {
			out[k] = v
		}
	}
	return out
}

// reader reads body with its members renamed.
func (rn renaming) reader(body []byte) *bytes.Reader { return bytes.NewReader(rn.apply(body)) }
