package bench

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/deploy/compose"
)

// ComposeTopology runs the crest services of a compose file (deploy/compose/compose.yaml)
// as processes of this machine, without Docker, so that the file cannot drift from the
// code: every crest service's command, environment and mounted configuration become a
// `crest` command line, and a field that cannot be honoured without Docker is mapped as
// below or is an error. vars are the .env's variables (ComposeEnv makes some up).
//
//   - The crest image (a service built from the Dockerfile whose entrypoint is crest) is
//     this crest binary, with the Dockerfile's ENV and WORKDIR; its tools (git, Nix) are
//     this machine's, on this process's PATH. Processes run as root (the image's USER is
//     not honoured): a container's own /nix becomes nix.store_root, which needs root.
//   - Each container (a replica each, deploy.replicas) has a directory of its own, its
//     filesystem: a path on none of its volumes lives there (as in the container's own
//     layer: what the image ships there, such as its tools, is not there), and so does an
//     anonymous volume. A named volume is one directory shared by every container that
//     mounts it; the container's /nix, wherever it lives, is its nix.store_root
//     (CREST_NIX_STORE_ROOT: the file must not set it). A bind-mounted file is allowed only
//     as the --config file, copied with its paths translated.
//   - Secrets are files under the container's /run/secrets, from the .env variable (or
//     file) the secret names.
//   - In environment values, the command line and the configuration, host:port of Crest's
//     Postgres service and of the Temporal server's frontend become the local ones, and
//     another service's address is an error; absolute paths (file:// URLs too) become where
//     the container's path lives here.
//   - Crest's Postgres service is the local PostgreSQL with its POSTGRES_USER and
//     POSTGRES_DB; the temporalio/server service is the embedded Temporal server; the
//     admin-tools job that registers the namespace and search attributes is that server's
//     own registration (its TEMPORAL_NAMESPACE), the schema job and Temporal's Postgres are
//     the server's SQLite, and the Web UI is not run. Any other image is an error.
//   - restart and deploy.resources are not honoured (a killed process stays dead: that is
//     the run's test); ports, healthcheck and user on a crest service are errors.
//   - One-shots (crest services others wait for with service_completed_successfully) run
//     to completion first, in depends_on order.
func ComposeTopology(path string, vars map[string]string) (ClusterTopology, error) {
	proj, err := compose.Load(path, vars)
	if err != nil {
		return nil, err
	}
	t := &composeTopology{path: path, proj: proj, vars: vars}
	if err := t.classify(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ComposeEnv is the .env a person writes before `docker compose up` (deploy/compose/
// .env.example), made up for a run: random passwords and a cache key pair.
func ComposeEnv() (map[string]string, error) {
	pub, sec, err := nix.GenerateKey("crest-compose-1")
	if err != nil {
		return nil, err
	}
	vars := map[string]string{"CREST_CACHE_PUBLIC_KEY": pub, "CREST_CACHE_SECRET_KEY": string(sec)}
	for _, name := range []string{"CREST_DB_PASSWORD", "TEMPORAL_DB_PASSWORD"} {
		b := make([]byte, 12)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		vars[name] = hex.EncodeToString(b)
	}
	return vars, nil
}

// Ports the local stand-ins answer on, as the images listen in their containers.
const (
	postgresPort = "5432"
	temporalPort = "7233"
)

type composeTopology struct {
	path     string
	proj     *compose.Project
	vars     map[string]string
	image    crestImage
	crest    []string // crest services, in start order
	oneShot  map[string]bool
	database string // Crest's Postgres service
	temporal string // the Temporal server's service
	svc      ClusterServices
}

func (t *composeTopology) Describe() string          { return "the services of " + t.path }
func (t *composeTopology) Services() ClusterServices { return t.svc }

// imageRepo is an image's name without its tag.
func imageRepo(image string) string {
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[:i]
	}
	return image
}

// hostRE finds host:port in a value.
var hostRE = regexp.MustCompile(`([A-Za-z0-9][A-Za-z0-9_.-]*):([0-9]+)`)

// classify sorts the services into crest ones and the infrastructure they stand for.
func (t *composeTopology) classify() error {
	var postgres []string
	var errs []error
	for _, name := range slices.Sorted(mapKeys(t.proj.Services)) {
		s := t.proj.Services[name]
		switch repo := imageRepo(s.Image); {
		case s.Build != nil:
			img, err := parseCrestImage(filepath.Join(t.proj.Dir, s.Build.Context, s.Build.Dockerfile))
			if err != nil {
				errs = append(errs, fmt.Errorf("service %s: %w", name, err))
				continue
			}
			t.image = img
			t.crest = append(t.crest, name)
		case repo == "postgres":
			postgres = append(postgres, name)
		case repo == "temporalio/server":
			if t.temporal != "" {
				errs = append(errs, fmt.Errorf("services %s and %s both run the Temporal server", t.temporal, name))
			}
			t.temporal = name
		case repo == "temporalio/admin-tools":
			if len(s.Entrypoint) == 0 {
				errs = append(errs, fmt.Errorf("service %s: an admin-tools job without a script", name))
				continue
			}
			switch script := filepath.Base(s.Entrypoint[len(s.Entrypoint)-1]); script {
			case "setup-schema.sh": // Temporal's schema: the embedded server keeps its own SQLite
			case "setup-namespace.sh":
				t.svc.Namespace = s.Environment["TEMPORAL_NAMESPACE"]
			default:
				errs = append(errs, fmt.Errorf("service %s: admin-tools script %s has no local stand-in", name, script))
			}
		case repo == "temporalio/ui": // not needed to run a wave
		default:
			errs = append(errs, fmt.Errorf("service %s: image %s has no local stand-in", name, s.Image))
		}
	}
	if len(t.crest) == 0 {
		errs = append(errs, errors.New("no crest service (built from the crest Dockerfile)"))
	}
	if t.temporal == "" {
		errs = append(errs, errors.New("no temporalio/server service"))
	}
	// Crest's database is the Postgres service crest services connect to; the others
	// belong to Temporal, whose stand-in needs none.
	for _, name := range t.crest {
		for _, v := range t.proj.Services[name].Environment {
			for _, m := range hostRE.FindAllStringSubmatch(v, -1) {
				if slices.Contains(postgres, m[1]) {
					if t.database != "" && t.database != m[1] {
						errs = append(errs, fmt.Errorf("crest services use two Postgres services, %s and %s", t.database, m[1]))
					}
					t.database = m[1]
				}
			}
		}
	}
	if t.database == "" {
		errs = append(errs, errors.New("no crest service connects to a Postgres service"))
	} else {
		env := t.proj.Services[t.database].Environment
		t.svc.DatabaseUser, t.svc.Database = env["POSTGRES_USER"], env["POSTGRES_DB"]
		if t.svc.DatabaseUser == "" {
			t.svc.DatabaseUser = "postgres" // the image's default
		}
		if t.svc.Database == "" {
			t.svc.Database = t.svc.DatabaseUser
		}
	}
	if err := t.order(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// order puts the crest services in depends_on order and finds the one-shots.
func (t *composeTopology) order() error {
	t.oneShot = map[string]bool{}
	deps := map[string][]string{}
	for _, name := range t.crest {
		for dep, d := range t.proj.Services[name].DependsOn {
			if _, ok := t.proj.Services[dep]; !ok {
				return fmt.Errorf("service %s depends on %s, which is not defined", name, dep)
			}
			if !slices.Contains(t.crest, dep) {
				continue // infrastructure: up before any crest process
			}
			deps[name] = append(deps[name], dep)
			if d.Condition == "service_completed_successfully" {
				t.oneShot[dep] = true
			}
		}
	}
	var ordered []string
	state := map[string]int{} // 1: visiting, 2: done
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("depends_on cycle through %s", name)
		case 2:
			return nil
		}
		state[name] = 1
		for _, dep := range slices.Sorted(slices.Values(deps[name])) {
			if err := visit(dep); err != nil {
				return err
			}
		}
		state[name] = 2
		ordered = append(ordered, name)
		return nil
	}
	for _, name := range t.crest {
		if err := visit(name); err != nil {
			return err
		}
	}
	t.crest = ordered
	return nil
}

// Plan translates every crest container into a process.
func (t *composeTopology) Plan(ep ClusterEndpoints) ([]ClusterProcess, error) {
	var out []ClusterProcess
	for _, name := range t.crest {
		s := t.proj.Services[name]
		n := s.Replicas()
		if t.oneShot[name] && n != 1 {
			return nil, fmt.Errorf("service %s: a one-shot with %d replicas", name, n)
		}
		for i := 1; i <= n; i++ {
			instance := name
			if n > 1 {
				instance = fmt.Sprintf("%s-%d", name, i)
			}
			p, err := t.container(ep, name, instance)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", name, err)
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// container is one container of a crest service as a process; its filesystem is
// <dir>/<instance>.
type container struct {
	t      *composeTopology
	ep     ClusterEndpoints
	root   string
	mounts map[string]string // target → directory or file here
	files  map[string]bool   // targets that are files: bind-mounted ones, secrets
}

func (t *composeTopology) container(ep ClusterEndpoints, name, instance string) (ClusterProcess, error) {
	s := t.proj.Services[name]
	switch {
	case len(s.Ports) > 0:
		return ClusterProcess{}, errors.New("ports: a crest service publishes none (the cluster has no stand-in)")
	case s.Healthcheck != nil:
		return ClusterProcess{}, errors.New("healthcheck: no stand-in")
	case s.User != "":
		return ClusterProcess{}, errors.New("user: processes run as root here (nix.store_root needs it)")
	case len(s.Entrypoint) > 0:
		return ClusterProcess{}, errors.New("entrypoint: keep the image's (crest)")
	case len(s.Command) == 0:
		return ClusterProcess{}, errors.New("no command")
	}
	c := &container{t: t, ep: ep, root: filepath.Join(ep.Dir, instance), mounts: map[string]string{}, files: map[string]bool{}}
	mounts, err := s.Mounts()
	if err != nil {
		return ClusterProcess{}, err
	}
	var binds []compose.Mount
	for _, m := range mounts {
		switch {
		case m.Bind():
			binds = append(binds, m)
			c.mounts[m.Target] = filepath.Join(c.root, m.Target)
			c.files[m.Target] = true
		case m.Source == "":
			c.mounts[m.Target] = filepath.Join(c.root, m.Target)
		default:
			if _, ok := t.proj.Volumes[m.Source]; !ok {
				return ClusterProcess{}, fmt.Errorf("volume %s is not declared", m.Source)
			}
			c.mounts[m.Target] = filepath.Join(ep.Dir, "volumes", m.Source)
		}
	}
	for _, name := range s.Secrets {
		sec, ok := t.proj.Secrets[name]
		if !ok || sec == nil {
			return ClusterProcess{}, fmt.Errorf("secret %s is not declared", name)
		}
		var value []byte
		switch {
		case sec.Environment != "":
			v, ok := t.vars[sec.Environment]
			if !ok {
				return ClusterProcess{}, fmt.Errorf("secret %s: %s is not set", name, sec.Environment)
			}
			value = []byte(v)
		case sec.File != "":
			if value, err = os.ReadFile(filepath.Join(t.proj.Dir, sec.File)); err != nil {
				return ClusterProcess{}, fmt.Errorf("secret %s: %w", name, err)
			}
		}
		target := "/run/secrets/" + name
		c.mounts[target], c.files[target] = filepath.Join(c.root, target), true
		if err := writeFile(c.mounts[target], value, 0o600); err != nil {
			return ClusterProcess{}, err
		}
	}

	args := slices.Clone(s.Command)
	for i, a := range args {
		if args[i], err = c.value(a); err != nil {
			return ClusterProcess{}, fmt.Errorf("command: %w", err)
		}
	}
	config := ""
	for i, a := range s.Command {
		if a == "--config" && i+1 < len(s.Command) {
			config = s.Command[i+1]
		} else if v, ok := strings.CutPrefix(a, "--config="); ok {
			config = v
		}
	}
	for _, m := range binds {
		if m.Target != config {
			return ClusterProcess{}, fmt.Errorf("bind mount %s: only the --config file has a stand-in", m.Source)
		}
		if err := c.config(filepath.Join(t.proj.Dir, m.Source), c.mounts[m.Target]); err != nil {
			return ClusterProcess{}, fmt.Errorf("%s: %w", m.Source, err)
		}
	}

	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, kv := range t.image.env {
		v, err := c.value(kv[1])
		if err != nil {
			return ClusterProcess{}, fmt.Errorf("the image's ENV %s: %w", kv[0], err)
		}
		env = append(env, kv[0]+"="+v)
	}
	for _, k := range slices.Sorted(mapKeys(s.Environment)) {
		if k == "CREST_NIX_STORE_ROOT" || k == "PATH" {
			return ClusterProcess{}, fmt.Errorf("environment: %s has a stand-in of its own", k)
		}
		v, err := c.value(s.Environment[k])
		if err != nil {
			return ClusterProcess{}, fmt.Errorf("environment %s: %w", k, err)
		}
		env = append(env, k+"="+v)
	}
	env = append(env, "CREST_NIX_STORE_ROOT="+c.own("/nix"))
	dir := s.WorkingDir
	if dir == "" {
		dir = t.image.workdir
	}
	if dir == "" {
		dir = "/"
	}
	dir = c.own(dir)
	for _, d := range append([]string{dir}, c.dirs()...) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return ClusterProcess{}, err
		}
	}
	return ClusterProcess{Name: instance, Args: args, Env: env, Dir: dir, OneShot: t.oneShot[name]}, nil
}

// dirs are the directories the container's volumes need.
func (c *container) dirs() []string {
	var out []string
	for target, p := range c.mounts {
		if !c.files[target] {
			out = append(out, p)
		}
	}
	return out
}

// own is where a container path lives here: on its volume, or in the container's own
// filesystem.
func (c *container) own(p string) string {
	if host, ok := c.onVolume(p); ok {
		return host
	}
	return filepath.Join(c.root, p)
}

// onVolume is where a path on one of the container's volumes (or secrets) lives here.
func (c *container) onVolume(p string) (string, bool) {
	p = filepath.Clean(p)
	best := ""
	for target := range c.mounts {
		if (p == target || strings.HasPrefix(p, target+"/")) && len(target) > len(best) {
			best = target
		}
	}
	if best == "" {
		return "", false
	}
	return c.mounts[best] + strings.TrimPrefix(p, best), true
}

// value translates one value of the environment, the command line or the configuration:
// services' host:port, and paths on volumes.
func (c *container) value(v string) (string, error) {
	var err error
	v = hostRE.ReplaceAllStringFunc(v, func(m string) string {
		sub := hostRE.FindStringSubmatch(m)
		if _, ok := c.t.proj.Services[sub[1]]; !ok {
			return m
		}
		switch {
		case sub[1] == c.t.database && sub[2] == postgresPort:
			return c.ep.Postgres
		case sub[1] == c.t.temporal && sub[2] == temporalPort:
			return c.ep.Temporal
		}
		err = fmt.Errorf("%s: the cluster runs no stand-in for it", m)
		return m
	})
	if err != nil {
		return "", err
	}
	path, url := v, false
	if rest, ok := strings.CutPrefix(v, "file://"); ok {
		path, url = rest, true
	}
	if !strings.HasPrefix(path, "/") {
		return v, nil
	}
	if url {
		return "file://" + c.own(path), nil
	}
	return c.own(path), nil
}

// config copies the crest.yaml mounted from src to dst with every value translated; it
// must not set nix.store_root, which stands for the container's /nix.
func (c *container) config(src, dst string) error {
	text, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return err
	}
	var errs []error
	var walk func(n *yaml.Node, key string)
	walk = func(n *yaml.Node, key string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, sub := range n.Content {
				walk(sub, key)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], strings.TrimPrefix(key+"."+n.Content[i].Value, "."))
			}
		case yaml.ScalarNode:
			if key == "nix.store_root" {
				errs = append(errs, errors.New("nix.store_root: the container's /nix stands for it"))
			}
			v, err := c.value(n.Value)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
			}
			n.Value = v
		}
	}
	walk(&doc, "")
	if err := errors.Join(errs...); err != nil {
		return err
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	return writeFile(dst, out, 0o644)
}

// crestImage is what the crest image adds to a process: its ENV and WORKDIR.
type crestImage struct {
	env     [][2]string
	workdir string
}

// parseCrestImage reads the last stage of a Dockerfile whose entrypoint runs crest.
func parseCrestImage(path string) (crestImage, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return crestImage{}, err
	}
	var img crestImage
	var entrypoint []string
	for _, line := range strings.Split(strings.ReplaceAll(string(text), "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(word) {
		case "FROM":
			img, entrypoint = crestImage{}, nil
		case "ENV":
			fields := strings.Fields(rest)
			if len(fields) > 0 && !strings.Contains(fields[0], "=") { // ENV key value
				img.env = append(img.env, [2]string{fields[0], strings.TrimSpace(strings.TrimPrefix(rest, fields[0]))})
				continue
			}
			for _, f := range fields {
				k, v, _ := strings.Cut(f, "=")
				img.env = append(img.env, [2]string{k, strings.Trim(v, `"`)})
			}
		case "WORKDIR":
			img.workdir = rest
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &entrypoint); err != nil {
				return crestImage{}, fmt.Errorf("%s: ENTRYPOINT %s: write it as a JSON list", path, rest)
			}
		}
	}
	if len(entrypoint) == 0 || filepath.Base(entrypoint[len(entrypoint)-1]) != "crest" {
		return crestImage{}, fmt.Errorf("%s: the image's entrypoint %v does not run crest", path, entrypoint)
	}
	return img, nil
}
