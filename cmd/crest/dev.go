package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wavename"
	"github.com/crestwaves/crest/deploy/postgres"
	"github.com/crestwaves/crest/deploy/temporal"
	"github.com/crestwaves/crest/metrics"
	"github.com/crestwaves/crest/workflows"
)

func newDevCmd(a *app) *cobra.Command {
	var demo bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run Crest on this machine: embedded Temporal + Web UI, PostgreSQL, a worker, the demo collection",
		Long: `crest dev starts, in one process, a Temporal server on SQLite with its Web UI, a
PostgreSQL cluster from the system's binaries (or database.url), Crest's worker on every
task queue, and the demo collection. State persists in the data directory; a second start
reuses it. Ctrl-C shuts everything down.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDev(cmd.Context(), a.cfg, demo, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.Bool("ephemeral", false, "keep everything in memory / a temp dir, deleted on exit")
	f.Int("temporal-port", 0, "Temporal frontend port (config dev.temporal_port, default 7233)")
	f.Int("ui-port", 0, "Web UI port (config dev.ui_port, default 8233)")
	f.Int("postgres-port", 0, "PostgreSQL port (config dev.postgres_port, default 55432)")
	f.Int("site-port", 0, "status site and /metrics port (config dev.site_port, default 8234)")
	f.String("ip", "", "address to bind (config dev.ip, default 127.0.0.1)")
	f.BoolVar(&demo, "demo", false, "start a major wave over the demo collection")
	return cmd
}

// devStack is everything `crest dev` started, stopped in reverse order.
type devStack struct {
	dataDir  string
	pg       *postgres.Cluster
	st       *store.Store
	temporal *temporal.Server
	client   client.Client
	stops    []func()
}

func (s *devStack) stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
}

func runDev(ctx context.Context, cfg *Config, demo bool, out io.Writer) (err error) {
	started := time.Now()
	s := &devStack{dataDir: cfg.DataDir}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	if cfg.Dev.Ephemeral {
		dir, err := os.MkdirTemp("", "crest-dev-")
		if err != nil {
			return fmt.Errorf("ephemeral data directory: %w", err)
		}
		_ = os.Chmod(dir, 0o755) // the postgres account must reach its cluster inside
		s.dataDir = dir
		s.stops = append(s.stops, func() { _ = os.RemoveAll(dir) })
	}
	if err := checkWritable(s.dataDir); err != nil {
		return err
	}
	unlock, err := lockDataDir(s.dataDir)
	if err != nil {
		return err
	}
	s.stops = append(s.stops, unlock)
	fmt.Fprintf(out, "Starting Crest in %s …\n", s.dataDir)

	dsn := cfg.Database.URL
	if dsn == "" {
		pg, err := postgres.Start(ctx, postgres.Options{
			Dir: filepath.Join(s.dataDir, "postgres"), Port: cfg.Dev.PostgresPort,
			BinDir: cfg.Postgres.BinDir, RunAs: cfg.Postgres.RunAs, Ephemeral: cfg.Dev.Ephemeral,
		})
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		s.pg = pg
		s.stops = append(s.stops, func() { _ = pg.Stop(context.Background()) })
		dsn = pg.DSN("")
	}
	if s.st, err = store.Open(ctx, dsn); err != nil {
		return err
	}
	s.stops = append(s.stops, s.st.Close)
	if _, err := s.st.Migrate(ctx); err != nil {
		return err
	}
	// One registry for the process: the worker's SDK metrics and Crest's own from Postgres,
	// served by the status site at /metrics.
	reg := metrics.New()
	if err := reg.Register(metrics.NewStoreCollector(s.st, nil)); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	siteAddr, stopSite, err := startSite(s.st, net.JoinHostPort(cfg.Dev.IP, strconv.Itoa(cfg.Dev.SitePort)), "--site-port", reg.Handler())
	if err != nil {
		return err
	}
	s.stops = append(s.stops, stopSite)

	frontend, namespace, uiAddr := cfg.Temporal.Address, cfg.Temporal.Namespace, ""
	if frontend == "" {
		dbFile := filepath.Join(s.dataDir, "temporal.db")
		if cfg.Dev.Ephemeral {
			dbFile = ""
		}
		s.temporal, err = temporal.Start(ctx, temporal.Options{
			DatabaseFile: dbFile, IP: cfg.Dev.IP, FrontendPort: cfg.Dev.TemporalPort, UIPort: cfg.Dev.UIPort,
			Namespace: namespace, SearchAttributes: workflows.SearchAttributes,
			LogFile: filepath.Join(s.dataDir, "temporal.log"),
		})
		if err != nil {
			return fmt.Errorf("temporal: %w", err)
		}
		s.stops = append(s.stops, s.temporal.Stop)
		frontend, namespace, uiAddr = s.temporal.FrontendAddr(), s.temporal.Namespace(), s.temporal.UIAddr()
	}
	s.client, err = client.DialContext(ctx, client.Options{HostPort: frontend, Namespace: namespace, Logger: newSDKLogger(cfg),
		MetricsHandler: reg.SDKHandler()})
	if err != nil {
		return fmt.Errorf("connect to temporal at %s: %w", frontend, err)
	}
	s.stops = append(s.stops, s.client.Close)

	acts, err := newActivities(cfg, s.st, s.dataDir)
	if err != nil {
		return err
	}
	if err := registerCollections(ctx, acts, cfg); err != nil {
		return err
	}
	if err := setupDemo(ctx, acts, s.dataDir); err != nil {
		return err
	}
	stopWorkers, err := startWorkers(cfg, s.client, acts)
	if err != nil {
		return err
	}
	s.stops = append(s.stops, stopWorkers)
	if err := startIntake(ctx, cfg, s.client, acts, out); err != nil {
		return err
	}

	state := devState{PID: os.Getpid(), Temporal: frontend, Namespace: namespace, UI: uiAddr,
		DatabaseURL: dsn, TaskQueue: cfg.TaskQueues.Default}
	if err := writeDevState(s.dataDir, state); err != nil {
		return err
	}
	s.stops = append(s.stops, func() { _ = os.Remove(filepath.Join(s.dataDir, devStateFile)) })

	printBanner(out, state, siteAddr, s.dataDir, time.Since(started))
	if s.pg != nil && s.pg.Dir() != filepath.Join(s.dataDir, "postgres") {
		fmt.Fprintf(out, "  (PostgreSQL refuses root and its account cannot reach %s: its cluster is in %s, linked from there)\n", s.dataDir, s.pg.Dir())
	}
	if demo {
		if err := startDemoWave(ctx, cfg, s.client, s.st, out); err != nil {
			fmt.Fprintf(out, "demo wave: %v\n", err)
		}
	}
	<-ctx.Done()
	fmt.Fprintln(out, "\nShutting down …")
	s.stop()
	fmt.Fprintln(out, "Stopped.")
	return nil
}

func printBanner(out io.Writer, st devState, siteAddr, dataDir string, took time.Duration) {
	fmt.Fprintf(out, "\nCrest is ready (%s).\n\n", took.Round(time.Millisecond))
	if st.UI != "" {
		fmt.Fprintf(out, "  Web UI     http://%s/namespaces/%s/workflows\n", st.UI, st.Namespace)
	}
	fmt.Fprintf(out, "  Status     http://%s/\n", siteAddr)
	fmt.Fprintf(out, "  Metrics    http://%s/metrics\n", siteAddr)
	fmt.Fprintf(out, "  Temporal   %s (namespace %s)\n", st.Temporal, st.Namespace)
	fmt.Fprintf(out, "  Postgres   %s\n", store.RedactDSN(st.DatabaseURL))
	fmt.Fprintf(out, "  Data       %s\n", dataDir)
	fmt.Fprintf(out, "\nTry, in another terminal (the demo collection is registered as \"demo\"):\n")
	cli := cliName()
	fmt.Fprintf(out, "  %s wave start --update libcore=update/libcore-2 --update libnet=update/libnet-2 --wait\n", cli)
	fmt.Fprintf(out, "  %s wave status %s\n", cli, wavename.Major(demoPrefix, 1))
	fmt.Fprintf(out, "  %s plan --graph ../shared/data/debian-bookworm-amd64-graph.jsonl.gz --update glibc --update openssl\n", cli)
	fmt.Fprintf(out, "\nCtrl-C stops everything; the data directory keeps the state for the next start.\n")
}

func writeDevState(dir string, s devState) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, devStateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", devStateFile, err)
	}
	return os.Rename(tmp, filepath.Join(dir, devStateFile))
}

// checkWritable creates dir and proves a file can be written there.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("data directory %s not writable: %w (choose another with --data-dir)", dir, err)
	}
	probe := filepath.Join(dir, ".write-probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		return fmt.Errorf("data directory %s not writable: %w (choose another with --data-dir)", dir, err)
	}
	return os.Remove(probe)
}

// lockDataDir keeps two crest dev processes off one data directory.
func lockDataDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "dev.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is in use by another crest dev (choose another with --data-dir)", dir)
		}
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	return func() { f.Close() }, nil
}

// cliName is how to run this binary again from another terminal: as it was invoked, or
// "crest" when it was built on the fly (go run) or cannot be told.
func cliName() string {
	if a := os.Args[0]; a != "" && !strings.Contains(a, "go-build") && !strings.HasSuffix(a, ".test") {
		return a
	}
	return "crest"
}
