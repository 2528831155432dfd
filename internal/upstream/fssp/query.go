package fssp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Search types, as the upstream numbers them in group requests.
const (
	TypePhysical = 1
	TypeLegal    = 2
	TypeIP       = 3
)

// Query is one upstream search: its type and its parameters as the upstream
// takes them (strings; region as its decimal code). It is also the echo in a
// result, where the upstream writes the region as a string.
type Query struct {
	Type   int    `json:"type"`
	Params Params `json:"params"`
}

// Params are a search's parameters. Decoding accepts numbers as well as
// strings (the upstream echoes region either way).
type Params map[string]string

// UnmarshalJSON decodes an object of strings or numbers.
func (p *Params) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	out := make(Params, len(m))
	for k, raw := range m {
		var s flexString
		if err := s.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("param %s: %w", k, err)
		}
		out[k] = string(s)
	}
	*p = out
	return nil
}

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

// ValidBirthdate reports whether v is a real calendar date written DD.MM.YYYY.
func ValidBirthdate(v string) bool {
	if len(v) != 10 || v[2] != '.' || v[5] != '.' || !digits(v[:2], 2) || !digits(v[3:5], 2) || !digits(v[6:], 4) {
		return false
	}
	_, err := time.Parse("02.01.2006", v)
	return err == nil
}

// ValidNumber reports whether v is a well-formed proceeding number:
// n…n/yy/dd/rr (region rr not 00) or n…n/yy/ddddd-ИП, with 1 to 10 digits
// of its own.
func ValidNumber(v string) bool {
	parts := strings.Split(v, "/")
	if len(parts) < 3 || len(parts) > 4 || !digits(parts[0], 0) || len(parts[0]) > 10 || !digits(parts[1], 2) {
		return false
	}
	if len(parts) == 4 {
		return digits(parts[2], 2) && digits(parts[3], 2) && parts[3] != "00"
	}
	dept, ok := strings.CutSuffix(parts[2], "-ИП")
	return ok && digits(dept, 5)
}

// digits reports whether s is ASCII digits only: n of them (n > 0) or at
// least one (n == 0).
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

// RegionParam formats a region code as the upstream takes it.
func RegionParam(code int) string { return strconv.Itoa(code) }
