package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// dialing bounds the connections being set up at once, well under the
// listen backlog, so that no SYN is dropped and retried a second later.
const dialing = 128

// answer is how one waiter ended.
type answer struct {
	at   time.Time // when its body was read
	body []byte    // the task
	err  error
}

// status returns the task's status in a's body.
func (a answer) status() (string, error) {
	var task struct {
		Status string `json:"status"`
	}
	err := json.Unmarshal(a.body, &task)
	return task.Status, err
}

// waiters are concurrent long polls: over HTTP/1.1 one keep-alive
// connection each; over h2c (cleartext HTTP/2, prior knowledge) multiplexed,
// the client opening a further connection only when every open one has as
// many streams as the server allows (SETTINGS_MAX_CONCURRENT_STREAMS).
type waiters struct {
	client  *http.Client
	h2c     bool
	answers []answer
	sent    atomic.Int64 // requests written to their connection
	done    atomic.Int64 // requests ended, answered or not
	dials   atomic.Int64 // connections dialed (over h2c, a racing dial's surplus is closed unused)
	conns   sync.Map     // net.Conn → struct{}: the connections that carried a waiter's request
	wg      sync.WaitGroup
	cancel  context.CancelFunc

	mu    sync.Mutex
	first error // the first waiter error
}

// newWaiters prepares n waiters, speaking h2c when h2c is true.
func newWaiters(n int, h2c bool) *waiters {
	w := &waiters{h2c: h2c, answers: make([]answer, n)}
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				w.dials.Add(1)
			}
			return c, err
		},
		MaxConnsPerHost:     0, // no cap: HTTP/1.1 opens one connection per concurrent request
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: n,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	if h2c {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
		// For HTTP/2 this bounds only the connections being dialed at once:
		// without it every request that finds no connection with a free
		// stream dials, and the HTTP/2 pool closes the surplus unused.
		tr.MaxConnsPerHost = 1
	}
	w.client = &http.Client{Transport: tr}
	return w
}

// open starts len(w.answers) waiters, waiter i on paths[i%len(paths)], and
// returns once every request is written (or failed).
func (w *waiters) open(ctx context.Context, base string, paths []string) error {
	ctx, w.cancel = context.WithCancel(ctx)
	sem := make(chan struct{}, dialing)
	for i := range w.answers {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		w.wg.Go(func() { w.poll(ctx, i, base+paths[i%len(paths)]+"?wait=60", sem) })
	}
	for range dialing { // the last requests are written
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// poll runs waiter i, freeing its place in sem once its request is written.
func (w *waiters) poll(ctx context.Context, i int, url string, sem chan struct{}) {
	defer w.done.Add(1)
	defer func() {
		if err := w.answers[i].err; err != nil {
			w.mu.Lock()
			if w.first == nil {
				w.first = err
			}
			w.mu.Unlock()
		}
	}()
	written := sync.OnceFunc(func() { <-sem })
	defer written()
	ctx, cancel := context.WithTimeout(ctx, 75*time.Second)
	defer cancel()
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { w.conns.LoadOrStore(info.Conn, struct{}{}) },
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				w.sent.Add(1)
			}
			written()
		},
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, url, nil)
	if err != nil {
		w.answers[i].err = err
		return
	}
	req.Header.Set("Authorization", "Bearer "+tenantKey)
	res, err := w.client.Do(req)
	if err != nil {
		w.answers[i].err = err
		return
	}
	defer res.Body.Close()
	// The body is read now and decoded later, so that this process spends as
	// little CPU as it can while the gateway answers.
	body, err := io.ReadAll(res.Body)
	w.answers[i] = answer{at: time.Now(), body: body, err: err}
	switch {
	case err != nil:
	case res.StatusCode != http.StatusOK:
		w.answers[i].err = fmt.Errorf("GET %s = %d %.200s, want 200", req.URL.Path, res.StatusCode, body)
	case w.h2c && res.ProtoMajor != 2:
		w.answers[i].err = fmt.Errorf("GET %s answered over %s, want HTTP/2", req.URL.Path, res.Proto)
	}
}

// connections counts the connections that carried a waiter's request.
func (w *waiters) connections() int {
	n := 0
	w.conns.Range(func(any, any) bool { n++; return true })
	return n
}

// wait waits for every waiter to end.
func (w *waiters) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d of %d waiters unanswered: %w", int64(len(w.answers))-w.done.Load(), len(w.answers), ctx.Err())
	}
}

// firstError returns the first waiter error.
func (w *waiters) firstError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.first
}

// close ends the waiters still running and drops their connections.
func (w *waiters) close() {
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
	w.client.CloseIdleConnections()
}
