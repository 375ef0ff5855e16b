package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/temporal"
	"github.com/crestwaves/crest/workflows"
)

// TemporalReady is the line `crest bench temporal-server` prints, followed by the
// frontend's address, once the server accepts requests.
const TemporalReady = "temporal frontend ready on "

// RunTemporalServer runs the embedded Temporal server in this process until ctx ends: the
// Temporal process of a cluster run. It prints TemporalReady and the address once ready.
func RunTemporalServer(ctx context.Context, dbFile, logFile string, out io.Writer) error {
	tm, err := temporal.Start(ctx, temporal.Options{DatabaseFile: dbFile, LogFile: logFile, UIPort: -1,
		SearchAttributes: workflows.SearchAttributes})
	if err != nil {
		return err
	}
	defer tm.Stop()
	fmt.Fprintln(out, TemporalReady+tm.FrontendAddr()+" "+tm.Namespace())
	<-ctx.Done()
	return nil
}

// ClusterOptions configures a cluster run; zero fields take defaults.
type ClusterOptions struct {
	// Command makes a command line of the crest binary, given the arguments after "crest":
	// the run starts `crest bench temporal-server` and three `crest worker --config …` with
	// it (this binary, or a test binary that runs the same commands).
	Command func(args ...string) *exec.Cmd
	// KillAfter kills builder b with SIGKILL once it has recorded this many builds, and
	// never starts it again (default 4; negative: never).
	KillAfter int
	// Dir is where the run's directory goes (default: the system's temporary directory).
	Dir string
	// Keep leaves the run's directory (configs, logs, stores, cache) in place.
	Keep bool
	// PostgresBinDir and PostgresRunAs are passed to deploy/postgres.
	PostgresBinDir, PostgresRunAs string
	// Timeout bounds the whole run (default 20 minutes).
	Timeout time.Duration
	// Progress receives a line per event (nil: silent).
	Progress io.Writer
}

// ClusterBuilder is what one builder process did.
type ClusterBuilder struct {
	Name string `json:"name"`
	// Builds are the package builds it recorded; Built the derivations Nix built for them
	// (the rest came from the cache).
	Builds int  `json:"builds"`
	Built  int  `json:"built"`
	Killed bool `json:"killed"`
}

// ClusterResult is what a cluster run found.
type ClusterResult struct {
	Dir      string           `json:"dir"`
	Builders []ClusterBuilder `json:"builders"`
	// Builds counts the builds recorded (finished); Duplicates lists derivations recorded as
	// built more than once (must be none); Lost counts packages without a result (must be 0).
	Builds     int      `json:"builds"`
	Duplicates []string `json:"duplicates"`
	Lost       int      `json:"lost"`
	Results    int      `json:"results"`
	Tags       []string `json:"tags"`
	// TaggedOutputs counts the outputs rooted on the tag host for all tags, each checked
	// valid in its store and present in the cache.
	TaggedOutputs int      `json:"tagged_outputs"`
	CachePaths    int      `json:"cache_paths"`
	Events        []string `json:"events"`
	Seconds       float64  `json:"seconds"`
}

// WriteText prints a cluster result for people.
func (r *ClusterResult) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "crest bench cluster: demo wave (libcore 2 + libnet 2) on an orchestrator and two builders,\n")
	fmt.Fprintf(&b, "  each a crest worker process with a Nix store of its own, sharing only a signed binary cache\n")
	for _, e := range r.Events {
		fmt.Fprintf(&b, "                %s\n", e)
	}
	for _, bl := range r.Builders {
		killed := ""
		if bl.Killed {
			killed = " (killed mid-wave)"
		}
		fmt.Fprintf(&b, "  %-12s  %d builds, %d derivations built by Nix, the rest fetched from the cache%s\n", bl.Name, bl.Builds, bl.Built, killed)
	}
	fmt.Fprintf(&b, "  duplicates    %d %s\n", len(r.Duplicates), strings.Join(r.Duplicates, ", "))
	fmt.Fprintf(&b, "  lost results  %d (of %d package results in the minor waves)\n", r.Lost, r.Results)
	fmt.Fprintf(&b, "  tags          %s\n", strings.Join(r.Tags, " "))
	fmt.Fprintf(&b, "  tag host      %d tagged outputs rooted, each valid there and in the cache (%d paths)\n", r.TaggedOutputs, r.CachePaths)
	fmt.Fprintf(&b, "  wall time     %s\n", secs(r.Seconds))
	if r.Dir != "" {
		fmt.Fprintf(&b, "  kept          %s (configs, logs, stores, cache)\n", r.Dir)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// clusterQueue is the cluster's default task queue; builds go to clusterQueue-build-<system>.
const clusterQueue = "crest-cluster"

// cluster is one cluster run in progress.
type cluster struct {
	demoRun
	opts    ClusterOptions
	dir     string
	res     *ClusterResult
	procs   map[string]*exec.Cmd // by name: temporal, orchestrator, builder-a, builder-b
	killed  string
	workers []string
}

// RunCluster runs the demo major wave on a cluster on this machine, every part a process
// of its own: PostgreSQL, the embedded Temporal server (`crest bench temporal-server`),
// an orchestrator (`crest worker` with worker.serve_default and no systems) and two
// builders (`crest worker` for x86_64-linux), each worker with a Nix store of its own
// (nix.store_root: an empty /nix, as a separate host would have) and its own data
// directory, sharing only Postgres, Temporal and a file:// binary cache signed with a key
// made for the run. People answer the wave's failures as in the end-to-end test; builder b
// is killed with SIGKILL mid-wave and builder a finishes the work. Then it checks the
// tags, duplicates, lost results, and that every tagged output is rooted and valid on the
// tag host (the orchestrator) and present in the cache.
func RunCluster(ctx context.Context, opts ClusterOptions) (res *ClusterResult, err error) {
	if opts.Command == nil {
		return nil, errors.New("cluster: no command")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("cluster: builders with stores of their own (nix.store_root) need root")
	}
	if opts.KillAfter == 0 {
		opts.KillAfter = 4
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 20 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	k := &cluster{opts: opts, res: &ClusterResult{}, procs: map[string]*exec.Cmd{}}
	k.began, k.events, k.out = time.Now(), &k.res.Events, opts.Progress
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()
	if k.dir, err = os.MkdirTemp(opts.Dir, "crest-cluster-"); err != nil {
		return nil, err
	}
	if opts.Keep {
		k.res.Dir = k.dir
	} else {
		stops = append(stops, func() { _ = os.RemoveAll(k.dir) })
	}
	dsn, stopPostgres, err := k.startPostgres(ctx, k.dir, opts.PostgresBinDir, opts.PostgresRunAs)
	if err != nil {
		return nil, err
	}
	stops = append(stops, stopPostgres)
	stops = append(stops, k.stopAll)
	addr, namespace, err := k.startTemporal(ctx)
	if err != nil {
		return nil, err
	}
	if k.c, err = client.Dial(client.Options{HostPort: addr, Namespace: namespace, Logger: temporal.SilentLogger()}); err != nil {
		return nil, err
	}
	stops = append(stops, k.c.Close)
	repo, err := k.registerDemo(ctx, k.dir)
	if err != nil {
		return nil, err
	}

	cacheDir := filepath.Join(k.dir, "cache")
	pub, sec, err := nix.GenerateKey("crest-cluster-1")
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(k.dir, "cache-secret-key")
	if err := os.WriteFile(keyFile, []byte(string(sec)+"\n"), 0o600); err != nil {
		return nil, err
	}
	for _, name := range []string{"orchestrator", "builder-a", "builder-b"} {
		if err := k.startWorker(name, addr, namespace, dsn, "file://"+cacheDir, pub, keyFile); err != nil {
			return nil, err
		}
	}

	out, err := k.runWave(ctx, clusterQueue, 10*time.Second, k.killBuilder)
	if err != nil {
		return k.res, fmt.Errorf("%w (logs in %s)", err, k.dir)
	}
	k.res.Seconds = time.Since(k.began).Seconds()
	o, problems, err := k.outcome(ctx, repo.Remote, out)
	if err != nil {
		return k.res, err
	}
	k.res.Builds, k.res.Duplicates, k.res.Lost, k.res.Results, k.res.Tags = o.Builds, o.Duplicates, o.Lost, o.Results, o.Tags
	more, err := k.check(ctx, cacheDir, pub)
	if err != nil {
		return k.res, err
	}
	if problems = append(problems, more...); len(problems) > 0 {
		return k.res, errors.New(strings.Join(problems, "; "))
	}
	return k.res, nil
}

// startTemporal starts the Temporal server process and waits for its address.
func (k *cluster) startTemporal(ctx context.Context) (addr, namespace string, err error) {
	cmd := k.opts.Command("bench", "temporal-server", "--db", filepath.Join(k.dir, "temporal.db"),
		"--log", filepath.Join(k.dir, "temporal.log"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", "", err
	}
	if err := k.start("temporal", cmd); err != nil {
		return "", "", err
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), TemporalReady); ok {
				lines <- rest
			}
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			return "", "", fmt.Errorf("temporal server exited before it was ready (log: %s)", filepath.Join(k.dir, "temporal.log"))
		}
		addr, namespace, _ = strings.Cut(line, " ")
		k.say("Temporal server (pid %d) on %s", cmd.Process.Pid, addr)
		return addr, namespace, nil
	case <-ctx.Done():
		return "", "", ctx.Err()
	}
}

// clusterConfig is a worker's crest.yaml: the keys of cmd/crest/config.go. The database
// URL comes from the environment, as a production deployment's would.
const clusterConfig = `data_dir: %[1]s
temporal:
  address: %[2]s
  namespace: %[3]s
task_queues:
  default: %[4]s
  build_prefix: %[4]s-build
worker:
  serve_default: %[5]t
  systems: [%[6]s]
  max_builds: 2
nix:
  store_root: %[1]s/nix
cache:
  url: %[7]s
  public_key: %[8]s
%[9]s`

// startWorker writes a worker's config and starts `crest worker` with it: the orchestrator
// serves the default queue and builds nothing; builders build and push, with the secret key.
func (k *cluster) startWorker(name, addr, namespace, dsn, cacheURL, pub, keyFile string) error {
	dir := filepath.Join(k.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	orchestrator := name == "orchestrator"
	systems, secret := System, "  secret_key_file: "+keyFile+"\n"
	if orchestrator {
		systems, secret = "", ""
	}
	cfg := filepath.Join(dir, "crest.yaml")
	text := fmt.Sprintf(clusterConfig, dir, addr, namespace, clusterQueue, orchestrator, systems, cacheURL, pub, secret)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return err
	}
	cmd := k.opts.Command("worker", "--config", cfg)
	cmd.Env = append(cmd.Environ(), "CREST_DATABASE_URL="+dsn)
	cmd.Dir = dir
	if err := k.start(name, cmd); err != nil {
		return err
	}
	if !orchestrator {
		k.workers = append(k.workers, name)
	}
	k.say("%s: crest worker (pid %d), store %s", name, cmd.Process.Pid, filepath.Join(dir, "nix"))
	return nil
}

// start starts a process of the cluster, its output in <dir>/<name>.log.
func (k *cluster) start(name string, cmd *exec.Cmd) error {
	logf, err := os.OpenFile(filepath.Join(k.dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	if cmd.Stdout == nil {
		cmd.Stdout = logf
	}
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // nothing outlives the run
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	k.procs[name] = cmd
	return nil
}

// stopAll stops the workers, then Temporal: SIGTERM, SIGKILL after a grace period.
func (k *cluster) stopAll() {
	for _, name := range []string{"builder-b", "builder-a", "orchestrator", "temporal"} {
		cmd := k.procs[name]
		if cmd == nil || name == k.killed {
			continue
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
}

// builderName maps a recorded builder (host:pid) to the process's name.
func (k *cluster) builderName(recorded string) string {
	_, pid, _ := strings.Cut(recorded, ":")
	for name, cmd := range k.procs {
		if strconv.Itoa(cmd.Process.Pid) == pid {
			return name
		}
	}
	return recorded
}

// killBuilder kills builder b with SIGKILL once it has recorded opts.KillAfter builds.
func (k *cluster) killBuilder(ctx context.Context, done <-chan struct{}) error {
	if k.opts.KillAfter < 0 {
		return nil
	}
	for {
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		w, err := k.st.WaveByNumber(ctx, "demo", 1)
		if err != nil {
			continue // not started yet
		}
		counts, err := k.st.BuildsPerBuilder(ctx, w.ID)
		if err != nil {
			return err
		}
		for _, c := range counts {
			if k.builderName(c.Builder) == "builder-b" && c.Builds >= k.opts.KillAfter {
				cmd := k.procs["builder-b"]
				_ = cmd.Process.Signal(syscall.SIGKILL)
				_ = cmd.Wait()
				k.killed = "builder-b"
				k.say("SIGKILL builder-b after %d builds; builder-a goes on alone", c.Builds)
				return nil
			}
		}
	}
}

// check counts the builds per builder and holds every tag's outputs to the tag host's
// store and the cache.
func (k *cluster) check(ctx context.Context, cacheDir, pub string) (problems []string, err error) {
	w, err := k.st.WaveByNumber(ctx, "demo", 1)
	if err != nil {
		return nil, err
	}
	counts, err := k.st.BuildsPerBuilder(ctx, w.ID)
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		name := k.builderName(c.Builder)
		k.res.Builders = append(k.res.Builders, ClusterBuilder{Name: name, Builds: c.Builds, Built: c.Built, Killed: name == k.killed})
	}
	slices.SortFunc(k.res.Builders, func(a, b ClusterBuilder) int { return strings.Compare(a.Name, b.Name) })
	for _, name := range k.workers {
		if !slices.ContainsFunc(k.res.Builders, func(b ClusterBuilder) bool { return b.Name == name && b.Builds > 0 }) {
			problems = append(problems, name+" built nothing")
		}
	}
	tagHost, err := nix.New(nix.Config{StoreRoot: filepath.Join(k.dir, "orchestrator", "nix"),
		Cache: nix.Cache{URL: "file://" + cacheDir, PublicKey: pub}})
	if err != nil {
		return nil, err
	}
	roots, err := k.st.TagRoots(ctx, "demo")
	if err != nil {
		return nil, err
	}
	rooted := map[string]bool{}
	for _, r := range roots {
		if r.Missing > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d outputs in neither the tag host's store nor the cache", r.Tag, r.Missing))
		}
		links, err := filepath.Glob(filepath.Join(r.Dir, "out-*"))
		if err != nil {
			return nil, err
		}
		if len(links) != r.Outputs || r.Outputs == 0 {
			problems = append(problems, fmt.Sprintf("%s: %d roots for %d outputs", r.Tag, len(links), r.Outputs))
		}
		for _, l := range links {
			target, err := os.Readlink(l)
			if err != nil {
				return nil, err
			}
			rooted[target] = true
		}
	}
	for _, tag := range k.res.Tags {
		if !slices.ContainsFunc(roots, func(r store.TagRoot) bool { return r.Tag == tag }) {
			problems = append(problems, tag+" is not rooted on the tag host")
		}
	}
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range rooted {
			if !yield(p) {
				return
			}
		}
	})
	invalid, err := tagHost.Invalid(ctx, paths)
	if err != nil {
		return nil, err
	}
	if len(invalid) > 0 {
		problems = append(problems, fmt.Sprintf("%d tagged outputs are not valid on the tag host: %s", len(invalid), strings.Join(invalid, " ")))
	}
	for _, p := range paths {
		hash, _, _ := strings.Cut(strings.TrimPrefix(p, "/nix/store/"), "-")
		if _, err := os.Stat(filepath.Join(cacheDir, hash+".narinfo")); err != nil {
			problems = append(problems, p+" is not in the cache")
		}
	}
	k.res.TaggedOutputs = len(paths)
	infos, _ := filepath.Glob(filepath.Join(cacheDir, "*.narinfo"))
	k.res.CachePaths = len(infos)
	return problems, nil
}
