package bench

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// envOf is a process's environment as a map (the last value of a name wins, as exec's).
func envOf(p ClusterProcess) map[string]string {
	out := map[string]string{}
	for _, kv := range p.Env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// TestComposeTopologyOfDeploy translates deploy/compose/compose.yaml without running it:
// the migration first as a one-shot, then the builders (a process per replica, each with
// its own /nix as nix.store_root and the secret key as a file) and the orchestrator (its
// /nix and data_dir on its volumes), all on the one cache directory, with the local
// Postgres and Temporal in place of the services and crest.yaml's paths translated.
func TestComposeTopologyOfDeploy(t *testing.T) {
	t.Parallel()
	vars, err := ComposeEnv()
	require.NoError(t, err)
	topo, err := ComposeTopology("../compose/compose.yaml", vars)
	require.NoError(t, err)
	require.Equal(t, ClusterServices{DatabaseUser: "crest", Database: "crest", Namespace: "default"}, topo.Services())
	dir := t.TempDir()
	ep := ClusterEndpoints{Dir: dir, Postgres: "127.0.0.1:5999", Temporal: "127.0.0.1:7999", Namespace: "default"}
	procs, err := topo.Plan(ep)
	require.NoError(t, err)
	var names []string
	for _, p := range procs {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"crest-migrate", "crest-builder-x86-64-linux-1", "crest-builder-x86-64-linux-2", "crest-orchestrator"}, names)
	require.True(t, procs[0].OneShot)
	require.Equal(t, []string{"migrate", "up", "--config", filepath.Join(dir, "crest-migrate/etc/crest/crest.yaml")}, procs[0].Args)

	cache := filepath.Join(dir, "volumes", "crest-cache")
	stores := map[string]bool{}
	for _, p := range procs[1:] {
		env := envOf(p)
		require.Equal(t, []string{"worker", "--config", filepath.Join(dir, p.Name, "etc/crest/crest.yaml")}, p.Args)
		require.Equal(t, "postgres://crest:"+vars["CREST_DB_PASSWORD"]+"@127.0.0.1:5999/crest?sslmode=disable", env["CREST_DATABASE_URL"])
		require.Equal(t, "127.0.0.1:7999", env["CREST_TEMPORAL_ADDRESS"])
		require.Equal(t, vars["CREST_CACHE_PUBLIC_KEY"], env["CREST_CACHE_PUBLIC_KEY"])
		require.Equal(t, filepath.Join(dir, p.Name, "home/crest"), env["HOME"], "the image's ENV, in the container's own filesystem")
		require.Equal(t, filepath.Join(dir, p.Name, "etc/crest"), p.Dir, "the image's WORKDIR")
		stores[env["CREST_NIX_STORE_ROOT"]] = true
		cfg, err := os.ReadFile(p.Args[2])
		require.NoError(t, err)
		require.Contains(t, string(cfg), "url: file://"+cache, "crest.yaml's cache.url is the shared volume's directory")
		if p.Name == "crest-orchestrator" {
			require.Equal(t, filepath.Join(dir, "volumes/crest-orchestrator-nix"), env["CREST_NIX_STORE_ROOT"])
			require.Equal(t, filepath.Join(dir, "volumes/crest-orchestrator-data"), env["CREST_DATA_DIR"])
			require.NotContains(t, env, "CREST_CACHE_SECRET_KEY_FILE")
			continue
		}
		require.Equal(t, filepath.Join(dir, p.Name, "nix"), env["CREST_NIX_STORE_ROOT"], "the anonymous volume on /nix: the container's own")
		key, err := os.ReadFile(env["CREST_CACHE_SECRET_KEY_FILE"])
		require.NoError(t, err)
		require.Equal(t, vars["CREST_CACHE_SECRET_KEY"], string(key), "the secret from .env, as a file")
	}
	require.Len(t, stores, 3, "a store each")
}

// TestComposeTopologyRefuses: what has no stand-in without Docker fails, naming it.
func TestComposeTopologyRefuses(t *testing.T) {
	t.Parallel()
	const dockerfile = "FROM debian\nENV HOME=/home/crest\nWORKDIR /etc/crest\nENTRYPOINT [\"/usr/local/bin/crest\"]\n"
	base := `
services:
  db:
    image: postgres:15
    environment: {POSTGRES_USER: crest}
  temporal:
    image: temporalio/server:1.32.1
  crest:
    build: {context: ., dockerfile: Dockerfile}
    command: ["worker", "--config", "/etc/crest/crest.yaml"]
    volumes: ["./crest.yaml:/etc/crest/crest.yaml:ro"%s]
    environment:
      CREST_DATABASE_URL: postgres://crest@db:5432/crest
      CREST_TEMPORAL_ADDRESS: temporal:7233%s
%s`
	for name, tc := range map[string]struct {
		volumes, env, services, config, want string
	}{
		"fine":                {want: ""},
		"unknown image":       {services: "  cache:\n    image: redis:7\n", want: "image redis:7 has no local stand-in"},
		"another service":     {services: "  cache:\n    image: postgres:15\n", env: "\n      CREST_CACHE_URL: http://cache:5432", want: "two Postgres services"},
		"wrong port":          {env: "\n      CREST_X: temporal:8080", want: "temporal:8080: the cluster runs no stand-in"},
		"store root set":      {config: "nix:\n  store_root: /var/nix\n", want: "nix.store_root"},
		"store root env":      {env: "\n      CREST_NIX_STORE_ROOT: /x", want: "CREST_NIX_STORE_ROOT has a stand-in"},
		"another bind mount":  {volumes: `, "./Dockerfile:/etc/x"`, want: "only the --config file"},
		"undeclared volume":   {volumes: `, "data:/data"`, want: "volume data is not declared"},
		"unknown service key": {env: "\n    privileged: true", want: "privileged"},
	} {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "crest.yaml"), []byte("worker:\n  max_builds: 2\n"+tc.config), 0o644))
		text := strings.Replace(base, "%s", tc.volumes, 1)
		text = strings.Replace(text, "%s", tc.env, 1)
		text = strings.Replace(text, "%s", tc.services, 1)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(text), 0o644))
		topo, err := ComposeTopology(filepath.Join(dir, "compose.yaml"), nil)
		if err == nil {
			var procs []ClusterProcess
			procs, err = topo.Plan(ClusterEndpoints{Dir: t.TempDir(), Postgres: "127.0.0.1:1", Temporal: "127.0.0.1:2"})
			if err == nil && tc.want == "" {
				require.Len(t, procs, 1, name)
				require.True(t, slices.Contains(procs[0].Env, "CREST_DATABASE_URL=postgres://crest@127.0.0.1:1/crest"), name)
			}
		}
		if tc.want == "" {
			require.NoError(t, err, name)
			continue
		}
		require.ErrorContains(t, err, tc.want, name)
	}
}
