package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
)

// listener is one HTTP server and the listener it serves.
type listener struct {
	name string // for errors and logs: "public", "admin"
	srv  *http.Server
	ln   net.Listener
}

// job is background work (task pollers, syncs, subscriptions): it runs
// until its context ends and is not a reason to stop the gateway when it
// returns; an error it returns before then is logged.
type job struct {
	name string
	run  func(context.Context) error
}

// lifecycle owns every goroutine run starts. serve runs the listeners and
// the jobs in one errgroup until ctx ends (the signal) or a listener fails,
// then stops in this order:
//
//  1. every listener stops accepting, and in-flight requests (and parked
//     long polls, which the public server's shutdown hooks answer) drain,
//     within shutdownTimeout for all; connections still open then are cut;
//  2. the jobs' context ends, and serve waits for them;
//  3. after runs (Redis closes).
//
// Listeners drain in their order (the admin listener last, so metrics stay
// scrapable during the drain).
type lifecycle struct {
	log             *slog.Logger
	listeners       []listener
	jobs            []job
	shutdownTimeout time.Duration
	after           []func()
}

// serve runs the lifecycle; it returns nil after a shutdown asked by ctx and
// the first listener's error otherwise.
func (l *lifecycle) serve(ctx context.Context) error {
	defer func() {
		for _, f := range l.after {
			f()
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	// The jobs outlive the signal: they stop after the drain, not when it
	// starts, since the requests being drained may need them (a poller
	// finishing a task, the quota engine's invalidations).
	bg, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopJobs()
	for _, j := range l.jobs {
		g.Go(func() error {
			if err := j.run(bg); err != nil && bg.Err() == nil {
				l.log.Error("background work stopped", "job", j.name, "error", err.Error())
			}
			return nil
		})
	}
	for _, s := range l.listeners {
		g.Go(func() error {
			if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s listener %s: %w", s.name, s.ln.Addr(), err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		if ctx.Err() != nil {
			l.log.Info("shutting down: draining in-flight requests", "timeout", l.shutdownTimeout.String())
		} else {
			l.log.Error("shutting down: a listener failed; draining in-flight requests", "timeout", l.shutdownTimeout.String())
		}
		l.drain()
		stopJobs()
		return nil
	})
	return g.Wait()
}

// drain shuts the listeners down in order within one shutdown timeout and
// cuts the connections of those that did not finish in time.
func (l *lifecycle) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), l.shutdownTimeout)
	defer cancel()
	for _, s := range l.listeners {
		if err := s.srv.Shutdown(ctx); err != nil {
			l.log.Warn("shutdown timeout: closing the connections still open", "listener", s.name, "error", err.Error())
			_ = s.srv.Close()
		}
		_ = s.ln.Close() // in case Serve had not started yet
	}
}
