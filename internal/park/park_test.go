package park_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/park"
)

// serve runs a server on a park.Listener whose handler parks each request
// (answered by whoever receives from the returned channel) or, when the
// lot refuses, answers 200 "held" the usual way.
func serve(t *testing.T, max int) (addr string, lot *park.Lot, parked <-chan *park.Conn) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := park.NewListener(inner)
	lot = park.New(ln, max)
	ch := make(chan *park.Conn, 16)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-ID", r.URL.Path)
		if p, ok := lot.Park(w, r, nil); ok {
			ch <- p
			return
		}
		_, _ = io.WriteString(w, "held")
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return inner.Addr().String(), lot, ch
}

// TestParkedAnswerKeepsConnection: two requests on one connection, each
// parked and answered from another goroutine: both answers arrive on that
// connection with the header set before parking, and the second request
// (pipelined behind the first) is served once the first is answered.
func TestParkedAnswerKeepsConnection(t *testing.T) {
	addr, lot, parked := serve(t, 0)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	for i, path := range []string{"/one", "/two"} {
		p := <-parked
		if n := lot.Parked(); n != 1 {
			t.Errorf("request %d: Parked() = %d, want 1", i, n)
		}
		if then := p.Answer(200, "text/plain", fmt.Appendf(nil, "answer %d", i), "Retry-After", "3"); then != nil {
			then()
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != fmt.Sprintf("answer %d", i) || res.Header.Get("X-Request-ID") != path ||
			res.Header.Get("Retry-After") != "3" || res.Close {
			t.Errorf("answer %d = %d %q %v (close %v), want 200 %q with X-Request-ID %s and Retry-After, the connection kept",
				i, res.StatusCode, b, res.Header, res.Close, fmt.Sprintf("answer %d", i), path)
		}
	}
	if n := lot.Parked(); n != 0 {
		t.Errorf("Parked() after the answers = %d, want 0", n)
	}
}

// TestLotCapacity: past its capacity a lot refuses, and the request is
// answered the usual way; a request with a body is never parked.
func TestLotCapacity(t *testing.T) {
	addr, _, parked := serve(t, 1)
	c := &http.Client{Timeout: 30 * time.Second}
	first := make(chan error, 1)
	go func() {
		res, err := c.Get("http://" + addr + "/first")
		if err == nil {
			res.Body.Close()
		}
		first <- err
	}()
	p := <-parked
	for _, tc := range []struct{ name, method, body string }{{"a second request", "GET", ""}, {"a request with a body", "POST", "x"}} {
		req, _ := http.NewRequest(tc.method, "http://"+addr+"/second", strings.NewReader(tc.body))
		if tc.body == "" {
			req.Body = http.NoBody
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != "held" {
			t.Errorf("%s = %q, want it answered the usual way", tc.name, b)
		}
	}
	if then := p.Answer(200, "text/plain", []byte("ok")); then != nil {
		then()
	}
	if err := <-first; err != nil {
		t.Error(err)
	}
}
