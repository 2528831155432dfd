// Package jsonscan reads a JSON request body into one buffer while checking
// its shape: a member a closed object does not declare, an array longer than
// its maximum, nesting deeper or values more numerous than the limits are
// refused as soon as they are read, before anything is decoded and before
// the rest of the body is read. Nothing is allocated per value: strings and
// numbers are skipped in place and member names are compared in place.
//
// It checks only what decoding would make expensive; the full check of the
// values (types, formats, ranges, syntax details such as control characters
// in strings) is left to the decoder and the schema validator that run on
// the buffer afterwards. Decode is that decoder: json.Unmarshal's value,
// with long strings decoded in place in the buffer rather than copied.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Shape is what a JSON value may hold; build one with Object or Array. A
// nil *Shape allows any value.
type Shape struct {
	members []*Shape       // an object's declared members, in the order of names
	names   []string       // their names, sorted
	index   map[string]int // name → position
	closed  bool           // no other member is allowed
	list    string         // the declared names, for an error
	longest int            // the longest declared name, in bytes

	items    *Shape // an array's items
	maxItems int    // > 0: at most this many items

	str bool // a string
}

// Object is the shape of an object with these members; a closed object
// allows no other member.
func Object(members map[string]*Shape, closed bool) *Shape {
	s := &Shape{index: make(map[string]int, len(members)), closed: closed}
	for n := range members {
		s.names = append(s.names, n)
		s.longest = max(s.longest, len(n))
	}
	sort.Strings(s.names)
	for i, n := range s.names {
		s.index[n] = i
		s.members = append(s.members, members[n])
	}
	s.list = strings.Join(s.names, ", ")
	return s
}

// String is the shape of a string.
func String() *Shape { return &Shape{str: true} }

// Array is the shape of an array of items; maxItems > 0 caps their number.
func Array(items *Shape, maxItems int) *Shape {
	return &Shape{items: items, maxItems: maxItems}
}

// Limits bound a document whatever its shape.
type Limits struct {
	MaxDepth  int // nesting of objects and arrays; 0: 64
	MaxValues int // values of any kind in the document; 0: 100,000
}

// Error is a refused document: Path names the member or item (from the
// root; empty for the document itself) and Reason what is wrong with it.
type Error struct {
	Path   []string
	Reason string
	Syntax bool // the body is not JSON at all
}

func (e *Error) Error() string {
	if len(e.Path) == 0 {
		return "jsonscan: " + e.Reason
	}
	return "jsonscan: " + strings.Join(e.Path, ".") + ": " + e.Reason
}

// ErrEmpty is the error of a body with no JSON value at all.
var ErrEmpty = errors.New("jsonscan: the body is empty")

// Read reads r to its end into one buffer and checks the document in it
// against s. size is the announced length (-1: unknown): with it the buffer
// is allocated once at that size. A failure to read (a closed connection, a
// deadline, http.MaxBytesError) is returned as r returned it; a refused
// document as *Error, as soon as the refused part is read.
func Read(r io.Reader, size int64, s *Shape, lim Limits) ([]byte, error) {
	return read(r, size, s, lim, nil)
}

// read is Read, or Check when have holds the whole document.
func read(r io.Reader, size int64, s *Shape, lim Limits, have []byte) ([]byte, error) {
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = 64
	}
	if lim.MaxValues <= 0 {
		lim.MaxValues = 100_000
	}
	sc := &scanner{r: r, size: size, lim: lim}
	switch {
	case have != nil:
		sc.buf, sc.size = have, int64(len(have))
	case size >= 0:
		sc.buf = make([]byte, 0, size)
	default:
		sc.buf = make([]byte, 0, 4<<10)
	}
	if _, ok := sc.skipSpace(); !ok {
		if sc.rerr == io.EOF {
			return nil, ErrEmpty
		}
		return nil, sc.rerr
	}
	if err := sc.value(s, 0); err != nil {
		return nil, sc.fail(err)
	}
	if _, ok := sc.skipSpace(); ok {
		return nil, sc.syntax("unexpected data after the JSON value")
	}
	if sc.rerr != io.EOF {
		return nil, sc.rerr
	}
	return sc.buf, nil
}

// readChunk is the most read from the body at once.
const readChunk = 64 << 10

// Check checks a document already in memory against s, in place.
func Check(b []byte, s *Shape, lim Limits) error {
	_, err := read(strings.NewReader(""), -1, s, lim, b)
	return err
}

// scanner walks the document as it arrives; buf holds every byte read.
type scanner struct {
	r      io.Reader
	size   int64
	buf    []byte
	pos    int
	rerr   error // the first read error; io.EOF once the body is read
	lim    Limits
	values int
}

// more reads more of the body; false at its end or on a read error.
func (s *scanner) more() bool {
	for s.rerr == nil {
		if s.size >= 0 && int64(len(s.buf)) >= s.size {
			// The announced length is read: make sure nothing follows
			// (and that the reader has seen its end) without regrowing.
			var one [1]byte
			n, err := s.r.Read(one[:])
			switch {
			case n > 0:
				s.rerr = errors.New("jsonscan: the body is longer than its Content-Length")
			case err != nil:
				s.rerr = err
			}
			continue
		}
		if len(s.buf) == cap(s.buf) {
			s.buf = slices.Grow(s.buf, cap(s.buf))
		}
		// In bounded reads: a refusal stops the reading near the refused part.
		n, err := s.r.Read(s.buf[len(s.buf):min(cap(s.buf), len(s.buf)+readChunk)])
		s.buf = s.buf[:len(s.buf)+n]
		if err != nil {
			s.rerr = err
		}
		if n > 0 {
			return true
		}
	}
	return false
}

func (s *scanner) peek() (byte, bool) {
	if s.pos == len(s.buf) && !s.more() {
		return 0, false
	}
	return s.buf[s.pos], true
}

func (s *scanner) skipSpace() (byte, bool) {
	for {
		c, ok := s.peek()
		if !ok {
			return 0, false
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, true
		}
		s.pos++
	}
}

func (s *scanner) syntax(format string, args ...any) *Error {
	return &Error{Reason: fmt.Sprintf(format, args...) + " at byte " + strconv.Itoa(s.pos), Syntax: true}
}

// end is the error of a document that stops early: the read error, or a
// syntax error when the body ended.
func (s *scanner) end() error {
	if s.rerr != nil && s.rerr != io.EOF {
		return s.rerr
	}
	return s.syntax("unexpected end of the JSON body")
}

// fail puts a path built while unwinding into root-first order.
func (s *scanner) fail(err error) error {
	var e *Error
	if errors.As(err, &e) {
		slices.Reverse(e.Path)
	}
	return err
}

func (s *scanner) value(sh *Shape, depth int) error {
	c, ok := s.skipSpace()
	if !ok {
		return s.end()
	}
	if s.values++; s.values > s.lim.MaxValues {
		return &Error{Reason: fmt.Sprintf("the document has more than %d values", s.lim.MaxValues)}
	}
	if sh != nil && sh.str && c != '"' {
		return &Error{Reason: "must be a string"}
	}
	switch {
	case c == '{':
		return s.object(sh, depth+1)
	case c == '[':
		return s.array(sh, depth+1)
	case c == '"':
		s.pos++
		_, err := s.str()
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.syntax("invalid character %q", c)
}

func (s *scanner) object(sh *Shape, depth int) error {
	if depth > s.lim.MaxDepth {
		return &Error{Reason: fmt.Sprintf("nested deeper than %d levels", s.lim.MaxDepth)}
	}
	s.pos++ // {
	c, ok := s.skipSpace()
	if ok && c == '}' {
		s.pos++
		return nil
	}
	var seen uint64 // declared members met so far (the first 64 of them)
	for {
		if !ok {
			return s.end()
		}
		if c != '"' {
			return s.syntax("expected a member name, found %q", c)
		}
		s.pos++
		key, err := s.str()
		if err != nil {
			return err
		}
		i, member, err := s.member(sh, key)
		if err != nil {
			return err
		}
		name := ""
		if i >= 0 {
			name = sh.names[i]
			// One value per member: a decoder keeps the last of two, a
			// parser elsewhere may keep the first.
			if i < 64 && seen&(1<<i) != 0 {
				return &Error{Path: []string{name}, Reason: "appears more than once"}
			}
			seen |= 1 << (i & 63)
		}
		if c, ok = s.skipSpace(); !ok {
			return s.end()
		}
		if c != ':' {
			return s.syntax("expected ':' after a member name, found %q", c)
		}
		s.pos++
		if err := s.value(member, depth); err != nil {
			var e *Error
			if errors.As(err, &e) && !e.Syntax {
				if name == "" {
					name = shown(key)
				}
				e.Path = append(e.Path, name)
			}
			return err
		}
		if c, ok = s.skipSpace(); !ok {
			return s.end()
		}
		switch c {
		case ',':
			s.pos++
			c, ok = s.skipSpace()
		case '}':
			s.pos++
			return nil
		default:
			return s.syntax("expected ',' or '}' after a member, found %q", c)
		}
	}
}

// member looks up a member name (its raw bytes, escapes and all) in sh
// and returns its position (-1 when sh does not declare it); a closed shape
// refuses a name it does not declare.
func (s *scanner) member(sh *Shape, raw []byte) (int, *Shape, error) {
	if sh == nil || sh.index == nil {
		return -1, nil, nil // no member is checked below an object of any shape
	}
	// A name with escapes is unescaped; one longer than any declared name
	// even when every character is escaped (\uXXXX) cannot be declared.
	key := raw
	if bytes.IndexByte(raw, '\\') >= 0 && len(raw) <= 6*sh.longest {
		var u string
		if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &u) == nil {
			key = []byte(u)
		}
	}
	if i, ok := sh.index[string(key)]; ok {
		return i, sh.members[i], nil
	}
	if !sh.closed {
		return -1, nil, nil
	}
	return -1, nil, &Error{Path: []string{shown(raw)}, Reason: "is not allowed (the members are " + sh.list + ")"}
}

// shown is a member name as an error names it: as sent, cut at 64 bytes.
func shown(raw []byte) string {
	if len(raw) > 64 {
		return strings.ToValidUTF8(string(raw[:64]), "") + "…"
	}
	return string(raw)
}

func (s *scanner) array(sh *Shape, depth int) error {
	if depth > s.lim.MaxDepth {
		return &Error{Reason: fmt.Sprintf("nested deeper than %d levels", s.lim.MaxDepth)}
	}
	s.pos++ // [
	var items *Shape
	maxItems := 0
	if sh != nil {
		items, maxItems = sh.items, sh.maxItems
	}
	c, ok := s.skipSpace()
	if ok && c == ']' {
		s.pos++
		return nil
	}
	for i := 0; ; i++ {
		if maxItems > 0 && i >= maxItems {
			return &Error{Reason: fmt.Sprintf("must have at most %d items", maxItems)}
		}
		if err := s.value(items, depth); err != nil {
			var e *Error
			if errors.As(err, &e) && !e.Syntax {
				e.Path = append(e.Path, strconv.Itoa(i))
			}
			return err
		}
		if c, ok = s.skipSpace(); !ok {
			return s.end()
		}
		switch c {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.syntax("expected ',' or ']' after an item, found %q", c)
		}
	}
}

// str skips a string whose opening quote is consumed and returns its raw
// contents. The slice stays valid: a buffer that grows is copied, never
// overwritten.
func (s *scanner) str() ([]byte, error) {
	start := s.pos
	for {
		if s.pos == len(s.buf) && !s.more() {
			return nil, s.end()
		}
		i := bytes.IndexAny(s.buf[s.pos:], `"\`)
		if i < 0 {
			s.pos = len(s.buf)
			continue
		}
		s.pos += i
		if s.buf[s.pos] == '"' {
			s.pos++
			return s.buf[start : s.pos-1], nil
		}
		// A backslash escapes the next byte (\uXXXX's digits need no care).
		s.pos++
		if _, ok := s.peek(); !ok {
			return nil, s.end()
		}
		s.pos++
	}
}

func (s *scanner) number() error {
	n := 0
	for {
		c, ok := s.peek()
		if !ok || !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		s.pos++
		n++
	}
	if n == 0 {
		return s.syntax("invalid number")
	}
	return nil
}

func (s *scanner) literal(word string) error {
	for i := 0; i < len(word); i++ {
		c, ok := s.peek()
		if !ok {
			return s.end()
		}
		if c != word[i] {
			return s.syntax("invalid literal, expected %s", word)
		}
		s.pos++
	}
	return nil
}
