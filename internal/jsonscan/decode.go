package jsonscan

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// InPlaceMin is the length from which Decode decodes a string in place: a
// string of at least InPlaceMin bytes as sent shares the buffer's memory;
// a shorter one is a copy, so that a small value kept after the request
// does not keep the whole body alive.
const InPlaceMin = 64 << 10

// Decode decodes the JSON document in b into the value json.Unmarshal
// would give an any (objects as map[string]any, arrays as []any, numbers as
// float64, the same errors), without copying its long strings: each string
// of at least InPlaceMin bytes is unescaped over its own quoted form in b,
// and the value's string is a view of those bytes. A 20 MB text therefore
// costs its buffer once, not its buffer and its decoded copy.
//
// rewrote reports that b was written to: it no longer holds the document
// as sent. Whether or not it was, b must not be changed (or reused) while
// the value is in use. On an error b is unchanged.
func Decode(b []byte) (v any, rewrote bool, err error) {
	return decode(b, InPlaceMin)
}

// decode is Decode with strings of at least inPlace bytes decoded in place.
func decode(b []byte, inPlace int) (v any, rewrote bool, err error) {
	if !json.Valid(b) {
		// encoding/json checks the whole document before decoding
		// anything: its error, without building a value.
		var v any
		return nil, false, json.Unmarshal(b, &v)
	}
	d := &decoder{b: b, inPlace: inPlace}
	if err := d.numbers(); err != nil {
		return nil, false, err
	}
	d.pos = 0
	return d.value(), d.rewrote, nil
}

// decoder walks a document json.Valid accepted.
type decoder struct {
	b       []byte
	pos     int
	inPlace int // the shortest string decoded in place
	rewrote bool
}

// numbers refuses a number float64 cannot hold, as json.Unmarshal does,
// before anything is written to b.
func (d *decoder) numbers() error {
	for d.pos < len(d.b) {
		switch c := d.b[d.pos]; {
		case c == '"':
			d.pos++
			d.skipString()
		case c == '-' || c >= '0' && c <= '9':
			start := d.pos
			lit := d.number()
			if _, err := strconv.ParseFloat(lit, 64); err != nil {
				return &json.UnmarshalTypeError{Value: "number " + lit, Type: reflect.TypeFor[float64](), Offset: int64(start + len(lit))}
			}
		default:
			d.pos++
		}
	}
	return nil
}

func (d *decoder) space() byte {
	for d.pos < len(d.b) {
		switch c := d.b[d.pos]; c {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return c
		}
	}
	return 0
}

func (d *decoder) value() any {
	switch c := d.space(); c {
	case '{':
		d.pos++
		m := map[string]any{}
		if d.space() == '}' {
			d.pos++
			return m
		}
		for {
			d.space()
			d.pos++                 // the name's opening quote
			k := d.str(math.MaxInt) // a copy, whatever its length
			d.space()
			d.pos++ // :
			m[k] = d.value()
			if d.space() == ',' {
				d.pos++
				continue
			}
			d.pos++ // }
			return m
		}
	case '[':
		d.pos++
		a := []any{}
		if d.space() == ']' {
			d.pos++
			return a
		}
		for {
			a = append(a, d.value())
			if d.space() == ',' {
				d.pos++
				continue
			}
			d.pos++ // ]
			return a
		}
	case '"':
		d.pos++
		return d.str(d.inPlace)
	case 't':
		d.pos += 4
		return true
	case 'f':
		d.pos += 5
		return false
	case 'n':
		d.pos += 4
		return nil
	}
	f, _ := strconv.ParseFloat(d.number(), 64) // checked by numbers
	return f
}

func (d *decoder) number() string {
	start := d.pos
	for d.pos < len(d.b) {
		c := d.b[d.pos]
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		d.pos++
	}
	return string(d.b[start:d.pos])
}

// skipString moves past a string whose opening quote is consumed.
func (d *decoder) skipString() {
	for {
		i := bytes.IndexAny(d.b[d.pos:], `"\`)
		d.pos += i + 1
		if d.b[d.pos-1] == '"' {
			return
		}
		d.pos++ // the escaped byte (\uXXXX's digits need no care)
	}
}

// str decodes a string whose opening quote is consumed, in place in the
// buffer when it is at least inPlace bytes long.
func (d *decoder) str(inPlace int) string {
	start := d.pos
	d.skipString()
	quoted := d.b[start-1 : d.pos]
	s := quoted[1 : len(quoted)-1]
	switch {
	case !utf8.Valid(s):
		// Each byte that is not UTF-8 decodes to U+FFFD, three bytes: it
		// would not fit in place. Rare: encoding/json decodes it.
		var out string
		_ = json.Unmarshal(quoted, &out)
		return out
	case len(s) < inPlace || len(s) == 0:
		if bytes.IndexByte(s, '\\') < 0 {
			return string(s)
		}
		s = bytes.Clone(s) // a copy, decoded in place
	case bytes.IndexByte(s, '\\') < 0:
		return unsafe.String(&s[0], len(s))
	default:
		d.rewrote = true
	}
	return unsafe.String(&s[0], unescape(s))
}

// unescape decodes the contents of a valid JSON string (valid UTF-8)
// over themselves, as encoding/json decodes them, and returns the decoded
// length. Every escape is at least as long as what it stands for, so the
// writing never overtakes the reading.
func unescape(s []byte) int {
	w := 0
	for r := 0; r < len(s); {
		c := s[r]
		if c != '\\' {
			i := bytes.IndexByte(s[r:], '\\')
			if i < 0 {
				i = len(s) - r
			}
			w += copy(s[w:], s[r:r+i])
			r += i
			continue
		}
		switch e := s[r+1]; e {
		case '"', '\\', '/':
			s[w] = e
		case 'b':
			s[w] = '\b'
		case 'f':
			s[w] = '\f'
		case 'n':
			s[w] = '\n'
		case 'r':
			s[w] = '\r'
		case 't':
			s[w] = '\t'
		case 'u':
			rr := hex4(s[r+2 : r+6])
			r += 6
			if utf16.IsSurrogate(rr) {
				if r+6 <= len(s) && s[r] == '\\' && s[r+1] == 'u' {
					if dec := utf16.DecodeRune(rr, hex4(s[r+2:r+6])); dec != unicode.ReplacementChar {
						r += 6
						w += utf8.EncodeRune(s[w:], dec)
						continue
					}
				}
				rr = unicode.ReplacementChar
			}
			w += utf8.EncodeRune(s[w:], rr)
			continue
		}
		w++
		r += 2
	}
	return w
}

// hex4 is the rune of four hex digits (checked by json.Valid).
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
