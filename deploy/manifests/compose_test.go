package manifests

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/crestwaves/crest/deploy/compose"
)

// interpolate substitutes variables as compose does (a missing required variable becomes
// empty: the checks here are about the file's text, TestComposeVariables about .env).
func interpolate(s string, vars map[string]string) string {
	out, err := compose.Interpolate(s, vars)
	if err != nil {
		return ""
	}
	return out
}

// envExample reads .env.example: set variables, and variables only shown commented out.
func envExample(t *testing.T, path string) (set map[string]string, commented map[string]bool) {
	t.Helper()
	set, commented = map[string]string{}, map[string]bool{}
	lineRE := regexp.MustCompile(`^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$`)
	for _, line := range strings.Split(readFile(t, path), "\n") {
		m := lineRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		if m[1] != "" {
			commented[m[2]] = true
		} else {
			set[m[2]] = m[3]
		}
	}
	return set, commented
}

type composeFile struct {
	dir      string
	raw      map[string]any // as written
	vars     map[string]string
	services map[string]map[string]any
}

func loadCompose(t *testing.T) *composeFile {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "deploy", "compose")
	text := readFile(t, dir, "compose.yaml")
	var raw map[string]any
	dec := yaml.NewDecoder(strings.NewReader(text))
	require.NoError(t, dec.Decode(&raw), "compose.yaml does not parse")
	var extra any
	require.Error(t, dec.Decode(&extra), "compose.yaml holds one document")
	set, _ := envExample(t, filepath.Join(dir, ".env.example"))
	c := &composeFile{dir: dir, raw: raw, vars: set, services: map[string]map[string]any{}}
	services, ok := raw["services"].(map[string]any)
	require.True(t, ok, "compose.yaml: services")
	for name, s := range services {
		m, ok := s.(map[string]any)
		require.True(t, ok, "service %s", name)
		c.services[name] = m
	}
	return c
}

// str interpolates a string field of a service.
func (c *composeFile) str(v any) string {
	s, _ := v.(string)
	return interpolate(s, c.vars)
}

// environment returns a service's environment as written and interpolated.
func (c *composeFile) environment(t *testing.T, name string) (raw, resolved map[string]string) {
	t.Helper()
	raw, resolved = map[string]string{}, map[string]string{}
	env, ok := c.services[name]["environment"]
	if !ok {
		return raw, resolved
	}
	m, ok := env.(map[string]any)
	require.True(t, ok, "service %s: write environment as a mapping", name)
	for k, v := range m {
		s := fmt.Sprint(v)
		if v == nil {
			s = ""
		}
		raw[k] = s
		resolved[k] = interpolate(s, c.vars)
	}
	return raw, resolved
}

func (c *composeFile) dependsOn(t *testing.T, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch d := c.services[name]["depends_on"].(type) {
	case nil:
	case []any:
		for _, s := range d {
			out[s.(string)] = "service_started"
		}
	case map[string]any:
		for k, v := range d {
			m, _ := v.(map[string]any)
			cond, _ := m["condition"].(string)
			out[k] = cond
		}
	default:
		t.Fatalf("service %s: depends_on", name)
	}
	return out
}

// mounts returns a service's short-syntax volumes: container path → (source, options); an
// anonymous volume (target alone) has no source.
func (c *composeFile) mounts(t *testing.T, name string) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	vols, _ := c.services[name]["volumes"].([]any)
	for _, v := range vols {
		s, ok := v.(string)
		require.True(t, ok, "service %s: use the short volume syntax (source:target[:mode])", name)
		ms, err := (&compose.Service{Volumes: []string{c.str(s)}}).Mounts()
		require.NoError(t, err, "service %s", name)
		m := ms[0]
		opts := ""
		if m.ReadOnly {
			opts = "ro"
		}
		out[m.Target] = [2]string{m.Source, opts}
	}
	return out
}

func stringList(v any) []string {
	var out []string
	switch l := v.(type) {
	case []any:
		for _, s := range l {
			out = append(out, fmt.Sprint(s))
		}
	case string:
		out = strings.Fields(l)
	}
	return out
}

// isCrest says whether a service runs the crest image (built from deploy/Dockerfile).
func (c *composeFile) isCrest(name string) bool {
	b, _ := c.services[name]["build"].(map[string]any)
	return b != nil && b["dockerfile"] == "deploy/Dockerfile" || strings.HasPrefix(c.str(c.services[name]["image"]), "crest:")
}

var (
	serviceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	wholeVarRE    = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}$`)
	urlPasswordRE = regexp.MustCompile(`://[^:/@]+:([^@]*)@`)
)

func TestComposeVariables(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot(t), "deploy", "compose")
	text := readFile(t, dir, "compose.yaml")
	set, commented := envExample(t, filepath.Join(dir, ".env.example"))
	cfg := loadCrestConfig(t)
	used := map[string]bool{}
	for _, v := range compose.Vars(text) {
		used[v.Name] = true
		if v.Required() || v.Op == "" {
			_, ok := set[v.Name]
			require.True(t, ok, "${%s} has no default: .env.example must set it", v.Name)
		} else {
			require.True(t, commented[v.Name] || set[v.Name] != "" || isSecretEnv(cfg, v.Name),
				"${%s}: .env.example shows it (commented, with its default)", v.Name)
		}
	}
	for _, sec := range loadCompose(t).raw["secrets"].(map[string]any) {
		if env, _ := sec.(map[string]any)["environment"].(string); env != "" {
			used[env] = true // a secret from .env
		}
	}
	for name, val := range set {
		require.True(t, used[name], ".env.example sets %s, which compose.yaml does not use", name)
		if isSecretEnv(cfg, name) && val != "" {
			require.True(t, strings.HasPrefix(val, "change-me"), ".env.example %s: a placeholder (change-me…), never a real secret", name)
		}
	}
	gitignore := readFile(t, dir, ".gitignore")
	require.Regexp(t, `(?m)^/?\.env$`, gitignore, "deploy/compose/.gitignore keeps .env out of git")
}

func TestComposeStructure(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	cfg := loadCrestConfig(t)
	for k := range c.raw {
		require.True(t, strings.HasPrefix(k, "x-") || map[string]bool{"name": true, "services": true, "volumes": true, "secrets": true, "networks": true, "configs": true}[k],
			"compose.yaml: unknown top-level key %s", k)
	}
	volumes, _ := c.raw["volumes"].(map[string]any)
	secrets, _ := c.raw["secrets"].(map[string]any)
	usedVolumes, usedSecrets := map[string]bool{}, map[string]bool{}

	for name, svc := range c.services {
		require.Regexp(t, serviceNameRE, name)
		for k := range svc {
			require.True(t, strings.HasPrefix(k, "x-") || serviceKeys[k], "service %s: unknown key %s", name, k)
		}

		image := c.str(svc["image"])
		require.NotEmpty(t, image, "service %s: image", name)
		if svc["build"] == nil {
			ref := image[strings.LastIndex(image, "/")+1:]
			_, tag, ok := strings.Cut(ref, ":")
			require.True(t, ok && tag != "" && tag != "latest", "service %s: pin %s to a version", name, image)
		}

		for dep, cond := range c.dependsOn(t, name) {
			target, ok := c.services[dep]
			require.True(t, ok, "service %s depends on undefined service %s", name, dep)
			switch cond {
			case "service_started":
			case "service_healthy":
				require.NotNil(t, target["healthcheck"], "service %s waits for %s to be healthy, which has no healthcheck", name, dep)
			case "service_completed_successfully":
				restart := c.str(target["restart"])
				require.True(t, restart == "no" || strings.HasPrefix(restart, "on-failure"),
					"service %s waits for %s to complete, which restarts %q: a one-shot has restart no or on-failure", name, dep, restart)
			default:
				t.Fatalf("service %s: depends_on %s: condition %q", name, dep, cond)
			}
		}

		for target, m := range c.mounts(t, name) {
			src := m[0]
			require.True(t, strings.HasPrefix(target, "/"), "service %s: mount target %s", name, target)
			if src == "" {
				continue // anonymous: the container's own
			}
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				_, err := os.Stat(filepath.Join(c.dir, src))
				require.NoError(t, err, "service %s: bind mount %s", name, src)
				continue
			}
			_, ok := volumes[src]
			require.True(t, ok, "service %s: volume %s is not declared under volumes:", name, src)
			usedVolumes[src] = true
		}

		granted := map[string]bool{}
		for _, s := range stringList(svc["secrets"]) {
			_, ok := secrets[s]
			require.True(t, ok, "service %s: secret %s is not declared under secrets:", name, s)
			granted[s], usedSecrets[s] = true, true
		}

		raw, _ := c.environment(t, name)
		for k, v := range raw {
			if strings.HasSuffix(k, "_FILE") && strings.HasPrefix(v, "/run/secrets/") {
				require.True(t, granted[strings.TrimPrefix(v, "/run/secrets/")], "service %s: %s reads a secret not granted to it", name, k)
			}
			if !isSecretEnv(cfg, k) {
				continue
			}
			if m := urlPasswordRE.FindStringSubmatch(v); m != nil {
				require.Regexp(t, wholeVarRE, m[1], "service %s: %s: the password in the URL comes from .env (${…})", name, k)
			} else {
				require.Regexp(t, wholeVarRE, v, "service %s: %s is a secret: ${…} from .env, never a literal", name, k)
			}
		}

		for _, p := range stringList(svc["ports"]) {
			require.True(t, strings.HasPrefix(p, "127.0.0.1:"), "service %s: publish %s on 127.0.0.1 only", name, p)
		}
	}
	for v := range volumes {
		require.True(t, usedVolumes[v], "volume %s is declared but not used", v)
	}
	for name, s := range secrets {
		require.True(t, usedSecrets[name], "secret %s is declared but not used", name)
		m, _ := s.(map[string]any)
		env, _ := m["environment"].(string)
		file, _ := m["file"].(string)
		require.True(t, (env == "") != (file == ""), "secret %s: from environment (.env) or file", name)
		if env != "" {
			_, ok := c.vars[env]
			require.True(t, ok, "secret %s: .env.example must set %s", name, env)
		}
	}
}

// serviceKeys are the service attributes these files use (compose-spec has more; add them
// here when needed, so that a typo such as `depend_on` fails).
var serviceKeys = map[string]bool{
	"image": true, "build": true, "command": true, "entrypoint": true, "environment": true,
	"volumes": true, "depends_on": true, "restart": true, "healthcheck": true, "ports": true,
	"secrets": true, "deploy": true, "user": true, "working_dir": true, "init": true,
	"stop_grace_period": true, "labels": true, "env_file": true,
}

func TestComposeCrest(t *testing.T) {
	t.Parallel()
	checkDeployment(t, composeCrest)
}

// composeCrest checks the crest services of compose.yaml and returns them: the workers, the
// services running crest migrate up, and crest.yaml.
func composeCrest(t *testing.T) (workers, migrators []worker, file map[string]any) {
	t.Helper()
	c := loadCompose(t)
	cfg := loadCrestConfig(t)
	file = checkCrestYAML(t, cfg, "deploy/compose/crest.yaml", readFile(t, c.dir, "crest.yaml"))
	image := imageEnv(t, repoRoot(t))

	// How many containers mount each named volume: one is a container's own, more share it.
	users := map[string]int{}
	for name := range c.services {
		for _, m := range c.mounts(t, name) {
			if m[0] != "" && !strings.HasPrefix(m[0], ".") && !strings.HasPrefix(m[0], "/") {
				users[m[0]] += c.replicas(name)
			}
		}
	}

	var names []string
	for name := range c.services {
		if c.isCrest(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	require.NotEmpty(t, names, "no crest service")
	for _, name := range names {
		svc := c.services[name]
		if b, ok := svc["build"].(map[string]any); ok {
			require.Equal(t, "deploy/Dockerfile", b["dockerfile"], "service %s", name)
			ctx, _ := b["context"].(string)
			require.Equal(t, repoRoot(t), filepath.Clean(filepath.Join(c.dir, ctx)), "service %s: build context is the repository", name)
		}
		require.Nil(t, svc["entrypoint"], "service %s: keep the image's entrypoint (tini → crest)", name)
		cmd, ok := svc["command"].([]any)
		require.True(t, ok, "service %s: command as a list", name)
		sub, config := checkCrestArgs(t, cfg, "service "+name, stringList(cmd))
		require.NotEmpty(t, config, "service %s: pass --config", name)
		mounts := c.mounts(t, name)
		m, ok := mounts[config]
		require.True(t, ok, "service %s: --config %s is not mounted", name, config)
		require.Equal(t, "./crest.yaml", m[0], "service %s: --config is deploy/compose/crest.yaml", name)
		require.Equal(t, "ro", m[1], "service %s: mount crest.yaml read-only", name)

		raw, env := c.environment(t, name)
		literal := map[string]bool{}
		for k, v := range raw {
			if strings.HasPrefix(k, "CREST_") {
				require.Contains(t, cfg.env, k, "service %s: %s is no config key of cmd/crest/config.go (v.SetDefault)", name, k)
			}
			literal[k] = !strings.Contains(v, "$")
		}
		for k, v := range image {
			if _, ok := env[k]; !ok {
				env[k] = v
			}
		}
		dbURL, err := url.Parse(env["CREST_DATABASE_URL"])
		require.NoError(t, err, "service %s: CREST_DATABASE_URL", name)
		require.Contains(t, c.services, dbURL.Hostname(), "service %s: CREST_DATABASE_URL names no service", name)
		deps := c.dependsOn(t, name)
		storage := map[string]string{}
		for target, m := range mounts {
			switch {
			case m[0] == "":
				storage[target] = ownEphemeral
			case strings.HasPrefix(m[0], ".") || strings.HasPrefix(m[0], "/"):
			case users[m[0]] > 1:
				storage[target] = shared
			default:
				storage[target] = ownPersistent
			}
		}
		w := worker{name: name, env: env, args: stringList(cmd), literal: literal, replicas: c.replicas(name), storage: storage}

		switch sub {
		case "migrate up":
			migrators = append(migrators, w)
			require.Equal(t, "service_healthy", deps[dbURL.Hostname()], "service %s waits for %s to be healthy", name, dbURL.Hostname())
		case "worker":
			host, _, err := net.SplitHostPort(env["CREST_TEMPORAL_ADDRESS"])
			require.NoError(t, err, "service %s: CREST_TEMPORAL_ADDRESS host:port", name)
			require.Contains(t, c.services, host, "service %s: CREST_TEMPORAL_ADDRESS names no service", name)
			var waitsForMigrations, waitsForTemporal bool
			for dep, cond := range deps {
				if cond != "service_completed_successfully" {
					continue
				}
				dcmd, _ := c.services[dep]["command"].([]any)
				if c.isCrest(dep) && strings.HasPrefix(strings.Join(stringList(dcmd), " "), "migrate up") {
					waitsForMigrations = true
				}
				if strings.Contains(c.str(c.services[dep]["image"]), "temporalio/admin-tools") {
					waitsForTemporal = true
				}
			}
			require.True(t, waitsForMigrations, "service %s starts after the migrations completed", name)
			require.True(t, waitsForTemporal, "service %s starts after the namespace and search attributes exist", name)
			w.builder = strings.HasPrefix(name, "crest-builder-")
			if w.builder {
				d, _ := svc["deploy"].(map[string]any)
				r, _ := d["resources"].(map[string]any)
				l, _ := r["limits"].(map[string]any)
				require.NotNil(t, l["cpus"], "service %s: deploy.resources.limits.cpus", name)
				require.NotNil(t, l["memory"], "service %s: deploy.resources.limits.memory", name)
			}
			workers = append(workers, w)
		}
	}
	return workers, migrators, file
}

// replicas is how many containers a service runs (deploy.replicas, default 1).
func (c *composeFile) replicas(name string) int {
	d, _ := c.services[name]["deploy"].(map[string]any)
	if n, ok := d["replicas"].(int); ok {
		return n
	}
	return 1
}

func TestComposeTemporal(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	goMod := readFile(t, repoRoot(t), "go.mod")
	minor := func(module string) string {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + `\s+v(\d+\.\d+)\.`).FindStringSubmatch(goMod)
		require.NotNil(t, m, "go.mod requires %s", module)
		return m[1]
	}
	server, ui := minor("go.temporal.io/server"), minor("github.com/temporalio/ui-server/v2")

	var registered, uiFound bool
	for name, svc := range c.services {
		image := c.str(svc["image"])
		repo, tag, _ := strings.Cut(image, ":")
		switch repo {
		case "temporalio/server", "temporalio/admin-tools":
			require.True(t, strings.HasPrefix(tag, server+"."), "service %s: %s, the %s.x that `crest dev` embeds (go.mod)", name, image, server)
		case "temporalio/ui":
			uiFound = true
			require.True(t, strings.HasPrefix(tag, ui+"."), "service %s: %s, the %s.x that `crest dev` embeds (go.mod)", name, image, ui)
			_, env := c.environment(t, name)
			require.Equal(t, "false", env["TEMPORAL_START_WORKFLOW_DISABLED"], "service %s: release managers start waves from the UI", name)
		case "temporalio/auto-setup":
			t.Fatalf("service %s: temporalio/auto-setup is deprecated", name)
		}
		if repo != "temporalio/admin-tools" {
			continue
		}
		for _, m := range c.mounts(t, name) {
			if !strings.HasSuffix(m[0], ".sh") {
				continue
			}
			script := readFile(t, c.dir, m[0])
			if strings.Contains(script, "search-attribute create") {
				registered = true
				checkSearchAttributes(t, "deploy/compose/"+m[0], script)
			}
		}
	}
	require.True(t, registered, "no admin-tools job registers the search attributes")
	require.True(t, uiFound, "no temporalio/ui service")
}
