package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/legalgate/legalgate/internal/config"
	"github.com/legalgate/legalgate/internal/handlers"
	"github.com/legalgate/legalgate/internal/metrics"
	"github.com/legalgate/legalgate/internal/park"
	"github.com/legalgate/legalgate/internal/telemetry"
)

// run builds the gateway from its arguments and environment and serves until
// ctx ends, then drains in-flight requests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("GATEWAY_CONFIG"), "path of the YAML config (none: the demo)")
	addr := fs.String("addr", getenv("GATEWAY_ADDR"), "listen address (overrides the config's addr)")
	adminAddr := fs.String("admin-addr", getenv("GATEWAY_ADMIN_ADDR"), "admin listen address: /metrics, pprof (overrides the config's server.admin_addr)")
	probeURL := fs.String("probe", "", "only GET this URL (e.g. http://127.0.0.1:8080/readyz) and exit 0 on a 2xx answer, 1 otherwise: a container healthcheck")
	probeTimeout := fs.Duration("probe-timeout", 3*time.Second, "how long -probe waits for the answer")
	printRoutes := fs.Bool("print-routes", false, "print the effective FIPS route table (defaults and the config's routes) and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *printRoutes {
		cfg := &config.Config{}
		if *configPath != "" {
			c, err := config.Load(*configPath, getenv)
			if err != nil {
				return err
			}
			cfg = c
		}
		return printFIPSRoutes(stdout, cfg)
	}
	if *probeURL != "" {
		return probe(ctx, *probeURL, *probeTimeout, stdout)
	}
	// SIGHUP reloads the configuration (reload.go); taken from here on, so
	// that it never ends the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	logs := newLogBuffer(stdout, 200*time.Millisecond)
	defer logs.Close()
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))

	var cfg *config.Config
	if *configPath == "" {
		demo, stopSims, err := startDemo(log, logs)
		if err != nil {
			return err
		}
		defer stopSims()
		cfg = demo
	} else {
		c, err := config.Load(*configPath, getenv)
		if err != nil {
			return err
		}
		cfg = c
		for _, up := range slices.Sorted(maps.Keys(cfg.PlainHTTPUpstreams())) {
			log.Warn("upstream base_url is plain http: its credential and data cross the network unencrypted; use https unless the network is trusted",
				"upstream", up, "base_url", cfg.PlainHTTPUpstreams()[up])
		}
	}
	override := func(c *config.Config) {
		if *addr != "" {
			c.Addr = *addr
		}
		if *adminAddr != "" {
			c.Server.AdminAddr = *adminAddr
		}
	}
	override(cfg)
	reloadPath := *configPath // "" for the demo
	if reloadPath != "" {
		p, err := filepath.Abs(reloadPath)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		reloadPath = p
	}
	if cfg.Server.AdminAddr == cfg.Addr {
		return fmt.Errorf("config: server.admin_addr: must differ from the public addr %s", cfg.Addr)
	}
	// The listeners first: a port already taken fails before anything starts.
	rawLn, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	ln := park.NewListener(rawLn)
	defer ln.Close()
	adminLn, err := net.Listen("tcp", cfg.Server.AdminAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (server.admin_addr): %w", cfg.Server.AdminAddr, err)
	}
	defer adminLn.Close()

	rdb, closeRedis, err := openRedis(ctx, cfg.Redis, log)
	if err != nil {
		return err
	}
	// Tracing from the OTEL_* variables; off (nil) when none asks for it.
	// Shut down last: it exports the spans of the drain and of background work.
	tel, err := telemetry.New(ctx, getenv, "")
	if err != nil {
		closeRedis()
		return err
	}
	closeAll := func() { closeRedis(); shutdownTelemetry(tel, log) }
	log.Info("tracing", "enabled", tel.Enabled())
	if ig := tel.Ignored(); len(ig) > 0 {
		log.Warn("tracing: OTEL_PROPAGATORS names formats the gateway does not speak; they are left out", "ignored", ig)
	}
	reg := metrics.NewRegistry()
	metrics.RegisterRedisPool(reg, rdb)
	app, err := wire(cfg, rdb, reg, log, tel)
	if err != nil {
		closeAll()
		return err
	}
	h, err := handlers.NewServer(app.deps(cfg, rdb, reg, log, ln))
	if err != nil {
		closeAll()
		return err
	}

	// HTTP/1.1 and cleartext HTTP/2 (h2c, prior knowledge): a service with many
	// FSSP long-polls in flight can multiplex them over a few connections.
	// The header deadline is the server's; the body and write deadlines are
	// set per request by the handlers (Limits), which know which operations
	// stream and which wait.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Protocols:         &protocols,
		Handler:           h,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if app.fssp != nil {
		// Long polls answer at once with their current state rather than
		// holding up the drain.
		srv.RegisterOnShutdown(app.fssp.Release)
	}
	// The admin listener: metrics (and pprof when on), never on the public port.
	admin := &http.Server{
		Handler:           handlers.NewAdmin(reg, cfg.Server.Pprof),
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("gateway listening", "addr", ln.Addr().String(), "docs", "http://"+ln.Addr().String()+"/docs")
	log.Info("admin listening", "addr", adminLn.Addr().String(), "metrics", "http://"+adminLn.Addr().String()+"/metrics",
		"pprof", cfg.Server.Pprof)

	rl := &reloader{path: reloadPath, getenv: getenv, override: override, apply: app.apply, log: log,
		metrics: metrics.NewConfigReload(reg), debounce: 100 * time.Millisecond, current: cfg, generation: 1}
	rl.metrics.Loaded(time.Now(), false)

	lc := &lifecycle{
		log: log,
		// The admin listener drains last: metrics stay scrapable meanwhile.
		listeners:       []listener{{"public", srv, ln}, {"admin", admin, adminLn}},
		jobs:            append(app.jobs, job{"config reload", func(ctx context.Context) error { return rl.run(ctx, hup) }}),
		shutdownTimeout: cfg.Server.ShutdownTimeout,
		after:           []func(){closeAll},
	}
	return lc.serve(ctx)
}

// shutdownTelemetry exports the spans still buffered, for up to 5 s.
func shutdownTelemetry(tel *telemetry.Telemetry, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		log.Warn("tracing: export of the last spans failed", "error", err.Error())
	}
}

// listenLoopback serves h on a free loopback port; stop closes the server
// and waits for it.
func listenLoopback(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close(); <-done }, nil
}
