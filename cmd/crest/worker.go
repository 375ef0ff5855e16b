package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/filer"
	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker"
	"github.com/crestwaves/crest/activities/tracker/github"
	"github.com/crestwaves/crest/activities/tracker/local"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

func newWorkerCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Serve Crest's task queues (workflows and bookkeeping, and builds for worker.systems)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := a.openStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if _, err := st.Migrate(ctx); err != nil {
				return err
			}
			c, err := a.dialTemporal(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			_, namespace := a.temporalAddress()
			c, stopMetrics, err := workerMetrics(a.cfg, c, namespace, st)
			if err != nil {
				return err
			}
			defer stopMetrics()
			acts, err := newActivities(a.cfg, st, a.cfg.DataDir)
			if err != nil {
				return err
			}
			if err := registerCollections(ctx, acts, a.cfg); err != nil {
				return err
			}
			stop, err := startWorkers(a.cfg, c, acts)
			if err != nil {
				return err
			}
			defer stop()
			if err := startIntake(ctx, a.cfg, c, acts, cmd.OutOrStdout()); err != nil {
				return err
			}
			var serving []string
			if a.cfg.Worker.ServeDefault {
				serving = append(serving, a.cfg.TaskQueues.Default+" (workflows, bookkeeping)")
			}
			for _, s := range a.cfg.Worker.Systems {
				serving = append(serving, workflows.BuildQueue(a.cfg.TaskQueues.BuildPrefix, s)+" (builds)")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "crest worker serving %s; Ctrl-C stops it\n", strings.Join(serving, ", "))
			if a.cfg.Worker.MetricsAddr != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "metrics at http://%s/metrics\n", a.cfg.Worker.MetricsAddr)
			}
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().String("metrics-addr", "", "serve Prometheus /metrics on host:port (config worker.metrics_addr; default: none)")
	return cmd
}

// newNix is the Nix adapter as configured: options, store root, binary cache.
func newNix(cfg *Config) (*nix.Nix, error) {
	opts := []nix.Option(nil)
	for _, o := range cfg.Nix.Options {
		name, value, _ := strings.Cut(o, "=")
		opts = append(opts, nix.Option{Name: name, Value: value})
	}
	cache, err := cfg.nixCache()
	if err != nil {
		return nil, err
	}
	return nix.New(nix.Config{BinDir: cfg.Nix.BinDir, BuilderPath: cfg.Nix.BuilderPath, Options: opts,
		StoreRoot: cfg.Nix.StoreRoot, Cache: cache})
}

// newActivities wires the activities to the store, Nix and git. The worker serving the
// default queue tags, and so roots tagged outputs under <dataDir>/gcroots (crest gc).
func newActivities(cfg *Config, st *store.Store, dataDir string) (*activities.Activities, error) {
	n, err := newNix(cfg)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	acts := &activities.Activities{
		Store:     st,
		Evaluator: n,
		Builder:   activities.NixBuilder{Nix: n},
		Repos:     &activities.Repos{Dir: filepath.Join(dataDir, "repos"), Credentials: cfg.gitCredentials()},
		Host:      workerHost(),
	}
	if cfg.Worker.ServeDefault {
		acts.Roots = &activities.TagRoots{Nix: n, Dir: filepath.Join(dataDir, "gcroots")}
	}
	if cfg.Worker.ServeDefault { // builders file no issues and need no tracker credentials
		tr, err := newTracker(cfg, st, logger)
		if err != nil {
			return nil, err
		}
		acts.Issues = activities.FilerIssues{Filer: &filer.Filer{Store: st, Tracker: tr, Logger: logger}}
		if cfg.Tracker.Kind == local.Name {
			// crest dev: the results of changes submitted by ref go to the local tracker, as
			// a pull request's go to GitHub.
			acts.QueueIssues = local.New(st, local.Options{})
		}
		if q := cfg.Queue.GitHub; q.Repo != "" {
			base := q.BaseURL
			if base == "" {
				base = cfg.Tracker.GitHub.BaseURL
			}
			pulls, err := github.New(github.Config{Repo: q.Repo, Token: github.Token(cfg.intakeToken()), BaseURL: base, Logger: logger})
			if err != nil {
				return nil, fmt.Errorf("queue.github: %w", err)
			}
			acts.Intake = &activities.PullIntake{Collection: cfg.intakeCollection(demoCollection), Label: q.Label, Pulls: pulls}
		}
	}
	return acts, nil
}

// queueClient sends merge queues their updates, as the CLI and the intake do.
func queueClient(cfg *Config, c client.Client) workflows.QueueClient {
	return workflows.QueueClient{Client: c, TaskQueue: cfg.TaskQueues.Default,
		Limits: workflows.Limits{BuildQueuePrefix: cfg.TaskQueues.BuildPrefix}}
}

// startIntake starts the intake of the queue that takes GitHub pull requests, when one is
// configured (it keeps running across worker restarts: a running one is left as it is).
func startIntake(ctx context.Context, cfg *Config, c client.Client, acts *activities.Activities, out io.Writer) error {
	if acts.Intake == nil {
		return nil
	}
	branch := cfg.Queue.GitHub.Branch
	if branch == "" {
		branch = demo.MainBranch // crest dev's demo
		for _, col := range cfg.Collections {
			if col.Name == acts.Intake.Collection {
				branch = col.collection().MainBranch
			}
		}
	}
	id, err := queueClient(cfg, c).StartIntake(ctx, workflows.QueueIntakeInput{Collection: acts.Intake.Collection, Branch: branch,
		Every: workflows.Duration(cfg.Queue.GitHub.PollInterval)})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "pull requests of %s labelled %s go to the merge queue of %s/%s (%s)\n",
		cfg.Queue.GitHub.Repo, cfg.Queue.GitHub.Label, acts.Intake.Collection, branch, id)
	return nil
}

// newTracker is the configured issue tracker: local (Postgres, for crest dev) or GitHub.
func newTracker(cfg *Config, st *store.Store, logger *slog.Logger) (tracker.Tracker, error) {
	if cfg.Tracker.Kind == "github" {
		gh := cfg.Tracker.GitHub
		return github.New(github.Config{Repo: gh.Owner + "/" + gh.Repo, Token: github.Token(gh.Token),
			BaseURL: gh.BaseURL, Logger: logger})
	}
	return local.New(st, local.Options{}), nil
}

// workerHost names this worker process: host:pid.
func workerHost() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// registerCollections stores the configured collections so workflows can load them.
func registerCollections(ctx context.Context, acts *activities.Activities, cfg *Config) error {
	for _, c := range cfg.Collections {
		if err := acts.RegisterCollection(ctx, c.collection()); err != nil {
			return fmt.Errorf("register collection %s: %w", c.Name, err)
		}
	}
	return nil
}

// startWorkers runs Crest's workers: workflows and bookkeeping on the default queue, builds
// on the queue of every system this machine builds for. It returns how to stop them.
func startWorkers(cfg *Config, c client.Client, acts *activities.Activities) (func(), error) {
	var ws []worker.Worker
	if cfg.Worker.ServeDefault {
		main := worker.New(c, cfg.TaskQueues.Default, worker.Options{
			MaxConcurrentActivityExecutionSize: cfg.Worker.MaxActivities,
		})
		workflows.Register(main)
		acts.Queues = queueClient(cfg, c)
		activities.Register(main, acts)
		ws = append(ws, main)
	}
	for _, system := range cfg.Worker.Systems {
		b := worker.New(c, workflows.BuildQueue(cfg.TaskQueues.BuildPrefix, system), worker.Options{
			MaxConcurrentActivityExecutionSize: cfg.Worker.MaxBuilds,
		})
		activities.RegisterBuilds(b, acts)
		ws = append(ws, b)
	}
	stop := func() {
		for _, w := range ws {
			w.Stop()
		}
	}
	for i, w := range ws {
		if err := w.Start(); err != nil {
			for _, started := range ws[:i] {
				started.Stop()
			}
			return nil, fmt.Errorf("start worker: %w", err)
		}
	}
	// Dispatchers size their rounds to the builders' slots: say how many this process has,
	// once its build workers poll.
	for _, system := range cfg.Worker.Systems {
		withdraw, err := activities.AnnounceBuilder(acts.Store, workerHost()+"/"+system,
			system, cfg.Worker.MaxBuilds, slog.Default())
		if err != nil {
			stop()
			return nil, err
		}
		prev := stop
		stop = func() { withdraw(); prev() }
	}
	return stop, nil
}
