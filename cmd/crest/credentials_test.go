package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/gitrepo"
	"github.com/crestwaves/crest/activities/gitrepo/githttptest"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/deploy/testenv"
)

// configShow runs `crest config show` on a file and returns what it prints.
func configShow(t *testing.T, file string) string {
	t.Helper()
	root := newRootCmd()
	var out strings.Builder
	root.SetOut(&out)
	root.SetArgs([]string{"config", "show", "--config", file})
	require.NoError(t, root.Execute())
	return out.String()
}

func TestConfigCredentialsLeaveURLs(t *testing.T) {
	file := writeConfig(t, `
collections:
  - name: demo
    remote: https://alice:url-token-remote-1@git.example/org/demo.git
    upstreams:
      - package: libnet
        repo: https://ghp_urlTokenAlone2@github.example/up/libnet
      - package: libcore
        repo: https://github.example/up/libcore
`)
	cfg, _, err := loadConfig(file, nil)
	require.NoError(t, err)
	col := cfg.Collections[0].collection()
	require.Equal(t, "https://git.example/org/demo.git", col.Remote)
	require.Equal(t, "https://github.example/up/libnet", col.Upstreams[0].Repo)
	require.Equal(t, "https://github.example/up/libcore", col.Upstreams[1].Repo)
	stored, err := json.Marshal(col) // what RegisterCollection keeps and workflows carry
	require.NoError(t, err)
	text := string(stored) + fmt.Sprintf("%v %+v", cfg, cfg)
	require.NotContains(t, text, "url-token-remote-1")
	require.NotContains(t, text, "ghp_urlTokenAlone2")
	require.ElementsMatch(t, []gitrepo.Credential{
		{URLPrefix: "https://git.example/org/demo.git", Username: "alice", Password: "url-token-remote-1"},
		{URLPrefix: "https://github.example/up/libnet", Username: "ghp_urlTokenAlone2"},
	}, cfg.gitCredentials())

	shown := configShow(t, file)
	require.NotContains(t, shown, "url-token-remote-1")
	require.NotContains(t, shown, "ghp_urlTokenAlone2")
	require.Contains(t, shown, "https://***@git.example/org/demo.git", "config show says credentials are configured")
}

func TestConfigGitCredentialsFromFileAndEnv(t *testing.T) {
	file := writeConfig(t, `
git:
  credentials:
    - url_prefix: https://git.example/
      username: crest
      token: file-token-3
collections:
  - {name: demo, remote: "https://git.example/org/demo.git"}
`)
	cfg, _, err := loadConfig(file, nil)
	require.NoError(t, err)
	require.Equal(t, []gitrepo.Credential{{URLPrefix: "https://git.example/", Username: "crest", Password: "file-token-3"}}, cfg.gitCredentials())
	shown := configShow(t, file)
	require.NotContains(t, shown, "file-token-3")
	require.Contains(t, shown, "(redacted)")

	t.Setenv("CREST_GIT_CREDENTIALS", `[{"url_prefix": "https://git.example/org/", "username": "x-access-token", "token": "env-token-4"}]`)
	cfg, _, err = loadConfig(file, nil)
	require.NoError(t, err)
	require.Equal(t, []gitrepo.Credential{{URLPrefix: "https://git.example/org/", Username: "x-access-token", Password: "env-token-4"}},
		cfg.gitCredentials(), "the environment wins over the file")
	shown = configShow(t, file)
	require.NotContains(t, shown, "env-token-4")
	require.NotContains(t, shown, "file-token-3")

	for name, tc := range map[string]struct{ env, want string }{
		"not JSON":    {`url_prefix=https://x/,token=env-token-5`, "git.credentials"},
		"no token":    {`[{"url_prefix": "https://git.example/", "username": "u"}]`, "git.credentials[0]: username and token are required"},
		"userinfo":    {`[{"url_prefix": "https://u:env-token-5@git.example/", "username": "u", "token": "t"}]`, "must not carry credentials"},
		"not http":    {`[{"url_prefix": "git.example", "username": "u", "token": "env-token-5"}]`, "is not an http(s) URL"},
		"unknown key": {`[{"url_prefix": "https://git.example/", "username": "u", "tokn": "env-token-5"}]`, "tokn"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("CREST_GIT_CREDENTIALS", tc.env)
			_, _, err := loadConfig(file, nil)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "env-token-5")
		})
	}
	t.Setenv("CREST_GIT_CREDENTIALS", "")
	_, _, err = loadConfig(writeConfig(t, "collections:\n  - {name: demo, remote: \"ssh://git:ssh-pass-6@git.example/demo.git\"}\n"), nil)
	require.ErrorContains(t, err, "collections[0].remote: repository ssh://***@git.example/demo.git carries credentials")
	require.NotContains(t, err.Error(), "ssh-pass-6")

	_, _, err = loadConfig(writeConfig(t, `
collections:
  - {name: a, remote: "https://u:conflict-token-7@git.example/demo.git"}
  - {name: b, remote: "https://u:conflict-token-8@git.example/demo.git"}
`), nil)
	require.ErrorContains(t, err, "collections[1].remote: the same repository is configured elsewhere with other credentials")
	require.NotContains(t, err.Error(), "conflict-token")
}

// TestTokenAppearsNowhere runs Crest's own wiring (config load, newActivities,
// registerCollections, activities run by Temporal's activity test environment) against a
// real HTTPS git server that requires the token, with the token given in the configured
// remote URL or through CREST_GIT_CREDENTIALS, and then looks for it in every table of a real
// Postgres (pg_dump), in activity results and errors (including fetching a missing ref and a
// collection configured with a wrong token), in the captured activity logs and in the
// worker's data directory.
func TestTokenAppearsNowhere(t *testing.T) {
	for _, mode := range []string{"url", "env"} {
		t.Run(mode, func(t *testing.T) {
			const (
				user  = "alice"
				token = "tok-crest-5ecret-7a1b2c"
				wrong = "tok-wrong-5ecret-3d4e5f"
			)
			secrets := []string{token, wrong, base64.StdEncoding.EncodeToString([]byte(user + ":" + token))}
			ctx := t.Context()
			root := t.TempDir()
			d, err := demo.Create(ctx, root)
			require.NoError(t, err)
			// The broken collection is another repository on the server, given a wrong token.
			require.NoError(t, exec.Command("git", "init", "--quiet", "--bare", filepath.Join(root, "other.git")).Run())
			srv := githttptest.New(t, root, user, token)
			clean := srv.URL + "/" + filepath.Base(d.Remote)
			withCreds := func(u, tok string) string { return strings.Replace(u, "https://", "https://"+user+":"+tok+"@", 1) }
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
			t.Setenv("GIT_SSL_CAINFO", srv.CAFile)

			remote := clean
			if mode == "url" {
				remote = withCreds(clean, token)
			} else {
				t.Setenv("CREST_GIT_CREDENTIALS", fmt.Sprintf(`[{"url_prefix": %q, "username": %q, "token": %q}]`, srv.URL+"/", user, token))
			}
			dataDir := t.TempDir()
			file := writeConfig(t, fmt.Sprintf(`
data_dir: %s
collections:
  - name: demo
    remote: %s
    upstreams:
      - {package: libnet, repo: %q}
  - name: broken
    remote: %s
`, dataDir, remote, remote, withCreds(srv.URL+"/other.git", wrong)))
			cfg, _, err := loadConfig(file, nil)
			require.NoError(t, err)

			dsn := testenv.DSN(t, false)
			st, err := store.Open(ctx, dsn)
			require.NoError(t, err)
			t.Cleanup(st.Close)
			acts, err := newActivities(cfg, st, cfg.DataDir)
			require.NoError(t, err)
			require.NoError(t, registerCollections(ctx, acts, cfg))

			var logs bytes.Buffer
			var suite testsuite.WorkflowTestSuite
			suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(acts)
			var seen []string // results and errors, as Temporal would record them

			val, err := env.ExecuteActivity(acts.StartWave, wire.StartWaveInput{WorkflowID: "wave-1", Collection: "demo", Title: "secrets"})
			require.NoError(t, err)
			var started wire.StartWaveResult
			require.NoError(t, val.Get(&started))
			require.Equal(t, clean, started.Collection.Remote)
			require.Equal(t, d.Commits[demo.MainBranch], gitOutAt(t, d.Remote, "rev-parse", started.Branch), "the wave branch was pushed")
			b, _ := json.Marshal(started)
			seen = append(seen, string(b))

			val, err = env.ExecuteActivity(acts.MergeRefs, wire.MergeInput{Collection: "demo", Branch: started.Branch, Message: "wave-1",
				Sources: []wire.Update{{Package: "libnet", Repo: clean, Ref: "refs/heads/" + demo.UpdateLibnet2}}})
			require.NoError(t, err)
			var head string
			require.NoError(t, val.Get(&head))
			require.Equal(t, head, gitOutAt(t, d.Remote, "rev-parse", started.Branch), "the merge was pushed")
			seen = append(seen, head)

			// Failures: a missing upstream ref, a missing base ref, a collection with a wrong token.
			_, err = env.ExecuteActivity(acts.MergeRefs, wire.MergeInput{Collection: "demo", Branch: started.Branch,
				Sources: []wire.Update{{Package: "libnet", Repo: clean, Ref: "refs/tags/no-such-tag"}}})
			require.ErrorContains(t, err, "no-such-tag not found in "+clean)
			seen = append(seen, err.Error(), fmt.Sprintf("%+v", err))
			_, err = env.ExecuteActivity(acts.StartWave, wire.StartWaveInput{WorkflowID: "wave-2", Collection: "demo", BaseRef: "no/such/ref"})
			require.ErrorContains(t, err, "not found")
			seen = append(seen, err.Error(), fmt.Sprintf("%+v", err))
			_, err = env.ExecuteActivity(acts.StartWave, wire.StartWaveInput{WorkflowID: "wave-3", Collection: "broken"})
			require.Error(t, err)
			seen = append(seen, err.Error(), fmt.Sprintf("%+v", err))

			// The same through a real Temporal server: every event of the history.
			c, queue := testenv.Temporal(t)
			w := worker.New(c, queue, worker.Options{})
			w.RegisterWorkflow(secretProbeWorkflow)
			w.RegisterActivity(acts)
			require.NoError(t, w.Start())
			t.Cleanup(w.Stop)
			id := "secret-probe-" + mode
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue},
				secretProbeWorkflow, wire.StartWaveInput{WorkflowID: id, Collection: "demo"}, clean)
			require.NoError(t, err)
			var probed wire.StartWaveResult
			require.NoError(t, run.Get(ctx, &probed))
			var history strings.Builder
			iter := c.GetWorkflowHistory(ctx, id, run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for iter.HasNext() {
				ev, err := iter.Next()
				require.NoError(t, err)
				history.WriteString(ev.String())
			}
			require.Contains(t, history.String(), clean, "the history is readable here: it names the remote")
			require.Contains(t, history.String(), "no-such-tag not found", "the history holds the failed merge")
			seen = append(seen, history.String())

			require.Positive(t, srv.Authorized())
			for _, s := range seen {
				for _, secret := range secrets {
					require.NotContains(t, s, secret, "the token leaked into a result or an error")
				}
			}
			for _, secret := range secrets {
				require.NotContains(t, logs.String(), secret, "the token leaked into the activity logs")
			}
			dump, err := exec.CommandContext(ctx, "pg_dump", "--no-owner", dsn).CombinedOutput()
			require.NoError(t, err, "pg_dump: %s", dump)
			require.Contains(t, string(dump), clean, "the dump holds the collection's remote")
			for _, secret := range secrets {
				require.NotContains(t, string(dump), secret, "the token leaked into Postgres")
			}
			err = filepath.WalkDir(dataDir, func(path string, e fs.DirEntry, err error) error {
				if err != nil || e.IsDir() {
					return err
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				for _, secret := range secrets {
					if bytes.Contains(b, []byte(secret)) {
						return errors.New("the token leaked into " + path)
					}
				}
				return nil
			})
			require.NoError(t, err)
		})
	}
}

// secretProbeWorkflow starts a wave and fails to merge a missing upstream ref, so that its
// history holds an activity input, a result carrying the collection, and a failure.
func secretProbeWorkflow(ctx workflow.Context, in wire.StartWaveInput, upstream string) (wire.StartWaveResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var a *activities.Activities
	var res wire.StartWaveResult
	if err := workflow.ExecuteActivity(ctx, a.StartWave, in).Get(ctx, &res); err != nil {
		return res, err
	}
	err := workflow.ExecuteActivity(ctx, a.MergeRefs, wire.MergeInput{Collection: in.Collection, Branch: res.Branch,
		Sources: []wire.Update{{Package: "libnet", Repo: upstream, Ref: "refs/tags/no-such-tag"}}}).Get(ctx, nil)
	if err == nil {
		return res, errors.New("merging a missing ref succeeded")
	}
	return res, nil
}

func gitOutAt(t *testing.T, gitDir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"--git-dir=" + gitDir}, args...)...).CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}
