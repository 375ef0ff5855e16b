package manifests

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/crestwaves/crest/workflows"
)

// worker is a crest container, from compose or Kubernetes (`crest worker`, or `crest
// migrate up`), with its environment resolved to plain values (references to Secrets
// resolve to "") and the image's ENV under it.
type worker struct {
	name    string // compose service or Deployment
	builder bool   // meant to serve build queues only
	env     map[string]string
	k8s     bool   // a Deployment: its pods must land on nodes of the builder's architecture
	arch    string // the kubernetes.io/arch its pods are pinned to
	args    []string
	// literal marks the variables whose value the manifest writes out (not from .env, a
	// ConfigMap or a Secret).
	literal  map[string]bool
	replicas int
	// storage classes the container paths on volumes (ownEphemeral, ownPersistent,
	// shared); a path on none is the container's own, for its life.
	storage map[string]string
}

// Storage classes of a container path.
const (
	ownEphemeral  = "the container's own, for its life" // anonymous volume, emptyDir, none
	ownPersistent = "the container's own, persistent"   // a volume or ReadWriteOnce claim only it mounts
	shared        = "shared between containers"         // a named volume of several, a ReadWriteMany claim
)

// storageOf classes a container path by the volume it is on (the longest mount path
// holding it).
func (w worker) storageOf(p string) string {
	best, class := "", ownEphemeral
	for target, c := range w.storage {
		if (p == target || strings.HasPrefix(p, strings.TrimSuffix(target, "/")+"/")) && len(target) > len(best) {
			best, class = target, c
		}
	}
	return class
}

// imageEnv is the runtime stage's ENV of deploy/Dockerfile: what every crest container's
// environment starts with.
func imageEnv(t *testing.T, root string) map[string]string {
	t.Helper()
	st := stages(dockerfile(t, root))
	env := map[string]string{}
	for _, in := range st[len(st)-1] {
		if in.cmd == "ENV" {
			for _, kv := range strings.Fields(in.args) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = strings.Trim(v, `"`)
			}
		}
	}
	return env
}

// checkDeployment holds a deployment's crest containers (composeCrest, k8sCrest) to the
// cluster's topology: a migration, the workers' queues, their storage and the cache.
func checkDeployment(t *testing.T, crest func(*testing.T) (workers, migrators []worker, file map[string]any)) {
	t.Helper()
	cfg := loadCrestConfig(t)
	workers, migrators, file := crest(t)
	require.NotEmpty(t, migrators, "nothing runs crest migrate up")
	checkWorkers(t, cfg, file, workers)
	checkStorage(t, cfg, file, workers)
}

// checkStorage holds the workers to the cluster's storage: every worker has a Nix store of
// its own (one shared between hosts is not possible, and builders would not behave as on
// separate machines); the orchestrator's store and data_dir persist (the tag host: tagged
// closures are rooted there); all workers share the binary cache (a file:// cache on a
// volume every worker mounts) and trust its public key; builders alone hold its secret key.
func checkStorage(t *testing.T, cfg *crestConfig, file map[string]any, workers []worker) {
	t.Helper()
	urls := map[string]bool{}
	for _, w := range workers {
		require.NotEqual(t, shared, w.storageOf("/nix"), "%s: /nix is shared: each worker needs a store of its own; what one builds reaches the others through the cache", w.name)
		cacheURL := cfg.effectiveString(w.env, file, "cache.url")
		require.NotEmpty(t, cacheURL, "%s: cache.url: builders share what they build through the binary cache", w.name)
		urls[cacheURL] = true
		if dir, ok := strings.CutPrefix(cacheURL, "file://"); ok {
			require.Equal(t, shared, w.storageOf(dir), "%s: the file:// cache %s must be on a volume every worker shares", w.name, dir)
		}
		require.NotEmpty(t, cfg.effectiveString(w.env, file, "cache.public_key"), "%s: cache.public_key (CREST_CACHE_PUBLIC_KEY)", w.name)
		_, secretEnv := w.env["CREST_CACHE_SECRET_KEY"]
		secret := secretEnv || cfg.effectiveString(w.env, file, "cache.secret_key_file") != ""
		if w.builder {
			require.True(t, secret, "%s: a builder signs what it pushes: give it the cache's secret key (CREST_CACHE_SECRET_KEY_FILE)", w.name)
			continue
		}
		require.False(t, secret, "%s: only builders hold the cache's secret key", w.name)
		require.Equal(t, ownPersistent, w.storageOf("/nix"), "%s: the tag host's /nix holds every kept tag's closure: a persistent volume of its own", w.name)
		dataDir := cfg.effectiveString(w.env, file, "data_dir")
		require.Equal(t, ownPersistent, w.storageOf(dataDir), "%s: data_dir %s (gcroots, checkouts) persists with its /nix", w.name, dataDir)
	}
	require.Len(t, urls, 1, "every worker uses one cache")
}

// systemRE is a Nix system: cpu-os.
var systemRE = regexp.MustCompile(`^[a-z0-9_]+-[a-z]+$`)

// archOf is the Kubernetes architecture of the Nix systems builders are commonly run for.
var archOf = map[string]string{"x86_64-linux": "amd64", "aarch64-linux": "arm64"}

// dnsName is a Nix system as it appears in Kubernetes and compose names ("_" is not allowed).
func dnsName(system string) string { return strings.ReplaceAll(system, "_", "-") }

// checkWorkers holds the task-queue topology: the orchestrator alone serves the workflow
// queue and builds nothing a collection needs; each builder names its systems, is named after
// them, and every system of every collection has a builder; all share one build prefix.
func checkWorkers(t *testing.T, cfg *crestConfig, file map[string]any, workers []worker) {
	t.Helper()
	require.NotEmpty(t, workers, "no crest worker")
	defaultQueue := cfg.effectiveString(nil, file, "task_queues.default")
	prefix := cfg.effectiveString(nil, file, "task_queues.build_prefix")
	needed := collectionSystems(file)
	isNeeded := map[string]bool{}
	for _, s := range needed {
		isNeeded[s] = true
	}
	built := map[string][]string{}
	var orchestrators []string
	for _, w := range workers {
		require.Equal(t, prefix, cfg.effectiveString(w.env, file, "task_queues.build_prefix"),
			"%s: every worker must use the build prefix the waves are started with", w.name)
		queue := cfg.effectiveString(w.env, file, "task_queues.default")
		serves := cfg.effectiveString(w.env, file, "worker.serve_default") != "false"
		systems := cfg.effectiveList(w.env, file, "worker.systems")
		if !w.builder {
			require.True(t, serves, "%s: the orchestrator serves the workflow queue (worker.serve_default)", w.name)
			if queue == defaultQueue {
				orchestrators = append(orchestrators, w.name)
			}
			for _, s := range systems {
				require.False(t, isNeeded[s], "%s: builds for %s belong on the builders, not the orchestrator", w.name, s)
			}
			continue
		}
		require.Contains(t, w.env, "CREST_WORKER_SYSTEMS", "%s: a builder names its systems", w.name)
		require.NotEmpty(t, systems, "%s: worker.systems", w.name)
		require.False(t, serves, "%s: a builder must not serve the workflow queue %s (worker.serve_default=false)", w.name, defaultQueue)
		for _, s := range systems {
			require.Regexp(t, systemRE, s, "%s: worker.systems", w.name)
			built[s] = append(built[s], w.name)
			if w.k8s && archOf[s] != "" {
				require.Equal(t, archOf[s], w.arch, "%s: builds %s, so its pods need kubernetes.io/arch %s", w.name, s, archOf[s])
			}
		}
		if len(systems) == 1 {
			require.Equal(t, "crest-builder-"+dnsName(systems[0]), w.name, "builders are named after their system")
		}
	}
	require.Len(t, orchestrators, 1, "exactly one worker serves the workflow queue %q", defaultQueue)

	// Builders record builds in Postgres; the orchestrator also files issues, so it needs
	// the tracker's token too. Builders need no tracker credentials.
	for _, w := range workers {
		require.Contains(t, w.env, "CREST_DATABASE_URL", "%s: every worker records in Postgres", w.name)
		if !w.builder {
			require.Contains(t, w.env, "CREST_ISSUE_TRACKER_GITHUB_TOKEN", "%s: the orchestrator files issues", w.name)
		}
	}
	for _, s := range needed {
		require.NotEmpty(t, built[s], "no builder serves %s-%s, so waves of collections with system %s would wait forever", prefix, s, s)
	}
}

// secretEnvRE recognizes environment variables that carry credentials.
var secretEnvRE = regexp.MustCompile(`(PASSWORD|PASSWD|PWD|TOKEN|SECRET|API_KEY|DATABASE_URL|DSN)`)

// isSecretEnv says whether a variable holds a secret: by its name, or because it sets a
// config key tagged secret.
func isSecretEnv(cfg *crestConfig, name string) bool {
	if strings.HasSuffix(name, "_FILE") {
		return false // a path to a secret, e.g. POSTGRES_PASSWORD_FILE
	}
	if key, ok := cfg.env[name]; ok {
		for _, s := range cfg.secretKeys() {
			if s == key {
				return true
			}
		}
	}
	return secretEnvRE.MatchString(name)
}

// noLiteralPassword reports a postgres:// URL whose password is written out.
func noLiteralPassword(t *testing.T, where, value string) {
	t.Helper()
	u, err := url.Parse(value)
	if err != nil || u.User == nil {
		return
	}
	pw, ok := u.User.Password()
	require.False(t, ok && pw != "", "%s: the URL has a literal password", where)
}

// cliType is how the temporal CLI names a search attribute type: the enum's String()
// ("Keyword", "KeywordList"…), with the proto name as a fallback.
func cliType(t enumspb.IndexedValueType) string {
	s := t.String()
	if !strings.HasPrefix(s, "INDEXED_VALUE_TYPE_") {
		return s
	}
	var b strings.Builder
	for _, part := range strings.Split(strings.ToLower(strings.TrimPrefix(s, "INDEXED_VALUE_TYPE_")), "_") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

var searchAttrRE = regexp.MustCompile(`search-attribute create\b[^\n]*--name[ =](\S+)[^\n]*--type[ =](\S+)`)

// checkSearchAttributes finds `temporal operator search-attribute create --name N --type T`
// in a script and compares it with the attributes Crest's workflows set.
func checkSearchAttributes(t *testing.T, where, script string) {
	t.Helper()
	got := map[string]string{}
	for _, m := range searchAttrRE.FindAllStringSubmatch(script, -1) {
		got[strings.Trim(m[1], `"'`)] = strings.Trim(m[2], `"'`)
	}
	want := map[string]string{}
	for name, typ := range workflows.SearchAttributes {
		want[name] = cliType(typ)
	}
	require.Equal(t, want, got, "%s: registers other search attributes than workflows.SearchAttributes", where)
}

func TestCLIType(t *testing.T) {
	t.Parallel()
	require.Equal(t, "Keyword", cliType(enumspb.INDEXED_VALUE_TYPE_KEYWORD))
	require.Equal(t, "KeywordList", cliType(enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST))
	require.Equal(t, "Datetime", cliType(enumspb.INDEXED_VALUE_TYPE_DATETIME))
}
