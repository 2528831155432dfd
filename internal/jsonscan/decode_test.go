package jsonscan_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/legalgate/legalgate/internal/jsonscan"
)

// decodeCases are documents whose strings cover every escape, surrogate
// pairs and lone surrogates, bytes that are not UTF-8, and numbers
// float64 cannot hold.
var decodeCases = []string{
	`{"text":"plain","baseUrl":"https://x"}`,
	`{"text":"a \"quoted\" \\ text\/ \b\f\n\r\t end","n":[1,-2.5e3,0.1,1e308,true,false,null,{}]}`,
	`"Статья 70 \u0422\u041a \u0420\u0424"`,
	`["pair \ud83d\ude00 end", "lone \ud800 end", "lone low \udc00", "high then text \ud800x", "two highs \ud800\ud800"]`,
	`{"bad utf-8":"a` + "\xff\xfe" + `b\n", "k\u0065y":"v", "key":"last wins"}`,
	`[1e400]`,
	`{"a":[1,{"b":-1e999}]}`,
	`{"text":"unterminated`,
	`{"text":"control ` + "\x01" + `"}`,
	`[01]`,
	`  42  `,
	`""`,
}

func TestDecodeMatchesUnmarshal(t *testing.T) {
	for _, doc := range decodeCases {
		for _, inPlace := range []int{0, 1, 6, jsonscan.InPlaceMin} {
			checkDecode(t, []byte(doc), inPlace)
		}
	}
}

// checkDecode compares DecodeInPlace with json.Unmarshal on doc.
func checkDecode(t *testing.T, doc []byte, inPlace int) {
	t.Helper()
	var want any
	wantErr := json.Unmarshal(doc, &want)
	b := bytes.Clone(doc)
	got, rewrote, err := jsonscan.DecodeInPlace(b, inPlace)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("Decode(%q, %d) error = %v, want %v", doc, inPlace, err, wantErr)
	}
	if err != nil {
		if !bytes.Equal(b, doc) {
			t.Fatalf("Decode(%q, %d) failed and changed the buffer to %q", doc, inPlace, b)
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Decode(%q, %d) mismatch (-json.Unmarshal +Decode):\n%s", doc, inPlace, diff)
	}
	if !rewrote && !bytes.Equal(b, doc) {
		t.Fatalf("Decode(%q, %d) changed the buffer to %q but reported it unchanged", doc, inPlace, b)
	}
}

// TestDecodeInPlace checks that a long string costs no copy: the decoded
// text is a view of the body's buffer, with and without escapes.
func TestDecodeInPlace(t *testing.T) {
	long := strings.Repeat("Статья 70 ТК РФ. ", jsonscan.InPlaceMin/16)
	for _, tt := range []struct {
		name, text string // text as sent, inside the quotes
		want       string
		rewrote    bool
	}{
		{"no escapes", long, long, false},
		{"escapes", strings.ReplaceAll(long, ". ", `.\n\"x\"\u0422`), strings.ReplaceAll(long, ". ", ".\n\"x\"Т"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			buf := []byte(`{"baseUrl":"https://x","text":"` + tt.text + `"}`)
			v, rewrote, err := jsonscan.Decode(buf)
			if err != nil {
				t.Fatalf("Decode = %v", err)
			}
			text, _ := v.(map[string]any)["text"].(string)
			if text != tt.want || rewrote != tt.rewrote {
				t.Fatalf("Decode: text of %d bytes (want %d), rewrote %v, want %v", len(text), len(tt.want), rewrote, tt.rewrote)
			}
			start := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
			if p := uintptr(unsafe.Pointer(unsafe.StringData(text))); p < start || p >= start+uintptr(len(buf)) {
				t.Errorf("Decode: the text is a copy, want a view of the buffer")
			}
			if base := v.(map[string]any)["baseUrl"].(string); base != "https://x" {
				t.Errorf("Decode: baseUrl = %q, want https://x", base)
			}
		})
	}
}

// FuzzDecode checks that Decode decodes anything as json.Unmarshal does,
// with every string decoded in place and with none.
func FuzzDecode(f *testing.F) {
	for _, doc := range decodeCases {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkDecode(t, doc, 0)
		checkDecode(t, doc, jsonscan.InPlaceMin)
	})
}
