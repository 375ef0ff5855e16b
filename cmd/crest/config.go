package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/gitrepo"
	"github.com/crestwaves/crest/activities/nix"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wavename"
	"github.com/crestwaves/crest/activities/wire"
)

// Config is Crest's effective configuration: defaults < crest.yaml < CREST_* environment <
// flags. Keys are snake_case in the file and CREST_SECTION_KEY in the environment.
type Config struct {
	DataDir     string             `mapstructure:"data_dir"`
	Temporal    TemporalConfig     `mapstructure:"temporal"`
	TaskQueues  TaskQueueConfig    `mapstructure:"task_queues"`
	Database    DatabaseConfig     `mapstructure:"database"`
	Dev         DevConfig          `mapstructure:"dev"`
	Postgres    PostgresConfig     `mapstructure:"postgres"`
	Worker      WorkerConfig       `mapstructure:"worker"`
	Site        SiteConfig         `mapstructure:"site"`
	Nix         NixConfig          `mapstructure:"nix"`
	Cache       CacheConfig        `mapstructure:"cache"`
	Tracker     TrackerConfig      `mapstructure:"issue_tracker"`
	Queue       QueueConfig        `mapstructure:"queue"`
	Git         GitConfig          `mapstructure:"git"`
	Collections []CollectionConfig `mapstructure:"collections"`

	// URLCredentials were taken out of configured remote and upstream URLs at load
	// (exported only so that printing a Config calls gitrepo.Credential's String, which hides
	// the secret).
	URLCredentials []gitrepo.Credential `mapstructure:"-"`
	// credentialConflicts names the URLs given with credentials that differ from another's.
	credentialConflicts []string
}

// TemporalConfig says where the Temporal frontend is. An empty address under `crest dev`
// means the embedded server.
type TemporalConfig struct {
	Address   string    `mapstructure:"address"`
	Namespace string    `mapstructure:"namespace"`
	TLS       TLSConfig `mapstructure:"tls"`
	APIKey    string    `mapstructure:"api_key" secret:"true"`
}

// TLSConfig is mutual TLS towards the Temporal frontend.
type TLSConfig struct {
	Enabled    bool   `mapstructure:"enabled"`
	CAFile     string `mapstructure:"ca_file"`
	CertFile   string `mapstructure:"cert_file"`
	KeyFile    string `mapstructure:"key_file"`
	ServerName string `mapstructure:"server_name"`
}

// TaskQueueConfig names the task queues: one for workflows and bookkeeping activities, and
// one per system for builders ("<build_prefix>-<system>").
type TaskQueueConfig struct {
	Default     string `mapstructure:"default"`
	BuildPrefix string `mapstructure:"build_prefix"`
}

// DatabaseConfig points at Postgres. Empty under `crest dev` means the embedded cluster.
type DatabaseConfig struct {
	URL string `mapstructure:"url" secret:"dsn"`
}

// DevConfig is the embedded stack of `crest dev`.
type DevConfig struct {
	Ephemeral    bool   `mapstructure:"ephemeral"`
	IP           string `mapstructure:"ip"`
	TemporalPort int    `mapstructure:"temporal_port"`
	UIPort       int    `mapstructure:"ui_port"`
	PostgresPort int    `mapstructure:"postgres_port"`
	SitePort     int    `mapstructure:"site_port"`
}

// SiteConfig is the status site of `crest serve` (crest dev serves it on dev.site_port).
type SiteConfig struct {
	Addr string `mapstructure:"addr"`
}

// PostgresConfig is how `crest dev` runs the system's PostgreSQL binaries.
type PostgresConfig struct {
	BinDir string `mapstructure:"bin_dir"`
	RunAs  string `mapstructure:"run_as"`
}

// WorkerConfig is what a worker process serves: the default queue (workflows and
// bookkeeping) unless ServeDefault is off, and the build queue of each of Systems (none when
// empty) — so orchestrators and builders can be separate deployments.
type WorkerConfig struct {
	ServeDefault  bool     `mapstructure:"serve_default"`
	Systems       []string `mapstructure:"systems"`
	MaxBuilds     int      `mapstructure:"max_builds"`
	MaxActivities int      `mapstructure:"max_activities"`
	// MetricsAddr, when set, serves Prometheus /metrics there (host:port).
	MetricsAddr string `mapstructure:"metrics_addr"`
}

// NixConfig is how builders call Nix.
type NixConfig struct {
	BinDir       string        `mapstructure:"bin_dir"`
	BuilderPath  string        `mapstructure:"builder_path"`
	Options      []string      `mapstructure:"options"`
	BuildTimeout time.Duration `mapstructure:"build_timeout"`
	// StoreRoot gives this worker's Nix commands a store of their own: the directory is
	// mounted on /nix for each (root only). Several builders on one host then behave as on
	// separate machines (make cluster-demo); empty means the host's /nix.
	StoreRoot string `mapstructure:"store_root"`
}

// CacheConfig is the binary cache builders share (nix.Cache): they substitute from it what
// another built and push what they build, signed with the secret key; the tag host
// substitutes from it. The secret key is read from secret_key_file or given in
// CREST_CACHE_SECRET_KEY (a container's secret), never written in crest.yaml; it is needed
// by builders only.
type CacheConfig struct {
	URL           string `mapstructure:"url"`
	PublicKey     string `mapstructure:"public_key"`
	SecretKeyFile string `mapstructure:"secret_key_file"`
	SecretKey     string `mapstructure:"secret_key" secret:"true"`
}

// TrackerConfig chooses where issues are filed.
type TrackerConfig struct {
	Kind   string       `mapstructure:"kind"`
	GitHub GitHubConfig `mapstructure:"github"`
}

// GitHubConfig is the GitHub issue tracker.
type GitHubConfig struct {
	Token   string `mapstructure:"token" secret:"true"`
	BaseURL string `mapstructure:"base_url"`
	Owner   string `mapstructure:"owner"`
	Repo    string `mapstructure:"repo"`
}

// QueueConfig is the merge queue's: where approved pull requests come from.
type QueueConfig struct {
	GitHub QueueGitHubConfig `mapstructure:"github"`
}

// QueueGitHubConfig is the intake of GitHub pull requests into one collection's merge
// queue: the open pull requests into Branch with an approval and Label are submitted, and
// their results go back as a comment and a commit status. An empty Repo takes none.
type QueueGitHubConfig struct {
	Repo         string        `mapstructure:"repo"`       // "owner/name"
	Collection   string        `mapstructure:"collection"` // default: the only configured collection (crest dev: the demo)
	Branch       string        `mapstructure:"branch"`     // default: the collection's main branch
	Label        string        `mapstructure:"label"`
	Token        string        `mapstructure:"token" secret:"true"` // default: issue_tracker.github.token
	BaseURL      string        `mapstructure:"base_url"`            // default: issue_tracker.github.base_url, else api.github.com
	PollInterval time.Duration `mapstructure:"poll_interval"`
}

// token is the token of the intake: its own, or the issue tracker's.
func (c *Config) intakeToken() string {
	if c.Queue.GitHub.Token != "" {
		return c.Queue.GitHub.Token
	}
	return c.Tracker.GitHub.Token
}

// intakeCollection is the collection the pull requests go to: configured, the only
// configured one, or fallback (crest dev: its demo).
func (c *Config) intakeCollection(fallback string) string {
	switch {
	case c.Queue.GitHub.Collection != "":
		return c.Queue.GitHub.Collection
	case len(c.Collections) == 1:
		return c.Collections[0].Name
	}
	return fallback
}

// GitConfig is how the workers authenticate to collection remotes and upstreams over
// HTTP(S). Credentials are given here (or in CREST_GIT_CREDENTIALS as a JSON list: the
// environment cannot spell a list of maps otherwise) or in a configured URL's userinfo; either
// way they stay in the worker's memory and reach git only through the environment of the git
// process that needs them, never in a stored URL.
type GitConfig struct {
	Credentials []GitCredential `mapstructure:"credentials"`
}

// GitCredential authenticates to the repositories whose URL starts with URLPrefix.
type GitCredential struct {
	URLPrefix string `mapstructure:"url_prefix"`
	Username  string `mapstructure:"username"`
	Token     string `mapstructure:"token" secret:"true"`
}

// String hides the token, so that printing a configuration leaks nothing.
func (g GitCredential) String() string {
	return fmt.Sprintf("{%s %s (redacted)}", g.URLPrefix, g.Username)
}

// GoString hides the token from %#v too.
func (g GitCredential) GoString() string { return g.String() }

// CollectionConfig is one package collection.
type CollectionConfig struct {
	Name string `mapstructure:"name"`
	// Remote may carry credentials (https://user:token@host/…): they are taken out at load
	// and Crest keeps, stores and sends the URL without them.
	Remote         string   `mapstructure:"remote" secret:"url"`
	Evaluator      string   `mapstructure:"evaluator"`
	Systems        []string `mapstructure:"systems"`
	ProtectedRoots []string `mapstructure:"protected_roots"`
	// SystemTests are PACKAGE.TEST names a security patch runs against its grafts.
	SystemTests []string `mapstructure:"system_tests"`
	TagPrefix   string   `mapstructure:"tag_prefix"`
	MainBranch  string   `mapstructure:"main_branch"`
	// Policy is the breaking-change policy (see policy.Settings): grace_period,
	// max_extensions, extension, protected_roots, allow_short_periods.
	Policy map[string]any `mapstructure:"policy"`
	// Upstreams are packages whose upstream repositories tag themselves for waves.
	Upstreams []UpstreamConfig `mapstructure:"upstreams"`
}

// UpstreamConfig names a package's upstream repository and its wave tag prefix.
type UpstreamConfig struct {
	Package   string `mapstructure:"package"`
	Repo      string `mapstructure:"repo" secret:"url"` // credentials are taken out as in Remote
	TagPrefix string `mapstructure:"tag_prefix"`
}

// defaults registers every key (viper reads the environment only for keys it knows).
func defaults(v *viper.Viper) {
	v.SetDefault("data_dir", defaultDataDir())
	v.SetDefault("temporal.address", "")
	v.SetDefault("temporal.namespace", "default")
	v.SetDefault("temporal.tls.enabled", false)
	v.SetDefault("temporal.tls.ca_file", "")
	v.SetDefault("temporal.tls.cert_file", "")
	v.SetDefault("temporal.tls.key_file", "")
	v.SetDefault("temporal.tls.server_name", "")
	v.SetDefault("temporal.api_key", "")
	v.SetDefault("task_queues.default", "crest")
	v.SetDefault("task_queues.build_prefix", "crest-build")
	v.SetDefault("database.url", "")
	v.SetDefault("dev.ephemeral", false)
	v.SetDefault("dev.ip", "127.0.0.1")
	v.SetDefault("dev.temporal_port", 7233)
	v.SetDefault("dev.ui_port", 8233)
	v.SetDefault("dev.postgres_port", 55432)
	v.SetDefault("dev.site_port", 8234)
	v.SetDefault("site.addr", "127.0.0.1:8234")
	v.SetDefault("postgres.bin_dir", "")
	v.SetDefault("postgres.run_as", "postgres")
	v.SetDefault("worker.serve_default", true)
	v.SetDefault("worker.systems", []string{"x86_64-linux"})
	v.SetDefault("worker.max_builds", 2)
	v.SetDefault("worker.max_activities", 200)
	v.SetDefault("worker.metrics_addr", "")
	v.SetDefault("nix.bin_dir", "")
	v.SetDefault("nix.builder_path", "/usr/bin:/bin")
	v.SetDefault("nix.options", []string{})
	v.SetDefault("nix.build_timeout", 2*time.Hour)
	v.SetDefault("nix.store_root", "")
	v.SetDefault("cache.url", "")
	v.SetDefault("cache.public_key", "")
	v.SetDefault("cache.secret_key_file", "")
	v.SetDefault("cache.secret_key", "")
	v.SetDefault("issue_tracker.kind", "local")
	v.SetDefault("issue_tracker.github.token", "")
	v.SetDefault("issue_tracker.github.base_url", "")
	v.SetDefault("issue_tracker.github.owner", "")
	v.SetDefault("issue_tracker.github.repo", "")
	v.SetDefault("queue.github.repo", "")
	v.SetDefault("queue.github.collection", "")
	v.SetDefault("queue.github.branch", "")
	v.SetDefault("queue.github.label", "crest-merge")
	v.SetDefault("queue.github.token", "")
	v.SetDefault("queue.github.base_url", "")
	v.SetDefault("queue.github.poll_interval", time.Minute)
	v.SetDefault("git.credentials", []map[string]any{})
	v.SetDefault("collections", []map[string]any{})
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "crest")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "crest")
	}
	return filepath.Join(os.TempDir(), "crest")
}

func configDirs() []string {
	dirs := []string{"."}
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		dirs = append(dirs, filepath.Join(d, "crest"))
	} else if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".config", "crest"))
	}
	return dirs
}

// findConfigFile returns the first crest.yaml (or .yml) in the search path, or "". (Viper's
// own search also accepts a file named just "crest" — such as the binary itself.)
func findConfigFile() string {
	for _, d := range configDirs() {
		for _, name := range []string{"crest.yaml", "crest.yml"} {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
	}
	return ""
}

// flagKeys maps persistent flag names to config keys, so a flag wins over everything.
var flagKeys = map[string]string{
	"data-dir":         "data_dir",
	"temporal-address": "temporal.address",
	"namespace":        "temporal.namespace",
	"database-url":     "database.url",
	"task-queue":       "task_queues.default",
	"ephemeral":        "dev.ephemeral",
	"temporal-port":    "dev.temporal_port",
	"ui-port":          "dev.ui_port",
	"postgres-port":    "dev.postgres_port",
	"site-port":        "dev.site_port",
	"addr":             "site.addr",
	"ip":               "dev.ip",
	"metrics-addr":     "worker.metrics_addr",
}

// loadConfig builds the effective configuration. file is --config (empty searches
// crest.yaml in . and $XDG_CONFIG_HOME/crest). Flags must already be parsed.
func loadConfig(file string, flags *pflag.FlagSet) (*Config, *viper.Viper, error) {
	v := viper.New()
	defaults(v)
	v.SetEnvPrefix("CREST")
	v.AllowEmptyEnv(true) // CREST_WORKER_SYSTEMS= means "no build queues", not "the default"
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	if file == "" {
		file = findConfigFile()
	}
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return nil, nil, fmt.Errorf("read config %s: %w", file, err)
		}
	}
	if flags != nil {
		for name, key := range flagKeys {
			if f := flags.Lookup(name); f != nil {
				if err := v.BindPFlag(key, f); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	var cfg Config
	err := v.UnmarshalExact(&cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		jsonListHook, // before StringToSlice, which would split the JSON at its commas
		mapstructure.StringToSliceHookFunc(","),
	)))
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", sourceName(v), cleanDecodeError(err))
	}
	cfg.takeURLCredentials()
	if err := cfg.validate(); err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", sourceName(v), err)
	}
	return &cfg, v, nil
}

// jsonListHook reads a list of sections given as one string (an environment variable such
// as CREST_GIT_CREDENTIALS) as JSON. Its error never quotes the value, which may hold secrets.
func jsonListHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice || to.Elem().Kind() != reflect.Struct {
		return data, nil
	}
	text := strings.TrimSpace(data.(string))
	if text == "" {
		return []any{}, nil
	}
	var list []any
	if err := json.Unmarshal([]byte(text), &list); err != nil {
		return nil, errors.New(`expected a JSON list of sections, such as [{"url_prefix": "https://git.example/", "username": "crest", "token": "…"}]`)
	}
	return list, nil
}

// takeURLCredentials moves the credentials of configured remote and upstream URLs into the
// in-memory credential set, so that collections (stored in Postgres, carried by workflows)
// hold URLs without them.
//
// A URL given twice with different credentials is a conflict for validate to report: the
// credential for a repository is chosen by its URL alone.
func (c *Config) takeURLCredentials() {
	take := func(key string, u *string) {
		clean, cred, ok := gitrepo.SplitCredentials(*u)
		if !ok {
			return
		}
		*u = clean
		for _, other := range c.URLCredentials {
			if other.URLPrefix == cred.URLPrefix {
				if other != cred {
					c.credentialConflicts = append(c.credentialConflicts, key)
				}
				return
			}
		}
		c.URLCredentials = append(c.URLCredentials, cred)
	}
	for i := range c.Collections {
		col := &c.Collections[i]
		take(fmt.Sprintf("collections[%d].remote", i), &col.Remote)
		for j := range col.Upstreams {
			take(fmt.Sprintf("collections[%d].upstreams[%d].repo", i, j), &col.Upstreams[j].Repo)
		}
	}
}

// gitCredentials is the credential set handed to the git adapter: the configured ones and
// those taken out of configured URLs (the adapter picks the longest matching prefix).
func (c *Config) gitCredentials() []gitrepo.Credential {
	var out []gitrepo.Credential
	for _, g := range c.Git.Credentials {
		out = append(out, gitrepo.Credential{URLPrefix: g.URLPrefix, Username: g.Username, Password: g.Token})
	}
	return append(out, c.URLCredentials...)
}

func sourceName(v *viper.Viper) string {
	if f := v.ConfigFileUsed(); f != "" {
		return f
	}
	return "(defaults, environment and flags)"
}

// cleanDecodeError turns mapstructure's report into one line naming every bad key.
func cleanDecodeError(err error) error {
	var problems []string
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "* "))
		if line == "" || strings.HasPrefix(line, "decoding failed") {
			continue
		}
		if m := invalidKeysRE.FindStringSubmatch(line); m != nil {
			for _, k := range strings.Split(m[2], ", ") {
				if m[1] != "" {
					k = m[1] + "." + k
				}
				problems = append(problems, k+": unknown key")
			}
			continue
		}
		problems = append(problems, line)
	}
	sort.Strings(problems)
	return errors.New(strings.Join(problems, "; "))
}

var invalidKeysRE = regexp.MustCompile(`^'([^']*)' has invalid keys: (.*)$`)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// validate names the key and the rule for every invalid value.
func (c *Config) validate() error {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, key+": "+fmt.Sprintf(format, args...))
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	for key, p := range map[string]int{"dev.temporal_port": c.Dev.TemporalPort, "dev.ui_port": c.Dev.UIPort, "dev.postgres_port": c.Dev.PostgresPort, "dev.site_port": c.Dev.SitePort} {
		if p < 0 || p > 65535 {
			bad(key, "%d is not a port (0–65535; 0 picks a free one)", p)
		}
	}
	if net.ParseIP(c.Dev.IP) == nil {
		bad("dev.ip", "%q is not an IP address", c.Dev.IP)
	}
	if c.Temporal.Address != "" {
		if _, _, err := net.SplitHostPort(c.Temporal.Address); err != nil {
			bad("temporal.address", "%q is not host:port", c.Temporal.Address)
		}
	}
	if _, _, err := net.SplitHostPort(c.Site.Addr); err != nil {
		bad("site.addr", "%q is not host:port", c.Site.Addr)
	}
	if c.Worker.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.Worker.MetricsAddr); err != nil {
			bad("worker.metrics_addr", "%q is not host:port", c.Worker.MetricsAddr)
		}
	}
	if c.Temporal.Namespace == "" {
		bad("temporal.namespace", "must not be empty")
	}
	if c.Temporal.TLS.Enabled && (c.Temporal.TLS.CertFile == "") != (c.Temporal.TLS.KeyFile == "") {
		bad("temporal.tls", "cert_file and key_file go together")
	}
	if c.TaskQueues.Default == "" || c.TaskQueues.BuildPrefix == "" {
		bad("task_queues", "default and build_prefix must not be empty")
	}
	if c.Database.URL != "" && !strings.HasPrefix(c.Database.URL, "postgres://") && !strings.HasPrefix(c.Database.URL, "postgresql://") {
		bad("database.url", "must be a postgres:// URL (got %s)", store.RedactDSN(c.Database.URL))
	}
	if c.Worker.MaxBuilds < 1 {
		bad("worker.max_builds", "must be at least 1 (got %d)", c.Worker.MaxBuilds)
	}
	if c.Worker.MaxActivities < 1 {
		bad("worker.max_activities", "must be at least 1 (got %d)", c.Worker.MaxActivities)
	}
	if !c.Worker.ServeDefault && len(c.Worker.Systems) == 0 {
		bad("worker", "serves nothing: set worker.serve_default or name worker.systems")
	}
	for i, s := range c.Worker.Systems {
		if !nameRE.MatchString(s) {
			bad(fmt.Sprintf("worker.systems[%d]", i), "%q is not a system name like x86_64-linux", s)
		}
	}
	if c.Nix.BuildTimeout <= 0 {
		bad("nix.build_timeout", "must be positive (got %s)", c.Nix.BuildTimeout)
	}
	if c.Nix.StoreRoot != "" && !filepath.IsAbs(c.Nix.StoreRoot) {
		bad("nix.store_root", "%q must be an absolute path", c.Nix.StoreRoot)
	}
	if c.Cache.URL != "" && !strings.Contains(c.Cache.URL, "://") {
		bad("cache.url", "%s is not a Nix store URI such as file:///var/cache/crest, s3://bucket or ssh-ng://host", gitrepo.RedactURL(c.Cache.URL))
	}
	if c.Cache.SecretKey != "" && c.Cache.SecretKeyFile != "" {
		bad("cache", "secret_key_file and CREST_CACHE_SECRET_KEY are both set: give one")
	}
	if err := (nix.Cache{URL: c.Cache.URL, PublicKey: c.Cache.PublicKey, SecretKey: nix.SecretKey(c.Cache.SecretKey)}).Check(); err != nil {
		bad("cache", "%v", err)
	}
	switch c.Tracker.Kind {
	case "local":
	case "github":
		if c.Tracker.GitHub.Owner == "" || c.Tracker.GitHub.Repo == "" {
			bad("issue_tracker.github", "owner and repo are required when kind is github")
		}
	default:
		bad("issue_tracker.kind", "%q is not one of local, github", c.Tracker.Kind)
	}
	if q := c.Queue.GitHub; q.Repo != "" {
		if owner, name, ok := strings.Cut(q.Repo, "/"); !ok || owner == "" || name == "" || strings.ContainsAny(name, "/ \t") {
			bad("queue.github.repo", "%q is not owner/name", q.Repo)
		}
		if strings.TrimSpace(q.Label) == "" {
			bad("queue.github.label", "must not be empty: only pull requests with the label are taken")
		}
		if q.PollInterval < time.Second {
			bad("queue.github.poll_interval", "must be at least 1s (got %s)", q.PollInterval)
		}
		if c.intakeToken() == "" {
			bad("queue.github.token", "required to read pull requests (or set issue_tracker.github.token)")
		}
		if q.Collection == "" && len(c.Collections) > 1 {
			bad("queue.github.collection", "required when more than one collection is configured")
		}
		if q.Collection != "" && len(c.Collections) > 0 && !slices.ContainsFunc(c.Collections, func(col CollectionConfig) bool { return col.Name == q.Collection }) {
			bad("queue.github.collection", "%q is not a configured collection", q.Collection)
		}
	}
	for i, g := range c.Git.Credentials {
		key := fmt.Sprintf("git.credentials[%d]", i)
		u, err := url.Parse(g.URLPrefix)
		switch {
		case g.URLPrefix == "":
			bad(key+".url_prefix", "must not be empty")
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			bad(key+".url_prefix", "%s is not an http(s) URL", gitrepo.RedactURL(g.URLPrefix))
		case u.User != nil:
			bad(key+".url_prefix", "%s must not carry credentials: give them as username and token", gitrepo.RedactURL(g.URLPrefix))
		}
		if g.Username == "" || g.Token == "" {
			bad(key, "username and token are required (GitHub: username x-access-token)")
		}
	}
	for _, key := range c.credentialConflicts {
		bad(key, "the same repository is configured elsewhere with other credentials")
	}
	seen := map[string]bool{}
	for i, col := range c.Collections {
		key := fmt.Sprintf("collections[%d]", i)
		if !nameRE.MatchString(col.Name) {
			bad(key+".name", "%q must be lowercase letters, digits, '.', '_' or '-'", col.Name)
		}
		if seen[col.Name] {
			bad(key+".name", "%q is configured twice", col.Name)
		}
		seen[col.Name] = true
		if col.Remote == "" {
			bad(key+".remote", "must not be empty")
		}
		if err := wire.CheckNoCredentials(col.Remote); err != nil { // a password in an ssh:// URL
			bad(key+".remote", "%v", err)
		}
		if col.TagPrefix != "" && !nameRE.MatchString(col.TagPrefix) {
			bad(key+".tag_prefix", "%q is not a valid tag prefix", col.TagPrefix)
		}
		tests := map[string]bool{}
		for j, name := range col.SystemTests {
			if _, err := wire.ParseSystemTest(name); err != nil {
				bad(fmt.Sprintf("%s.system_tests[%d]", key, j), "%v", err)
			} else if tests[name] {
				bad(fmt.Sprintf("%s.system_tests[%d]", key, j), "%q is listed twice", name)
			}
			tests[name] = true
		}
		if _, err := activities.EffectivePolicy(col.collection(), col.policyJSON()); err != nil {
			bad(key+".policy", "%v", err)
		}
		for j, up := range col.Upstreams {
			if up.Package == "" || up.Repo == "" {
				bad(fmt.Sprintf("%s.upstreams[%d]", key, j), "package and repo are required")
			}
			if err := wire.CheckNoCredentials(up.Repo); err != nil {
				bad(fmt.Sprintf("%s.upstreams[%d].repo", key, j), "%v", err)
			}
			if up.TagPrefix != "" && !nameRE.MatchString(up.TagPrefix) {
				bad(fmt.Sprintf("%s.upstreams[%d].tag_prefix", key, j), "%q is not a valid tag prefix", up.TagPrefix)
			}
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// nixCache is the binary cache as the Nix adapter takes it, the secret key read from its
// file. A builder (one that serves build queues) must hold the secret key: what it builds
// is pushed for the others.
func (c *Config) nixCache() (nix.Cache, error) {
	cache := nix.Cache{URL: c.Cache.URL, PublicKey: c.Cache.PublicKey, SecretKey: nix.SecretKey(c.Cache.SecretKey)}
	if c.Cache.SecretKeyFile != "" {
		b, err := os.ReadFile(c.Cache.SecretKeyFile)
		if err != nil {
			return nix.Cache{}, fmt.Errorf("cache.secret_key_file: %w", err)
		}
		cache.SecretKey = nix.SecretKey(strings.TrimSpace(string(b)))
		if err := cache.Check(); err != nil {
			return nix.Cache{}, fmt.Errorf("cache.secret_key_file %s: %w", c.Cache.SecretKeyFile, err)
		}
	}
	if cache.Enabled() && !cache.CanPush() && len(c.Worker.Systems) > 0 {
		return nix.Cache{}, errors.New("cache: a builder (worker.systems) pushes what it builds and needs the secret key: set cache.secret_key_file or CREST_CACHE_SECRET_KEY")
	}
	return cache, nil
}

// collection returns a configured collection with defaults filled in.
func (c CollectionConfig) collection() wire.Collection {
	col := wire.Collection{
		Name: c.Name, Remote: c.Remote, Evaluator: c.Evaluator, Systems: c.Systems,
		ProtectedRoots: c.ProtectedRoots, SystemTests: c.SystemTests, TagPrefix: c.TagPrefix, MainBranch: c.MainBranch,
	}
	if col.Evaluator == "" {
		col.Evaluator = "index.nix"
	}
	if len(col.Systems) == 0 {
		col.Systems = []string{"x86_64-linux"}
	}
	col.TagPrefix = wavename.Prefix(col.TagPrefix)
	if col.MainBranch == "" {
		col.MainBranch = "main"
	}
	col.Policy = c.policyJSON()
	for _, up := range c.Upstreams {
		col.Upstreams = append(col.Upstreams, wire.Upstream{Package: up.Package, Repo: up.Repo, TagPrefix: up.TagPrefix})
	}
	return col
}

// policyJSON is the collection's policy section as the JSON policy.DecodeSettings reads.
func (c CollectionConfig) policyJSON() json.RawMessage {
	if len(c.Policy) == 0 {
		return nil
	}
	b, err := json.Marshal(c.Policy)
	if err != nil {
		return json.RawMessage(`{"invalid": true}`) // reported by validate as an unknown field
	}
	return b
}

// redacted returns the settings as a map for display with every secret masked: secret
// values, database URLs' passwords, repository URLs' credentials, in sections and in lists of
// sections (also when a list came from the environment as JSON).
func redacted(v *viper.Viper) map[string]any {
	all := v.AllSettings()
	var walk func(t reflect.Type, m map[string]any)
	walkList := func(t reflect.Type, val any) any {
		var items []any
		switch l := val.(type) {
		case string:
			if strings.TrimSpace(l) == "" {
				return l
			}
			if json.Unmarshal([]byte(l), &items) != nil {
				return "(redacted: not a JSON list)"
			}
		case []any:
			items = l
		case []map[string]any:
			for _, m := range l {
				items = append(items, m)
			}
		default:
			return val
		}
		out := make([]any, len(items))
		for i, item := range items {
			out[i] = item
			if m, ok := item.(map[string]any); ok {
				m = maps.Clone(m) // viper's own maps must not change
				walk(t, m)
				out[i] = m
			}
		}
		return out
	}
	walk = func(t reflect.Type, m map[string]any) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
			val, ok := m[key]
			if !ok {
				continue
			}
			switch f.Tag.Get("secret") {
			case "true":
				if s, _ := val.(string); s != "" {
					m[key] = "(redacted)"
				}
			case "dsn":
				if s, _ := val.(string); s != "" {
					m[key] = store.RedactDSN(s)
				}
			case "url":
				if s, _ := val.(string); s != "" {
					m[key] = gitrepo.RedactURL(s)
				}
			}
			switch {
			case f.Type.Kind() == reflect.Struct:
				if sub, ok := val.(map[string]any); ok {
					walk(f.Type, sub)
				}
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				m[key] = walkList(f.Type.Elem(), val)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), all)
	return all
}
