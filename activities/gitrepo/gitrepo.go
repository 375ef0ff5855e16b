package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Default identity of the commits and tags Crest writes.
const (
	DefaultName  = "Crest"
	DefaultEmail = "crest@localhost"
)

// remoteName is the name of the collection's remote in the working repository.
const remoteName = "origin"

// ErrRefNotFound reports a branch, tag or commit that neither the working repository nor
// its remote has.
var ErrRefNotFound = errors.New("ref not found")

// ErrTagExists reports a tag that already names a different commit.
var ErrTagExists = errors.New("tag exists at another commit")

// ErrGitMissing reports that the git command is not installed.
var ErrGitMissing = errors.New("git is not installed: install it (Debian/Ubuntu: `apt-get install git`) or set the git binary")

// Config configures a working repository.
type Config struct {
	// Remote is the collection's repository: a URL or a path git accepts as one.
	Remote string `json:"remote"`
	// Dir is the working repository, a bare clone of Remote made on first use. Worktrees for
	// evaluations go beside it, in Dir + ".worktrees".
	Dir string `json:"dir"`
	// Name and Email are the identity of merge commits and tags; "" means DefaultName and
	// DefaultEmail.
	Name  string `json:"name"`
	Email string `json:"email"`
	// Git is the git binary; "" means git on PATH.
	Git string `json:"git"`
	// Env is added to the environment of every git command (e.g. GIT_SSH_COMMAND).
	Env []string `json:"env"`
	// Credentials authenticate to Remote and to the repositories of FetchExternal and
	// RemoteTagExists, by URL prefix. They reach git only through the environment of the git
	// child that talks to that repository (see Credential); credentials in Remote itself are
	// moved here, so the URL git records and errors show is the one without them.
	Credentials []Credential `json:"-"`
}

// Repo is a working repository of a collection: a bare clone whose local branches are the
// wave branches Crest prepares, merges into and pushes, and whose remote-tracking branches
// (refs/remotes/origin/*) are the collection's. Its methods are safe for concurrent use and
// serialize on a lock that also holds against other processes using the same Dir.
type Repo struct {
	cfg      Config
	git      string
	worktree string        // directory of the worktrees
	sem      chan struct{} // one operation at a time in this process
	lockPath string        // flock for other processes
}

// Open opens the working repository in cfg.Dir, cloning cfg.Remote into it if it is not
// there yet (pointing it at cfg.Remote if it was cloned from elsewhere), and fetches.
func Open(ctx context.Context, cfg Config) (*Repo, error) {
	if cfg.Remote == "" || cfg.Dir == "" {
		return nil, errors.New("open repository: Remote and Dir are required")
	}
	if clean, cred, ok := SplitCredentials(cfg.Remote); ok {
		cfg.Remote = clean
		cfg.Credentials = append(append([]Credential(nil), cfg.Credentials...), cred)
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Email == "" {
		cfg.Email = DefaultEmail
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	cfg.Dir = dir
	bin := cfg.Git
	if bin == "" {
		bin = "git"
	}
	if bin, err = exec.LookPath(bin); err != nil {
		return nil, fmt.Errorf("open repository: %w: %w", ErrGitMissing, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	r := &Repo{
		cfg: cfg, git: bin, worktree: dir + ".worktrees",
		sem: make(chan struct{}, 1), lockPath: filepath.Join(dir, "crest.lock"),
	}
	unlock, err := r.lock(ctx)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		if _, err := r.run(ctx, "init", "--quiet", "--bare", dir); err != nil {
			return nil, fmt.Errorf("open repository %s: %w", dir, err)
		}
		if _, err := r.run(ctx, "remote", "add", remoteName, cfg.Remote); err != nil {
			return nil, fmt.Errorf("open repository %s: %w", dir, err)
		}
	} else {
		url, err := r.run(ctx, "remote", "get-url", remoteName)
		switch {
		case err != nil:
			if _, err := r.run(ctx, "remote", "add", remoteName, cfg.Remote); err != nil {
				return nil, fmt.Errorf("open repository %s: %w", dir, err)
			}
		case strings.TrimSpace(url) != cfg.Remote:
			if _, err := r.run(ctx, "remote", "set-url", remoteName, cfg.Remote); err != nil {
				return nil, fmt.Errorf("open repository %s: %w", dir, err)
			}
		}
		// Worktrees of a crashed process are left behind; forget them.
		if _, err := r.run(ctx, "worktree", "prune"); err != nil {
			return nil, fmt.Errorf("open repository %s: %w", dir, err)
		}
	}
	if err := r.fetch(ctx); err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	return r, nil
}

// Dir returns the working repository's directory.
func (r *Repo) Dir() string { return r.cfg.Dir }

// Remote returns the collection's remote.
func (r *Repo) Remote() string { return r.cfg.Remote }

// Fetch updates the remote-tracking branches and tags from the remote.
func (r *Repo) Fetch(ctx context.Context) error {
	unlock, err := r.lock(ctx)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	defer unlock()
	if err := r.fetch(ctx); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	return nil
}

func (r *Repo) fetch(ctx context.Context) error {
	_, err := r.runRemote(ctx, r.cfg.Remote, "fetch", "--quiet", "--prune", "--tags", remoteName,
		"+refs/heads/*:refs/remotes/"+remoteName+"/*")
	return err
}

// ResolveRef returns the commit a ref names: a local (wave) branch, a branch of the remote,
// a tag, or a commit, tried in that order. An unknown ref is ErrRefNotFound.
func (r *Repo) ResolveRef(ctx context.Context, ref string) (string, error) {
	unlock, err := r.lock(ctx)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", ref, err)
	}
	defer unlock()
	return r.resolve(ctx, ref, false)
}

var fullHash = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// resolve looks ref up; with fetch it fetches once when the ref is unknown, for refs pushed
// to the remote after the last fetch.
func (r *Repo) resolve(ctx context.Context, ref string, fetch bool) (string, error) {
	if ref == "" || strings.HasPrefix(ref, "-") {
		return "", fmt.Errorf("resolve %q: %w", ref, ErrRefNotFound)
	}
	candidates := []string{"refs/heads/" + ref, "refs/remotes/" + remoteName + "/" + ref, "refs/tags/" + ref, ref}
	if fullHash.MatchString(ref) || strings.HasPrefix(ref, "refs/") {
		candidates = []string{ref}
	}
	for attempt := 0; ; attempt++ {
		for _, c := range candidates {
			out, err := r.run(ctx, "rev-parse", "--verify", "--quiet", c+"^{commit}")
			if err == nil {
				return strings.TrimSpace(out), nil
			}
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
		}
		if !fetch || attempt > 0 {
			return "", fmt.Errorf("resolve %s: %w", ref, ErrRefNotFound)
		}
		if err := r.fetch(ctx); err != nil {
			return "", fmt.Errorf("resolve %s: %w", ref, err)
		}
	}
}

// refExists tells whether a full ref exists.
func (r *Repo) refExists(ctx context.Context, ref string) (bool, error) {
	_, err := r.run(ctx, "show-ref", "--verify", "--quiet", ref)
	if err == nil {
		return true, nil
	}
	var ge *GitError
	if errors.As(err, &ge) && ge.ExitCode == 1 {
		return false, nil
	}
	return false, err
}

// PrepareBranch makes sure the local wave branch exists and returns its head: an existing
// branch is left as it is; a branch that exists only on the remote (pushed by an earlier
// run or another worker) is taken from there; otherwise it starts at baseRef.
func (r *Repo) PrepareBranch(ctx context.Context, branch, baseRef string) (string, error) {
	unlock, err := r.lock(ctx)
	if err != nil {
		return "", fmt.Errorf("prepare branch %s: %w", branch, err)
	}
	defer unlock()
	if _, err := r.run(ctx, "check-ref-format", "--branch", branch); err != nil {
		return "", fmt.Errorf("prepare branch %s: invalid name: %w", branch, err)
	}
	local := "refs/heads/" + branch
	if head, err := r.resolve(ctx, local, false); err == nil {
		return head, nil
	}
	// Another worker may have pushed the branch since the last fetch.
	if err := r.fetch(ctx); err != nil {
		return "", fmt.Errorf("prepare branch %s: %w", branch, err)
	}
	start, err := r.resolve(ctx, "refs/remotes/"+remoteName+"/"+branch, false)
	if err != nil {
		if start, err = r.resolve(ctx, baseRef, true); err != nil {
			return "", fmt.Errorf("prepare branch %s: base: %w", branch, err)
		}
	}
	// The empty old value makes the update fail if someone created the branch meanwhile.
	if _, err := r.run(ctx, "update-ref", "-m", "crest: prepare "+branch, local, start, ""); err != nil {
		return "", fmt.Errorf("prepare branch %s: %w", branch, err)
	}
	return start, nil
}

// ConflictError is a merge that git cannot do on its own. The working repository is left as
// it was.
type ConflictError struct {
	Branch string   // the wave branch
	Ref    string   // what was merged into it
	Head   string   // the branch's head
	Commit string   // the commit Ref named
	Files  []string // the conflicting paths
}

// Error names the ref, the branch and the conflicting files.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("merge %s into %s: conflict in %s", e.Ref, e.Branch, strings.Join(e.Files, ", "))
}

// Merge merges ref (a branch of the remote, a tag or a commit) into the local branch with a
// merge commit, even when a fast-forward would do, and returns the branch's new head. Refs
// other than commit hashes are fetched first, so a fix branch merges at its latest commit. If ref is already in the branch it returns
// the head unchanged, so running it again is a no-op. A conflict is a *ConflictError naming
// the files and changes nothing: merges happen in git's object database (merge-tree), never
// in a work tree.
func (r *Repo) Merge(ctx context.Context, branch, ref, message string) (string, error) {
	unlock, err := r.lock(ctx)
	if err != nil {
		return "", fmt.Errorf("merge %s into %s: %w", ref, branch, err)
	}
	defer unlock()
	local := "refs/heads/" + branch
	head, err := r.resolve(ctx, local, false)
	if err != nil {
		return "", fmt.Errorf("merge %s into %s: the branch is not prepared: %w", ref, branch, err)
	}
	// A branch of the remote may have moved (a maintainer pushed to a fix branch): fetch
	// before resolving anything but a commit hash.
	if !fullHash.MatchString(ref) {
		if err := r.fetch(ctx); err != nil {
			return "", fmt.Errorf("merge %s into %s: %w", ref, branch, err)
		}
	}
	commit, err := r.resolve(ctx, ref, true)
	if err != nil {
		return "", fmt.Errorf("merge %s into %s: %w", ref, branch, err)
	}
	if _, err := r.run(ctx, "merge-base", "--is-ancestor", commit, head); err == nil {
		return head, nil
	} else if ge := (*GitError)(nil); !errors.As(err, &ge) || ge.ExitCode != 1 {
		return "", fmt.Errorf("merge %s into %s: %w", ref, branch, err)
	}

	out, err := r.run(ctx, "merge-tree", "--write-tree", "-z", "--name-only", "--no-messages", head, commit)
	fields := strings.Split(out, "\x00")
	if err != nil {
		var ge *GitError
		if errors.As(err, &ge) && ge.ExitCode == 1 {
			var files []string
			for _, f := range fields[1:] {
				if f == "" {
					break
				}
				files = append(files, f)
			}
			return "", &ConflictError{Branch: branch, Ref: ref, Head: head, Commit: commit, Files: files}
		}
		return "", fmt.Errorf("merge %s into %s: %w", ref, branch, err)
	}
	tree := strings.TrimSpace(fields[0])
	if message == "" {
		message = fmt.Sprintf("Merge %s into %s", ref, branch)
	}
	merged, err := r.run(ctx, "commit-tree", tree, "-p", head, "-p", commit, "-m", message)
	if err != nil {
		return "", fmt.Errorf("merge %s into %s: %w", ref, branch, err)
	}
	merged = strings.TrimSpace(merged)
	if _, err := r.run(ctx, "update-ref", "-m", "crest: merge "+ref, local, merged, head); err != nil {
		return "", fmt.Errorf("merge %s into %s: %w", ref, branch, err)
	}
	return merged, nil
}

// Worktree checks commit out into a directory of its own, for an evaluation that must not
// be disturbed by other operations, and returns it with a function that removes it.
func (r *Repo) Worktree(ctx context.Context, commit string) (string, func() error, error) {
	unlock, err := r.lock(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("worktree %s: %w", commit, err)
	}
	defer unlock()
	c, err := r.resolve(ctx, commit, true)
	if err != nil {
		return "", nil, fmt.Errorf("worktree %s: %w", commit, err)
	}
	if err := os.MkdirAll(r.worktree, 0o755); err != nil {
		return "", nil, fmt.Errorf("worktree %s: %w", commit, err)
	}
	dir, err := os.MkdirTemp(r.worktree, c[:12]+"-")
	if err != nil {
		return "", nil, fmt.Errorf("worktree %s: %w", commit, err)
	}
	if _, err := r.run(ctx, "worktree", "add", "--quiet", "--detach", dir, c); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("worktree %s: %w", commit, err)
	}
	removed := false
	cleanup := func() error {
		if removed {
			return nil
		}
		// Cleanup often runs after the activity's context ended.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		unlock, err := r.lock(ctx)
		if err != nil {
			return fmt.Errorf("remove worktree %s: %w", dir, err)
		}
		defer unlock()
		if _, err := r.run(ctx, "worktree", "remove", "--force", dir); err != nil {
			if rmErr := os.RemoveAll(dir); rmErr != nil {
				return fmt.Errorf("remove worktree %s: %w", dir, errors.Join(err, rmErr))
			}
			if _, err := r.run(ctx, "worktree", "prune"); err != nil {
				return fmt.Errorf("remove worktree %s: %w", dir, err)
			}
		}
		removed = true
		return nil
	}
	return dir, cleanup, nil
}

// TagConflictError is a tag that already exists at another commit.
type TagConflictError struct {
	Name     string
	Existing string // the commit the tag names
	Want     string // the commit it was asked to name
}

// Error names the tag and both commits.
func (e *TagConflictError) Error() string {
	return fmt.Sprintf("tag %s: exists at %s, not %s", e.Name, e.Existing, e.Want)
}

// Unwrap makes the error match ErrTagExists.
func (e *TagConflictError) Unwrap() error { return ErrTagExists }

// Tag creates the annotated tag name at commit with message. A tag that already names the
// commit is left as it is; one that names another commit is a *TagConflictError (errors.Is
// ErrTagExists).
func (r *Repo) Tag(ctx context.Context, name, commit, message string) error {
	unlock, err := r.lock(ctx)
	if err != nil {
		return fmt.Errorf("tag %s: %w", name, err)
	}
	defer unlock()
	if strings.HasPrefix(name, "-") {
		return fmt.Errorf("tag %q: invalid name", name)
	}
	if _, err := r.run(ctx, "check-ref-format", "refs/tags/"+name); err != nil {
		return fmt.Errorf("tag %q: invalid name: %w", name, err)
	}
	want, err := r.resolve(ctx, commit, true)
	if err != nil {
		return fmt.Errorf("tag %s: %w", name, err)
	}
	check := func() (bool, error) {
		existing, err := r.resolve(ctx, "refs/tags/"+name, false)
		if err != nil {
			return false, nil
		}
		if existing != want {
			return true, &TagConflictError{Name: name, Existing: existing, Want: want}
		}
		return true, nil
	}
	if exists, err := check(); exists {
		return err
	}
	// The message goes through a file: a summary with thousands of failures is larger than
	// the kernel lets one argument be (MAX_ARG_STRLEN, 128 KiB), and the tag would never
	// be made.
	msgFile, err := os.CreateTemp("", "crest-tag-*.txt")
	if err != nil {
		return fmt.Errorf("tag %s: message file: %w", name, err)
	}
	defer os.Remove(msgFile.Name())
	_, werr := msgFile.WriteString(message)
	if cerr := msgFile.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("tag %s: message file: %w", name, werr)
	}
	if _, err := r.run(ctx, "tag", "--annotate", "--file", msgFile.Name(), name, want); err != nil {
		// Another process may have tagged meanwhile.
		if exists, cerr := check(); exists {
			return cerr
		}
		return fmt.Errorf("tag %s: %w", name, err)
	}
	return nil
}

// TagMessage returns the message of an annotated tag (for a lightweight tag, of its commit).
func (r *Repo) TagMessage(ctx context.Context, name string) (string, error) {
	unlock, err := r.lock(ctx)
	if err != nil {
		return "", fmt.Errorf("tag message %s: %w", name, err)
	}
	defer unlock()
	ok, err := r.refExists(ctx, "refs/tags/"+name)
	if err != nil {
		return "", fmt.Errorf("tag message %s: %w", name, err)
	}
	if !ok {
		return "", fmt.Errorf("tag message %s: %w", name, ErrRefNotFound)
	}
	out, err := r.run(ctx, "for-each-ref", "--format=%(contents)", "refs/tags/"+name)
	if err != nil {
		return "", fmt.Errorf("tag message %s: %w", name, err)
	}
	return strings.TrimRight(out, "\n") + "\n", nil
}

// ListTags returns the tags of the working repository (its own and those fetched from the
// remote) matching a glob pattern ("" for all), in version order (wave-3-9 before
// wave-3-10).
func (r *Repo) ListTags(ctx context.Context, pattern string) ([]string, error) {
	unlock, err := r.lock(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	defer unlock()
	args := []string{"tag", "--list", "--sort=version:refname"}
	if pattern != "" {
		args = append(args, pattern)
	}
	out, err := r.run(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("list tags %s: %w", pattern, err)
	}
	return strings.Fields(out), nil
}

// Push pushes branches and tags to the remote, all or none (--atomic). Refs may be full
// ("refs/tags/wave-3-2") or short, looked up among tags, then local branches. Pushing what
// the remote already has is a no-op; a branch that diverged on the remote is rejected, never
// forced.
func (r *Repo) Push(ctx context.Context, refs ...string) error {
	if len(refs) == 0 {
		return nil
	}
	unlock, err := r.lock(ctx)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	defer unlock()
	args := []string{"push", "--quiet", "--atomic", remoteName}
	for _, ref := range refs {
		full := ref
		if !strings.HasPrefix(ref, "refs/") {
			full = ""
			for _, c := range []string{"refs/tags/" + ref, "refs/heads/" + ref} {
				ok, err := r.refExists(ctx, c)
				if err != nil {
					return fmt.Errorf("push %s: %w", ref, err)
				}
				if ok {
					full = c
					break
				}
			}
			if full == "" {
				return fmt.Errorf("push %s: %w", ref, ErrRefNotFound)
			}
		}
		args = append(args, full+":"+full)
	}
	if _, err := r.runRemote(ctx, r.cfg.Remote, args...); err != nil {
		return fmt.Errorf("push %s: %w", strings.Join(refs, " "), err)
	}
	return nil
}

// RemoteTagExists tells whether the repository at remoteURL ("" for the collection's remote)
// has the tag, asking it directly (git ls-remote), e.g. for an upstream release tag.
// Credentials in remoteURL are used as if configured and never shown.
func (r *Repo) RemoteTagExists(ctx context.Context, remoteURL, tag string) (bool, error) {
	if remoteURL == "" {
		remoteURL = r.cfg.Remote
	}
	shown := RedactURL(remoteURL)
	if strings.HasPrefix(remoteURL, "-") {
		return false, fmt.Errorf("ls-remote %q: not a URL", shown)
	}
	remoteURL, extra := r.withURLCredentials(remoteURL)
	out, err := r.runRemoteWith(ctx, remoteURL, extra, "ls-remote", "--tags", remoteURL, "refs/tags/"+tag)
	if err != nil {
		return false, fmt.Errorf("ls-remote %s %s: %w", shown, tag, err)
	}
	return strings.TrimSpace(out) != "", nil
}

// FetchExternal fetches ref (a tag or branch) from another repository, such as a
// package's upstream, and returns its commit; it is kept under refs/external/ so that it
// can be merged and stays reachable.
//
// Credentials in remoteURL are used as if configured (Config.Credentials), never passed to
// git on its command line or kept in the ref's name, and never shown.
func (r *Repo) FetchExternal(ctx context.Context, remoteURL, ref string) (string, error) {
	shown := RedactURL(remoteURL)
	if strings.HasPrefix(remoteURL, "-") || remoteURL == "" || ref == "" || strings.HasPrefix(ref, "-") {
		return "", fmt.Errorf("fetch %q from %q: %w", ref, shown, ErrRefNotFound)
	}
	remoteURL, extra := r.withURLCredentials(remoteURL)
	unlock, err := r.lock(ctx)
	if err != nil {
		return "", fmt.Errorf("fetch %s from %s: %w", ref, shown, err)
	}
	defer unlock()
	local := "refs/external/" + externalName(remoteURL) + "/" + strings.TrimPrefix(strings.TrimPrefix(ref, "refs/"), "tags/")
	if _, err := r.runRemoteWith(ctx, remoteURL, extra, "fetch", "--quiet", "--no-tags", remoteURL, "+"+ref+":"+local); err != nil {
		var gerr *GitError
		if errors.As(err, &gerr) && strings.Contains(gerr.Stderr, "couldn't find remote ref") {
			return "", fmt.Errorf("fetch %s from %s: %w", ref, shown, ErrRefNotFound)
		}
		return "", fmt.Errorf("fetch %s from %s: %w", ref, shown, err)
	}
	out, err := r.run(ctx, "rev-parse", "--verify", local+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("fetch %s from %s: %w", ref, shown, err)
	}
	return strings.TrimSpace(out), nil
}

// externalName turns a repository URL into a ref-safe directory name.
func externalName(url string) string {
	var b strings.Builder
	for _, c := range strings.TrimSuffix(strings.TrimRight(url, "/"), ".git") {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteRune(c)
		default:
			b.WriteRune('_')
		}
	}
	return strings.Trim(b.String(), "_")
}

// GitError is a git command that failed.
type GitError struct {
	Args     []string
	ExitCode int    // -1 when git did not exit normally
	Stderr   string // the end of its error output
	Err      error
}

// Error names the git subcommand and gives the end of its error output.
func (e *GitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.Args[:min(len(e.Args), 2)], " "), msg)
}

// Unwrap returns the underlying error (an exit status, ErrGitMissing, a context error).
func (e *GitError) Unwrap() error { return e.Err }

// scrubbedError is an error whose message is scrubbed of credentials; errors.Is and As
// still see what it wraps.
type scrubbedError struct {
	err   error
	creds []Credential
}

func (e scrubbedError) Error() string { return scrub(e.err.Error(), e.creds) }
func (e scrubbedError) Unwrap() error { return e.err }

const stderrTail = 4 << 10

// withURLCredentials returns a URL without its credentials and the credential set to use for
// it: the configured one, plus the one the URL carried.
func (r *Repo) withURLCredentials(raw string) (string, []Credential) {
	clean, cred, ok := SplitCredentials(raw)
	if !ok {
		return raw, nil
	}
	return clean, []Credential{cred}
}

// run runs git on the working repository, with no credentials.
func (r *Repo) run(ctx context.Context, args ...string) (string, error) {
	return r.runGit(ctx, nil, nil, args)
}

// runRemote runs a git command that talks to remote (a URL without credentials), with the
// configured credential for it, if any.
func (r *Repo) runRemote(ctx context.Context, remote string, args ...string) (string, error) {
	return r.runRemoteWith(ctx, remote, nil, args...)
}

// runRemoteWith is runRemote with extra credentials, which win over the configured ones.
func (r *Repo) runRemoteWith(ctx context.Context, remote string, extra []Credential, args ...string) (string, error) {
	cred, ok := lookupCredential(extra, remote)
	if !ok {
		cred, ok = lookupCredential(r.cfg.Credentials, remote)
	}
	if !ok {
		return r.runGit(ctx, nil, extra, args)
	}
	env, pre, err := r.credentialEnv(remote, cred)
	if err != nil {
		return "", err
	}
	return r.runGit(ctx, env, extra, append(pre, args...))
}

// runGit runs git on the working repository with Crest's identity and settings that keep
// user configuration from changing what it writes; env (credentials) is added last, so
// nothing overrides it, and only to this child. Its errors never show a credential of the
// repository or of extra.
func (r *Repo) runGit(ctx context.Context, env []string, extra []Credential, args []string) (string, error) {
	full := append([]string{
		"--git-dir=" + r.cfg.Dir,
		"-c", "commit.gpgSign=false", "-c", "tag.gpgSign=false", "-c", "core.hooksPath=" + os.DevNull,
		"-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "advice.detachedHead=false",
	}, args...)
	cmd := exec.CommandContext(ctx, r.git, full...)
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME="+r.cfg.Name, "GIT_AUTHOR_EMAIL="+r.cfg.Email,
		"GIT_COMMITTER_NAME="+r.cfg.Name, "GIT_COMMITTER_EMAIL="+r.cfg.Email,
		"GIT_TERMINAL_PROMPT=0", "LC_ALL=C",
	)
	cmd.Env = append(cmd.Env, r.cfg.Env...)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	if errors.Is(err, exec.ErrNotFound) {
		err = fmt.Errorf("%w: %w", ErrGitMissing, err)
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	creds := append(slices.Clip(r.cfg.Credentials), extra...)
	tail := scrub(stderr.String(), creds)
	if len(tail) > stderrTail {
		tail = tail[len(tail)-stderrTail:]
	}
	shownArgs := make([]string, len(args))
	for i, a := range args {
		shownArgs[i] = scrub(a, creds)
	}
	return stdout.String(), &GitError{Args: shownArgs, ExitCode: code, Stderr: tail, Err: scrubbedError{err, creds}}
}

// lock serializes operations on the repository: in this process with a semaphore, across
// processes with flock on crest.lock in the repository directory.
func (r *Repo) lock(ctx context.Context) (func(), error) {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f, err := os.OpenFile(r.lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		<-r.sem
		return nil, fmt.Errorf("lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			<-r.sem
			return nil, fmt.Errorf("lock %s: %w", r.lockPath, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			<-r.sem
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
		<-r.sem
	}, nil
}

// RedactURL returns a repository URL with its credentials (https://user:token@host/…, or
// a token alone as the user) replaced by "***", for messages, logs and records. Anything
// that does not parse as a URL with credentials (a path, scp-like git@host:repo) is
// returned as it is.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil || u.Host == "" {
		return raw
	}
	u.User = url.User("***")
	return strings.Replace(u.String(), "%2A%2A%2A", "***", 1)
}
