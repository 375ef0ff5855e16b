package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options describe the cluster to run.
type Options struct {
	// Dir is the cluster directory (PGDATA). initdb runs when it holds no cluster yet.
	Dir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// BinDir holds initdb and postgres; empty searches the usual places.
	BinDir string
	// RunAs is the OS account the server runs under when the caller is root, because
	// PostgreSQL refuses to run as root. Default "postgres" (created by Debian's package).
	RunAs string
	// Superuser is the database role created by initdb (trust auth on loopback only).
	Superuser string
	// Database is created on first start.
	Database string
	// Ephemeral trades durability for speed (fsync off): for throwaway test clusters.
	Ephemeral bool
}

// ErrPortInUse reports that the requested port is taken by another process.
var ErrPortInUse = errors.New("port in use")

// Cluster is a running server.
type Cluster struct {
	opts    Options
	dir     string // where the cluster really lives (may differ from opts.Dir when root)
	binDir  string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	stop    sync.Once
}

// Start initializes the cluster if needed, starts the server and waits until it accepts
// connections.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.RunAs == "" {
		opts.RunAs = "postgres"
	}
	if opts.Superuser == "" {
		opts.Superuser = "crest"
	}
	if opts.Database == "" {
		opts.Database = "crest"
	}
	binDir, err := FindBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	cred, err := credentialFor(opts.RunAs)
	if err != nil {
		return nil, err
	}
	dir, err := prepareDir(opts.Dir, cred)
	if err != nil {
		return nil, err
	}
	if opts.Port == 0 {
		if opts.Port, err = freePort(); err != nil {
			return nil, err
		}
	} else if err := portFree(opts.Port); err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, dir: dir, binDir: binDir, logPath: filepath.Join(dir, "server.log"), done: make(chan struct{})}

	fresh := false
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initdb(ctx, cred); err != nil {
			return nil, err
		}
		fresh = true
	} else if err := c.checkVersion(); err != nil {
		return nil, err
	}
	if err := c.start(cred); err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx); err != nil {
		_ = c.Stop(context.Background())
		return nil, err
	}
	if fresh {
		if err := c.run(ctx, nil, "createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(opts.Port), "-U", opts.Superuser, opts.Database); err != nil {
			_ = c.Stop(context.Background())
			return nil, err
		}
	}
	return c, nil
}

// Port is the TCP port the server listens on.
func (c *Cluster) Port() int { return c.opts.Port }

// Dir is where the cluster's files really are.
func (c *Cluster) Dir() string { return c.dir }

// LogPath is the server's log file.
func (c *Cluster) LogPath() string { return c.logPath }

// DSN returns a connection string for database db (the default database when empty). It
// carries no password: the cluster trusts loopback connections.
func (c *Cluster) DSN(db string) string {
	if db == "" {
		db = c.opts.Database
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", c.opts.Superuser, c.opts.Port, db)
}

// Stop shuts the server down (fast mode: open transactions roll back) and waits for it,
// escalating to an immediate shutdown when ctx ends first.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stop.Do(func() {
		if c.cmd == nil || c.cmd.Process == nil {
			return
		}
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-ctx.Done():
			_ = c.cmd.Process.Signal(syscall.SIGQUIT)
			<-c.done
		}
	})
	return nil
}

// Exited is closed when the server process ends.
func (c *Cluster) Exited() <-chan struct{} { return c.done }

func (c *Cluster) initdb(ctx context.Context, cred *syscall.Credential) error {
	args := []string{"-D", c.dir, "-U", c.opts.Superuser, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"}
	if c.opts.Ephemeral {
		args = append(args, "--no-sync")
	}
	if err := c.run(ctx, cred, "initdb", args...); err != nil {
		return err
	}
	return nil
}

func (c *Cluster) checkVersion() error {
	b, err := os.ReadFile(filepath.Join(c.dir, "PG_VERSION"))
	if err != nil {
		return fmt.Errorf("read cluster version: %w", err)
	}
	have := strings.TrimSpace(string(b))
	if want := strconv.Itoa(majorOf(c.binDir)); majorOf(c.binDir) != 0 && have != want {
		return fmt.Errorf("cluster in %s is PostgreSQL %s but the binaries in %s are %s: point postgres.bin_dir at version %s or use a new data directory", c.dir, have, c.binDir, want, have)
	}
	return nil
}

func (c *Cluster) start(cred *syscall.Credential) error {
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open postgres log: %w", err)
	}
	args := []string{"-D", c.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port=" + strconv.Itoa(c.opts.Port),
		"-c", "unix_socket_directories=",
		"-c", "max_connections=200",
	}
	if c.opts.Ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(c.binDir, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group: a terminal's Ctrl-C reaches us, and we stop the server last.
	// Pdeathsig: the server never outlives its parent (fast shutdown).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGINT, Credential: cred}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	c.cmd = cmd
	go func() {
		c.waitErr = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	return nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if err := c.run(ctx, nil, "pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(c.opts.Port), "-U", c.opts.Superuser); err == nil {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("postgres exited during start-up (%v); log tail:\n%s", c.waitErr, tail(c.logPath, 2048))
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready on port %d: %w; log tail:\n%s", c.opts.Port, ctx.Err(), tail(c.logPath, 2048))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// run executes one of the cluster's binaries, as cred when given, returning its output in
// the error.
func (c *Cluster) run(ctx context.Context, cred *syscall.Credential, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// credentialFor returns the account to run the server under: nil (ourselves) unless we are
// root, because PostgreSQL refuses to run as root.
func credentialFor(name string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root: PostgreSQL refuses root, and account %q to run it as is missing (install the postgresql package, which creates it, or set postgres.run_as): %w", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// prepareDir creates the cluster directory owned by the server's account. When we are root
// and that account cannot reach dir (a home directory is usually 0700), the cluster lives
// under /var/lib/crest instead and dir becomes a symlink to it, so it is still "in the data
// directory" for the person looking.
func prepareDir(dir string, cred *syscall.Credential) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("cluster directory %s: %w", dir, err)
	}
	if target, err := filepath.EvalSymlinks(abs); err == nil {
		abs = target
	}
	if cred != nil && !reachable(filepath.Dir(abs), cred) {
		sum := sha256.Sum256([]byte(abs))
		real := filepath.Join(relocationRoot, "postgres-"+hex.EncodeToString(sum[:6]))
		if err := os.MkdirAll(relocationRoot, 0o755); err != nil {
			return "", fmt.Errorf("cluster directory: %w", err)
		}
		if err := os.Chmod(relocationRoot, 0o755); err != nil {
			return "", fmt.Errorf("cluster directory: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
			return "", fmt.Errorf("data directory not writable: %w", err)
		}
		if err := os.Symlink(real, abs); err != nil && !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("link cluster directory: %w", err)
		}
		abs = real
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("data directory not writable: %w", err)
	}
	if cred != nil {
		if err := os.Chown(abs, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", fmt.Errorf("hand cluster directory to uid %d: %w", cred.Uid, err)
		}
		if err := os.Chmod(abs, 0o700); err != nil {
			return "", err
		}
	}
	return abs, nil
}

// relocationRoot holds clusters whose requested directory the server account cannot reach.
const relocationRoot = "/var/lib/crest"

// reachable reports whether the account can traverse every directory down to dir.
func reachable(dir string, cred *syscall.Credential) bool {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return false
		}
		sys := st.Sys().(*syscall.Stat_t)
		mode := st.Mode().Perm()
		switch {
		case sys.Uid == cred.Uid:
			if mode&0o100 == 0 {
				return false
			}
		case sys.Gid == cred.Gid:
			if mode&0o010 == 0 {
				return false
			}
		default:
			if mode&0o001 == 0 {
				return false
			}
		}
		if d == "/" {
			return true
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) error {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return fmt.Errorf("postgres port %d: %w (another PostgreSQL or crest dev is running? choose another with --postgres-port)", port, ErrPortInUse)
	}
	return l.Close()
}

func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
