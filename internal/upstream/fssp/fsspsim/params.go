package fsspsim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Search types of a group sub-request.
const (
	TypePhysical = 1
	TypeLegal    = 2
	TypeIP       = 3
)

// ValidRegion reports whether code is an FSSP region code: -1 (all regions),
// 1–99, or one of the special codes 102, 113, 116, 118, 121, 123, 124, 125,
// 138, 150, 154, 159, 161, 163, 173, 174.
func ValidRegion(code int) bool {
	switch code {
	case -1, 102, 113, 116, 118, 121, 123, 124, 125, 138, 150, 154, 159, 161, 163, 173, 174:
		return true
	}
	return code >= 1 && code <= 99
}

// paramError is the 400 answer "invalid request params" with a short detail.
type paramError string

func (e paramError) Error() string { return "invalid request params: " + string(e) }

func paramErrorf(format string, args ...any) error { return paramError(fmt.Sprintf(format, args...)) }

// searchKeys lists the parameters of a search type, required ones first.
func searchKeys(typ int) (required, optional []string, ok bool) {
	switch typ {
	case TypePhysical:
		return []string{"region", "lastname", "firstname"}, []string{"secondname", "birthdate"}, true
	case TypeLegal:
		return []string{"region", "name"}, []string{"address"}, true
	case TypeIP:
		return []string{"number"}, nil, true
	}
	return nil, nil, false
}

// query is one validated search: its type and the echo of its parameters
// (known keys with non-empty values, all strings).
type query struct {
	Type   int               `json:"type"`
	Params map[string]string `json:"params"`
}

// parseQuery validates the parameters of a search of type typ; get returns a
// parameter's raw value.
func parseQuery(typ int, get func(key string) string) (query, error) {
	required, optional, ok := searchKeys(typ)
	if !ok {
		return query{}, paramErrorf("unknown type %d", typ)
	}
	q := query{Type: typ, Params: map[string]string{}}
	for _, k := range required {
		v := strings.TrimSpace(get(k))
		if v == "" {
			return query{}, paramErrorf("%s is required", k)
		}
		q.Params[k] = v
	}
	for _, k := range optional {
		if v := strings.TrimSpace(get(k)); v != "" {
			q.Params[k] = v
		}
	}
	if v, ok := q.Params["region"]; ok {
		code, err := strconv.Atoi(v)
		if err != nil || !ValidRegion(code) {
			return query{}, paramErrorf("bad region %q", v)
		}
		q.Params["region"] = strconv.Itoa(code)
	}
	if v, ok := q.Params["birthdate"]; ok {
		if !validBirthdate(v) {
			return query{}, paramErrorf("bad birthdate %q, want DD.MM.YYYY", v)
		}
	}
	if v, ok := q.Params["number"]; ok {
		if _, err := parseNumber(v); err != nil {
			return query{}, err
		}
	}
	return q, nil
}

// proceeding is a parsed proceeding number.
type proceeding struct {
	own  string // n…n
	year int    // 20yy
	dept string // five-digit department number
}

func (p proceeding) String() string { return fmt.Sprintf("%s/%02d/%s-ИП", p.own, p.year%100, p.dept) }

func parseNumber(v string) (proceeding, error) {
	bad := paramErrorf("bad number %q, want n…n/yy/dd/rr or n…n/yy/ddddd-ИП", v)
	parts := strings.Split(v, "/")
	if len(parts) < 3 || len(parts) > 4 || !digits(parts[0], 0) || !digits(parts[1], 2) {
		return proceeding{}, bad
	}
	yy, _ := strconv.Atoi(parts[1])
	p := proceeding{own: parts[0], year: 2000 + yy}
	if len(parts) == 4 { // n…n/yy/dd/rr
		if !digits(parts[2], 2) || !digits(parts[3], 2) || parts[3] == "00" {
			return proceeding{}, bad
		}
		p.dept = parts[3] + "0" + parts[2]
		return p, nil
	}
	dept, ok := strings.CutSuffix(parts[2], "-ИП") // n…n/yy/ddddd-ИП
	if !ok || !digits(dept, 5) {
		return proceeding{}, bad
	}
	p.dept = dept
	return p, nil
}

// digits reports whether s is made of ASCII digits only, n of them (n > 0) or
// at least one (n == 0).
func digits(s string, n int) bool {
	if s == "" || (n > 0 && len(s) != n) {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validBirthdate reports whether v is a real date written DD.MM.YYYY.
func validBirthdate(v string) bool {
	if len(v) != 10 || v[2] != '.' || v[5] != '.' || !digits(v[:2], 2) || !digits(v[3:5], 2) || !digits(v[6:], 4) {
		return false
	}
	_, err := time.Parse("02.01.2006", v)
	return err == nil
}

// groupParam turns a JSON value of a group sub-request's params into the
// string a GET search would carry: strings as they are, numbers as written.
func groupParam(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), nil
	}
	return "", paramErrorf("params must be strings or numbers")
}
