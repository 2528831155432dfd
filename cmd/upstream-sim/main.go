// Command upstream-sim serves the simulators of Garant Connect v2, FSSP API
// v1.0 and FIPS Registrator v1 on loopback ports, for the compose stack, load
// tests and manual use. Each has its /_sim/ control surface (faults, call
// counters, clock).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/legalgate/legalgate/internal/upstream/fips/fipssim"
	"github.com/legalgate/legalgate/internal/upstream/fssp/fsspsim"
	"github.com/legalgate/legalgate/internal/upstream/garant/garantsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "upstream-sim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("upstream-sim", flag.ContinueOnError)
	garantAddr := fs.String("addr-garant", "127.0.0.1:9101", "Garant Connect v2 simulator address")
	fsspAddr := fs.String("addr-fssp", "127.0.0.1:9102", "FSSP API v1.0 simulator address")
	fipsAddr := fs.String("addr-fips", "127.0.0.1:9103", "FIPS Registrator v1 simulator address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	servers := []*http.Server{
		{Addr: *garantAddr, Handler: garantsim.New(garantsim.DefaultConfig()), ReadHeaderTimeout: 10 * time.Second},
		{Addr: *fsspAddr, Handler: fsspsim.New(fsspsim.DefaultConfig()), ReadHeaderTimeout: 10 * time.Second},
		{Addr: *fipsAddr, Handler: fipssim.New(fipssim.DefaultConfig()), ReadHeaderTimeout: 10 * time.Second},
	}
	fmt.Fprintf(stdout, "garant http://%s/v2  fssp http://%s  fips http://%s/api/v1\n", *garantAddr, *fsspAddr, *fipsAddr)
	g, ctx := errgroup.WithContext(ctx)
	for _, s := range servers {
		g.Go(func() error {
			if err := s.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	g.Go(func() error {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(shutdownCtx)
		}
		return nil
	})
	return g.Wait()
}
