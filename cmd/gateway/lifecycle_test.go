package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/redistest"
)

// events records what happened, in order.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(s string) { e.mu.Lock(); defer e.mu.Unlock(); e.list = append(e.list, s) }
func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.list, " → ")
}

// TestLifecycleOrder: on the signal, the listeners stop accepting, the
// request in flight completes while background work still runs, then the
// background work stops, then the after steps (Redis) run.
func TestLifecycleOrder(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var ev events
	var jobCtx atomic.Pointer[context.Context]
	jobStarted := make(chan struct{})
	inFlight, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inFlight)
		<-release
		if err := (*jobCtx.Load()).Err(); err != nil {
			ev.add("background work stopped during the drain")
		}
		ev.add("request answered")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lc := &lifecycle{
		log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		listeners: []listener{{"public", &http.Server{Handler: h, ReadHeaderTimeout: time.Second}, ln}},
		jobs: []job{{"job", func(ctx context.Context) error {
			jobCtx.Store(&ctx)
			close(jobStarted)
			<-ctx.Done()
			ev.add("background work stopped")
			return nil
		}}},
		shutdownTimeout: 10 * time.Second,
		after:           []func(){func() { ev.add("redis closed") }},
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- lc.serve(ctx) }()
	<-jobStarted

	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	answered := make(chan error, 1)
	go func() {
		res, err := c.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			res.Body.Close()
		}
		answered <- err
	}()
	<-inFlight
	cancel() // the signal
	close(release)
	if err := <-answered; err != nil {
		t.Errorf("the request in flight at the signal = %v, want an answer", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve() after the signal = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve() did not return after the drain")
	}
	if got, want := ev.String(), "request answered → background work stopped → redis closed"; got != want {
		t.Errorf("shutdown order = %s, want %s", got, want)
	}
}

// brokenListener fails its second Accept for good.
type brokenListener struct {
	net.Listener
	calls atomic.Int32
}

func (l *brokenListener) Accept() (net.Conn, error) {
	if l.calls.Add(1) > 1 {
		return nil, errors.New("accept: the socket broke")
	}
	return l.Listener.Accept()
}

// TestLifecycleListenerFailure: when one listener fails, the others stop,
// background work stops, Redis closes, and serve names the listener.
func TestLifecycleListenerFailure(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var ev events
	public, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminRaw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := &brokenListener{Listener: adminRaw}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	lc := &lifecycle{
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		listeners: []listener{
			{"public", &http.Server{Handler: ok, ReadHeaderTimeout: time.Second}, public},
			{"admin", &http.Server{Handler: ok, ReadHeaderTimeout: time.Second}, admin},
		},
		jobs: []job{{"job", func(ctx context.Context) error {
			<-ctx.Done()
			ev.add("background work stopped")
			return nil
		}}},
		shutdownTimeout: 10 * time.Second,
		after:           []func(){func() { ev.add("redis closed") }},
	}
	served := make(chan error, 1)
	go func() { served <- lc.serve(context.Background()) }()
	// The admin listener's first connection is served; its next Accept fails.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if res, err := c.Get("http://" + adminRaw.Addr().String() + "/"); err == nil {
		res.Body.Close()
	}
	select {
	case err := <-served:
		if err == nil || !strings.Contains(err.Error(), "admin listener") || !strings.Contains(err.Error(), "the socket broke") {
			t.Errorf("serve() after the admin listener broke = %v, want an error naming the admin listener and the cause", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve() did not return after a listener failed")
	}
	if got, want := ev.String(), "background work stopped → redis closed"; got != want {
		t.Errorf("after a listener failure: %s, want %s", got, want)
	}
	if _, err := net.DialTimeout("tcp", public.Addr().String(), time.Second); err == nil {
		t.Errorf("the public listener still accepts after the admin listener failed")
	}
}

// TestRunLeavesNothingBehind boots the demo through run() under main's
// signal context, with FSSP pollers and Garant calls under way, then sends
// the process SIGTERM: run() returns nil and no goroutine outlives it.
func TestRunLeavesNothingBehind(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	admin := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	ctx, stop := signalContext()
	defer stop()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", addr, "-admin-addr", admin}, func(string) string { return "" }, out, out)
	}()
	c := &http.Client{Transport: &http.Transport{}, Timeout: 20 * time.Second}
	defer c.CloseIdleConnections()
	base := "http://" + addr
	waitReady(t, c, base+"/healthz", done, out)
	call := func(method, path, body string) {
		t.Helper()
		if code := demoCall(t, c, method, base+path, body); code >= 300 {
			t.Fatalf("%s %s = %d, want 2xx", method, path, code)
		}
	}
	// A task left for its poller, and a Garant call.
	call("POST", "/v1/fssp/searches/physical", `{"region":77,"lastname":"ИВАНОВ","firstname":"ИВАН"}`)
	call("GET", "/v1/garant/topics/10900200", "")
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run() after SIGTERM = %v, want nil\n%s", err, out)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run() did not return within 20s of the signal")
	}
	c.CloseIdleConnections()
}

// TestRunListenerFailure boots the demo through run(), with FSSP pollers and
// Garant calls under way, then breaks the admin listener's socket: run()
// returns an error naming the listener, after the same shutdown as on a
// signal, and no goroutine outlives it.
func TestRunListenerFailure(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	adminPort := redistest.FreePort(t)
	admin := fmt.Sprintf("127.0.0.1:%d", adminPort)
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"-addr", addr, "-admin-addr", admin}, func(string) string { return "" }, out, out)
	}()
	c := &http.Client{Transport: &http.Transport{}, Timeout: 20 * time.Second}
	defer c.CloseIdleConnections()
	base := "http://" + addr
	waitReady(t, c, base+"/healthz", done, out)
	for _, path := range []string{"/v1/fssp/searches/physical", "/v1/garant/topics/10900200"} {
		method, body := "GET", ""
		if strings.Contains(path, "searches") {
			method, body = "POST", `{"region":77,"lastname":"ИВАНОВ","firstname":"ИВАН"}`
		}
		demoCall(t, c, method, base+path, body)
	}
	breakListener(t, adminPort)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "admin listener") {
			t.Errorf("run() after the admin listener broke = %v, want an error naming the admin listener\n%s", err, out)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run() did not return within 20s of the listener failing")
	}
	c.CloseIdleConnections()
	if !strings.Contains(out.String(), "a listener failed") {
		t.Errorf("run()'s log does not say a listener failed:\n%s", out)
	}
}

// breakListener makes this process's TCP socket listening on port fail its
// next Accept, as a broken socket would: shutdown(2) on a listening socket
// wakes a blocked accept, which then fails with EINVAL (Linux). The socket is
// found by its inode in /proc/self/net/tcp.
func breakListener(t *testing.T, port int) {
	t.Helper()
	tcp, err := os.ReadFile("/proc/self/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	local := fmt.Sprintf(":%04X", port)
	inode := ""
	for _, line := range strings.Split(string(tcp), "\n") {
		f := strings.Fields(line)
		if len(f) > 9 && strings.HasSuffix(f[1], local) && f[3] == "0A" { // 0A: LISTEN
			inode = f[9]
		}
	}
	if inode == "" {
		t.Fatalf("no socket listens on port %d", port)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if target, _ := os.Readlink("/proc/self/fd/" + fd.Name()); target == "socket:["+inode+"]" {
			n, _ := strconv.Atoi(fd.Name())
			if err := syscall.Shutdown(n, syscall.SHUT_RD); err != nil {
				t.Fatalf("shutdown(%d): %v", n, err)
			}
			return
		}
	}
	t.Fatalf("no descriptor holds the socket listening on port %d", port)
}

// TestRunAdminPortTaken: run() fails at once with an error naming the
// admin address, and leaves nothing running.
func TestRunAdminPortTaken(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	out := &syncBuffer{}
	err = run(context.Background(), []string{"-addr", addr, "-admin-addr", taken.Addr().String()}, func(string) string { return "" }, out, out)
	if err == nil || !strings.Contains(err.Error(), "server.admin_addr") || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Errorf("run() with the admin port taken = %v, want an error naming server.admin_addr and %s", err, taken.Addr())
	}
}

// waitReady polls url until it answers 200; it fails the test when run()
// returns first.
func waitReady(t *testing.T, c *http.Client, url string, done <-chan error, out *syncBuffer) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(30 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("run() returned early: %v\n%s", err, out)
		default:
		}
		if res, err := c.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatalf("%s did not answer 200 within 60s\n%s", url, out)
}

// demoCall sends one request with the demo key (a JSON body when body is
// not "") and returns its status, the answer read and closed.
func demoCall(t *testing.T, c *http.Client, method, url, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+config.DemoKeyAlpha)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}
