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
	"go.yaml.in/yaml/v3"

	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/deploy/temporal"
	"github.com/crestwaves/crest/workflows"
)

// TemporalReady is the line `crest bench temporal-server` prints, followed by the
// frontend's address, once the server accepts requests.
const TemporalReady = "temporal frontend ready on "

// RunTemporalServer runs the embedded Temporal server in this process until ctx ends: the
// Temporal process of a cluster run, with namespace (default "default") and Crest's search
// attributes registered. It prints TemporalReady, the address and the namespace once ready.
func RunTemporalServer(ctx context.Context, dbFile, logFile, namespace string, out io.Writer) error {
	tm, err := temporal.Start(ctx, temporal.Options{DatabaseFile: dbFile, LogFile: logFile, UIPort: -1,
		Namespace: namespace, SearchAttributes: workflows.SearchAttributes})
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
	// the run starts `crest bench temporal-server` and the topology's processes with it
	// (this binary, or a test binary that runs the same commands). Variables it adds to
	// this process's environment are kept when a process brings an environment of its own.
	Command func(args ...string) *exec.Cmd
	// Topology makes the crest processes (nil: BuiltinTopology, an orchestrator and two
	// builders configured for the run; ComposeTopology runs a compose file's services).
	Topology ClusterTopology
	// KillAfter kills the last builder with SIGKILL once it has recorded this many builds,
	// and never starts it again (default 4; negative: never).
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

// ClusterTopology is what a cluster runs besides PostgreSQL and Temporal: its crest
// processes. What each worker is (orchestrator or builder, its store, the cache, the task
// queues) the run asks the worker's own configuration (`crest config show`), so that a
// topology cannot claim what its processes do not do.
type ClusterTopology interface {
	// Describe names the topology, for people.
	Describe() string
	// Services says how PostgreSQL and Temporal are to be started.
	Services() ClusterServices
	// Plan makes the crest processes once PostgreSQL and Temporal listen, in the order they
	// start; one-shots run to completion before the next process starts.
	Plan(ep ClusterEndpoints) ([]ClusterProcess, error)
}

// ClusterServices is how a topology wants PostgreSQL and Temporal.
type ClusterServices struct {
	// DatabaseUser and Database are Crest's role and database (default crest and crest).
	DatabaseUser, Database string
	// Namespace is the Temporal namespace registered, with Crest's search attributes
	// (default "default").
	Namespace string
}

// ClusterEndpoints is where a run's PostgreSQL and Temporal listen and where its files go.
type ClusterEndpoints struct {
	// Dir is the run's directory: the processes' files go under it.
	Dir string
	// Postgres and Temporal are host:port; DSN connects to Crest's database.
	Postgres, DSN string
	Temporal      string
	Namespace     string
}

// ClusterProcess is one crest process of a cluster.
type ClusterProcess struct {
	// Name names it in the run's events and its log (<dir>/<name>.log).
	Name string
	// Args follow "crest".
	Args []string
	// Env is its whole environment (nil: this process's).
	Env []string
	// Dir is its working directory.
	Dir string
	// OneShot processes (crest migrate up) run to completion, successfully, before the
	// next process starts; the others run until the run ends.
	OneShot bool
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
	Topology string           `json:"topology"`
	Dir      string           `json:"dir"`
	Builders []ClusterBuilder `json:"builders"`
	// Builds counts the builds recorded (finished); Duplicates lists derivations recorded as
	// built more than once (must be none); Lost counts packages without a result (must be 0).
	Builds     int      `json:"builds"`
	Duplicates []string `json:"duplicates"`
	Lost       int      `json:"lost"`
	Results    int      `json:"results"`
	Tags       []string `json:"tags"`
	// Rebuilt lists derivations a builder's Nix built although their outputs were in the
	// cache before the package build needing them began (must be none); BuiltTwice those
	// that more than one builder built, each before the output was in the cache (races).
	// NixBuilt counts the derivations the builders' stores built, from their build logs.
	Rebuilt    []string `json:"rebuilt"`
	BuiltTwice []string `json:"built_twice"`
	NixBuilt   int      `json:"nix_built"`
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
	fmt.Fprintf(&b, "crest bench cluster: demo wave (libcore 2 + libnet 2) on %s,\n", r.Topology)
	fmt.Fprintf(&b, "  each a crest worker process with a Nix store of its own, sharing only a signed binary cache\n")
	for _, e := range r.Events {
		fmt.Fprintf(&b, "                %s\n", e)
	}
	width := 12
	for _, bl := range r.Builders {
		width = max(width, len(bl.Name))
	}
	for _, bl := range r.Builders {
		killed := ""
		if bl.Killed {
			killed = " (killed mid-wave)"
		}
		fmt.Fprintf(&b, "  %-*s  %d builds, %d derivations built by Nix, the rest fetched from the cache%s\n", width, bl.Name, bl.Builds, bl.Built, killed)
	}
	fmt.Fprintf(&b, "  duplicates    %d %s\n", len(r.Duplicates), strings.Join(r.Duplicates, ", "))
	fmt.Fprintf(&b, "  rebuilt       %d derivations built although in the cache %s\n", len(r.Rebuilt), strings.Join(r.Rebuilt, ", "))
	fmt.Fprintf(&b, "  built twice   %d of %d derivations the builders' Nix built, each before it was in the cache %s\n",
		len(r.BuiltTwice), r.NixBuilt, strings.Join(r.BuiltTwice, ", "))
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

// clusterWorker is a worker process as its configuration says it runs.
type clusterWorker struct {
	ClusterProcess
	serveDefault       bool
	systems            []string
	storeRoot          string
	cacheURL, pubKey   string
	queue, buildPrefix string
}

// cluster is one cluster run in progress.
type cluster struct {
	demoRun
	opts      ClusterOptions
	dir       string
	res       *ClusterResult
	procs     map[string]*exec.Cmd // by name: temporal and the topology's processes
	order     []string             // the order they started
	workers   []clusterWorker
	tagHost   clusterWorker
	builders  []string
	victim    string // the builder killed mid-wave
	killed    string
	cacheDir  string
	publicKey string
}

// RunCluster runs the demo major wave on a cluster on this machine, every part a process
// of its own: PostgreSQL, the embedded Temporal server (`crest bench temporal-server`) and
// the topology's crest processes (by default an orchestrator, `crest worker` with
// worker.serve_default and no systems, and two builders, `crest worker` for x86_64-linux),
// each worker with a Nix store of its own (nix.store_root: an empty /nix, as a separate
// host would have) and its own data directory, sharing only Postgres, Temporal and a
// file:// binary cache signed with a key made for the run. People answer the wave's
// failures as in the end-to-end test; the last builder is killed with SIGKILL mid-wave and
// the others finish the work. Then it checks the tags, duplicates, lost results, that no
// builder built what was in the cache already, and that every tagged output is rooted and
// valid on the tag host (the orchestrator) and present in the cache.
func RunCluster(ctx context.Context, opts ClusterOptions) (res *ClusterResult, err error) {
	if opts.Command == nil {
		return nil, errors.New("cluster: no command")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("cluster: builders with stores of their own (nix.store_root) need root")
	}
	if opts.Topology == nil {
		opts.Topology = BuiltinTopology()
	}
	if opts.KillAfter == 0 {
		opts.KillAfter = 4
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 20 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	k := &cluster{opts: opts, res: &ClusterResult{Topology: opts.Topology.Describe()}, procs: map[string]*exec.Cmd{}}
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
	svc := opts.Topology.Services()
	pg, stopPostgres, err := k.startPostgres(ctx, k.dir, opts.PostgresBinDir, opts.PostgresRunAs, svc.DatabaseUser, svc.Database)
	if err != nil {
		return nil, err
	}
	stops = append(stops, stopPostgres)
	stops = append(stops, k.stopAll)
	ep := ClusterEndpoints{Dir: k.dir, Postgres: pg.addr, DSN: pg.dsn}
	if ep.Temporal, ep.Namespace, err = k.startTemporal(ctx, svc.Namespace); err != nil {
		return nil, err
	}
	if k.c, err = client.Dial(client.Options{HostPort: ep.Temporal, Namespace: ep.Namespace, Logger: temporal.SilentLogger()}); err != nil {
		return nil, err
	}
	stops = append(stops, k.c.Close)
	repo, err := k.registerDemo(ctx, k.dir)
	if err != nil {
		return nil, err
	}
	procs, err := opts.Topology.Plan(ep)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := k.startProcesses(ctx, procs); err != nil {
		return k.res, fmt.Errorf("%w (logs in %s)", err, k.dir)
	}

	out, err := k.runWave(ctx, k.tagHost.queue, k.tagHost.buildPrefix, 10*time.Second, k.killBuilder)
	if err != nil {
		return k.res, fmt.Errorf("%w (logs in %s)", err, k.dir)
	}
	k.res.Seconds = time.Since(k.began).Seconds()
	o, problems, err := k.outcome(ctx, repo.Remote, out)
	if err != nil {
		return k.res, err
	}
	k.res.Builds, k.res.Duplicates, k.res.Lost, k.res.Results, k.res.Tags = o.Builds, o.Duplicates, o.Lost, o.Results, o.Tags
	more, err := k.check(ctx)
	if err != nil {
		return k.res, err
	}
	if problems = append(problems, more...); len(problems) > 0 {
		return k.res, errors.New(strings.Join(problems, "; "))
	}
	return k.res, nil
}

// startProcesses runs the one-shots, reads every worker's configuration, checks that the
// workers make the cluster the demo needs, and starts them.
func (k *cluster) startProcesses(ctx context.Context, procs []ClusterProcess) error {
	for _, p := range procs {
		if p.OneShot {
			if err := k.runOnce(ctx, p); err != nil {
				return err
			}
			continue
		}
		w, err := k.workerConfig(ctx, p)
		if err != nil {
			return err
		}
		k.workers = append(k.workers, w)
	}
	if err := k.roles(); err != nil {
		return err
	}
	for _, w := range k.workers {
		if err := k.start(w.Name, k.command(w.ClusterProcess)); err != nil {
			return err
		}
		what := "builds " + strings.Join(w.systems, ", ")
		if w.serveDefault {
			what = "orchestrator (workflows, tags)"
		}
		k.say("%s: crest %s (pid %d), %s, store %s", w.Name, strings.Join(w.Args, " "), k.procs[w.Name].Process.Pid, what, w.storeRoot)
	}
	return nil
}

// command is a process's command line, with its environment and directory.
func (k *cluster) command(p ClusterProcess) *exec.Cmd {
	cmd := k.opts.Command(p.Args...)
	if p.Env != nil {
		inherited := map[string]bool{}
		for _, kv := range os.Environ() {
			inherited[kv] = true
		}
		env := slices.Clone(p.Env)
		for _, kv := range cmd.Env {
			if !inherited[kv] {
				env = append(env, kv) // what Command adds, such as a test binary's arguments
			}
		}
		cmd.Env = env
	}
	cmd.Dir = p.Dir
	return cmd
}

// runOnce runs a one-shot process to its successful end.
func (k *cluster) runOnce(ctx context.Context, p ClusterProcess) error {
	cmd := k.command(p)
	if err := k.start(p.Name, cmd); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		delete(k.procs, p.Name)
		if err != nil {
			return fmt.Errorf("%s: crest %s: %w (log: %s)", p.Name, strings.Join(p.Args, " "), err, filepath.Join(k.dir, p.Name+".log"))
		}
		k.say("%s: crest %s done", p.Name, strings.Join(p.Args, " "))
		return nil
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return ctx.Err()
	}
}

// workerConfig asks a worker's configuration as the worker will read it: `crest config
// show` with the worker's flags, environment and directory.
func (k *cluster) workerConfig(ctx context.Context, p ClusterProcess) (clusterWorker, error) {
	w := clusterWorker{ClusterProcess: p}
	i := 0
	for i < len(p.Args) && !strings.HasPrefix(p.Args[i], "-") {
		i++
	}
	if strings.Join(p.Args[:i], " ") != "worker" {
		return w, fmt.Errorf("%s: crest %s is not a worker (one-shots are marked so)", p.Name, strings.Join(p.Args, " "))
	}
	cmd := k.command(ClusterProcess{Args: append([]string{"config", "show"}, p.Args[i:]...), Env: p.Env, Dir: p.Dir})
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return w, fmt.Errorf("%s: crest config show: %w: %s", p.Name, err, strings.TrimSpace(stderr.String()))
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		return w, fmt.Errorf("%s: crest config show: %w", p.Name, err)
	}
	get := func(key string) any {
		var cur any = cfg
		for _, part := range strings.Split(key, ".") {
			m, _ := cur.(map[string]any)
			cur = m[part]
		}
		return cur
	}
	str := func(key string) string {
		if v := get(key); v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
	// Values come as viper holds them: from the environment they are strings, which crest
	// decodes weakly ("false", "a,b").
	switch v := get("worker.serve_default").(type) {
	case bool:
		w.serveDefault = v
	case string:
		w.serveDefault, _ = strconv.ParseBool(v)
	}
	switch v := get("worker.systems").(type) {
	case []any:
		for _, s := range v {
			w.systems = append(w.systems, fmt.Sprint(s))
		}
	case string:
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				w.systems = append(w.systems, s)
			}
		}
	}
	w.storeRoot, w.cacheURL, w.pubKey = str("nix.store_root"), str("cache.url"), str("cache.public_key")
	w.queue, w.buildPrefix = str("task_queues.default"), str("task_queues.build_prefix")
	return w, nil
}

// roles checks that the workers make the cluster of the demo: one orchestrator that builds
// nothing (the tag host), builders for the demo's system, each worker with a store of its
// own, all on one file:// cache with one key and on the same task queues.
func (k *cluster) roles() error {
	var problems []string
	stores := map[string]string{}
	for _, w := range k.workers {
		switch {
		case w.serveDefault && len(w.systems) == 0:
			if k.tagHost.Name != "" {
				problems = append(problems, fmt.Sprintf("%s and %s both serve the workflow queue", k.tagHost.Name, w.Name))
			}
			k.tagHost = w
		case w.serveDefault:
			problems = append(problems, w.Name+" serves the workflow queue and builds: the demo's orchestrator builds nothing")
		case slices.Contains(w.systems, System):
			k.builders = append(k.builders, w.Name)
		default:
			problems = append(problems, fmt.Sprintf("%s builds %v, not %s", w.Name, w.systems, System))
		}
		if w.storeRoot == "" {
			problems = append(problems, w.Name+" has no store of its own (nix.store_root): it would share this machine's /nix")
		} else if other, ok := stores[w.storeRoot]; ok {
			problems = append(problems, fmt.Sprintf("%s and %s share the store %s", other, w.Name, w.storeRoot))
		}
		stores[w.storeRoot] = w.Name
		if w.cacheURL != k.workers[0].cacheURL || w.pubKey != k.workers[0].pubKey {
			problems = append(problems, fmt.Sprintf("%s and %s use different caches or keys", k.workers[0].Name, w.Name))
		}
		if w.queue != k.workers[0].queue || w.buildPrefix != k.workers[0].buildPrefix {
			problems = append(problems, fmt.Sprintf("%s and %s use different task queues", k.workers[0].Name, w.Name))
		}
	}
	if k.tagHost.Name == "" {
		problems = append(problems, "no worker serves the workflow queue alone (the orchestrator)")
	}
	if len(k.builders) < 2 {
		problems = append(problems, fmt.Sprintf("%d builders for %s: the demo needs two", len(k.builders), System))
	} else {
		k.victim = k.builders[len(k.builders)-1]
	}
	if len(k.workers) > 0 {
		dir, ok := strings.CutPrefix(k.workers[0].cacheURL, "file://")
		if !ok || !filepath.IsAbs(dir) {
			problems = append(problems, fmt.Sprintf("cache.url %q: the cluster checks a file:// cache", k.workers[0].cacheURL))
		}
		k.cacheDir, k.publicKey = dir, k.workers[0].pubKey
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// startTemporal starts the Temporal server process and waits for its address.
func (k *cluster) startTemporal(ctx context.Context, namespace string) (addr, ns string, err error) {
	args := []string{"bench", "temporal-server", "--db", filepath.Join(k.dir, "temporal.db"), "--log", filepath.Join(k.dir, "temporal.log")}
	if namespace != "" {
		args = append(args, "--namespace", namespace)
	}
	cmd := k.opts.Command(args...)
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
		addr, ns, _ = strings.Cut(line, " ")
		k.say("Temporal server (pid %d) on %s, namespace %s", cmd.Process.Pid, addr, ns)
		return addr, ns, nil
	case <-ctx.Done():
		return "", "", ctx.Err()
	}
}

// BuiltinTopology is make cluster-demo's cluster: an orchestrator (worker.serve_default, no
// systems) and two builders (builder-a, builder-b: x86_64-linux), each `crest worker` with
// a crest.yaml written for the run (its own data_dir and nix.store_root), the database URL
// in its environment as a production deployment's would be, and a file:// cache signed
// with a key made for the run (the secret key in a file only builders name).
func BuiltinTopology() ClusterTopology { return builtinTopology{} }

type builtinTopology struct{}

func (builtinTopology) Describe() string          { return "an orchestrator and two builders" }
func (builtinTopology) Services() ClusterServices { return ClusterServices{} }

// clusterConfig is a worker's crest.yaml: the keys of cmd/crest/config.go.
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

// clusterQueue is the built-in cluster's default task queue; builds go to
// clusterQueue-build-<system>.
const clusterQueue = "crest-cluster"

func (builtinTopology) Plan(ep ClusterEndpoints) ([]ClusterProcess, error) {
	pub, sec, err := nix.GenerateKey("crest-cluster-1")
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(ep.Dir, "cache-secret-key")
	if err := os.WriteFile(keyFile, []byte(string(sec)+"\n"), 0o600); err != nil {
		return nil, err
	}
	cacheURL := "file://" + filepath.Join(ep.Dir, "cache")
	var procs []ClusterProcess
	for _, name := range []string{"orchestrator", "builder-a", "builder-b"} {
		dir := filepath.Join(ep.Dir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		orchestrator := name == "orchestrator"
		systems, secret := System, "  secret_key_file: "+keyFile+"\n"
		if orchestrator {
			systems, secret = "", ""
		}
		cfg := filepath.Join(dir, "crest.yaml")
		text := fmt.Sprintf(clusterConfig, dir, ep.Temporal, ep.Namespace, clusterQueue, orchestrator, systems, cacheURL, pub, secret)
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			return nil, err
		}
		procs = append(procs, ClusterProcess{Name: name, Args: []string{"worker", "--config", cfg},
			Env: append(os.Environ(), "CREST_DATABASE_URL="+ep.DSN), Dir: dir})
	}
	return procs, nil
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
	k.order = append(k.order, name)
	return nil
}

// stopAll stops the processes still running, the last started first (Temporal last):
// SIGTERM, SIGKILL after a grace period.
func (k *cluster) stopAll() {
	for _, name := range slices.Backward(k.order) {
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

// killBuilder kills the last builder with SIGKILL once it has recorded opts.KillAfter
// builds.
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
			if k.builderName(c.Builder) == k.victim && c.Builds >= k.opts.KillAfter {
				cmd := k.procs[k.victim]
				_ = cmd.Process.Signal(syscall.SIGKILL)
				_ = cmd.Wait()
				k.killed = k.victim
				k.say("SIGKILL %s after %d builds; the other builders go on", k.victim, c.Builds)
				return nil
			}
		}
	}
}

// check counts the builds per builder, holds what each builder's Nix built against the
// cache (builtOnce), and every tag's outputs to the tag host's store and the cache.
func (k *cluster) check(ctx context.Context) (problems []string, err error) {
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
	for _, name := range k.builders {
		if !slices.ContainsFunc(k.res.Builders, func(b ClusterBuilder) bool { return b.Name == name && b.Builds > 0 }) {
			problems = append(problems, name+" built nothing")
		}
	}
	more, err := k.checkBuiltOnce(ctx, w.ID)
	if err != nil {
		return nil, err
	}
	problems = append(problems, more...)
	more, err = k.checkTags(ctx)
	if err != nil {
		return nil, err
	}
	return append(problems, more...), nil
}

// checkBuiltOnce reads what every worker's store built (the tag host's must be nothing: it
// only fetches) and holds the builders' builds against the cache's pushes and the builds
// recorded in Postgres.
func (k *cluster) checkBuiltOnce(ctx context.Context, waveID int64) (problems []string, err error) {
	built := map[string]map[string]time.Time{}
	for _, w := range k.workers {
		b, err := storeBuilds(w.storeRoot)
		if err != nil {
			return nil, err
		}
		if w.Name == k.tagHost.Name {
			for drv := range b {
				problems = append(problems, fmt.Sprintf("the tag host %s built %s: it must fetch what it roots", w.Name, drv))
			}
			continue
		}
		built[w.Name] = b
		k.res.NixBuilt += len(b)
	}
	pushed, err := cachePushes(k.cacheDir)
	if err != nil {
		return nil, err
	}
	recorded, err := k.st.WaveBuilds(ctx, waveID)
	if err != nil {
		return nil, err
	}
	spans := map[string][]recordedBuild{}
	for _, b := range recorded {
		if name := k.builderName(b.Builder); name != k.killed {
			spans[name] = append(spans[name], recordedBuild{Package: b.Package, Start: b.Started, Finished: b.Finished})
		}
	}
	k.res.Rebuilt, k.res.BuiltTwice = builtOnce(built, spans, pushed)
	if len(k.res.Rebuilt) > 0 {
		problems = append(problems, fmt.Sprintf("%d derivations built although their outputs were in the cache: %s",
			len(k.res.Rebuilt), strings.Join(k.res.Rebuilt, "; ")))
	}
	return problems, nil
}

// checkTags holds every tag's outputs to the tag host's store and the cache.
func (k *cluster) checkTags(ctx context.Context) (problems []string, err error) {
	tagHost, err := nix.New(nix.Config{StoreRoot: k.tagHost.storeRoot,
		Cache: nix.Cache{URL: "file://" + k.cacheDir, PublicKey: k.publicKey}})
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
	paths := slices.Sorted(mapKeys(rooted))
	invalid, err := tagHost.Invalid(ctx, paths)
	if err != nil {
		return nil, err
	}
	if len(invalid) > 0 {
		problems = append(problems, fmt.Sprintf("%d tagged outputs are not valid on the tag host: %s", len(invalid), strings.Join(invalid, " ")))
	}
	for _, p := range paths {
		hash, _, _ := strings.Cut(strings.TrimPrefix(p, "/nix/store/"), "-")
		if _, err := os.Stat(filepath.Join(k.cacheDir, hash+".narinfo")); err != nil {
			problems = append(problems, p+" is not in the cache")
		}
	}
	k.res.TaggedOutputs = len(paths)
	infos, _ := filepath.Glob(filepath.Join(k.cacheDir, "*.narinfo"))
	k.res.CachePaths = len(infos)
	return problems, nil
}

// writeFile writes a file, making its directory.
func writeFile(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, mode)
}
