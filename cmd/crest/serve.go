package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/metrics"
	"github.com/crestwaves/crest/site"
)

func newServeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the status site (read-only: waves, excuses, tags, issues) and its /metrics",
		Long: `crest serve answers maintainers' "is my package green, in which tag, and if not, why?"
in a browser: waves and minor waves with their burndown, per-package excuses, tags with
"which tag for my package", and the issues Crest filed. Every page is also JSON (add .json
or ?format=json). It only reads Postgres; /metrics exports Crest's metrics from it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			reg := metrics.New()
			if err := reg.Register(metrics.NewStoreCollector(st, nil)); err != nil {
				return fmt.Errorf("metrics: %w", err)
			}
			addr, stop, err := startSite(st, a.cfg.Site.Addr, "--addr", reg.Handler())
			if err != nil {
				return err
			}
			defer stop()
			fmt.Fprintf(cmd.OutOrStdout(), "Status site on http://%s/ (metrics at /metrics); Ctrl-C stops it\n", addr)
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().String("addr", "", "listen address host:port (config site.addr, default 127.0.0.1:8234)")
	return cmd
}

// startSite serves the status site (with metricsHandler at /metrics when not nil) on addr,
// returning the address it listens on and how to stop it. flag names the setting to
// change when the port is taken.
func startSite(st *store.Store, addr, flag string, metricsHandler http.Handler) (string, func(), error) {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := site.New(st, site.Options{Metrics: metricsHandler, Logger: logger})
	if err != nil {
		return "", nil, err
	}
	l, err := listen(addr, "status site", flag)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("status site", "err", err)
		}
	}()
	return l.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// listen opens a TCP listener, naming the flag to change when the port is taken.
func listen(addr, what, flag string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			_, port, _ := net.SplitHostPort(addr)
			return nil, fmt.Errorf("%s port %s: port in use (choose another with %s)", what, port, flag)
		}
		return nil, fmt.Errorf("%s %s: %w", what, addr, err)
	}
	return l, nil
}
