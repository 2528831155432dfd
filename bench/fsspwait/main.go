// Command fsspwait measures FSSP long-poll waiters end to end: it starts
// redis-server, the upstream simulators and the real gateway binary on
// loopback, holds a few FSSP tasks unfinished on the simulator's frozen clock,
// parks many GET /v1/fssp/tasks/{id}?wait=60 requests on them, then releases
// the tasks and measures the gateway's memory, goroutines, upstream polls and
// how soon each waiter is answered. It prints a Markdown table and stops every
// process it started. See README.md.
//
//	go run ./bench/fsspwait -waiters 10000 -tasks 10
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/legalgate/legalgate/bench/benchproc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fsspwait:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	waiters, tasks int
	hold           time.Duration
	timeout        time.Duration
	gateway, sim   string
	redis          string
	lastname       string
	baseline       bool
	h2c            bool
	keep           bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("fsspwait", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.waiters, "waiters", 10000, "concurrent long-poll waiters, spread evenly over the tasks")
	fs.IntVar(&o.tasks, "tasks", 10, "FSSP tasks to submit (at most 100: the simulator's hourly limit)")
	fs.DurationVar(&o.hold, "hold", 10*time.Second, "how long to hold the tasks once every waiter is connected (the poll-count window)")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "overall deadline after the build; every process is stopped when it passes")
	fs.StringVar(&o.gateway, "gateway", "", "gateway binary (default: go build ./cmd/gateway)")
	fs.StringVar(&o.sim, "upstream-sim", "", "upstream-sim binary (default: go build ./cmd/upstream-sim)")
	fs.StringVar(&o.redis, "redis-server", "redis-server", "redis-server binary")
	fs.StringVar(&o.lastname, "lastname", "ПЕТРОВ", "last name searched: ПЕТРОВ answers a few records (a ~5 KB task), НЕТДОЛГОВ none (~0.4 KB)")
	fs.BoolVar(&o.baseline, "baseline", true, "also run with 1 waiter per task, on fresh processes, for comparison")
	fs.BoolVar(&o.h2c, "h2c", false, "waiters speak cleartext HTTP/2 (prior knowledge), multiplexed over as few connections as the gateway's stream limit allows")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (binaries, configs, logs)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.tasks < 1 || o.tasks > 100:
		return o, errors.New("-tasks must be 1 to 100")
	case o.waiters < o.tasks:
		return o, errors.New("-waiters must be at least -tasks")
	case o.waiters > 15000:
		return o, errors.New("-waiters must be at most 15000: this process and the gateway each hold one fd per waiter (limit 20000)")
	case o.hold < time.Second || o.hold > 30*time.Second:
		return o, errors.New("-hold must be 1s to 30s (waiters wait at most 60s)")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil && len(strings.Fields(string(b))) >= 3 {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	work, err := os.MkdirTemp("", "fsspwait-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep || err != nil {
			fmt.Fprintln(stderr, "fsspwait: work directory kept:", work)
			return
		}
		_ = os.RemoveAll(work)
	}()
	if o.gateway == "" {
		o.gateway = filepath.Join(work, "gateway")
		if err := benchproc.GoBuild(ctx, o.gateway, "./cmd/gateway"); err != nil {
			return err
		}
	}
	if o.sim == "" {
		o.sim = filepath.Join(work, "upstream-sim")
		if err := benchproc.GoBuild(ctx, o.sim, "./cmd/upstream-sim"); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	runs := []int{o.waiters}
	if o.baseline && o.waiters != o.tasks {
		runs = append(runs, o.tasks)
	}
	var results []*result
	for i, waiters := range runs {
		fmt.Fprintf(stderr, "fsspwait: run %d: %d waiters on %d tasks\n", i+1, waiters, o.tasks)
		r, err := measure(ctx, o, waiters, filepath.Join(work, fmt.Sprintf("run%d", i+1)), stderr)
		if err != nil {
			return fmt.Errorf("run with %d waiters: %w", waiters, err)
		}
		results = append(results, r)
	}
	writeReport(stdout, "go run ./bench/fsspwait "+strings.Join(args, " "), load, o, results)
	return nil
}
