package garant

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// KindPractice is the practice of one kind of court.
type KindPractice struct {
	Kind   String    `json:"kind"`
	Norms  []DocLink `json:"norms"`
	Courts []DocLink `json:"courts"`
}

// Practice is the answer of /v2/sutyazhnik-search.
type Practice struct {
	Documents []KindPractice `json:"documents"`
}

// UnmarshalJSON reads the answer member by member (a json.Decoder token
// walk), so that both forms come out whole: one object per kind
// ({"kind":"301","norms":[…],"courts":[…]}, {"kind":"302",…}) and the form
// of the document's own example, one object whose keys repeat
// ({"norms":[…],"kind":"301","courts":[…],"kind":"302","courts":[…]}),
// where decoding into a struct would keep only the last kind.
//
// Within one object, "kind", "norms" and "courts" fill one entry until a key
// the entry already has comes again: that key starts the next entry. An
// entry without norms of its own gets the object's first norms list (the
// example lists norms once, before the kinds).
func (p *Practice) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		p.Documents = nil
		return nil
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("garant: court practice: want an object, got %v", tok)
	}
	p.Documents = nil
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		if key != "documents" {
			if err := skipValue(dec); err != nil {
				return err
			}
			continue
		}
		docs, err := readPracticeList(dec)
		if err != nil {
			return err
		}
		p.Documents = append(p.Documents, docs...)
	}
	_, err = dec.Token() // the closing '}'
	return err
}

// readPracticeList reads the "documents" array (or null).
func readPracticeList(dec *json.Decoder) ([]KindPractice, error) {
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("garant: court practice: documents: want an array, got %v", tok)
	}
	var out []KindPractice
	for dec.More() {
		kinds, err := readPracticeObject(dec)
		if err != nil {
			return nil, err
		}
		out = append(out, kinds...)
	}
	_, err = dec.Token() // the closing ']'
	return out, err
}

// practiceEntry is one kind's entry while an object is read.
type practiceEntry struct {
	KindPractice
	hasKind, hasNorms, hasCourts bool
}

// readPracticeObject reads one element of "documents": one entry per kind
// it names.
func readPracticeObject(dec *json.Decoder) ([]KindPractice, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, nil
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("garant: court practice: want an object per document, got %v", tok)
	}
	var entries []*practiceEntry
	current := func(has func(*practiceEntry) bool) *practiceEntry {
		if len(entries) == 0 || has(entries[len(entries)-1]) {
			entries = append(entries, &practiceEntry{})
		}
		return entries[len(entries)-1]
	}
	var firstNorms []DocLink
	seenNorms := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch key {
		case "kind":
			e := current(func(e *practiceEntry) bool { return e.hasKind })
			if err := dec.Decode(&e.Kind); err != nil {
				return nil, fmt.Errorf("garant: court practice: kind: %w", err)
			}
			e.hasKind = true
		case "norms":
			e := current(func(e *practiceEntry) bool { return e.hasNorms })
			if err := dec.Decode(&e.Norms); err != nil {
				return nil, fmt.Errorf("garant: court practice: norms: %w", err)
			}
			e.hasNorms = true
			if !seenNorms {
				firstNorms, seenNorms = e.Norms, true
			}
		case "courts":
			e := current(func(e *practiceEntry) bool { return e.hasCourts })
			if err := dec.Decode(&e.Courts); err != nil {
				return nil, fmt.Errorf("garant: court practice: courts: %w", err)
			}
			e.hasCourts = true
		default:
			if err := skipValue(dec); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	out := make([]KindPractice, 0, len(entries))
	for _, e := range entries {
		if !e.hasNorms {
			e.Norms = firstNorms
		}
		out = append(out, e.KindPractice)
	}
	return out, nil
}

// skipValue reads past the next value.
func skipValue(dec *json.Decoder) error {
	var raw json.RawMessage
	return dec.Decode(&raw)
}
