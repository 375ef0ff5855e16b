package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/crestwaves/crest/activities/nix"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "crest.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

// parsedRoot returns the root command's flag set for `crest dev args…`, parsed.
func parsedFlags(t *testing.T, args ...string) *cobra.Command {
	t.Helper()
	root := newRootCmd()
	cmd, rest, err := root.Find(append([]string{"dev"}, args...))
	require.NoError(t, err)
	require.NoError(t, cmd.ParseFlags(rest))
	return cmd
}

func TestConfigPrecedenceFlagEnvFileDefault(t *testing.T) {
	file := writeConfig(t, `
temporal:
  namespace: from-file
  address: file:7233
task_queues:
  default: from-file
dev:
  ui_port: 9000
  postgres_port: 9001
`)
	t.Setenv("CREST_TEMPORAL_ADDRESS", "env:7233")
	t.Setenv("CREST_TASK_QUEUES_DEFAULT", "from-env")
	t.Setenv("CREST_DEV_POSTGRES_PORT", "9101")
	cmd := parsedFlags(t, "--task-queue", "from-flag", "--postgres-port", "9201")

	cfg, _, err := loadConfig(file, cmd.Flags())
	require.NoError(t, err)
	require.Equal(t, "from-file", cfg.Temporal.Namespace, "file beats default")
	require.Equal(t, "env:7233", cfg.Temporal.Address, "env beats file")
	require.Equal(t, "from-flag", cfg.TaskQueues.Default, "flag beats env and file")
	require.Equal(t, 9201, cfg.Dev.PostgresPort, "flag beats env and file")
	require.Equal(t, 9000, cfg.Dev.UIPort, "file value kept when nothing overrides it")
	require.Equal(t, 7233, cfg.Dev.TemporalPort, "default when nothing sets it")
	require.Equal(t, "crest-build", cfg.TaskQueues.BuildPrefix)
}

func TestConfigSearchesWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "crest.yaml"), []byte("temporal:\n  namespace: from-cwd\n"), 0o644))
	// A file named just "crest" (like the binary) must not be taken for config.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "crest"), []byte{0x7f, 'E', 'L', 'F', 0}, 0o755))
	t.Chdir(dir)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	cfg, v, err := loadConfig("", nil)
	require.NoError(t, err)
	require.Equal(t, "from-cwd", cfg.Temporal.Namespace)
	require.Equal(t, "crest.yaml", filepath.Base(v.ConfigFileUsed()))
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown top-level key": {"temporall:\n  address: x:1\n", "temporall"},
		"unknown nested key":    {"dev:\n  ui_prot: 1\n", "ui_prot"},
		"unknown collection key": {"collections:\n  - name: demo\n    remote: /x\n    protected: [stdenv]\n",
			"protected"},
		"port out of range": {"dev:\n  ui_port: 70000\n", "dev.ui_port: 70000 is not a port"},
		"not a number":      {"dev:\n  ui_port: eighty\n", "ui_port"},
		"bad duration":      {"nix:\n  build_timeout: soon\n", "build_timeout"},
		"bad tracker":       {"issue_tracker:\n  kind: jira\n", `issue_tracker.kind: "jira" is not one of local, github`},
		"github needs repo": {"issue_tracker:\n  kind: github\n", "issue_tracker.github: owner and repo are required"},
		"bad address":       {"temporal:\n  address: nowhere\n", `temporal.address: "nowhere" is not host:port`},
		"collection remote": {"collections:\n  - name: demo\n", "collections[0].remote: must not be empty"},
		"duplicate collection": {"collections:\n  - {name: a, remote: /a}\n  - {name: a, remote: /b}\n",
			`collections[1].name: "a" is configured twice`},
		"malformed yaml": {"dev: [\n", "read config"},
		"bad policy field": {"collections:\n  - name: demo\n    remote: /x\n    policy:\n      grace_perod: 3d\n",
			`collections[0].policy: policy of collection demo: settings: grace_perod: unknown field (did you mean grace_period?)`},
		"policy too short": {"collections:\n  - name: demo\n    remote: /x\n    policy:\n      grace_period: 5m\n",
			"grace_period"},
		"queue repo":  {"queue:\n  github:\n    repo: nixpkgs\n    token: t\n", `queue.github.repo: "nixpkgs" is not owner/name`},
		"queue token": {"queue:\n  github:\n    repo: nixos/nixpkgs\n", "queue.github.token: required to read pull requests"},
		"queue poll": {"queue:\n  github:\n    repo: nixos/nixpkgs\n    token: t\n    poll_interval: 10ms\n",
			"queue.github.poll_interval: must be at least 1s"},
		"queue label": {"queue:\n  github:\n    repo: nixos/nixpkgs\n    token: t\n    label: ''\n", "queue.github.label: must not be empty"},
		"queue collection": {"queue:\n  github:\n    repo: nixos/nixpkgs\n    token: t\n    collection: nope\ncollections:\n  - {name: a, remote: /a}\n",
			`queue.github.collection: "nope" is not a configured collection`},
		"system test without a test": {"collections:\n  - name: demo\n    remote: /x\n    system_tests: [default-system]\n",
			`collections[0].system_tests[0]: "default-system": want PACKAGE.TEST`},
		"system test twice": {"collections:\n  - name: demo\n    remote: /x\n    system_tests: [a.boot, a.boot]\n",
			`collections[0].system_tests[1]: "a.boot" is listed twice`},
		"upstream without repo": {"collections:\n  - name: demo\n    remote: /x\n    upstreams:\n      - package: libjson\n",
			"collections[0].upstreams[0]: package and repo are required"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := loadConfig(writeConfig(t, tc.yaml), nil)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestConfigEnvInvalidValueIsNamed(t *testing.T) {
	t.Setenv("CREST_WORKER_MAX_BUILDS", "0")
	_, _, err := loadConfig(writeConfig(t, ""), nil)
	require.ErrorContains(t, err, "worker.max_builds: must be at least 1")
}

func TestConfigShowRedactsSecrets(t *testing.T) {
	file := writeConfig(t, `
database:
  url: postgres://crest:hunter2-db@db.example:5432/crest
issue_tracker:
  kind: github
  github:
    owner: nixos
    repo: nixpkgs
`)
	t.Setenv("CREST_ISSUE_TRACKER_GITHUB_TOKEN", "ghp_supersecrettoken")
	t.Setenv("CREST_TEMPORAL_API_KEY", "tmprl-api-key-secret")
	text := configShow(t, file)
	var shown map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(text), &shown))
	for _, secret := range []string{"hunter2-db", "ghp_supersecrettoken", "tmprl-api-key-secret"} {
		require.NotContains(t, text, secret)
	}
	tr := shown["issue_tracker"].(map[string]any)["github"].(map[string]any)
	require.Equal(t, "(redacted)", tr["token"])
	require.Equal(t, "nixos", tr["owner"])
	require.Contains(t, shown["database"].(map[string]any)["url"], "crest:xxxxx@db.example")
}

func TestWorkerRolesFromEnvironment(t *testing.T) {
	t.Setenv("CREST_WORKER_SYSTEMS", "")
	cfg, _, err := loadConfig(writeConfig(t, ""), nil)
	require.NoError(t, err)
	require.Empty(t, cfg.Worker.Systems, "an empty CREST_WORKER_SYSTEMS means no build queues")
	require.True(t, cfg.Worker.ServeDefault)

	t.Setenv("CREST_WORKER_SERVE_DEFAULT", "false")
	_, _, err = loadConfig(writeConfig(t, ""), nil)
	require.ErrorContains(t, err, "worker: serves nothing")

	t.Setenv("CREST_WORKER_SYSTEMS", "x86_64-linux,aarch64-linux")
	cfg, _, err = loadConfig(writeConfig(t, ""), nil)
	require.NoError(t, err)
	require.False(t, cfg.Worker.ServeDefault)
	require.Equal(t, []string{"x86_64-linux", "aarch64-linux"}, cfg.Worker.Systems)
}

// TestQueueGitHubConfig: the intake's keys have defaults, read the environment, borrow the
// issue tracker's token, and never show it.
func TestQueueGitHubConfig(t *testing.T) {
	file := writeConfig(t, `
issue_tracker:
  github:
    token: ghp_trackertoken
queue:
  github:
    repo: nixos/nixpkgs
collections:
  - {name: nixpkgs, remote: https://github.com/nixos/nixpkgs.git, main_branch: master}
`)
	t.Setenv("CREST_QUEUE_GITHUB_POLL_INTERVAL", "30s")
	cfg, _, err := loadConfig(file, nil)
	require.NoError(t, err)
	require.Equal(t, "crest-merge", cfg.Queue.GitHub.Label)
	require.Equal(t, 30*time.Second, cfg.Queue.GitHub.PollInterval)
	require.Equal(t, "ghp_trackertoken", cfg.intakeToken())
	require.Equal(t, "nixpkgs", cfg.intakeCollection("demo"), "the only configured collection")

	t.Setenv("CREST_QUEUE_GITHUB_TOKEN", "ghp_queuetoken")
	text := configShow(t, file)
	var shown map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(text), &shown))
	require.NotContains(t, text, "ghp_queuetoken")
	require.NotContains(t, text, "ghp_trackertoken")
	q := shown["queue"].(map[string]any)["github"].(map[string]any)
	require.Equal(t, "(redacted)", q["token"])
	require.Equal(t, "nixos/nixpkgs", q["repo"])
}

// TestCacheConfig: the cache's keys come from crest.yaml (public), a file or the
// environment (secret); mismatched or malformed keys are refused at load, naming the key
// but never quoting the secret; a builder without the secret key is refused; and
// `crest config show` never prints it.
func TestCacheConfig(t *testing.T) {
	pub, sec, err := nix.GenerateKey("cache.example-1")
	require.NoError(t, err)
	otherPub, _, err := nix.GenerateKey("cache.example-1")
	require.NoError(t, err)
	_, b64, _ := strings.Cut(string(sec), ":")
	keyFile := filepath.Join(t.TempDir(), "secret-key")
	require.NoError(t, os.WriteFile(keyFile, []byte(string(sec)+"\n"), 0o600))
	yamlFor := func(pub, extra string) string {
		return "cache:\n  url: file:///var/cache/crest\n  public_key: " + pub + "\n" + extra
	}

	// From a file: the key is read when the worker starts.
	cfg, _, err := loadConfig(writeConfig(t, yamlFor(pub, "  secret_key_file: "+keyFile+"\n")), nil)
	require.NoError(t, err)
	cache, err := cfg.nixCache()
	require.NoError(t, err)
	require.True(t, cache.CanPush())
	require.Equal(t, string(sec), string(cache.SecretKey))

	// From the environment.
	t.Setenv("CREST_CACHE_SECRET_KEY", string(sec))
	file := writeConfig(t, yamlFor(pub, ""))
	cfg, _, err = loadConfig(file, nil)
	require.NoError(t, err)
	cache, err = cfg.nixCache()
	require.NoError(t, err)
	require.True(t, cache.CanPush())
	root := newRootCmd()
	var out strings.Builder
	root.SetOut(&out)
	root.SetArgs([]string{"config", "show", "--config", file})
	require.NoError(t, root.Execute())
	require.NotContains(t, out.String(), b64)
	require.Contains(t, out.String(), pub, "the public key is no secret")

	for name, tc := range map[string]struct{ yaml, want string }{
		"both secrets":   {yamlFor(pub, "  secret_key_file: "+keyFile+"\n"), "cache: secret_key_file and CREST_CACHE_SECRET_KEY are both set"},
		"not a pair":     {yamlFor(otherPub, ""), `cache: cache secret key "cache.example-1" does not match`},
		"no public key":  {"cache:\n  url: file:///c\n", "cache: cache public key is required"},
		"not a URI":      {"cache:\n  url: /var/cache/crest\n  public_key: " + pub + "\n", "cache.url: /var/cache/crest is not a Nix store URI"},
		"relative store": {"nix:\n  store_root: nix-a\n", `nix.store_root: "nix-a" must be an absolute path`},
	} {
		_, _, err := loadConfig(writeConfig(t, tc.yaml), nil)
		require.ErrorContains(t, err, tc.want, name)
		require.NotContains(t, err.Error(), b64, name)
	}

	// A builder must push; a worker serving only the default queue (the tag host) need not.
	t.Setenv("CREST_CACHE_SECRET_KEY", "")
	cfg, _, err = loadConfig(file, nil)
	require.NoError(t, err)
	_, err = cfg.nixCache()
	require.ErrorContains(t, err, "needs the secret key")
	t.Setenv("CREST_WORKER_SYSTEMS", "")
	cfg, _, err = loadConfig(file, nil)
	require.NoError(t, err)
	cache, err = cfg.nixCache()
	require.NoError(t, err)
	require.True(t, cache.Enabled())
	require.False(t, cache.CanPush())

	// A key file that holds another pair's key is refused when read, without quoting it.
	t.Setenv("CREST_WORKER_SYSTEMS", "x86_64-linux")
	cfg, _, err = loadConfig(writeConfig(t, yamlFor(otherPub, "  secret_key_file: "+keyFile+"\n")), nil)
	require.NoError(t, err, "the file is read by workers, not at every load")
	_, err = cfg.nixCache()
	require.ErrorContains(t, err, "does not match")
	require.NotContains(t, err.Error(), b64)
}
