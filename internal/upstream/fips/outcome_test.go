package fips_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/legalgate/legalgate/internal/apperr"
	"github.com/legalgate/legalgate/internal/upstream/fips"
)

// newStub returns a client for an upstream that answers every call with h.
func newStub(t *testing.T, h http.HandlerFunc) (*fips.Client, *httptest.Server) {
	t.Helper()
	up := httptest.NewServer(h)
	t.Cleanup(up.Close)
	c, err := fips.New(fips.Config{BaseURL: up.URL + "/api/v1", OnRejected: ignoreRejected})
	if err != nil {
		t.Fatal(err)
	}
	return c, up
}

// TestFIPSClientOutcomeUnknown: only answers that show FIPS did nothing
// (a 4xx, 429, 503, no connection) leave ErrOutcomeUnknown out of the chain.
func TestFIPSClientOutcomeUnknown(t *testing.T) {
	answer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}
	}
	cut := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		panic(http.ErrAbortHandler) // read the request, then cut the connection
	}
	for _, tc := range []struct {
		name    string
		h       http.HandlerFunc
		kind    apperr.Kind
		unknown bool
	}{
		{"400", answer(400, `{"message":"no"}`), apperr.Invalid, false},
		{"409", answer(409, `{}`), apperr.Conflict, false},
		{"429", answer(429, `{}`), apperr.Unavailable, false},
		{"503", answer(503, `{}`), apperr.Unavailable, false},
		{"500", answer(500, `{}`), apperr.UpstreamFailed, true},
		{"502", answer(502, `<html>`), apperr.UpstreamFailed, true},
		{"504", answer(504, `{}`), apperr.UpstreamTimeout, true},
		{"201 unreadable", answer(201, `{"id":`), apperr.UpstreamFailed, true},
		{"connection cut", cut, apperr.UpstreamFailed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newStub(t, tc.h)
			_, _, err := c.CreateApplication(bgctx, owner, tmCreate)
			kindOf(t, "CreateApplication", err, tc.kind)
			if got := errors.Is(err, fips.ErrOutcomeUnknown); got != tc.unknown {
				t.Errorf("CreateApplication err = %v: errors.Is(ErrOutcomeUnknown) = %v, want %v", err, got, tc.unknown)
			}
		})
	}
	// Nobody listening: the request never left.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := fips.New(fips.Config{BaseURL: "http://" + addr + "/api/v1", OnRejected: ignoreRejected})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.CreateApplication(bgctx, owner, tmCreate)
	if kindOf(t, "CreateApplication(closed port)", err, apperr.UpstreamFailed); errors.Is(err, fips.ErrOutcomeUnknown) {
		t.Errorf("CreateApplication(closed port) err = %v, want an outcome known to be nothing", err)
	}
}

// TestFIPSClientUploadStalledCaller: FIPS answers before the caller's body
// ends and the caller stalls: the upload returns FIPS's answer at once,
// stopping the copy with Upload.Stop (or, without Stop, not waiting for it).
func TestFIPSClientUploadStalledCaller(t *testing.T) {
	c, _ := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 10)
		_, _ = io.ReadFull(r.Body, buf) // some of the body, not all
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_, _ = io.WriteString(w, `{"message":"документ подписан"}`)
	})
	for _, withStop := range []bool{true, false} {
		pr, pw := io.Pipe()
		go func() { _, _ = pw.Write([]byte(strings.Repeat("x", 100))) }() // then stalls
		stopped := make(chan struct{})
		up := fips.Upload{Body: pr}
		if withStop {
			up.Stop = func() { close(stopped); _ = pr.CloseWithError(errors.New("stopped")) }
		}
		_, err := c.PutDocumentFile(bgctx, owner, "1", "2", up)
		kindOf(t, "PutDocumentFile(stalled caller)", err, apperr.Conflict)
		if withStop {
			select {
			case <-stopped:
			default:
				t.Errorf("PutDocumentFile returned without calling Upload.Stop")
			}
		}
		_ = pr.CloseWithError(errors.New("test over")) // ends the copy left running without Stop
		_ = pw.Close()
	}
}
