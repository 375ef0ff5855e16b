package gitrepo_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/gitrepo"
	"github.com/crestwaves/crest/activities/gitrepo/githttptest"
	"github.com/crestwaves/crest/deploy/demo"
)

const (
	credUser  = "alice"
	credToken = "tok-9f8e7d6c5b4a-SECRET"
)

// secretForms are the ways a token could leak: as it is, or inside a basic-auth header.
func secretForms(user, token string) []string {
	return []string{token, base64.StdEncoding.EncodeToString([]byte(user + ":" + token))}
}

// requireNoSecret fails if any secret form appears in text.
func requireNoSecret(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		require.NotContains(t, text, s, "the token leaked into %s", what)
	}
}

// requireNoSecretInFiles reads every file under the roots.
func requireNoSecretInFiles(t *testing.T, secrets []string, roots ...string) {
	t.Helper()
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			requireNoSecret(t, path, string(b)+path, secrets)
			return nil
		})
		require.NoError(t, err)
	}
}

// credEnv is a throwaway git environment: no system configuration, a global configuration
// whose credential helper would store whatever git is given (the adapter must keep it out),
// the test server's CA, and git's own traces (argv, HTTP) written to files, as an operator
// debugging the worker would.
type credEnv struct {
	dir, stored, trace, curlTrace, argv string
	env                                 []string
	git                                 string // a wrapper recording git's command lines
}

func newCredEnv(t *testing.T, srv *githttptest.Server) credEnv {
	t.Helper()
	dir := t.TempDir()
	e := credEnv{
		dir: dir, stored: filepath.Join(dir, "stored-credentials"),
		trace: filepath.Join(dir, "trace"), curlTrace: filepath.Join(dir, "curl-trace"),
		argv: filepath.Join(dir, "argv"), git: filepath.Join(dir, "git"),
	}
	global := filepath.Join(dir, "gitconfig")
	require.NoError(t, os.WriteFile(global, []byte(fmt.Sprintf("[credential]\n\thelper = store --file %s\n", e.stored)), 0o644))
	realGit, err := exec.LookPath("git")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(e.git, []byte(fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> %s\nexec %s \"$@\"\n", e.argv, realGit)), 0o755))
	e.env = []string{
		"HOME=" + dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + global,
		"GIT_SSL_CAINFO=" + srv.CAFile,
		"GIT_TRACE=" + e.trace, "GIT_TRACE_CURL=" + e.curlTrace,
	}
	return e
}

// TestCredentialsReachGitAndNothingElse clones, fetches, merges, tags and pushes through a
// real HTTPS git server that requires the token, with the token given in the remote URL or
// as a configured credential, and then looks for the token everywhere the adapter leaves
// something: errors (including a fetch of a missing ref), git's command lines, git's own
// traces, the working repository's files (config, FETCH_HEAD, refs, reflogs), the helper, and
// the operator's credential store.
func TestCredentialsReachGitAndNothingElse(t *testing.T) {
	for _, mode := range []string{"in the remote URL", "configured"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			root := t.TempDir()
			d, err := demo.Create(ctx, root)
			require.NoError(t, err)
			srv := githttptest.New(t, root, credUser, credToken)
			clean := srv.URL + "/" + filepath.Base(d.Remote)
			withToken := strings.Replace(clean, "https://", "https://"+credUser+":"+credToken+"@", 1)
			e := newCredEnv(t, srv)
			cfg := gitrepo.Config{Dir: filepath.Join(t.TempDir(), "work.git"), Git: e.git, Env: e.env}
			if mode == "configured" {
				cfg.Remote = clean
				cfg.Credentials = []gitrepo.Credential{{URLPrefix: srv.URL + "/", Username: credUser, Password: credToken}}
			} else {
				cfg.Remote = withToken
			}
			secrets := secretForms(credUser, credToken)
			var errs []error

			r, err := gitrepo.Open(ctx, cfg)
			require.NoError(t, err)
			require.Equal(t, clean, r.Remote(), "the repository keeps the URL without credentials")
			head, err := r.ResolveRef(ctx, demo.MainBranch)
			require.NoError(t, err)
			require.Equal(t, d.Commits[demo.MainBranch], head)
			_, err = r.PrepareBranch(ctx, "wave/9", demo.MainBranch)
			require.NoError(t, err)
			merged, err := r.Merge(ctx, "wave/9", demo.UpdateLibnet2, "merge")
			require.NoError(t, err)
			require.NoError(t, r.Tag(ctx, "wave-9", merged, "wave 9"))
			require.NoError(t, r.Push(ctx, "wave/9", "wave-9"))
			require.Equal(t, merged, gitOut(t, d.Remote, "rev-parse", "wave-9^{commit}"), "the push reached the server")
			found, err := r.RemoteTagExists(ctx, "", "wave-9")
			require.NoError(t, err)
			require.True(t, found)
			require.NoError(t, r.Fetch(ctx))

			// An upstream on the same server, named with the token and without it.
			got, err := r.FetchExternal(ctx, withToken, "refs/heads/"+demo.UpdateLibnet2)
			require.NoError(t, err)
			require.Equal(t, d.Commits[demo.UpdateLibnet2], got)
			if mode == "configured" {
				got, err = r.FetchExternal(ctx, clean, "refs/heads/"+demo.MainBranch)
				require.NoError(t, err)
				require.Equal(t, d.Commits[demo.MainBranch], got)
			}
			found, err = r.RemoteTagExists(ctx, withToken, "wave-9")
			require.NoError(t, err)
			require.True(t, found)

			// Failures: a missing ref, a missing repository, a wrong branch name to push.
			_, err = r.FetchExternal(ctx, withToken, "refs/tags/no-such-tag")
			require.ErrorIs(t, err, gitrepo.ErrRefNotFound)
			errs = append(errs, err)
			_, err = r.FetchExternal(ctx, strings.Replace(withToken, "collection.git", "missing.git", 1), "refs/heads/main")
			require.Error(t, err)
			errs = append(errs, err)
			_, err = r.RemoteTagExists(ctx, strings.Replace(withToken, "collection.git", "missing.git", 1), "wave-9")
			require.Error(t, err)
			errs = append(errs, err)
			err = r.Push(ctx, "no-such-branch")
			require.Error(t, err)
			errs = append(errs, err)

			require.Positive(t, srv.Authorized(), "git authenticated")
			for _, err := range errs {
				requireNoSecret(t, "an error", err.Error(), secrets)
				requireNoSecret(t, "an error", fmt.Sprintf("%+v %#v", err, err), secrets)
				var ge *gitrepo.GitError
				if errors.As(err, &ge) {
					requireNoSecret(t, "GitError", fmt.Sprintf("%#v %s", ge.Args, ge.Stderr), secrets)
				}
			}
			argv, err := os.ReadFile(e.argv)
			require.NoError(t, err)
			require.Contains(t, string(argv), "ls-remote", "the wrapper saw git's command lines")
			requireNoSecret(t, "git's command lines", string(argv), secrets)
			trace, err := os.ReadFile(e.curlTrace)
			require.NoError(t, err)
			require.Contains(t, string(trace), "Authorization: Basic", "git's HTTP trace saw authenticated requests")
			_, err = os.Stat(e.stored)
			require.ErrorIs(t, err, fs.ErrNotExist, "the operator's credential helper was not asked to store the token")
			requireNoSecretInFiles(t, secrets, e.dir, r.Dir(), r.Dir()+".worktrees", r.Dir()+".askpass")
			for _, p := range srv.Paths() {
				requireNoSecret(t, "a request URL", p, secrets)
			}
		})
	}
}

// TestCredentialsOnlyForTheirURL proves a credential is not sent to a repository its prefix
// does not name (another port, or a host whose name merely starts the same), and that without
// credentials git fails at once instead of prompting.
func TestCredentialsOnlyForTheirURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	d, err := demo.Create(ctx, root)
	require.NoError(t, err)
	srv := githttptest.New(t, root, credUser, credToken)
	clean := srv.URL + "/" + filepath.Base(d.Remote)
	e := newCredEnv(t, srv)
	for name, prefix := range map[string]string{
		"none":            "",
		"another port":    "https://127.0.0.1:1/",
		"longer hostport": srv.URL[:len(srv.URL)-1], // port 4123 for 41234
		"another repo":    srv.URL + "/other.git",
	} {
		cfg := gitrepo.Config{Remote: clean, Dir: filepath.Join(t.TempDir(), "work.git"), Env: e.env}
		if prefix != "" {
			cfg.Credentials = []gitrepo.Credential{{URLPrefix: prefix, Username: credUser, Password: credToken}}
		}
		_, err := gitrepo.Open(ctx, cfg)
		require.Error(t, err, name)
		requireNoSecret(t, "an error", err.Error(), secretForms(credUser, credToken))
	}
	require.Zero(t, srv.Authorized(), "no request carried the token")
	require.Positive(t, srv.Unauthorized())

	// A wrong token in the URL fails and is not shown either.
	wrong := strings.Replace(clean, "https://", "https://"+credUser+":wrong-token-123@", 1)
	_, err = gitrepo.Open(ctx, gitrepo.Config{Remote: wrong, Dir: filepath.Join(t.TempDir(), "work.git"), Env: e.env})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "wrong-token-123")
}

// TestGitOutputIsScrubbed is the last line of defence: a git that prints the credential it
// was given (as a misbehaving helper or a verbose transport might) does not make an error
// show it.
func TestGitOutputIsScrubbed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	d, err := demo.Create(ctx, root)
	require.NoError(t, err)
	srv := githttptest.New(t, root, credUser, credToken)
	e := newCredEnv(t, srv)
	realGit, err := exec.LookPath("git")
	require.NoError(t, err)
	leaky := filepath.Join(t.TempDir(), "git")
	require.NoError(t, os.WriteFile(leaky, []byte(`#!/bin/sh
case " $* " in
*" ls-remote "*)
	echo "fatal: unable to access 'https://$CREST_GIT_ASKPASS_USERNAME:$CREST_GIT_ASKPASS_PASSWORD@host/x.git': token $CREST_GIT_ASKPASS_PASSWORD rejected" >&2
	exit 128 ;;
esac
exec `+realGit+` "$@"
`), 0o755))
	tokenOnly := "ghp_tokenAloneAsUser42"
	r, err := gitrepo.Open(ctx, gitrepo.Config{
		Remote: srv.URL + "/" + filepath.Base(d.Remote), Dir: filepath.Join(t.TempDir(), "work.git"), Git: leaky, Env: e.env,
		Credentials: []gitrepo.Credential{{URLPrefix: srv.URL + "/", Username: credUser, Password: credToken}},
	})
	require.NoError(t, err)
	_, err = r.RemoteTagExists(ctx, "", "wave-1")
	require.Error(t, err)
	require.Contains(t, err.Error(), "rejected", "the git output is kept")
	requireNoSecret(t, "an error", err.Error(), []string{credToken})
	var ge *gitrepo.GitError
	require.ErrorAs(t, err, &ge)
	requireNoSecret(t, "GitError.Stderr", ge.Stderr, []string{credToken})

	_, err = r.RemoteTagExists(ctx, "https://"+tokenOnly+"@127.0.0.1:1/x.git", "wave-1")
	require.Error(t, err)
	require.NotContains(t, err.Error(), tokenOnly, "a token alone as the user is a secret too")
}

func TestSplitCredentials(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]struct {
		clean, user, password string
		ok                    bool
	}{
		"https://alice:s3cr3t@git.example/org/repo.git": {"https://git.example/org/repo.git", "alice", "s3cr3t", true},
		"https://ghp_tok@git.example/org/repo":          {"https://git.example/org/repo", "ghp_tok", "", true},
		"http://u:p%40ss@127.0.0.1:8080/r.git":          {"http://127.0.0.1:8080/r.git", "u", "p@ss", true},
		"https://git.example/org/repo.git":              {"https://git.example/org/repo.git", "", "", false},
		"ssh://git@git.example/org/repo.git":            {"ssh://git@git.example/org/repo.git", "", "", false},
		"git@git.example:org/repo.git":                  {"git@git.example:org/repo.git", "", "", false},
		"/srv/git/demo.git":                             {"/srv/git/demo.git", "", "", false},
	} {
		clean, cred, ok := gitrepo.SplitCredentials(in)
		require.Equal(t, want.ok, ok, in)
		require.Equal(t, want.clean, clean, in)
		if ok {
			require.Equal(t, gitrepo.Credential{URLPrefix: want.clean, Username: want.user, Password: want.password}, cred, in)
			require.NotContains(t, fmt.Sprintf("%v %+v %#v %s", cred, cred, cred, cred), "s3cr3t", "printing a credential hides it")
		}
	}
	require.True(t, gitrepo.HasCredentials("https://tok@git.example/r"))
	require.True(t, gitrepo.HasCredentials("ssh://git:pw@git.example/r"))
	require.False(t, gitrepo.HasCredentials("ssh://git@git.example/r"))
	require.False(t, gitrepo.HasCredentials("https://git.example/r"))
}
