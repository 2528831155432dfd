package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/legalgate/legalgate/internal/jsonscan"
)

// hyperlinks is the shape of a closed request with a nested closed object
// and a capped array.
var hyperlinks = jsonscan.Object(map[string]*jsonscan.Shape{
	"text":    nil,
	"baseUrl": nil,
	"ref":     jsonscan.Object(map[string]*jsonscan.Shape{"topic": nil, "entry": nil}, true),
	"topics":  jsonscan.Array(nil, 3),
	"extra":   jsonscan.Object(nil, false),
	"queries": jsonscan.Array(jsonscan.Object(map[string]*jsonscan.Shape{"type": nil}, true), 0),
}, true)

func TestRead(t *testing.T) {
	tests := []struct {
		name, doc string
		wantPath  string // "" and wantOK: accepted
		wantOK    bool
		syntax    bool
	}{
		{"known members", `{"text":"a \"quoted\" \\ text","baseUrl":"https://x"}`, "", true, false},
		{"whitespace", " \n{ \"text\" : \"a\" , \"ref\" : { \"topic\" : 1 , \"entry\" : -2.5e3 } }\t", "", true, false},
		{"escaped known name", `{"te\u0078t":"a"}`, "", true, false},
		{"open member", `{"extra":{"anything":[1,{"deep":null}],"x":true}}`, "", true, false},
		{"unknown member", `{"text":"a","pad":[0,0,0]}`, "pad", false, false},
		{"unknown nested member", `{"ref":{"topic":1,"page":2}}`, "ref.page", false, false},
		{"unknown member in an item", `{"queries":[{"type":"a"},{"type":"b","x":1}]}`, "queries.1.x", false, false},
		{"too many items", `{"topics":[1,2,3,4]}`, "topics", false, false},
		{"a member twice", `{"text":"a","baseUrl":"b","text":"c"}`, "text", false, false},
		{"a member twice, escaped", `{"text":"a","te\u0078t":"c"}`, "text", false, false},
		{"the same name in two objects", `{"queries":[{"type":"a"},{"type":"b"}]}`, "", true, false},
		{"items at the cap", `{"topics":[1,2,3]}`, "", true, false},
		{"not an object where one is declared", `{"ref":"text"}`, "", true, false},
		{"truncated", `{"text":"abc`, "", false, true},
		{"trailing data", `{"text":"a"} {}`, "", false, true},
		{"bad literal", `{"text":nul}`, "", false, true},
		{"missing colon", `{"text" "a"}`, "", false, true},
		{"bare word", `hello`, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int64{int64(len(tt.doc)), -1} {
				// One byte per read: every scanning step crosses a read.
				r := iotest.OneByteReader(strings.NewReader(tt.doc))
				buf, err := jsonscan.Read(r, size, hyperlinks, jsonscan.Limits{})
				if tt.wantOK {
					if err != nil || string(buf) != tt.doc {
						t.Fatalf("Read(%q, size %d) = %q, %v; want the document back", tt.doc, size, buf, err)
					}
					continue
				}
				var e *jsonscan.Error
				if !errors.As(err, &e) {
					t.Fatalf("Read(%q, size %d) = %v, want a *jsonscan.Error", tt.doc, size, err)
				}
				if e.Syntax != tt.syntax || (!tt.syntax && strings.Join(e.Path, ".") != tt.wantPath) {
					t.Errorf("Read(%q, size %d) = %+v, want path %q (syntax %v)", tt.doc, size, e, tt.wantPath, tt.syntax)
				}
			}
		})
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestReadStopsAtTheRefusedPart: an unknown member is refused before the
// rest of the body is read.
func TestReadStopsAtTheRefusedPart(t *testing.T) {
	doc := `{"text":"a","pad":[` + strings.Repeat("0,", 1<<20) + `0]}`
	cr := &countingReader{r: strings.NewReader(doc)}
	_, err := jsonscan.Read(iotest.HalfReader(cr), int64(len(doc)), hyperlinks, jsonscan.Limits{})
	var e *jsonscan.Error
	if !errors.As(err, &e) || strings.Join(e.Path, ".") != "pad" {
		t.Fatalf("Read(padded) = %v, want pad refused", err)
	}
	if cr.n > 64<<10 {
		t.Errorf("Read(padded) read %d of %d bytes, want it to stop near the unknown member", cr.n, len(doc))
	}
}

func TestCheck(t *testing.T) {
	answer := jsonscan.Object(map[string]*jsonscan.Shape{"text": jsonscan.String()}, true)
	for doc, want := range map[string]string{
		`{"text":"a <a href=\"x\">b</a>"}`: "",
		` {"text" : ""} `:                  "",
		`{"text":1}`:                       "text: must be a string",
		`{"text":"a","links":[]}`:          "links: is not allowed",
		`{"text":"a"`:                      "unexpected end",
	} {
		b := []byte(doc)
		err := jsonscan.Check(b[:len(b):len(b)], answer, jsonscan.Limits{})
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("Check(%s) = %v, want %q", doc, err, want)
		}
	}
}

func TestReadLimits(t *testing.T) {
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	if _, err := jsonscan.Read(strings.NewReader(deep), -1, nil, jsonscan.Limits{MaxDepth: 10}); err == nil || !strings.Contains(err.Error(), "deeper than 10") {
		t.Errorf("Read(100 nested arrays, depth 10) = %v, want refused", err)
	}
	many := "[" + strings.Repeat("1,", 200) + "1]"
	if _, err := jsonscan.Read(strings.NewReader(many), -1, nil, jsonscan.Limits{MaxValues: 100}); err == nil || !strings.Contains(err.Error(), "more than 100 values") {
		t.Errorf("Read(201 values, max 100) = %v, want refused", err)
	}
	if _, err := jsonscan.Read(strings.NewReader(many), -1, nil, jsonscan.Limits{MaxValues: 202}); err != nil {
		t.Errorf("Read(201 values, max 202) = %v, want accepted", err)
	}
}

func TestReadErrors(t *testing.T) {
	// A read error is returned as is.
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader(`{"text":"ab`), iotest.ErrReader(boom))
	if _, err := jsonscan.Read(r, 100, hyperlinks, jsonscan.Limits{}); !errors.Is(err, boom) {
		t.Errorf("Read(failing reader) = %v, want %v", err, boom)
	}
	for _, doc := range []string{"", " \r\n\t "} {
		if _, err := jsonscan.Read(strings.NewReader(doc), -1, hyperlinks, jsonscan.Limits{}); err != jsonscan.ErrEmpty {
			t.Errorf("Read(%q) = %v, want ErrEmpty", doc, err)
		}
	}
	// More bytes than announced.
	if _, err := jsonscan.Read(strings.NewReader(`{"text":"a"}   `), 12, hyperlinks, jsonscan.Limits{}); err == nil {
		t.Errorf("Read(15 bytes announced as 12) = nil error, want one")
	}
	// The buffer is allocated once at the announced size.
	doc := `{"text":"` + strings.Repeat("я", 1000) + `"}`
	buf, err := jsonscan.Read(strings.NewReader(doc), int64(len(doc)), hyperlinks, jsonscan.Limits{})
	if err != nil || cap(buf) != len(doc) {
		t.Errorf("Read(%d bytes) = cap %d, %v; want cap %d", len(doc), cap(buf), err, len(doc))
	}
}

// FuzzRead: a valid JSON document is never refused as a syntax error and
// comes back byte for byte; one refused as a syntax error is not valid JSON;
// a document accepted under a closed shape has no undeclared member.
func FuzzRead(f *testing.F) {
	for _, s := range []string{`{"text":"a","baseUrl":"b"}`, `{"ref":{"topic":1}}`, `[1,"a",{"b":null}]`, `"\u00e9"`, `{"a":1}`, `-1.5e+3`, `{"topics":[1,2,3,4]}`, `{"te\u0078t":1}`} {
		f.Add([]byte(s))
	}
	lim := jsonscan.Limits{MaxDepth: 1 << 20, MaxValues: 1 << 30}
	f.Fuzz(func(t *testing.T, doc []byte) {
		valid := json.Valid(doc)
		buf, err := jsonscan.Read(bytes.NewReader(doc), -1, nil, lim)
		var e *jsonscan.Error
		switch {
		case err == nil && !bytes.Equal(buf, doc):
			t.Fatalf("Read(%q) = %q, want the document back", doc, buf)
		case valid && err != nil:
			t.Fatalf("Read(valid %q) = %v, want accepted", doc, err)
		case errors.As(err, &e) && e.Syntax && valid:
			t.Fatalf("Read(valid %q) = syntax error %v", doc, err)
		}
		if _, err := jsonscan.Read(bytes.NewReader(doc), int64(len(doc)), hyperlinks, lim); err == nil && valid {
			var top map[string]json.RawMessage
			if json.Unmarshal(doc, &top) == nil {
				for k := range top {
					switch k {
					case "text", "baseUrl", "ref", "topics", "extra", "queries":
					default:
						t.Fatalf("Read(%q) accepted undeclared member %q", doc, k)
					}
				}
			}
		}
	})
}
