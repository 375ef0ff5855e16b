package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/deploy/postgres"
	"github.com/crestwaves/crest/workflows"
)

// demoWaveID is the workflow ID of the demo major wave the chaos and cluster runs drive.
const demoWaveID = "demo/wave-1"

// demoRun drives the demo major wave (libcore 2 + libnet 2) against workers elsewhere, as
// the people of the end-to-end test do, and checks its outcome: what crest bench chaos
// and crest bench cluster share.
type demoRun struct {
	st     *store.Store
	c      client.Client
	began  time.Time
	events *[]string // say appends here
	out    io.Writer // and prints here (nil: nowhere)

	sayMu sync.Mutex
}

// say records an event, with the time since the run began, and prints it to progress.
func (d *demoRun) say(format string, args ...any) {
	line := fmt.Sprintf("%6s ", time.Since(d.began).Round(100*time.Millisecond)) + fmt.Sprintf(format, args...)
	d.sayMu.Lock()
	*d.events = append(*d.events, line)
	d.sayMu.Unlock()
	if d.out != nil {
		fmt.Fprintln(d.out, line)
	}
}

// localPostgres is where a run's PostgreSQL listens.
type localPostgres struct {
	addr string // host:port
	dsn  string // Crest's database
}

// startPostgres starts a throwaway PostgreSQL cluster under dir (made reachable by its
// account), with user as its superuser and database db (defaults: crest, crest), and opens
// the store on it, migrated; stop closes both.
func (d *demoRun) startPostgres(ctx context.Context, dir, binDir, runAs, user, db string) (pg localPostgres, stop func(), err error) {
	if err := os.Chmod(dir, 0o755); err != nil {
		return pg, nil, err
	}
	c, err := postgres.Start(ctx, postgres.Options{Dir: filepath.Join(dir, "postgres"), Ephemeral: true, BinDir: binDir, RunAs: runAs,
		Superuser: user, Database: db})
	if err != nil {
		return pg, nil, fmt.Errorf("postgres: %w", err)
	}
	stopPG := func() { _ = c.Stop(context.Background()) }
	pg = localPostgres{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port())), dsn: c.DSN("")}
	if d.st, err = store.Open(ctx, pg.dsn); err != nil {
		stopPG()
		return pg, nil, err
	}
	stop = func() { d.st.Close(); stopPG() }
	if _, err := d.st.Migrate(ctx); err != nil {
		stop()
		return pg, nil, err
	}
	return pg, stop, nil
}

// registerDemo creates the demo collection's repository under dir and registers it.
func (d *demoRun) registerDemo(ctx context.Context, dir string) (demo.Repo, error) {
	repo, err := demo.Create(ctx, filepath.Join(dir, "demo"))
	if err != nil {
		return demo.Repo{}, err
	}
	acts := &activities.Activities{Store: d.st}
	err = acts.RegisterCollection(ctx, wire.Collection{Name: "demo", Remote: repo.Remote, Evaluator: "index.nix",
		Systems: []string{System}, ProtectedRoots: repo.ProtectedRoots, TagPrefix: "wave", MainBranch: demo.MainBranch})
	return repo, err
}

// runWave starts the demo wave on queue (builds on buildPrefix-<system>), answers its
// failures (resolve) and runs disrupt alongside until the wave closes, then returns its
// result. disrupt stops when done is closed.
func (d *demoRun) runWave(ctx context.Context, queue, buildPrefix string, heartbeat time.Duration,
	disrupt func(ctx context.Context, done <-chan struct{}) error) (workflows.MajorWaveResult, error) {
	var out workflows.MajorWaveResult
	limits := workflows.Limits{BuildQueuePrefix: buildPrefix, HeartbeatTimeout: workflows.Duration(heartbeat),
		ShardSize: 8, Shards: 2, BuildsPerShard: 4}
	if _, err := d.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: demoWaveID, TaskQueue: queue}, workflows.MajorWave,
		workflows.MajorWaveInput{Collection: "demo", Title: "libcore 2, libnet 2", Limits: limits,
			Updates: []wire.Update{{Package: "libnet", Ref: demo.UpdateLibnet2}, {Package: "libcore", Ref: demo.UpdateLibcore2}}}); err != nil {
		return out, fmt.Errorf("start the demo wave: %w", err)
	}
	d.say("started %s", demoWaveID)

	done := make(chan struct{})
	people := make(chan error, 1)
	go func() { people <- d.resolve(ctx, demoWaveID) }()
	disrupted := make(chan error, 1)
	go func() { disrupted <- disrupt(ctx, done) }()

	werr := d.wait(ctx, demoWaveID, &out)
	close(done)
	if err := <-disrupted; err != nil && werr == nil {
		werr = err
	}
	if err := <-people; err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		return out, fmt.Errorf("demo wave: %w", werr)
	}
	d.say("%s completed: %s", demoWaveID, strings.Join(out.Tags, ", "))
	return out, nil
}

// resolve does what the people of the end-to-end test do, each as soon as its failure is
// recorded: tetrix won't-fix, calc retried with its fix, libhttp retried with its port.
// Each update has a fixed ID, so that sending it again after a kill or restart is one update.
func (d *demoRun) resolve(ctx context.Context, id string) error {
	steps := []struct {
		minor       int
		pkg, status string
		update      string
		arg         any
	}{
		{1, "tetrix", store.StatusFailed, workflows.UpdateResolve, workflows.ResolveRequest{Package: "tetrix", Resolution: "wont-fix",
			Reason: "upstream dead; drop it next release", By: "alice"}},
		{1, "calc", store.StatusTestFailed, workflows.UpdateRetry, workflows.RetryRequest{Package: "calc", Ref: demo.FixCalcPrecision, By: "carol"}},
		{2, "libhttp", store.StatusFailed, workflows.UpdateRetry, workflows.RetryRequest{Package: "libhttp", Ref: demo.FixLibhttpLibnet2, By: "dave"}},
	}
	for _, s := range steps {
		if err := d.recorded(ctx, s.minor, s.pkg, s.status); err != nil {
			return err
		}
		for {
			uctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			h, err := d.c.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateID: "chaos-" + s.pkg,
				UpdateName: s.update, Args: []any{s.arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
			if err == nil {
				err = h.Get(uctx, nil)
			}
			cancel()
			if err == nil {
				d.say("%s %s: accepted", s.update, s.pkg)
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			d.say("%s %s: %v; again", s.update, s.pkg, err)
			time.Sleep(time.Second)
		}
	}
	return nil
}

// recorded waits until pkg has status in minor wave minor of wave 1.
func (d *demoRun) recorded(ctx context.Context, minor int, pkg, status string) error {
	for {
		if w, err := d.st.WaveByNumber(ctx, "demo", 1); err == nil {
			if m, err := d.st.MinorWaveByNumber(ctx, w.ID, minor); err == nil {
				if rs, err := d.st.Results(ctx, m.ID, pkg); err == nil && len(rs) == 1 && rs[0].Status == status {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to be %s in wave-1-%d: %w", pkg, status, minor, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// wait polls the major wave until it closes (riding out a server's restart), then reads
// its result.
func (d *demoRun) wait(ctx context.Context, id string, out *workflows.MajorWaveResult) error {
	for {
		desc, err := d.c.DescribeWorkflowExecution(ctx, id, "")
		if err == nil && desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return d.c.GetWorkflow(ctx, id, "").Get(ctx, out)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waveOutcome is what a finished demo wave left in Postgres and git.
type waveOutcome struct {
	Builds     int
	Duplicates []string
	Lost       int
	Results    int
	Tags       []string
}

// outcome counts the wave's builds, duplicates and results and checks its tags on the
// remote; problems says what is wrong, for people.
func (d *demoRun) outcome(ctx context.Context, remote string, out workflows.MajorWaveResult) (o waveOutcome, problems []string, err error) {
	if o.Builds, err = d.st.FinishedBuilds(ctx); err != nil {
		return o, nil, err
	}
	w, err := d.st.WaveByNumber(ctx, "demo", 1)
	if err != nil {
		return o, nil, err
	}
	if o.Duplicates, err = d.st.DuplicateBuilds(ctx, w.ID); err != nil {
		return o, nil, err
	}
	minors, err := d.st.MinorWaves(ctx, w.ID)
	if err != nil {
		return o, nil, err
	}
	for _, m := range minors {
		results, err := d.st.Results(ctx, m.ID, "")
		if err != nil {
			return o, nil, err
		}
		counts, err := d.st.MinorWaveCounts(ctx, m.ID)
		if err != nil {
			return o, nil, err
		}
		o.Results += len(results)
		o.Lost += counts.Pending + counts.Unresolved
		if len(results) == 0 {
			o.Lost++ // a minor wave with no results lost them all
		}
		if m.State != "done" {
			problems = append(problems, fmt.Sprintf("minor wave %d is %s, not done", m.Number, m.State))
		}
	}
	for _, tag := range out.Tags {
		b, err := exec.CommandContext(ctx, "git", "-C", remote, "tag", "-l", "--format=%(objecttype)", tag).Output()
		if err != nil || strings.TrimSpace(string(b)) != "tag" {
			problems = append(problems, "tag "+tag+" is not an annotated tag on the remote")
			continue
		}
		o.Tags = append(o.Tags, tag)
	}
	if len(o.Duplicates) > 0 {
		problems = append(problems, fmt.Sprintf("%d duplicate builds", len(o.Duplicates)))
	}
	if o.Lost > 0 {
		problems = append(problems, fmt.Sprintf("%d lost results", o.Lost))
	}
	return o, problems, nil
}
