package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/filer"
	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/tracker/local"
	"github.com/crestwaves/crest/deploy/temporal"
	"github.com/crestwaves/crest/workflows"
)

// ChaosWorkerEnv carries a worker process's configuration (JSON) from RunChaos to
// RunChaosWorker.
const ChaosWorkerEnv = "CREST_CHAOS_WORKER"

// ChaosOptions configures a chaos run; zero fields take defaults.
type ChaosOptions struct {
	// Kills is how many times the worker process is killed with SIGKILL (default 5).
	Kills int
	// ServerRestarts is how many times the embedded Temporal server is stopped and started
	// again on its SQLite file (default 1; negative: none).
	ServerRestarts int
	// Seed chooses the kill points (0: from the clock; the result says which).
	Seed uint64
	// WorkerCommand makes the command of one worker process, which must call
	// RunChaosWorker with ChaosWorkerEnv set (RunChaos sets it): `crest bench chaos-worker`,
	// or a test binary.
	WorkerCommand func() *exec.Cmd
	// Dir is where the run's temporary directory goes (default: the system's).
	Dir string
	// PostgresBinDir and PostgresRunAs are passed to deploy/postgres.
	PostgresBinDir, PostgresRunAs string
	// Timeout bounds the whole run (default 15 minutes).
	Timeout time.Duration
	// Progress receives a line per event (nil: silent).
	Progress io.Writer
}

// ChaosResult is what a chaos run counted.
type ChaosResult struct {
	Seed           uint64 `json:"seed"`
	Kills          int    `json:"kills"`
	ServerRestarts int    `json:"server_restarts"`
	// Builds is the builds recorded (finished) in Postgres over the whole major wave.
	Builds int `json:"builds"`
	// Duplicates lists derivations recorded as built more than once (must be none).
	Duplicates []string `json:"duplicates"`
	// Lost counts packages of a minor wave without a result (must be 0).
	Lost int `json:"lost"`
	// Results counts the package results of all minor waves.
	Results int `json:"results"`
	// Tags are the major wave's tags, each checked on the collection's remote.
	Tags []string `json:"tags"`
	// Events says what the run did when, from its start.
	Events  []string `json:"events"`
	Seconds float64  `json:"seconds"`
}

// WriteText prints a chaos result for people.
func (r *ChaosResult) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "crest bench chaos: demo wave (libcore 2 + libnet 2), seed %d\n", r.Seed)
	fmt.Fprintf(&b, "  chaos         %d SIGKILLs of the worker process, %d restarts of the embedded Temporal server\n", r.Kills, r.ServerRestarts)
	for _, e := range r.Events {
		fmt.Fprintf(&b, "                %s\n", e)
	}
	fmt.Fprintf(&b, "  builds        %d recorded\n", r.Builds)
	fmt.Fprintf(&b, "  duplicates    %d %s\n", len(r.Duplicates), strings.Join(r.Duplicates, ", "))
	fmt.Fprintf(&b, "  lost results  %d (of %d package results in the minor waves)\n", r.Lost, r.Results)
	fmt.Fprintf(&b, "  tags          %s\n", strings.Join(r.Tags, " "))
	fmt.Fprintf(&b, "  wall time     %s\n", secs(r.Seconds))
	_, err := io.WriteString(w, b.String())
	return err
}

// chaosWorkerConfig is what a worker process needs.
type chaosWorkerConfig struct {
	Temporal, Namespace, DSN, Queue, BuildPrefix, ReposDir string
}

// RunChaosWorker is one worker process of a chaos run: the workers `crest worker` runs
// (workflows and bookkeeping on one queue, real Nix builds on the build queue, issues in
// the local tracker), configured from ChaosWorkerEnv, until ctx ends or it is killed.
func RunChaosWorker(ctx context.Context) error {
	var cfg chaosWorkerConfig
	if err := json.Unmarshal([]byte(os.Getenv(ChaosWorkerEnv)), &cfg); err != nil {
		return fmt.Errorf("chaos worker: %s: %w", ChaosWorkerEnv, err)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	st, err := store.Open(ctx, cfg.DSN)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := nix.New(nix.Config{})
	if err != nil {
		return err
	}
	c, err := client.Dial(client.Options{HostPort: cfg.Temporal, Namespace: cfg.Namespace, Logger: temporal.SilentLogger()})
	if err != nil {
		return fmt.Errorf("connect to temporal: %w", err)
	}
	defer c.Close()
	acts := &activities.Activities{Store: st, Evaluator: n, Builder: activities.NixBuilder{Nix: n},
		Repos:  &activities.Repos{Dir: cfg.ReposDir},
		Issues: activities.FilerIssues{Filer: &filer.Filer{Store: st, Tracker: local.New(st, local.Options{})}}}
	main := worker.New(c, cfg.Queue, worker.Options{})
	workflows.Register(main)
	activities.Register(main, acts)
	build := worker.New(c, workflows.BuildQueue(cfg.BuildPrefix, System), worker.Options{MaxConcurrentActivityExecutionSize: 2})
	activities.RegisterBuilds(build, acts)
	if err := main.Start(); err != nil {
		return err
	}
	defer main.Stop()
	if err := build.Start(); err != nil {
		return err
	}
	defer build.Stop()
	<-ctx.Done()
	return nil
}

// chaos is one chaos run in progress.
type chaos struct {
	demoRun
	opts   ChaosOptions
	dir    string
	tm     *temporal.Server
	tmOpts temporal.Options
	cfg    []byte
	res    *ChaosResult

	mu     sync.Mutex
	worker *exec.Cmd
}

// RunChaos runs the demo major wave (libcore 2 + libnet 2, resolved as in the end-to-end
// test: tetrix won't-fix, calc and libhttp retried with their fixes) against a worker in a
// separate process that it kills with SIGKILL at seeded random points, restarting it each
// time, and restarts the embedded Temporal server (on its SQLite file) in between. Then it
// counts builds, duplicates, results and tags.
func RunChaos(ctx context.Context, opts ChaosOptions) (res *ChaosResult, err error) {
	if opts.WorkerCommand == nil {
		return nil, errors.New("chaos: no worker command")
	}
	if opts.Kills == 0 {
		opts.Kills = 5
	}
	if opts.ServerRestarts == 0 {
		opts.ServerRestarts = 1
	}
	opts.ServerRestarts = max(opts.ServerRestarts, 0)
	if opts.Seed == 0 {
		opts.Seed = uint64(time.Now().UnixNano())
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	k := &chaos{opts: opts, res: &ChaosResult{Seed: opts.Seed}}
	k.began, k.events, k.out = time.Now(), &k.res.Events, opts.Progress
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()
	if k.dir, err = os.MkdirTemp(opts.Dir, "crest-chaos-"); err != nil {
		return nil, err
	}
	stops = append(stops, func() { _ = os.RemoveAll(k.dir) })
	pg, stopPostgres, err := k.startPostgres(ctx, k.dir, opts.PostgresBinDir, opts.PostgresRunAs, "", "")
	if err != nil {
		return nil, err
	}
	stops = append(stops, stopPostgres)
	k.tmOpts = temporal.Options{UIPort: -1, SearchAttributes: workflows.SearchAttributes,
		DatabaseFile: filepath.Join(k.dir, "temporal.db"), LogFile: filepath.Join(k.dir, "temporal.log")}
	if k.tm, err = temporal.Start(ctx, k.tmOpts); err != nil {
		return nil, fmt.Errorf("temporal: %w", err)
	}
	stops = append(stops, func() {
		if k.tm != nil {
			k.tm.Stop()
		}
	})
	// A restart must come back on the same port: the worker process keeps its address.
	_, port, _ := net.SplitHostPort(k.tm.FrontendAddr())
	if k.tmOpts.FrontendPort, err = strconv.Atoi(port); err != nil {
		return nil, err
	}
	if k.c, err = client.Dial(client.Options{HostPort: k.tm.FrontendAddr(), Namespace: k.tm.Namespace(), Logger: temporal.SilentLogger()}); err != nil {
		return nil, err
	}
	stops = append(stops, k.c.Close)

	repo, err := k.registerDemo(ctx, k.dir)
	if err != nil {
		return nil, err
	}
	const queue = "crest-chaos"
	k.cfg, _ = json.Marshal(chaosWorkerConfig{Temporal: k.tm.FrontendAddr(), Namespace: k.tm.Namespace(), DSN: pg.dsn,
		Queue: queue, BuildPrefix: queue + "-build", ReposDir: filepath.Join(k.dir, "repos")})
	if err := k.startWorker(); err != nil {
		return nil, err
	}
	stops = append(stops, k.stopWorker)

	out, err := k.runWave(ctx, queue, queue+"-build", 5*time.Second, k.disrupt)
	if err != nil {
		return k.res, err
	}
	k.res.Seconds = time.Since(k.began).Seconds()
	o, problems, err := k.outcome(ctx, repo.Remote, out)
	if err != nil {
		return k.res, err
	}
	k.res.Builds, k.res.Duplicates, k.res.Lost, k.res.Results, k.res.Tags = o.Builds, o.Duplicates, o.Lost, o.Results, o.Tags
	if len(problems) > 0 {
		return k.res, errors.New(strings.Join(problems, "; "))
	}
	return k.res, nil
}

func (k *chaos) startWorker() error {
	cmd := k.opts.WorkerCommand()
	cmd.Env = append(os.Environ(), ChaosWorkerEnv+"="+string(k.cfg))
	logf, err := os.OpenFile(filepath.Join(k.dir, "worker.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start worker process: %w", err)
	}
	_ = logf.Close()
	k.mu.Lock()
	k.worker = cmd
	k.mu.Unlock()
	return nil
}

func (k *chaos) stopWorker() {
	k.mu.Lock()
	cmd := k.worker
	k.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}
}

// disrupt kills the worker process opts.Kills times and restarts the server
// opts.ServerRestarts times, at points chosen by the seed: each waits until a random number
// of further builds is recorded (1 to 6) or a random time (5 to 30 s) passed, whichever
// comes first, so that kills land in builds (most of the wave) as well as in merges,
// evaluations and bookkeeping.
func (k *chaos) disrupt(ctx context.Context, done <-chan struct{}) error {
	rng := rand.New(rand.NewPCG(k.opts.Seed, k.opts.Seed^0x9e3779b97f4a7c15))
	type step struct{ restart bool }
	var steps []step
	for range k.opts.Kills {
		steps = append(steps, step{})
	}
	for range k.opts.ServerRestarts {
		i := rng.IntN(len(steps) + 1)
		steps = append(steps[:i], append([]step{{restart: true}}, steps[i:]...)...)
	}
	for _, s := range steps {
		builds, wait := 1+rng.IntN(6), time.Duration(5000+rng.IntN(25000))*time.Millisecond
		from, err := k.st.FinishedBuilds(ctx)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(wait)
		for {
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			n, err := k.st.FinishedBuilds(ctx)
			if err != nil {
				return err
			}
			if n >= from+builds || time.Now().After(deadline) {
				break
			}
		}
		n, _ := k.st.FinishedBuilds(ctx)
		if s.restart {
			k.say("restarting the Temporal server (%d builds recorded)", n)
			k.tm.Stop()
			k.tm = nil
			tm, err := temporal.Start(ctx, k.tmOpts)
			if err != nil {
				return fmt.Errorf("restart temporal: %w", err)
			}
			k.tm = tm
			k.res.ServerRestarts++
			k.say("Temporal server back on %s", tm.FrontendAddr())
			continue
		}
		k.stopWorker()
		k.res.Kills++
		k.say("SIGKILL %d of the worker process (%d builds recorded)", k.res.Kills, n)
		if err := k.startWorker(); err != nil {
			return err
		}
	}
	return nil
}
