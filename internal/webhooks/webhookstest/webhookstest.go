// Package webhookstest is a webhook receiver for tests: an HTTP server
// recording what it is sent, and Verify, a reference implementation of the
// Standard Webhooks verification of symmetric signatures written from the
// specification's text, independent of the signer in internal/webhooks.
package webhookstest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Verify checks a delivery per the specification: the webhook-id,
// webhook-timestamp (within tolerance of now) and webhook-signature
// headers are present, and one "v1," signature of the space-separated list
// equals, compared in constant time, the base64 HMAC-SHA256 of
// "id.timestamp.body" under the base64-decoded secret after "whsec_".
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing header")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("timestamp out of tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Split(sigs, " ") {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

// Request is one request a Receiver saw.
type Request struct {
	Path   string
	Header http.Header
	Body   []byte
}

// Receiver is a webhook endpoint. Status, when set, picks the answer to
// its n-th request (from 1); by default it answers 204.
type Receiver struct {
	*httptest.Server
	Got chan Request // every request, in arrival order (buffered: 10,000)

	mu     sync.Mutex
	n      int
	status func(n int, w http.ResponseWriter, r *http.Request) int
}

// NewReceiver starts a Receiver on loopback, closed when the test ends.
func NewReceiver(tb testing.TB, status func(n int, w http.ResponseWriter, r *http.Request) int) *Receiver {
	rc := &Receiver{Got: make(chan Request, 10000), status: status}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		rc.mu.Lock()
		rc.n++
		n := rc.n
		rc.mu.Unlock()
		rc.Got <- Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
		code := http.StatusNoContent
		if rc.status != nil {
			code = rc.status(n, w, r)
		}
		w.WriteHeader(code)
	}))
	tb.Cleanup(rc.Close)
	return rc
}

// Next returns the next request, failing the test after 30 s without one.
func (rc *Receiver) Next(tb testing.TB) Request {
	tb.Helper()
	select {
	case r := <-rc.Got:
		return r
	case <-time.After(30 * time.Second):
		tb.Fatal("webhook receiver: no request within 30s")
		return Request{}
	}
}
