package garant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/legalgate/legalgate/internal/tenant"
)

// checkStream compares the streamed encoding of r with encoding/json's:
// they decode to the same request, and size is the streamed length.
func checkStream(t *testing.T, r HyperlinksRequest) {
	t.Helper()
	s := r.stream()
	size := s.size()
	b, err := io.ReadAll(s)
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	if int64(len(b)) != size {
		t.Fatalf("stream of %d bytes, size() = %d", len(b), size)
	}
	var got, want HyperlinksRequest
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("the stream is not JSON: %v (%.200q)", err, b)
	}
	enc, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(enc, &want); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("the stream decodes to a request other than encoding/json's: %s", cmp.Diff(want, got))
	}
}

func TestHyperlinksStream(t *testing.T) {
	specials := "\"\\/\b\f\n\r\t\x00\x1f\x7f<>&\u2028\u2029 😀 Ё \xff \xe2\x82 \xed\xa0\x80"
	for _, tt := range []struct{ name, text string }{
		{"empty", ""},
		{"plain", "Статья 70 ТК РФ"},
		{"every escape", specials},
		// Long: chunks cut between every kind of byte (a 4-byte rune, an
		// invalid byte, a truncated sequence) at every offset.
		{"long", strings.Repeat("ab😀\xffЁ\xe2\x82"+specials, 3*streamChunk/40)},
		{"continuation bytes", strings.Repeat("\x80", 2*streamChunk+3)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for shift := range 5 {
				checkStream(t, HyperlinksRequest{Text: strings.Repeat("x", shift) + tt.text, BaseURL: "https://x/\"q\""})
			}
		})
	}
}

// FuzzHyperlinksStream checks that the streamed encoding of any request
// says what encoding/json's does.
func FuzzHyperlinksStream(f *testing.F) {
	f.Add("Статья 70 ТК РФ", "https://internet.garant.ru")
	f.Add("\"\\\n\x00<>&\u2028😀\xff\xe2\x82", "\xed\xa0\x80")
	f.Fuzz(func(t *testing.T, text, base string) {
		checkStream(t, HyperlinksRequest{Text: text, BaseURL: base})
	})
}

// replay sends each request twice, the second time with the body GetBody
// gives, as the upstream guard does after a 429.
type replay struct{ next http.RoundTripper }

func (rt replay) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.GetBody == nil {
		return nil, errors.New("no GetBody: the request cannot be sent again")
	}
	res, err := rt.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	r2 := r.Clone(r.Context())
	if r2.Body, err = r.GetBody(); err != nil {
		return nil, err
	}
	return rt.next.RoundTrip(r2)
}

// TestHyperlinksSentStreamed: over HTTP, the streamed request announces
// its length, and a retry sends the same bytes.
func TestHyperlinksSentStreamed(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, fmt.Sprintf("%d %s", r.ContentLength, b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, Transport: replay{srv.Client().Transport}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	req := HyperlinksRequest{Text: strings.Repeat("Строка \"с\" кавычками\n", 5000), BaseURL: "https://x"}
	if _, err := c.FindHyperlinks(context.Background(), tenant.NewSecret("t"), req); err != nil {
		t.Fatalf("FindHyperlinks: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	n, doc, _ := strings.Cut(bodies[0], " ")
	var got HyperlinksRequest
	if len(bodies) != 2 || bodies[0] != bodies[1] || n != strconv.Itoa(len(doc)) || json.Unmarshal([]byte(doc), &got) != nil || got != req {
		t.Errorf("Garant received %d requests (equal %v), Content-Length %s for %d bytes, decoding to the request: %v; want 2 equal ones, the length announced",
			len(bodies), len(bodies) == 2 && bodies[0] == bodies[1], n, len(doc), got == req)
	}
}
