package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/metrics"
)

// workerMetrics serves /metrics of a `crest worker` on worker.metrics_addr (nothing when
// it is empty): the SDK's metrics of the returned client, which shares c's connection, and
// — on a worker of the default queue, so that builders do not repeat them — Crest's own
// from Postgres. (The SDK's per-request gRPC metrics belong to c's connection and are not
// among them.) The returned stop closes both.
func workerMetrics(cfg *Config, c client.Client, namespace string, st *store.Store) (client.Client, func(), error) {
	if cfg.Worker.MetricsAddr == "" {
		return c, func() {}, nil
	}
	reg := metrics.New()
	if cfg.Worker.ServeDefault {
		if err := reg.Register(metrics.NewStoreCollector(st, nil)); err != nil {
			return nil, nil, fmt.Errorf("metrics: %w", err)
		}
	}
	mc, err := client.NewClientFromExistingWithContext(context.Background(), c,
		client.Options{Namespace: namespace, Logger: newSDKLogger(cfg), MetricsHandler: reg.SDKHandler()})
	if err != nil {
		return nil, nil, fmt.Errorf("metrics: %w", err)
	}
	l, err := listen(cfg.Worker.MetricsAddr, "metrics", "--metrics-addr")
	if err != nil {
		mc.Close()
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.New(slog.NewTextHandler(os.Stderr, nil)).Error("metrics endpoint", "err", err)
		}
	}()
	return mc, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		mc.Close()
	}, nil
}
