package fssp

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RawRecord is one proceeding exactly as FSSP sends it. Every field decodes
// from a string or a number (the official doc shows department as an
// integer; real data has strings).
type RawRecord struct {
	Name          flexString `json:"name"`
	ExeProduction flexString `json:"exe_production"`
	Details       flexString `json:"details"`
	Subject       flexString `json:"subject"`
	Department    flexString `json:"department"`
	Bailiff       flexString `json:"bailiff"`
	IPEnd         flexString `json:"ip_end"`
}

// flexString decodes a JSON string, number or null into a string.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
		*s = ""
	case string:
		*s = flexString(v)
	case float64:
		*s = flexString(strconv.FormatFloat(v, 'f', -1, 64))
	default:
		return fmt.Errorf("want a string or a number, got %s", b)
	}
	return nil
}

// Record is one proceeding, parsed. It mirrors the contract's FSSPRecord;
// parsing is best effort and Raw keeps the upstream strings.
type Record struct {
	Raw        Raw        `json:"raw"`
	Debtor     Debtor     `json:"debtor"`
	Proceeding Proceeding `json:"proceeding"`
	Document   Document   `json:"document"`
	Subject    Subject    `json:"subject"`
	Department string     `json:"department"`
	Bailiff    Bailiff    `json:"bailiff"`
	End        *End       `json:"end"`
}

// Raw is the record's fields as FSSP sent them.
type Raw struct {
	Name          string `json:"name"`
	ExeProduction string `json:"exe_production"`
	Details       string `json:"details"`
	Subject       string `json:"subject"`
	Department    string `json:"department"`
	Bailiff       string `json:"bailiff"`
	IPEnd         string `json:"ip_end"`
}

// Debtor is who owes: an individual (birth date and place) or an entity
// (address).
type Debtor struct {
	Name       string  `json:"name"`
	BirthDate  *Date   `json:"birthDate,omitempty"`
	Birthplace *string `json:"birthplace,omitempty"`
	Address    *string `json:"address,omitempty"`
}

// Proceeding is the enforcement proceeding.
type Proceeding struct {
	Number             string  `json:"number"`
	Date               Date    `json:"date"`
	ConsolidatedNumber *string `json:"consolidatedNumber,omitempty"`
}

// Document is the enforcement document, NBSPs normalised.
type Document struct {
	Details string `json:"details"`
}

// Subject is what is being recovered and the sums in it.
type Subject struct {
	Text    string   `json:"text"`
	Amounts []Amount `json:"amounts"`
}

// Amount is one sum in roubles.
type Amount struct {
	Label    *string `json:"label,omitempty"`
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency"` // always "RUB"
}

// Bailiff is the bailiff in charge.
type Bailiff struct {
	Name   string   `json:"name"`
	Phones []string `json:"phones"`
}

// End is how a proceeding ended under 229-FZ: date, article, part, clause.
type End struct {
	Date    Date `json:"date"`
	Article int  `json:"article"`
	Part    int  `json:"part"`
	Clause  int  `json:"clause"`
}

// Date is a calendar date, JSON "YYYY-MM-DD".
type Date struct{ time.Time }

// MarshalJSON writes the date as YYYY-MM-DD.
func (d Date) MarshalJSON() ([]byte, error) { return []byte(`"` + d.Format(time.DateOnly) + `"`), nil }

// UnmarshalJSON reads YYYY-MM-DD.
func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.DateOnly, s)
	d.Time = t
	return err
}

func day(layout, v string) (Date, bool) {
	t, err := time.Parse(layout, v)
	return Date{t}, err == nil
}

var (
	birthDateRe = regexp.MustCompile(`(?:^|\s)(\d{2}\.\d{2}\.\d{4})(?:\s|$)`)
	postcodeRe  = regexp.MustCompile(`(?:^|\s)(\d{6})(?:,|\s|$)`)
	amountRe    = regexp.MustCompile(`(\d+(?:[.,]\d+)?)\s*руб\.?`)
	phoneRe     = regexp.MustCompile(`(?:\+|\s|^)?[78]\s?(?:\(\d{3,5}\)\s?[\d-]{5,}|\d{10})`)
	spacesRe    = regexp.MustCompile(`\s+`)
)

// Normalize parses a raw record.
func Normalize(r RawRecord) Record {
	raw := Raw{Name: string(r.Name), ExeProduction: string(r.ExeProduction), Details: string(r.Details),
		Subject: string(r.Subject), Department: string(r.Department), Bailiff: string(r.Bailiff), IPEnd: string(r.IPEnd)}
	return Record{
		Raw:        raw,
		Debtor:     parseDebtor(raw.Name),
		Proceeding: parseProceeding(raw.ExeProduction),
		Document:   Document{Details: clean(raw.Details)},
		Subject:    parseSubject(raw.Subject),
		Department: clean(raw.Department),
		Bailiff:    parseBailiff(raw.Bailiff),
		End:        parseEnd(raw.IPEnd),
	}
}

// clean turns NBSPs and runs of white space into single spaces.
func clean(s string) string {
	return strings.TrimSpace(spacesRe.ReplaceAllString(strings.ReplaceAll(s, "\u00a0", " "), " "))
}

// parseDebtor splits "SURNAME NAME PATRONYMIC DD.MM.YYYY BIRTHPLACE" or,
// without a birth date, "ENTITY NAME 123456, ADDRESS" at the postcode.
func parseDebtor(s string) Debtor {
	s = clean(s)
	if m := birthDateRe.FindStringSubmatchIndex(s); m != nil {
		d := Debtor{Name: strings.TrimSpace(s[:m[2]])}
		if bd, ok := day("02.01.2006", s[m[2]:m[3]]); ok {
			d.BirthDate = &bd
		}
		if place := strings.TrimSpace(s[m[3]:]); place != "" {
			d.Birthplace = &place
		}
		if d.Name != "" {
			return d
		}
	}
	if m := postcodeRe.FindStringSubmatchIndex(s); m != nil && m[2] > 0 {
		addr := strings.TrimSpace(s[m[2]:])
		return Debtor{Name: strings.TrimRight(strings.TrimSpace(s[:m[2]]), ","), Address: &addr}
	}
	return Debtor{Name: s}
}

// parseProceeding splits "<number> от DD.MM.YYYY[ <number>-СД]".
func parseProceeding(s string) Proceeding {
	f := strings.Fields(clean(s))
	var p Proceeding
	if len(f) == 0 {
		return p
	}
	p.Number = f[0]
	for i, w := range f[1:] {
		if d, ok := day("02.01.2006", w); ok && p.Date.IsZero() {
			p.Date = d
			continue
		}
		if strings.HasSuffix(w, "-СД") && p.ConsolidatedNumber == nil {
			n := f[i+1]
			p.ConsolidatedNumber = &n
		}
	}
	return p
}

// parseSubject finds each "<sum> руб." and labels it with the text before
// it, up to the previous sum.
func parseSubject(s string) Subject {
	text := clean(s)
	out := Subject{Text: text, Amounts: []Amount{}}
	prev := 0
	for _, m := range amountRe.FindAllStringSubmatchIndex(text, -1) {
		v, err := strconv.ParseFloat(strings.Replace(text[m[2]:m[3]], ",", ".", 1), 64)
		if err != nil {
			continue
		}
		a := Amount{Amount: v, Currency: "RUB"}
		if label := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(text[prev:m[0]]), ":")); label != "" {
			a.Label = &label
		}
		out.Amounts = append(out.Amounts, a)
		prev = m[1]
	}
	return out
}

// parseBailiff splits "NAME I. O. +7(499)558-16-04<br>+7(499)558-16-04<br>"
// into the name and the distinct phones, restoring a "+" sent as a space.
func parseBailiff(s string) Bailiff {
	for _, br := range []string{"<br />", "<br/>", "<BR>", "<br>"} {
		s = strings.ReplaceAll(s, br, "\n")
	}
	s = strings.ReplaceAll(s, "\u00a0", " ")
	b := Bailiff{Phones: []string{}}
	for _, line := range strings.Split(s, "\n") {
		ms := phoneRe.FindAllStringIndex(line, -1)
		if b.Name == "" {
			end := len(line)
			if len(ms) > 0 {
				end = ms[0][0]
			}
			b.Name = clean(line[:end])
		}
		for _, m := range ms {
			p := strings.ReplaceAll(strings.TrimSpace(line[m[0]:m[1]]), " ", "")
			if strings.HasPrefix(p, "7") {
				p = "+" + p
			}
			if !slices.Contains(b.Phones, p) {
				b.Phones = append(b.Phones, p)
			}
		}
	}
	return b
}

// parseEnd splits "YYYY-MM-DD, article, part, clause"; empty or unreadable
// is nil (the raw string stays in Raw).
func parseEnd(s string) *End {
	f := strings.Split(clean(s), ",")
	if len(f) != 4 {
		return nil
	}
	d, ok := day(time.DateOnly, strings.TrimSpace(f[0]))
	if !ok {
		if d, ok = day("02.01.2006", strings.TrimSpace(f[0])); !ok {
			return nil
		}
	}
	var n [3]int
	for i := range n {
		v, err := strconv.Atoi(strings.TrimSpace(f[i+1]))
		if err != nil {
			return nil
		}
		n[i] = v
	}
	return &End{Date: d, Article: n[0], Part: n[1], Clause: n[2]}
}
