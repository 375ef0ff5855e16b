package planview

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/charts/chartstest"
	"github.com/crestwaves/crest/graph"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/plan")

const (
	debianFile = "debian-bookworm-amd64-graph.jsonl.gz"
	appsFile   = "nixpkgs-2020-07-26-subset-apps.jsonl.gz"
	helloFile  = "nixpkgs-2020-07-26-subset-hello.jsonl"
)

// debianSubset is the build closure of three applications in the recorded Debian graph:
// the 4,850-package toolchain cycle plus a fringe of libraries only they use, small enough
// for golden files and still real.
func debianSubset(t *testing.T) *graph.Graph {
	t.Helper()
	deb := loadData(t, debianFile)
	keys, err := deb.BuildClosure("0ad", "wesnoth-1.16", "qgis")
	require.NoError(t, err)
	pkgs, err := deb.Subgraph(keys)
	require.NoError(t, err)
	g, _, err := graph.New(pkgs, graph.Options{})
	require.NoError(t, err)
	require.Equal(t, 4874, g.Len())
	return g
}

type goldenCase struct {
	name    string
	graph   func(t *testing.T) *graph.Graph
	updates []string
	groups  [][]string
	locked  []string
	wave    int
	formats []string
}

var goldenCases = []goldenCase{
	{
		name:    "nixpkgs-hello",
		graph:   func(t *testing.T) *graph.Graph { return loadData(t, helloFile) },
		updates: []string{"libidn2", "attr", "pcre"},
		groups:  [][]string{{"gnused", "hello"}},
		locked:  []string{"findutils"},
		wave:    3,
		formats: []string{"json", "txt", "dot"},
	},
	{
		name:    "nixpkgs-apps",
		graph:   func(t *testing.T) *graph.Graph { return loadData(t, appsFile) },
		updates: []string{"openssl", "sqlite", "libreoffice", "git", "libjpeg", "python38Packages.numpy", "rustc", "nodejs"},
		wave:    2,
		formats: []string{"json", "txt", "dot"},
	},
	{
		// Libraries outside the toolchain cycle: 0ad needs enet, gloox and miniupnpc and is
		// rebuilt once, after the last of them; libsdl2-mixer needs opusfile and waits for it.
		name:    "debian-subset",
		graph:   debianSubset,
		updates: []string{"enet", "gloox", "miniupnpc", "opusfile", "libsdl2-mixer", "exiv2"},
		groups:  [][]string{{"qwt", "spatialindex"}},
		locked:  []string{"wesnoth-1.16"},
		wave:    4,
		formats: []string{"json", "txt", "dot"},
	},
	{
		// zlib is in the toolchain cycle: its wave rebuilds nearly everything, and enet's
		// wave comes after it. Table only: the JSON lists thousands of packages.
		name:    "debian-subset-cycle",
		graph:   debianSubset,
		updates: []string{"zlib", "enet", "glibc", "openssl"},
		wave:    5,
		formats: []string{"txt", "dot"},
	},
}

func (c goldenCase) plan(t *testing.T, g *graph.Graph) *graph.Plan {
	t.Helper()
	req := graph.PlanRequest{Wave: c.wave, Builders: 8}
	var err error
	req.Updates, err = g.ResolveAll(c.updates)
	require.NoError(t, err)
	for _, grp := range c.groups {
		keys, err := g.ResolveAll(grp)
		require.NoError(t, err)
		req.Groups = append(req.Groups, keys)
	}
	req.Locked, err = g.ResolveAll(c.locked)
	require.NoError(t, err)
	p, err := g.Plan(req)
	require.NoError(t, err)
	return p
}

func render(t *testing.T, format string, p *graph.Plan) []byte {
	t.Helper()
	var b bytes.Buffer
	switch format {
	case "json":
		require.NoError(t, JSON(&b, p))
	case "txt":
		require.NoError(t, Table(&b, p))
	case "dot":
		require.NoError(t, DOT(&b, p))
	case "svg":
		require.NoError(t, SVG(&b, p))
	default:
		t.Fatalf("format %q", format)
	}
	return b.Bytes()
}

// TestGolden renders plans of the recorded graphs and compares them with
// testdata/plan/<case>.<format>; run with -update to rewrite the files after a deliberate
// change, and read the diff.
func TestGolden(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "testdata", "plan")
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			p := c.plan(t, c.graph(t))
			for _, f := range c.formats {
				got := render(t, f, p)
				path := filepath.Join(dir, c.name+"."+f)
				if *update {
					require.NoError(t, os.MkdirAll(dir, 0o755))
					require.NoError(t, os.WriteFile(path, got, 0o644))
					continue
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "missing golden file: run go test ./graph/planview -run TestGolden -update")
				require.Equal(t, string(want), string(got), "%s differs from %s", f, path)
			}
		})
	}
}

// TestSameInputSameBytes: the same graph read in another order, and the same request with
// its updates in another order, render to the same bytes.
func TestSameInputSameBytes(t *testing.T) {
	t.Parallel()
	c := goldenCases[1]
	g := c.graph(t)
	want := render(t, "json", c.plan(t, g))
	pkgs := g.Packages()
	rng := rand.New(rand.NewPCG(1, 1))
	for range 3 {
		rng.Shuffle(len(pkgs), func(i, j int) { pkgs[i], pkgs[j] = pkgs[j], pkgs[i] })
		g2, _, err := graph.New(pkgs, graph.Options{})
		require.NoError(t, err)
		c2 := c
		c2.updates = append([]string(nil), c.updates...)
		rng.Shuffle(len(c2.updates), func(i, j int) { c2.updates[i], c2.updates[j] = c2.updates[j], c2.updates[i] })
		require.Equal(t, string(want), string(render(t, "json", c2.plan(t, g2))))
	}
}

// TestJSONSchema holds the JSON to its documented schema: every field present, with its
// type, and nothing undocumented.
func TestJSONSchema(t *testing.T) {
	t.Parallel()
	c := goldenCases[2]
	raw := render(t, "json", c.plan(t, c.graph(t)))
	require.NoError(t, ValidateSchema(raw))
	require.ErrorContains(t, ValidateSchema([]byte(`{"schema":"crest.plan/v1","wave":"1"}`)), "wave is string, want number")
}

func TestSVGIsReadable(t *testing.T) {
	t.Parallel()
	c := goldenCases[1]
	p := c.plan(t, c.graph(t))
	raw := render(t, "svg", p)
	// Well-formed XML whose text says what the chart shows.
	s := chartstest.Texts(t, raw)
	for _, want := range []string{
		"Major wave 2: 526 builds in 8 minor waves", "hours from the start", "planned",
		"wave-2-1 openssl-1.1.1g", "357 builds · ",
	} {
		require.Contains(t, s, want)
	}
	require.NotContains(t, s, "actual", "a plan has no actual spans")
	for _, m := range p.Minor {
		require.Contains(t, s, m.ID+" ")
	}
	require.Contains(t, string(raw), "@font-face", "fonts are embedded")
	require.Equal(t, raw, render(t, "svg", p), "rendering is deterministic")
}

func TestDOTEdgesAreDirect(t *testing.T) {
	t.Parallel()
	c := goldenCases[1]
	p := c.plan(t, c.graph(t))
	dot := string(render(t, "dot", p))
	// wave-2-8 (libreoffice) waits for six others, but only for wave-2-6 directly.
	require.Len(t, p.Minor[7].After, 6)
	require.Contains(t, dot, `"wave-2-6" -> "wave-2-8";`)
	require.NotContains(t, dot, `"wave-2-1" -> "wave-2-8";`)
}

func TestFormatHelpers(t *testing.T) {
	t.Parallel()
	for sec, want := range map[float64]string{0: "0s", 59.4: "59s", 60: "1m", 3599: "60m", 3600: "1h 00m",
		5400: "1h 30m", 86399: "24h 00m", 86400: "1d 00h", 200000: "2d 08h"} {
		require.Equal(t, want, Duration(sec), "%v", sec)
	}
	require.Equal(t, "2.5 h", Hours(9000))
	require.Equal(t, "patchelf-0.11", ShortKey("0jsfyxzaf5p8971krsgb4av0mf6i7q9h-patchelf-0.11"))
	require.Equal(t, "glibc", ShortKey("glibc"))
	require.Equal(t, "EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE-x", ShortKey("EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE-x"))
}

func TestDocumentRoundsAndKeepsThePlan(t *testing.T) {
	t.Parallel()
	p := &graph.Plan{Wave: 1, Builders: 1, Minor: []graph.MinorWave{{ID: "wave-1-1", CostSeconds: 1.04999, FinishSeconds: 2.26}}}
	d := NewDocument(p)
	require.Equal(t, 1.0, d.Minor[0].CostSeconds)
	require.Equal(t, 2.3, d.Minor[0].FinishSeconds)
	require.Equal(t, 1.04999, p.Minor[0].CostSeconds, "the plan itself is not rounded")
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(raw), `{"schema":"crest.plan/v1","wave":1,`))
}
