package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
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
	logs := newLogBuffer(stdout, 200*time.Millisecond)
	defer logs.Close()
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

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
	if *addr != "" {
		cfg.Addr = *addr
	}
	if *adminAddr != "" {
		cfg.Server.AdminAddr = *adminAddr
	}
	if cfg.Server.AdminAddr == cfg.Addr {
		return fmt.Errorf("config: server.admin_addr: must differ from the public addr %s", cfg.Addr)
	}
	rdb, closeRedis, err := openRedis(ctx, cfg.Redis, log)
	if err != nil {
		return err
	}
	defer closeRedis()

	// Tracing from the OTEL_* variables; off (nil) when none asks for it.
	// Shut down last: it exports the spans of the drain and of background work.
	tel, err := telemetry.New(ctx, getenv, "")
	if err != nil {
		return err
	}
	defer shutdownTelemetry(tel, log)
	log.Info("tracing", "enabled", tel.Enabled())

	reg := metrics.NewRegistry()
	metrics.RegisterRedisPool(reg, rdb)
	app, err := wire(ctx, cfg, rdb, reg, log, tel)
	if err != nil {
		return err
	}
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
	h, err := handlers.NewServer(app.deps(cfg, rdb, reg, log, ln))
	if err != nil {
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

	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(ln) }()
	go func() {
		if err := admin.Serve(adminLn); !errors.Is(err, http.ErrServerClosed) {
			serveErr <- fmt.Errorf("admin: %w", err)
		}
	}()
	defer admin.Close()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", cfg.Server.ShutdownTimeout.String())
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	// Metrics stay scrapable during the drain; the admin listener goes last.
	if err := admin.Shutdown(shutdownCtx); err != nil {
		_ = admin.Close()
	}
	app.stop()
	return nil
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
