package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNixMissing reports that the Nix commands are not installed where Config says.
var ErrNixMissing = errors.New("Nix is not installed: install it (Debian/Ubuntu: `apt-get install nix-bin`, then build as root or run nix-daemon) or point nix.bin_dir at the directory holding nix-store and nix-instantiate")

// ErrUnknownDerivation reports that a derivation is not in the Nix store (never instantiated
// on this machine, or garbage-collected): evaluate the commit again to write it.
var ErrUnknownDerivation = errors.New("derivation is not in the Nix store")

// Option is one Nix setting passed as `--option Name Value`.
type Option struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// DefaultOptions are the settings Crest passes to every command unless Config.Options names
// them too: no sandbox and no binary cache, so that builds run offline on Debian's nix-bin.
// They do not include build-users-group; see RequiredOptions.
func DefaultOptions() []Option {
	return []Option{{Name: "sandbox", Value: "false"}, {Name: "substituters", Value: ""}}
}

// RequiredOptions are the settings single-user Nix needs whatever the machine's nix.conf
// says, given the environment the commands run with. Without a daemon, Nix builds as the
// calling user: as root it would otherwise look for the build group named by nix.conf or
// compiled in ("nixbld"), which Debian's nix-bin does not create, and fail every build with
// "the group 'nixbld' specified in 'build-users-group' does not exist". With NIX_REMOTE set
// (e.g. daemon), the daemon owns that setting and nothing is needed.
func RequiredOptions(env []string) []Option {
	if remote := lookupEnv(env, "NIX_REMOTE"); remote != "" && remote != "local" {
		return nil
	}
	return []Option{{Name: "build-users-group", Value: ""}}
}

// lookupEnv returns the last value of name in env, falling back to the process environment,
// as exec does when env is appended to os.Environ().
func lookupEnv(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v
		}
	}
	return os.Getenv(name)
}

// mergeOptions returns base with each option of over replacing the one of the same name, or
// appended: the operator's options always win over Crest's.
func mergeOptions(base, over []Option) []Option {
	out := slices.Clone(base)
	for _, o := range over {
		if i := slices.IndexFunc(out, func(b Option) bool { return b.Name == o.Name }); i >= 0 {
			out[i] = o
		} else {
			out = append(out, o)
		}
	}
	return out
}

// Defaults for Config fields left zero.
const (
	DefaultBuilderPath  = "/usr/bin:/bin"
	DefaultIndexFile    = "index.nix"
	DefaultLogTailBytes = 64 << 10
	DefaultKillGrace    = 5 * time.Second
)

// Config configures a Nix adapter. The zero value works on a machine with Nix on PATH.
type Config struct {
	// BinDir holds nix-store and nix-instantiate; "" looks them up on PATH.
	BinDir string `json:"bin_dir"`
	// Options are the operator's settings, passed to every command as --option pairs. They
	// replace the options of the same name among RequiredOptions and DefaultOptions, which
	// are passed too.
	Options []Option `json:"options"`
	// BuilderPath is the PATH of host tools for builders, given to the index expression as
	// `--argstr hostPath` (expressions that do not take the argument ignore it). It is part
	// of every derivation, so changing it rebuilds everything. "" means DefaultBuilderPath.
	BuilderPath string `json:"builder_path"`
	// IndexFile is the index expression, relative to a checkout. "" means DefaultIndexFile.
	IndexFile string `json:"index_file"`
	// LogTailBytes is how much of the end of a command's output results and errors keep.
	// 0 means DefaultLogTailBytes.
	LogTailBytes int `json:"log_tail_bytes"`
	// KillGrace is how long a cancelled build may clean up after SIGINT (Nix then kills its
	// builders) before its process group is killed. 0 means DefaultKillGrace.
	KillGrace time.Duration `json:"kill_grace"`
	// Env is added to the environment of every Nix command (e.g. NIX_REMOTE=daemon).
	Env []string `json:"env"`
	// StoreRoot, when set, is a directory mounted on /nix for every Nix command, in a mount
	// namespace of the command's own: a builder that shares its host with others gets a
	// store of its own, as it would on a machine of its own (cluster-demo, tests). It needs
	// root, a local store (no NIX_REMOTE) and Nix installed outside /nix.
	StoreRoot string `json:"store_root"`
	// Cache is the binary cache builds substitute from and, with its secret key, push to.
	Cache Cache `json:"cache"`
}

// Nix runs Nix commands for evaluations and builds. It holds no state besides its
// configuration and is safe for concurrent use.
type Nix struct {
	cfg         Config
	store       string // path of nix-store
	instantiate string // path of nix-instantiate
	nix         string // path of nix, when the cache needs it
}

// New checks that the Nix commands exist and returns an adapter; a missing installation is
// ErrNixMissing.
func New(cfg Config) (*Nix, error) {
	if err := cfg.Cache.Check(); err != nil {
		return nil, err
	}
	base := mergeOptions(append(RequiredOptions(cfg.Env), DefaultOptions()...), cfg.Cache.options())
	cfg.Options = mergeOptions(base, cfg.Options)
	if cfg.BuilderPath == "" {
		cfg.BuilderPath = DefaultBuilderPath
	}
	if cfg.IndexFile == "" {
		cfg.IndexFile = DefaultIndexFile
	}
	if cfg.LogTailBytes <= 0 {
		cfg.LogTailBytes = DefaultLogTailBytes
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = DefaultKillGrace
	}
	n := &Nix{cfg: cfg}
	var err error
	if n.store, err = findBinary(cfg.BinDir, "nix-store"); err != nil {
		return nil, err
	}
	if n.instantiate, err = findBinary(cfg.BinDir, "nix-instantiate"); err != nil {
		return nil, err
	}
	if cfg.Cache.CanPush() {
		if n.nix, err = findBinary(cfg.BinDir, "nix"); err != nil {
			return nil, fmt.Errorf("pushing to the cache: %w", err)
		}
	}
	if cfg.StoreRoot != "" {
		if err := n.checkStoreRoot(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// checkStoreRoot makes sure the commands can run with StoreRoot on /nix, and creates it.
func (n *Nix) checkStoreRoot() error {
	root := n.cfg.StoreRoot
	switch {
	case !filepath.IsAbs(root):
		return fmt.Errorf("store root %s: must be an absolute path", root)
	case os.Geteuid() != 0:
		return fmt.Errorf("store root %s: mounting it on /nix needs root", root)
	case RequiredOptions(n.cfg.Env) == nil:
		return fmt.Errorf("store root %s: a store of its own is a local store; unset NIX_REMOTE", root)
	}
	for _, bin := range []string{n.store, n.instantiate, n.nix} {
		if real, err := filepath.EvalSymlinks(bin); err == nil && strings.HasPrefix(real, "/nix/") {
			return fmt.Errorf("store root %s: %s is installed in /nix, which the store root hides", root, real)
		}
	}
	if st, err := os.Stat("/nix"); err != nil || !st.IsDir() {
		return fmt.Errorf("store root %s: /nix must exist to be mounted on", root)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("store root: %w", err)
	}
	return nil
}

// Config returns the configuration in effect, defaults filled in.
func (n *Nix) Config() Config { return n.cfg }

func findBinary(dir, name string) (string, error) {
	if dir == "" {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("%s not found on PATH: %w", name, ErrNixMissing)
		}
		return p, nil
	}
	p := filepath.Join(dir, name)
	if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s not found in %s: %w", name, dir, ErrNixMissing)
	}
	return p, nil
}

// CommandError is a Nix command that failed for a reason other than a build failure or an
// evaluation error: a missing store path, a locked or full store, a crashed daemon. Such
// errors are worth retrying.
type CommandError struct {
	Args     []string // the command line
	ExitCode int      // -1 when the command did not exit normally
	Tail     string   // the end of its output
	Err      error    // the underlying error
}

// Error names the command and Nix's last error line.
func (e *CommandError) Error() string {
	msg := lastErrorLine(e.Tail)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("%s %s: %s", filepath.Base(e.Args[0]), strings.Join(e.Args[1:min(len(e.Args), 3)], " "), msg)
}

// Unwrap returns the underlying error, e.g. ErrUnknownDerivation or a context error.
func (e *CommandError) Unwrap() error { return e.Err }

// lastErrorLine returns the last line of out starting with "error:", or its last non-empty
// line.
func lastErrorLine(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "error:") {
			return strings.TrimSpace(strings.TrimPrefix(lines[i], "error:"))
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(lines[i]); s != "" {
			return s
		}
	}
	return ""
}

// process is one run of a Nix command, with its output streamed line by line.
type process struct {
	args     []string
	stdin    io.Reader           // nil reads nothing
	stdout   io.Writer           // receives standard output; nil discards it
	onLine   func(string)        // called with every line of standard error, on the caller's goroutine
	beat     func(time.Duration) // called every beatEvery with the time elapsed
	beatTick time.Duration
}

// result is how a process ended.
type result struct {
	exitCode int // -1 when it did not exit normally
	tail     string
	err      error // non-nil when it did not run or did not exit 0; wraps ctx.Err() when cancelled
}

// run starts p in a process group of its own and waits for it. Cancelling ctx sends SIGINT
// to the group, so that Nix stops its builders (which run in sessions of their own, often as
// build users, where a signal to the group cannot reach them), and SIGKILL after KillGrace.
func (n *Nix) run(ctx context.Context, p process) result {
	tail := newTail(n.cfg.LogTailBytes)
	lines := make(chan string)
	stop := make(chan struct{})
	defer close(stop)
	lw := &lineWriter{ch: lines, stop: stop, tail: tail}

	argv := n.inStoreRoot(p.args)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "LC_ALL=C"), n.cfg.Env...)
	cmd.SysProcAttr = n.sysProcAttr()
	cmd.Stdin = p.stdin
	cmd.Stdout = p.stdout
	cmd.Stderr = lw
	// Wait returns even if something the build started keeps our stderr open.
	cmd.WaitDelay = n.cfg.KillGrace + time.Second
	if err := ctx.Err(); err != nil {
		return result{exitCode: -1, err: err}
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w: %w", ErrNixMissing, err)
		}
		return result{exitCode: -1, err: err}
	}
	pgid := cmd.Process.Pid

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var beat <-chan time.Time
	if p.beat != nil {
		every := p.beatTick
		if every <= 0 {
			every = 10 * time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		beat = t.C
	}
	start := time.Now()
	cancelled := ctx.Done()
	var kill <-chan time.Time
	var ctxErr error
	for {
		select {
		case line := <-lines:
			if p.onLine != nil {
				p.onLine(line)
			}
		case <-beat:
			p.beat(time.Since(start))
		case <-cancelled:
			ctxErr = ctx.Err()
			cancelled = nil
			_ = syscall.Kill(-pgid, syscall.SIGINT)
			kill = time.After(n.cfg.KillGrace)
		case <-kill:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		case err := <-done:
			if rest := lw.flush(); rest != "" && p.onLine != nil {
				p.onLine(rest)
			}
			res := result{exitCode: cmd.ProcessState.ExitCode(), tail: tail.String()}
			switch {
			case ctxErr != nil:
				res.err = ctxErr
			case err != nil:
				res.err = err
			}
			return res
		}
	}
}

// sysProcAttr says how a Nix command is started. A worker killed with SIGKILL cannot
// cancel its commands, so the kernel must: Pdeathsig kills the command when its worker dies.
// Nix 2.8 starts builders in sessions of their own that outlive nix-store, so where we may
// (root, local store), the command also runs as the first process of a PID namespace of its
// own: when it dies the kernel kills every process left in it, builders included, and no
// stale builder keeps writing to the outputs the next attempt needs. A daemon's builds are
// the daemon's: it stops them when its client goes.
func (n *Nix) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() == 0 && RequiredOptions(n.cfg.Env) != nil {
		attr.Cloneflags = syscall.CLONE_NEWPID
	}
	if n.cfg.StoreRoot != "" {
		attr.Cloneflags |= syscall.CLONE_NEWNS
	}
	return attr
}

// storeRootScript mounts the store root ($0) on /nix in the command's own mount namespace,
// private so that nothing leaks to the host's, then becomes the Nix command.
const storeRootScript = `mount --make-rprivate / && mount --bind "$0" /nix && exec "$@"`

// inStoreRoot is the command line that runs args with Config.StoreRoot on /nix (args
// itself without one).
func (n *Nix) inStoreRoot(args []string) []string {
	if n.cfg.StoreRoot == "" {
		return args
	}
	return append([]string{"/bin/sh", "-c", storeRootScript, n.cfg.StoreRoot}, args...)
}

// lineWriter splits what a command writes into lines, sent on ch, and keeps the tail. Write
// returns only once the lines it completed were received, so after Wait returns every line
// has been delivered but the unterminated rest, which flush returns.
type lineWriter struct {
	ch   chan<- string
	stop <-chan struct{} // closed when nobody receives any more
	tail *tail

	mu      sync.Mutex // Write may outlive Wait when WaitDelay gives up on the pipe
	partial []byte
}

// Write implements io.Writer.
func (w *lineWriter) Write(b []byte) (int, error) {
	w.tail.Write(b)
	w.mu.Lock()
	w.partial = append(w.partial, b...)
	var lines []string
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	w.mu.Unlock()
	for _, line := range lines {
		select {
		case w.ch <- line:
		case <-w.stop:
		}
	}
	return len(b), nil
}

func (w *lineWriter) flush() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	rest := string(w.partial)
	w.partial = nil
	return rest
}

// tail keeps the last max bytes written to it, cut at a line start when possible. It is safe
// for concurrent use: a command's output may still arrive after Wait gave up on it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
	cut bool
}

func newTail(max int) *tail { return &tail{max: max} }

// Write implements io.Writer.
func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
		t.cut = true
	}
	return len(b), nil
}

// String returns the tail, starting at a line boundary when output was dropped.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	cut := t.cut
	if len(b) > t.max {
		b = b[len(b)-t.max:]
		cut = true
	}
	if cut {
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// optionArgs renders the configured options.
func (n *Nix) optionArgs() []string {
	args := make([]string, 0, 3*len(n.cfg.Options))
	for _, o := range n.cfg.Options {
		args = append(args, "--option", o.Name, o.Value)
	}
	return args
}

// unknownDerivation tells whether Nix's output says a store path does not exist.
func unknownDerivation(out string) bool {
	for _, s := range []string{"cannot build missing derivation", "is not valid", "does not exist and cannot be created", "No such file or directory"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// commandError builds the error of a failed run that is not a build failure.
func commandError(args []string, res result) error {
	err := res.err
	if err == nil {
		err = fmt.Errorf("exit status %d", res.exitCode)
	}
	if unknownDerivation(res.tail) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: %w", ErrUnknownDerivation, err)
	}
	return &CommandError{Args: args, ExitCode: res.exitCode, Tail: res.tail, Err: err}
}
