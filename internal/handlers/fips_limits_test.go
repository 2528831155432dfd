package handlers_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/legalgate/legalgate/internal/api"
)

// fipsStalledUpload PUTs a multipart "file" whose first 64 KiB arrive and the
// rest never does (the body stays open until the test ends). It returns the
// answer's status and waits until the gateway's handler has returned.
func fipsStalledUpload(t *testing.T, g *fipsGateway, path string) int {
	t.Helper()
	var once sync.Once
	handled := make(chan struct{})
	onServed := func(r *http.Request) {
		if r.Method == "PUT" && r.URL.Path == path {
			once.Do(func() { close(handled) })
		}
	}
	g.served.Store(&onServed)
	t.Cleanup(func() { g.served.Store(nil) })

	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.Close() })
	mw := multipart.NewWriter(pw)
	go func() {
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", `form-data; name="file"; filename="stalled.bin"`)
		hdr.Set("Content-Type", "application/octet-stream")
		if p, err := mw.CreatePart(hdr); err == nil {
			_, _ = p.Write(bytes.Repeat([]byte("x"), 64<<10))
		}
		// …and nothing more: the client stalls.
	}()
	// A guard against a hang, not a timing assumption: the answer comes
	// without waiting for the body.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "PUT", g.URL+path, pr)
	req.ContentLength = 1 << 20 // declared, never all sent
	req.Header.Set("Authorization", "Bearer "+fipsKeyAlpha)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := g.Client().Do(req)
	if err != nil {
		t.Fatalf("PUT %s with a stalled body: %v, want an answer", path, err)
	}
	res.Body.Close()
	select {
	case <-handled:
	case <-ctx.Done():
		t.Fatalf("the handler of PUT %s did not return while its client stalled", path)
	}
	return res.StatusCode
}

// TestFIPSUploadStalledClient: a client that stalls mid-upload does not hold
// the handler: when FIPS answers early the answer goes out at once, and when
// FIPS waits for the rest the idle deadline cuts the upload.
func TestFIPSUploadStalledClient(t *testing.T) {
	var answerEarly atomic.Bool
	_, g := startFIPSWith(t, fipsOptions{streamIdle: 300 * time.Millisecond, wrapSim: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "PUT" && strings.HasSuffix(r.URL.Path, "/file") && answerEarly.Load() {
				_, _ = io.ReadFull(r.Body, make([]byte, 10)) // a little of it, then refuse
				w.Header().Set("Connection", "close")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusConflict)
				_, _ = io.WriteString(w, `{"message":"Документ подписан, замена файла невозможна"}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}})
	docPath := newFIPSDocument(t, g)

	answerEarly.Store(true)
	if got := fipsStalledUpload(t, g, docPath+"/file"); got != http.StatusConflict {
		t.Errorf("PUT file (FIPS answers early, client stalls) = %d, want FIPS's 409", got)
	}
	answerEarly.Store(false)
	if got := fipsStalledUpload(t, g, docPath+"/file"); got != http.StatusBadRequest {
		t.Errorf("PUT file (client stalls past the idle deadline) = %d, want 400", got)
	}
	var doc api.FIPSDocument
	g.call(t, fipsKeyAlpha, "GET", docPath, nil, "").want(t, "GET document", 200).decode(t, &doc)
	if *doc.HasFile {
		t.Errorf("document after the stalled uploads = %+v, want no content", doc)
	}
}

// TestFIPSPackageByteExact: the package to sign arrives exactly as FIPS
// sends it: asked unencoded, and when FIPS gzips it anyway, the gzip bytes
// pass through with their Content-Encoding, never decoded.
func TestFIPSPackageByteExact(t *testing.T) {
	var gzipPackage atomic.Bool
	var acceptEncoding atomic.Value
	_, g := startFIPSWith(t, fipsOptions{wrapSim: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != "GET" || !strings.HasSuffix(r.URL.Path, "/package") || !gzipPackage.Load() {
				next.ServeHTTP(w, r)
				return
			}
			acceptEncoding.Store(r.Header.Get("Accept-Encoding"))
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(rec.Body.Bytes())
			_ = zw.Close()
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.Code)
			_, _ = w.Write(buf.Bytes())
		})
	}})
	var list api.FIPSApplicationList
	g.call(t, fipsKeyAlpha, "GET", fipsApps, nil, "").want(t, "list", 200).decode(t, &list)
	id := list.Applications[0].ID
	raw := &http.Client{Transport: &http.Transport{DisableCompression: true}} // bytes as sent
	t.Cleanup(raw.CloseIdleConnections)
	get := func(url, auth string) (*http.Response, [32]byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", auth)
		res, err := raw.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body) // a package is small
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("GET %s = %d, %v", url, res.StatusCode, err)
		}
		return res, sha256.Sum256(b)
	}
	for _, gz := range []bool{false, true} {
		gzipPackage.Store(gz)
		direct, want := get(g.simURL+"/api/v1/applications/"+id+"/package", "demo-fips-key")
		via, got := get(g.URL+fipsApps+"/"+id+"/package", "Bearer "+fipsKeyAlpha)
		if got != want {
			t.Errorf("gzip %v: package through the gateway sha256 %x, want FIPS's %x", gz, got, want)
		}
		for _, h := range []string{"Content-Type", "Content-Encoding", "Content-Disposition"} {
			if via.Header.Get(h) != direct.Header.Get(h) {
				t.Errorf("gzip %v: package %s = %q, want FIPS's %q", gz, h, via.Header.Get(h), direct.Header.Get(h))
			}
		}
	}
	if got, _ := acceptEncoding.Load().(string); got != "identity" {
		t.Errorf("the gateway asked FIPS with Accept-Encoding %q, want identity", got)
	}
}
