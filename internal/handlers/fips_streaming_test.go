package handlers_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/api"
	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
)

// fipsSimProcessEnv set to 1 makes this test binary the FIPS simulator
// process of TestFIPSStreamingRoundTrip instead of running tests, so that
// the simulator's memory (it holds every file) is not in the gateway's heap
// measurement.
const fipsSimProcessEnv = "LEGALGATE_FIPS_SIM_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(fipsSimProcessEnv) == "1" {
		os.Exit(runFIPSSimProcess())
	}
	os.Exit(m.Run())
}

// runFIPSSimProcess serves the simulator on a loopback port, prints its URL
// and serves until stdin closes.
func runFIPSSimProcess() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: fipssim.New(fipssim.DefaultConfig()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("FIPS_SIM_URL=http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
	_ = srv.Close()
	return 0
}

// startFIPSSimProcess runs the simulator in a child process (this test
// binary) and returns its URL.
func startFIPSSimProcess(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fipsSimProcessEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "FIPS_SIM_URL="); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return u
		}
	}
	t.Fatalf("the simulator process exited without a URL: %v", sc.Err())
	return ""
}

// fipsStreamUpload PUTs n pseudo-random bytes as the "file" part, generated
// and hashed as they are sent (never held whole: the Content-Length is
// computed from the multipart framing), and returns the answer's status and
// the content's SHA-256.
func fipsStreamUpload(t *testing.T, g *fipsGateway, path string, n int64) (int, string) {
	t.Helper()
	status, sum, _ := fipsStreamUploadLength(t, g, path, n, true)
	return status, sum
}

// fipsStreamUploadLength is fipsStreamUpload that may leave the length out
// (a chunked body); it also reports how many content bytes left the client.
func fipsStreamUploadLength(t *testing.T, g *fipsGateway, path string, n int64, withLength bool) (int, string, int64) {
	t.Helper()
	const boundary = "legalgate-test-boundary"
	head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n"
	tail := "\r\n--" + boundary + "--\r\n"
	h := sha256.New()
	counted := &countingReader{r: io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{1}), n), h)}
	// The transport closes the body when it is done with it, possibly after
	// an early answer: only then are h and counted the test's to read.
	body := &closeSignal{Reader: io.MultiReader(strings.NewReader(head), counted, strings.NewReader(tail)), closed: make(chan struct{})}
	req, _ := http.NewRequest("PUT", g.URL+path, body) // a length net/http cannot see: chunked unless set below
	if withLength {
		req.ContentLength = int64(len(head)) + n + int64(len(tail))
	}
	req.Header.Set("Authorization", "Bearer "+fipsKeyAlpha)
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	res, err := g.Client().Do(req)
	if err != nil {
		t.Fatalf("PUT %s (%d bytes): %v", path, n, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	<-body.closed
	return res.StatusCode, fmt.Sprintf("%x", h.Sum(nil)), counted.n.Load()
}

// closeSignal is a request body that says when the transport closed it.
type closeSignal struct {
	io.Reader
	once   sync.Once
	closed chan struct{}
}

func (c *closeSignal) Close() error { c.once.Do(func() { close(c.closed) }); return nil }

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestFIPSStreamingRoundTrip uploads 20 MB through the gateway, downloads it
// and compares SHA-256, and checks that the gateway's heap stays small.
//
// Method: the simulator runs in a child process, so this process holds only
// the gateway (router, handlers, FIPS client, Redis client) and the test's
// own streaming HTTP client; Redis is a process too. Around the upload and
// the download we take runtime.MemStats after a GC and sample HeapInuse every
// 2 ms: the peak HeapInuse growth bounds what the 40 MB of traffic kept live,
// and the TotalAlloc delta bounds everything allocated on the way (both
// include the test client, so they overstate the gateway's share).
func TestFIPSStreamingRoundTrip(t *testing.T) {
	g := newFIPSGateway(t, startFIPSSimProcess(t), fipsOptions{})
	docPath := newFIPSDocument(t, g)
	const size = 20_000_000 // 20 MB: the multipart framing must fit in the 20 MiB body limit
	if fipsGuardBuffersStreamBodies(t, g) {
		t.Errorf("the route guard reads a multipart body whole before validating the request, want it streamed")
	}

	var status int
	var sent string
	up := fipsMeasure(func() { status, sent = fipsStreamUpload(t, g, docPath+"/file", size) })
	if status != 200 {
		t.Fatalf("PUT %s/file = %d, want 200", docPath, status)
	}
	var res *http.Response
	h := sha256.New()
	var n int64
	down := fipsMeasure(func() {
		req, _ := http.NewRequest("GET", g.URL+docPath+"/file", nil)
		req.Header.Set("Authorization", "Bearer "+fipsKeyAlpha)
		var err error
		if res, err = g.Client().Do(req); err != nil {
			t.Fatal(err)
		}
		n, err = io.CopyBuffer(h, res.Body, make([]byte, 32<<10))
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("GET %s/file = %d, %v", docPath, res.StatusCode, err)
		}
	})
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != sent || n != size {
		t.Errorf("downloaded %d bytes sha256 %s, want %d bytes sha256 %s", n, got, size, sent)
	}
	if res.Header.Get("Content-Length") != fmt.Sprint(size) || res.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("download headers = %v, want the length and type FIPS gave", res.Header)
	}
	t.Logf("20 MB upload: %s; 20 MB download: %s", up, down)
	check := func(dir string, m fipsHeap) {
		if m.growth > 2<<20 || m.allocated > 4<<20 {
			t.Errorf("%s: %s, want peak HeapInuse growth ≤ 2 MiB and TotalAlloc ≤ 4 MiB: content is being buffered", dir, m)
		}
	}
	check("download", down)
	check("upload", up)
}

// fipsHeap is what one measured exchange cost this process.
type fipsHeap struct {
	growth    int64  // peak HeapInuse minus HeapInuse before
	allocated uint64 // TotalAlloc delta
}

func (m fipsHeap) String() string {
	return fmt.Sprintf("peak HeapInuse growth %.2f MB, TotalAlloc delta %.2f MB", float64(m.growth)/1e6, float64(m.allocated)/1e6)
}

// fipsMeasure runs fn after a GC, sampling HeapInuse every 2 ms.
func fipsMeasure(fn func()) fipsHeap {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := make(chan uint64)
	stop := make(chan struct{})
	go func() {
		var m runtime.MemStats
		max := before.HeapInuse
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- max
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				max = maxOf(max, m.HeapInuse)
			}
		}
	}()
	fn()
	close(stop)
	p := <-peak
	runtime.ReadMemStats(&after)
	return fipsHeap{growth: int64(maxOf(p, after.HeapInuse)) - int64(before.HeapInuse), allocated: after.TotalAlloc - before.TotalAlloc}
}

// fipsGuardBuffersStreamBodies reports whether the route guard reads a
// multipart body whole before it validates the request. It sends a body that
// never ends to a path the contract refuses (so no handler runs): a guard
// that streams answers 400 at once, one that buffers waits for the body.
func fipsGuardBuffersStreamBodies(t *testing.T, g *fipsGateway) bool {
	t.Helper()
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("--b\r\n")) }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	context.AfterFunc(ctx, func() { _ = pw.CloseWithError(ctx.Err()) }) // lets the transport give up
	req, _ := http.NewRequestWithContext(ctx, "PUT", g.URL+fipsApps+"/1/documents/not%20an%20id/file", pr)
	req.ContentLength = 1 << 20 // declared, never all sent
	req.Header.Set("Authorization", "Bearer "+fipsKeyAlpha)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	res, err := g.Client().Do(req)
	if err != nil {
		return true
	}
	res.Body.Close()
	return false
}

func maxOf(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// TestFIPSUploadTooLarge: over 20 MB is 413 before FIPS is called; an upload
// without a Content-Length is 411 before any of it is read.
func TestFIPSUploadTooLarge(t *testing.T) {
	sim, g := startFIPS(t)
	docPath := newFIPSDocument(t, g)

	conn, err := net.Dial("tcp", g.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT %s/file HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 25000000\r\n\r\n", docPath, fipsKeyAlpha)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("PUT with Content-Length 25000000 = %d, want 413", res.StatusCode)
	}
	const putFile = "PUT /api/v1/applications/{id}/documents/{docId}/file"
	if n := sim.Kit.Calls.Get(putFile); n != 0 {
		t.Errorf("calls %q = %d, want 0", putFile, n)
	}

	status, _, _ := fipsStreamUploadLength(t, g, docPath+"/file", 21_000_000, false)
	if status != http.StatusLengthRequired {
		t.Errorf("chunked PUT of 21 MB = %d, want 411", status)
	}
	if n := sim.Kit.Calls.Get(putFile); n != 0 {
		t.Errorf("calls %q after the chunked upload = %d, want 0", putFile, n)
	}
	g.call(t, fipsKeyAlpha, "GET", docPath+"/file", nil, "").problem(t, "GET file after the refused upload", 404)
	var doc api.FIPSDocument
	g.call(t, fipsKeyAlpha, "GET", docPath, nil, "").want(t, "GET document", 200).decode(t, &doc)
	if *doc.HasFile {
		t.Errorf("document after the refused upload = %+v, want no content", doc)
	}
}
