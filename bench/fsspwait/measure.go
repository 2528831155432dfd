package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/legalgate/legalgate/bench/benchproc"
)

// tenantKey is the bench tenant's API key; the config holds only its hash.
const tenantKey = "fsspwait-bench-key"

// result is what one run measured.
type result struct {
	waiters, tasks int
	h2c            bool
	conns, dials   int64         // connections that carried the waiters' requests; connections dialed
	connect        time.Duration // from the first waiter to gateway_fssp_waiters = waiters

	idle, connected, after benchproc.Memory // gateway VmRSS / VmHWM before the waiters, with all connected, after all answered
	goIdle, goConnected    int              // go_goroutines
	// Go runtime's stack and heap in use (go_memstats_*_inuse_bytes): with
	// all parked, and the largest sampled while the waiters were answered.
	stackParked, heapParked, stackWake, heapWake int
	// CPU time from the clock release until all were answered: the
	// gateway's, and this process's (the waiters' client).
	gatewayCPU, clientCPU time.Duration

	hold                      time.Duration
	holdStatus, holdResult    int // simulator calls while every waiter was parked
	totalStatus, totalResult  int // simulator calls over the whole run
	fromResult, fromRelease   []time.Duration
	resultSpread, burst       time.Duration // first to last /result; first /result to last answer
	final, answered, failures int
	wakeup                    []bucket // gateway_fssp_wakeup_seconds: the gateway's own view
}

// stack is one run's processes and addresses.
type stack struct {
	p                *benchproc.Procs
	gateway          *benchproc.Proc
	gwURL, simURL    string
	adminURL         string // the gateway's admin listener (/metrics)
	tap              *tap
	ctl              *http.Client // control and metrics traffic, apart from the waiters' connections
	closeTap, cancel func()
}

// measure starts a fresh stack in dir, runs one measurement with waiters
// waiters and stops everything before it returns.
func measure(ctx context.Context, o options, waiters int, dir string, stderr io.Writer) (*result, error) {
	s, err := startStack(ctx, o, dir)
	if s != nil {
		defer s.stop()
	}
	if err != nil {
		return nil, err
	}
	r := &result{waiters: waiters, tasks: o.tasks, hold: o.hold, h2c: o.h2c}

	// Hold the tasks: with the simulator's clock frozen they stay queued.
	frozen := time.Now().UTC().Truncate(time.Second)
	if err := s.setClock(ctx, frozen); err != nil {
		return nil, err
	}
	paths := make([]string, o.tasks)      // gateway task paths
	upstream := make([][]string, o.tasks) // their upstream task ids
	for i := range paths {
		seen := len(s.tap.searches())
		if paths[i], err = s.submit(ctx, o.lastname); err != nil {
			return nil, err
		}
		upstream[i] = s.tap.searches()[seen:]
	}
	if r.idle, err = benchproc.ReadMemory(s.gateway.Pid()); err != nil {
		return nil, err
	}
	if r.goIdle, err = s.metric(ctx, "go_goroutines"); err != nil {
		return nil, err
	}

	w := newWaiters(waiters, o.h2c)
	defer w.close()
	start := time.Now()
	if err := w.open(ctx, s.gwURL, paths); err != nil {
		return nil, err
	}
	if err := s.awaitWaiters(ctx, w, waiters); err != nil {
		return nil, err
	}
	r.connect = time.Since(start)
	r.conns, r.dials = int64(w.connections()), w.dials.Load()
	fmt.Fprintf(stderr, "fsspwait: %d waiters parked in %v; holding %v\n", waiters, r.connect.Round(time.Millisecond), o.hold)
	if r.connected, err = benchproc.ReadMemory(s.gateway.Pid()); err != nil {
		return nil, err
	}
	if r.goConnected, err = s.metric(ctx, "go_goroutines"); err != nil {
		return nil, err
	}
	if r.stackParked, r.heapParked, err = s.inuse(ctx); err != nil {
		return nil, err
	}
	status0, result0, err := s.calls(ctx)
	if err != nil {
		return nil, err
	}
	select {
	case <-time.After(o.hold):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	status1, result1, err := s.calls(ctx)
	if err != nil {
		return nil, err
	}
	r.holdStatus, r.holdResult = status1-status0, result1-result0
	if n := w.done.Load(); n > 0 {
		return nil, fmt.Errorf("%d waiters answered before the release (first error: %v)", n, w.firstError())
	}

	// Release: queue and run time have passed at once.
	gwCPU0, err := benchproc.CPUTime(s.gateway.Pid())
	if err != nil {
		return nil, err
	}
	selfCPU0 := benchproc.SelfCPU()
	released := time.Now()
	if err := s.setClock(ctx, frozen.Add(time.Minute)); err != nil {
		return nil, err
	}
	sampled := make(chan struct{})
	sampling, stopSampling := context.WithCancel(ctx)
	go func() { // the runtime's peak, every 100 ms until all are answered
		defer close(sampled)
		for {
			if st, hp, err := s.inuse(sampling); err == nil {
				r.stackWake, r.heapWake = max(r.stackWake, st), max(r.heapWake, hp)
			}
			select {
			case <-sampling.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	err = w.wait(ctx)
	stopSampling()
	<-sampled
	if err != nil {
		return nil, err
	}
	r.clientCPU = benchproc.SelfCPU() - selfCPU0
	gwCPU1, err := benchproc.CPUTime(s.gateway.Pid())
	if err != nil {
		return nil, err
	}
	r.gatewayCPU = gwCPU1 - gwCPU0
	if st, hp, err := s.inuse(ctx); err == nil {
		r.stackWake, r.heapWake = max(r.stackWake, st), max(r.heapWake, hp)
	}
	if r.after, err = benchproc.ReadMemory(s.gateway.Pid()); err != nil {
		return nil, err
	}
	if r.totalStatus, r.totalResult, err = s.calls(ctx); err != nil {
		return nil, err
	}
	if r.wakeup, err = s.histogram(ctx, "gateway_fssp_wakeup_seconds"); err != nil {
		return nil, err
	}
	r.score(w.answers, s.tap, upstream, released)
	if r.failures > 0 {
		fmt.Fprintf(stderr, "fsspwait: %d waiters failed, first: %v\n", r.failures, w.firstError())
	}
	return r, nil
}

// score reads the answers: waiter i was on the task whose upstream tasks are
// upstream[i%len(upstream)]; the clock moved at released.
func (r *result) score(answers []answer, tp *tap, upstream [][]string, released time.Time) {
	var firstResult, lastResult, lastAnswer time.Time
	for _, ids := range upstream {
		if at, ok := tp.finished(ids); ok {
			if firstResult.IsZero() || at.Before(firstResult) {
				firstResult = at
			}
			if at.After(lastResult) {
				lastResult = at
			}
		}
	}
	for i, a := range answers {
		if a.at.After(lastAnswer) {
			lastAnswer = a.at
		}
		if a.err != nil {
			r.failures++
			continue
		}
		r.answered++
		if st, err := a.status(); err == nil && (st == "succeeded" || st == "partial") {
			r.final++
		}
		r.fromRelease = append(r.fromRelease, a.at.Sub(released))
		if at, ok := tp.finished(upstream[i%len(upstream)]); ok {
			r.fromResult = append(r.fromResult, a.at.Sub(at))
		}
	}
	if !firstResult.IsZero() {
		r.resultSpread, r.burst = lastResult.Sub(firstResult), lastAnswer.Sub(firstResult)
	}
}

// startStack starts redis-server, upstream-sim, the tap and the gateway. On
// an error it still returns the stack so that the caller stops what started.
func startStack(ctx context.Context, o options, dir string) (*stack, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &stack{
		p:      &benchproc.Procs{Dir: dir},
		ctl:    &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 10 * time.Second},
		cancel: cancel,
	}
	var ports [6]int // redis, garant, fssp, fips, gateway, gateway admin
	for i := range ports {
		p, err := benchproc.FreePort()
		if err != nil {
			return s, err
		}
		ports[i] = p
	}
	addr := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

	redis, err := s.p.Start("redis", o.redis, "--port", strconv.Itoa(ports[0]), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	if err != nil {
		return s, err
	}
	if err := s.p.WaitFor(ctx, redis, func() bool { return benchproc.RedisPings(addr(ports[0])) }); err != nil {
		return s, err
	}
	sim, err := s.p.Start("upstream-sim", o.sim, "-addr-garant", addr(ports[1]), "-addr-fssp", addr(ports[2]), "-addr-fips", addr(ports[3]))
	if err != nil {
		return s, err
	}
	s.simURL = "http://" + addr(ports[2])
	if err := s.p.WaitFor(ctx, sim, func() bool { return benchproc.Answers200(s.ctl, s.simURL+"/_sim/clock") }); err != nil {
		return s, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return s, err
	}
	s.tap = newTap(s.simURL)
	srv := &http.Server{Handler: s.tap, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	s.closeTap = func() { _ = srv.Close(); <-served; s.tap.client.CloseIdleConnections() }

	cfg := filepath.Join(dir, "gateway.yaml")
	sum := sha256.Sum256([]byte(tenantKey))
	yaml := fmt.Sprintf(gatewayConfig, addr(ports[4]), addr(ports[0]), hex.EncodeToString(sum[:]), "http://"+ln.Addr().String(), addr(ports[5]))
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return s, err
	}
	if s.gateway, err = s.p.Start("gateway", o.gateway, "-config", cfg); err != nil {
		return s, err
	}
	s.gwURL, s.adminURL = "http://"+addr(ports[4]), "http://"+addr(ports[5])
	if err := s.p.WaitFor(ctx, s.gateway, func() bool { return benchproc.Answers200(s.ctl, s.gwURL+"/readyz") }); err != nil {
		return s, err
	}
	return s, nil
}

// gatewayConfig: one tenant, one FSSP credential with generous limits, fast
// polls and long waits. Arguments: listen address, Redis address, key hash,
// FSSP base URL, admin listen address.
const gatewayConfig = `addr: %s
redis: {url: "redis://%s/0"}
credentials:
  fssp-bench:
    upstream: fssp
    secret: demo-fssp-token
    limits:
      - {family: single, period: sliding_hour, limit: 1000000}
      - {family: single, period: sliding_day, limit: 1000000}
      - {family: group, period: sliding_day, limit: 1000000}
tenants:
  bench: {keys_sha256: [%s], credentials: {fssp: fssp-bench}}
upstreams:
  fssp: {base_url: "%s", timeout: 15s}
fssp: {max_wait: 60s, poll_initial: 1s, poll_max: 2s}
fairness: {long_polls: {per_tenant: -1, global: -1}}   # one tenant holds every waiter
server: {shutdown_timeout: 2s, admin_addr: %s}
`

// stop stops the gateway, the tap and the other processes.
func (s *stack) stop() {
	s.cancel()
	s.p.StopAll()
	if s.closeTap != nil {
		s.closeTap()
	}
	s.ctl.CloseIdleConnections()
}

// inuse reads the gateway runtime's stack and heap in use.
func (s *stack) inuse(ctx context.Context) (stack, heap int, err error) {
	if stack, err = s.metric(ctx, "go_memstats_stack_inuse_bytes"); err != nil {
		return 0, 0, err
	}
	heap, err = s.metric(ctx, "go_memstats_heap_inuse_bytes")
	return stack, heap, err
}

// awaitWaiters polls gateway_fssp_waiters until it reaches n.
func (s *stack) awaitWaiters(ctx context.Context, w *waiters, n int) error {
	ctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	for {
		got, err := s.metric(ctx, "gateway_fssp_waiters")
		if err == nil && got >= n {
			return nil
		}
		if w.done.Load() > 0 {
			return fmt.Errorf("waiters ended before all were parked: %v", w.firstError())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gateway_fssp_waiters = %d (%d requests sent), want %d: %w", got, w.sent.Load(), n, errors.Join(err, ctx.Err()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
