package manifests

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// repoRoot is the directory holding go.mod (tests run in deploy/manifests).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test directory")
		dir = parent
	}
}

func readFile(t *testing.T, path ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(path...))
	require.NoError(t, err)
	return string(b)
}

// field is one node of the configuration's shape, read from the Config struct's
// mapstructure tags in cmd/crest/config.go.
type field struct {
	kind     fieldKind
	children map[string]*field // struct fields, or the element's fields for listOfStruct
	secret   bool              // tagged secret:"…" (but "url"): never in crest.yaml, never a literal
}

type fieldKind int

const (
	scalar fieldKind = iota
	listOfScalar
	structure
	listOfStruct
	freeMap // map[string]any: any keys (a collection's policy)
)

// crestConfig is what the manifests may use of Crest's configuration.
type crestConfig struct {
	root     *field
	defaults map[string]any    // key → default from v.SetDefault (strings and []string only)
	env      map[string]string // CREST_* → key, for every registered key the environment can set
	flags    map[string]bool   // persistent flags of the root command
}

var (
	configOnce sync.Once
	configVal  *crestConfig
	configErr  error
)

// loadCrestConfig parses cmd/crest/config.go and root.go once per test binary.
func loadCrestConfig(t *testing.T) *crestConfig {
	t.Helper()
	root := repoRoot(t)
	configOnce.Do(func() { configVal, configErr = parseCrestConfig(root) })
	require.NoError(t, configErr)
	return configVal
}

func parseCrestConfig(root string) (*crestConfig, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(root, "cmd", "crest", "config.go"), nil, 0)
	if err != nil {
		return nil, err
	}
	structs := map[string]*ast.StructType{}
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok {
			if st, ok := ts.Type.(*ast.StructType); ok {
				structs[ts.Name.Name] = st
			}
		}
		return true
	})
	if structs["Config"] == nil {
		return nil, fmt.Errorf("cmd/crest/config.go has no Config struct")
	}
	cfg := &crestConfig{
		root:     shape(structs, structs["Config"]),
		defaults: map[string]any{},
		env:      map[string]string{},
		flags:    map[string]bool{},
	}

	// v.SetDefault("key", value) in defaults(): the keys viper knows, hence the only keys
	// whose CREST_* variable it reads.
	var keys []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 2 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "SetDefault" {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		key, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		keys = append(keys, key)
		if v, ok := literal(call.Args[1]); ok {
			cfg.defaults[key] = v
		}
		return true
	})
	if len(keys) == 0 {
		return nil, fmt.Errorf("cmd/crest/config.go registers no keys with v.SetDefault")
	}
	for _, key := range keys {
		fd := cfg.lookup(key)
		if fd == nil {
			return nil, fmt.Errorf("v.SetDefault(%q) names no field of Config (mapstructure tags)", key)
		}
		// A list of structs (collections) cannot come from one environment variable.
		if fd.kind == scalar || fd.kind == listOfScalar {
			cfg.env[envName(key)] = key
		}
	}

	rootGo, err := os.ReadFile(filepath.Join(root, "cmd", "crest", "root.go"))
	if err != nil {
		return nil, err
	}
	for _, m := range flagRE.FindAllStringSubmatch(string(rootGo), -1) {
		cfg.flags[m[1]] = true
	}
	if !cfg.flags["config"] {
		return nil, fmt.Errorf("cmd/crest/root.go defines no --config flag")
	}
	return cfg, nil
}

// flagRE finds `pf.String("name", …)` and `pf.StringVar(&x, "name", …)` in root.go.
var flagRE = regexp.MustCompile(`pf\.[A-Za-z]+\((?:&[\w.]+,\s*)?"([a-z][a-z-]*)"`)

// envName is how viper (prefix CREST, "." → "_") names a key in the environment.
func envName(key string) string {
	return "CREST_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

func shape(structs map[string]*ast.StructType, st *ast.StructType) *field {
	node := &field{kind: structure, children: map[string]*field{}}
	for _, f := range st.Fields.List {
		if f.Tag == nil {
			continue
		}
		tag, err := strconv.Unquote(f.Tag.Value)
		if err != nil {
			continue
		}
		st := reflect.StructTag(tag)
		name := strings.Split(st.Get("mapstructure"), ",")[0]
		if name == "" {
			continue
		}
		child := &field{kind: scalar}
		switch ft := f.Type.(type) {
		case *ast.Ident:
			if sub, ok := structs[ft.Name]; ok {
				child = shape(structs, sub)
			}
		case *ast.MapType:
			child.kind = freeMap
		case *ast.ArrayType:
			child.kind = listOfScalar
			if id, ok := ft.Elt.(*ast.Ident); ok {
				if sub, ok := structs[id.Name]; ok {
					child = shape(structs, sub)
					child.kind = listOfStruct
				}
			}
		}
		// secret:"url" marks a URL whose userinfo Crest strips and masks (a remote): the
		// URL itself belongs in crest.yaml, its credentials do not.
		child.secret = st.Get("secret") != "" && st.Get("secret") != "url"
		node.children[name] = child
	}
	return node
}

// lookup returns the field of a dotted key, or nil.
func (c *crestConfig) lookup(key string) *field {
	f := c.root
	for _, part := range strings.Split(key, ".") {
		if f.kind != structure {
			return nil
		}
		if f = f.children[part]; f == nil {
			return nil
		}
	}
	return f
}

// secretKeys lists the dotted keys tagged secret.
func (c *crestConfig) secretKeys() []string {
	var out []string
	var walk func(prefix string, f *field)
	walk = func(prefix string, f *field) {
		for name, child := range f.children {
			key := strings.TrimPrefix(prefix+"."+name, ".")
			if child.secret {
				out = append(out, key)
			}
			if child.kind == structure {
				walk(key, child)
			}
		}
	}
	walk("", c.root)
	sort.Strings(out)
	return out
}

// literal evaluates the default values the tests need: strings and []string{…}.
func literal(e ast.Expr) (any, bool) {
	switch v := e.(type) {
	case *ast.BasicLit:
		if v.Kind == token.STRING {
			s, err := strconv.Unquote(v.Value)
			return s, err == nil
		}
	case *ast.CompositeLit:
		at, ok := v.Type.(*ast.ArrayType)
		if !ok {
			return nil, false
		}
		if id, ok := at.Elt.(*ast.Ident); !ok || id.Name != "string" {
			return nil, false
		}
		var out []string
		for _, el := range v.Elts {
			s, ok := literal(el)
			if !ok {
				return nil, false
			}
			out = append(out, s.(string))
		}
		return out, true
	}
	return nil, false
}

// checkCrestYAML parses a crest.yaml and reports every key Config does not have, every secret
// key (those come from the environment) and collections without name or remote.
func checkCrestYAML(t *testing.T, cfg *crestConfig, where, text string) map[string]any {
	t.Helper()
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(text), &doc), "%s: crest.yaml does not parse", where)
	require.NotEmpty(t, doc, "%s: crest.yaml is empty", where)
	var problems []string
	var walk func(prefix string, f *field, v any)
	walk = func(prefix string, f *field, v any) {
		switch f.kind {
		case structure:
			m, ok := v.(map[string]any)
			if !ok {
				problems = append(problems, prefix+": must be a mapping")
				return
			}
			for k, sub := range m {
				key := strings.TrimPrefix(prefix+"."+k, ".")
				child := f.children[k]
				if child == nil {
					problems = append(problems, key+": unknown key (not in cmd/crest/config.go)")
					continue
				}
				if child.secret {
					problems = append(problems, key+": secret; set it from a Secret or .env, not crest.yaml")
				}
				walk(key, child, sub)
			}
		case listOfStruct:
			items, ok := v.([]any)
			if !ok {
				problems = append(problems, prefix+": must be a list")
				return
			}
			elem := &field{kind: structure, children: f.children}
			for i, item := range items {
				walk(prefix+"["+strconv.Itoa(i)+"]", elem, item)
			}
		case listOfScalar:
			if _, ok := v.([]any); !ok {
				problems = append(problems, prefix+": must be a list")
			}
		case freeMap:
			if _, ok := v.(map[string]any); !ok {
				problems = append(problems, prefix+": must be a mapping")
			}
		case scalar:
			if _, ok := v.(map[string]any); ok {
				problems = append(problems, prefix+": must be a value, not a mapping")
			} else if _, ok := v.([]any); ok {
				problems = append(problems, prefix+": must be a value, not a list")
			}
		}
	}
	walk("", cfg.root, doc)
	cols, _ := doc["collections"].([]any)
	require.NotEmpty(t, cols, "%s: crest.yaml configures no collection", where)
	for i, c := range cols {
		m, _ := c.(map[string]any)
		for _, k := range []string{"name", "remote"} {
			if s, _ := m[k].(string); s == "" {
				problems = append(problems, "collections["+strconv.Itoa(i)+"]."+k+": required")
			}
		}
	}
	sort.Strings(problems)
	require.Empty(t, problems, "%s: crest.yaml", where)
	return doc
}

// collectionSystems are the systems the collections build for (default x86_64-linux, as
// CollectionConfig.collection fills it in).
func collectionSystems(doc map[string]any) []string {
	set := map[string]bool{}
	cols, _ := doc["collections"].([]any)
	for _, c := range cols {
		m, _ := c.(map[string]any)
		systems, _ := m["systems"].([]any)
		if len(systems) == 0 {
			set["x86_64-linux"] = true
		}
		for _, s := range systems {
			set[s.(string)] = true
		}
	}
	return sortedKeys(set)
}

// effective resolves a key the way loadConfig does for what the manifests set: environment
// over crest.yaml over the default.
func (c *crestConfig) effective(env map[string]string, file map[string]any, key string) any {
	if v, ok := env[envName(key)]; ok { // crest reads empty variables too (AllowEmptyEnv)
		return v
	}
	var cur any = file
	for _, part := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			cur = nil
			break
		}
		cur = m[part]
	}
	if cur != nil {
		return cur
	}
	return c.defaults[key]
}

func (c *crestConfig) effectiveString(env map[string]string, file map[string]any, key string) string {
	s, _ := c.effective(env, file, key).(string)
	return s
}

// effectiveList decodes a list key: "a,b" from the environment, a YAML list, or a default.
func (c *crestConfig) effectiveList(env map[string]string, file map[string]any, key string) []string {
	switch v := c.effective(env, file, key).(type) {
	case string:
		var out []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return v
	case []any:
		var out []string
		for _, s := range v {
			out = append(out, s.(string))
		}
		return out
	}
	return nil
}

// subcommands are the crest commands a deployment may run, each checked to exist in cmd/crest.
var subcommands = map[string][]string{
	"worker":     {"worker"},
	"migrate up": {"migrate", "up"},
}

var useRE = regexp.MustCompile(`Use:\s+"([a-z-]+)`)

// checkCrestArgs checks a crest command line (without the binary): a known subcommand first,
// then only persistent flags of the root command. It returns the subcommand and --config.
func checkCrestArgs(t *testing.T, cfg *crestConfig, where string, args []string) (sub, config string) {
	t.Helper()
	var words []string
	i := 0
	for ; i < len(args) && !strings.HasPrefix(args[i], "-"); i++ {
		words = append(words, args[i])
	}
	sub = strings.Join(words, " ")
	require.Contains(t, subcommands, sub, "%s: crest %s is not a subcommand a deployment runs (%v)", where, sub, sortedKeys(subcommands))
	for ; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		require.True(t, strings.HasPrefix(args[i], "--"), "%s: %q: flags come after the subcommand, as --name", where, args[i])
		require.True(t, cfg.flags[name], "%s: --%s is not a flag of crest (cmd/crest/root.go)", where, name)
		if !hasValue {
			require.Less(t, i+1, len(args), "%s: --%s has no value", where, name)
			i++
			value = args[i]
		}
		if name == "config" {
			config = value
		}
	}
	return sub, config
}

// TestSubcommandsExist keeps the list of subcommands the manifests may run honest.
func TestSubcommandsExist(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "cmd", "crest", "*.go"))
	require.NoError(t, err)
	uses := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		for _, m := range useRE.FindAllStringSubmatch(readFile(t, f), -1) {
			uses[m[1]] = true
		}
	}
	for _, words := range subcommands {
		for _, w := range words {
			require.True(t, uses[w], "cmd/crest has no command %q", w)
		}
	}
}

// TestConfigSource checks what the other tests rely on in cmd/crest/config.go.
func TestConfigSource(t *testing.T) {
	t.Parallel()
	cfg := loadCrestConfig(t)
	for _, key := range []string{"temporal.address", "database.url", "task_queues.default", "task_queues.build_prefix", "worker.systems", "data_dir",
		"worker.serve_default", "nix.store_root", "cache.url", "cache.public_key", "cache.secret_key_file", "cache.secret_key"} {
		require.NotNil(t, cfg.lookup(key), "config key %s", key)
		require.Contains(t, cfg.env, envName(key))
	}
	require.NotContains(t, cfg.env, "CREST_COLLECTIONS", "collections are a list of mappings: crest.yaml only")
	require.Contains(t, cfg.secretKeys(), "database.url")
	require.Contains(t, cfg.secretKeys(), "issue_tracker.github.token")
	require.Contains(t, cfg.secretKeys(), "cache.secret_key", "the cache's secret key never in crest.yaml, nor a literal")
	require.NotContains(t, cfg.secretKeys(), "cache.public_key")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestParseCrestConfig runs the parser on a small config.go: keys come from v.SetDefault,
// so renaming a key renames its variable, and a key without a field is an error.
func TestParseCrestConfig(t *testing.T) {
	t.Parallel()
	write := func(dir, key string) {
		t.Helper()
		src := `package main
type Config struct {
	Worker WorkerConfig ` + "`mapstructure:\"worker\"`" + `
	Cols   []Col        ` + "`mapstructure:\"collections\"`" + `
	Token  string       ` + "`mapstructure:\"token\" secret:\"true\"`" + `
}
type WorkerConfig struct {
	Systems  []string ` + "`mapstructure:\"systems\"`" + `
	Renamed  int      ` + "`mapstructure:\"" + key + "\"`" + `
}
type Col struct {
	Name string ` + "`mapstructure:\"name\"`" + `
}
func defaults(v *viper.Viper) {
	v.SetDefault("worker.systems", []string{"x86_64-linux"})
	v.SetDefault("worker.max_builds", 2)
	v.SetDefault("collections", []map[string]any{})
	v.SetDefault("token", "")
}
`
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "cmd", "crest"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cmd", "crest", "config.go"), []byte(src), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cmd", "crest", "root.go"),
			[]byte(`pf.StringVar(&a.configFile, "config", "", "")`+"\n"+`pf.String("data-dir", "", "")`), 0o644))
	}

	dir := t.TempDir()
	write(dir, "max_builds")
	cfg, err := parseCrestConfig(dir)
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		"CREST_WORKER_SYSTEMS":    "worker.systems",
		"CREST_WORKER_MAX_BUILDS": "worker.max_builds",
		"CREST_TOKEN":             "token",
	}, cfg.env)
	require.Equal(t, []string{"x86_64-linux"}, cfg.defaults["worker.systems"])
	require.Equal(t, []string{"token"}, cfg.secretKeys())
	require.Equal(t, map[string]bool{"config": true, "data-dir": true}, cfg.flags)
	require.Equal(t, listOfStruct, cfg.lookup("collections").kind)

	// The field renamed but not its default: the key no longer exists.
	dir = t.TempDir()
	write(dir, "builds")
	_, err = parseCrestConfig(dir)
	require.ErrorContains(t, err, `v.SetDefault("worker.max_builds")`)
}
