package fips

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// FIPS's JSON is read leniently, since its document shows none of it: ids
// and numbers as JSON strings or numbers, timestamps with or without a zone
// (Moscow time when none, as a .NET service writes a local DateTime) or as
// "/Date(ms)/", member names in any case (ASP.NET writes PascalCase unless
// told otherwise). A member a type does not name, or a value it cannot
// read, is kept as it came in the type's Extra, never dropped.

// moscow is FIPS's time zone: a timestamp without a zone is Moscow time.
var moscow = time.FixedZone("MSK", 3*60*60)

// object is a JSON object being decoded: its members by lower-cased name.
type object struct {
	members map[string]*member
	unread  []string // members whose values could not be read (failed)
}

// member is one member of an object: its value, its name as sent, and
// whether a field took it.
type member struct {
	raw  json.RawMessage
	name string
	used bool
}

func readObject(b []byte) (*object, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	o := &object{members: make(map[string]*member, len(m))}
	all := make([]member, 0, len(m))
	for k, v := range m {
		lk := strings.ToLower(k)
		if prev, dup := o.members[lk]; dup {
			// An exact lower-case name wins over another spelling; the
			// other one stays in Extra, under its own name.
			if k == lk {
				o.members[prev.name] = prev
			} else {
				lk = k
			}
		}
		all = append(all, member{raw: v, name: k})
		o.members[lk] = &all[len(all)-1]
	}
	return o, nil
}

// raw returns member name's value (matched case-insensitively), marking it
// read; nil when absent or null.
func (o *object) raw(name string) json.RawMessage {
	m, ok := o.members[strings.ToLower(name)]
	if !ok {
		return nil
	}
	m.used = true
	if string(bytes.TrimSpace(m.raw)) == "null" {
		return nil
	}
	return m.raw
}

// failed records that member name's value could not be read: Extra keeps
// it as it came, and unread names it.
func (o *object) failed(name string) {
	o.keep(name)
	o.unread = append(o.unread, name)
}

// keep puts member name back among the unread ones, so that Extra keeps it
// as it came.
func (o *object) keep(name string) {
	if m, ok := o.members[strings.ToLower(name)]; ok {
		m.used = false
	}
}

// str reads a string member; a number or boolean is read as its text.
func (o *object) str(name string) string {
	v := o.raw(name)
	if v == nil {
		return ""
	}
	if s, ok := text(v); ok {
		return s
	}
	o.failed(name)
	return ""
}

// text reads a JSON string, number or boolean as text.
func text(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	switch v[0] {
	case '"':
		if s, ok := plainString(v); ok {
			return s, true
		}
		var s string
		return s, json.Unmarshal(v, &s) == nil
	case '{', '[':
		return "", false
	case 't', 'f':
		return string(v), string(v) == "true" || string(v) == "false"
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// plainString returns the contents of v, a JSON string already checked by
// the decoder, when it needs no unescaping.
func plainString(v []byte) (string, bool) {
	if len(v) < 2 || v[len(v)-1] != '"' {
		return "", false
	}
	in := v[1 : len(v)-1]
	if bytes.IndexByte(in, '\\') >= 0 || bytes.IndexByte(in, '"') >= 0 {
		return "", false
	}
	return string(in), true
}

// boolean reads true/false, "true"/"false" or 1/0.
func (o *object) boolean(name string) bool {
	v := o.raw(name)
	if v == nil {
		return false
	}
	s, _ := text(v)
	switch strings.ToLower(s) {
	case "true", "1":
		return true
	case "false", "0":
		return false
	}
	o.failed(name)
	return false
}

// integer reads a number or a numeric string.
func (o *object) integer(name string) int64 {
	v := o.raw(name)
	if v == nil {
		return 0
	}
	s, _ := text(v)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int64(f)) {
		return int64(f)
	}
	o.failed(name)
	return 0
}

// timestamp reads a time; nil when absent, empty or unreadable (then kept
// in Extra).
func (o *object) timestamp(name string) *time.Time {
	v := o.raw(name)
	if v == nil {
		return nil
	}
	s, ok := text(v)
	if !ok {
		o.failed(name)
		return nil
	}
	if strings.TrimSpace(s) == "" {
		return nil
	}
	t, err := ParseTime(s)
	if err != nil {
		o.failed(name)
		return nil
	}
	return &t
}

// into decodes member name into v with encoding/json; on failure the
// member is kept in Extra and v left as it was.
func (o *object) into(name string, v any) {
	raw := o.raw(name)
	if raw == nil {
		return
	}
	if err := json.Unmarshal(raw, v); err != nil {
		o.failed(name)
	}
}

// extra returns the members not read, as they came (numbers as
// json.Number); nil when there are none.
func (o *object) extra() (map[string]any, error) {
	var out map[string]any
	for _, m := range o.members {
		if m.used {
			continue
		}
		var x any
		if s, ok := plainString(bytes.TrimSpace(m.raw)); ok {
			x = s
		} else {
			dec := json.NewDecoder(bytes.NewReader(m.raw))
			dec.UseNumber()
			if err := dec.Decode(&x); err != nil {
				return nil, err
			}
		}
		if out == nil {
			out = map[string]any{}
		}
		out[m.name] = x
	}
	return out, nil
}

var dotNetDate = regexp.MustCompile(`^/Date\((-?\d+)([+-]\d{4})?\)/$`)

// ParseTime reads a FIPS timestamp: RFC 3339 with a zone; the same without
// a zone (Moscow time), with or without fractional seconds or with a space
// for the T; a date alone (midnight, Moscow time); or .NET's /Date(ms)/.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if m := dotNetDate.FindStringSubmatch(s); m != nil {
		ms, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		return time.UnixMilli(ms).In(moscow), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, moscow); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05.999999999Z07:00", "02.01.2006 15:04:05", "02.01.2006"} {
		if t, err := time.ParseInLocation(layout, s, moscow); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("fips: %q is not a timestamp", s)
}
