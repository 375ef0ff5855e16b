package graph

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"gonum.org/v1/gonum/graph/simple"
	"gonum.org/v1/gonum/graph/topo"
)

// Benchmarks run on the recorded graphs. Plan benchmarks reuse one loaded graph, as a
// long-running worker does; BenchmarkPlanDebianCold includes building the graph and its
// condensation from parsed packages, what a one-shot `crest plan` pays after parsing.

func readRaw(b *testing.B, name string) []byte {
	b.Helper()
	raw, err := os.ReadFile(dataPath(b, name))
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

func BenchmarkLoadDebian(b *testing.B) {
	raw := readRaw(b, debianFile)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Load(bytes.NewReader(raw), ReadOptions{}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func parsedDebian(b *testing.B) []Package {
	b.Helper()
	pkgs, err := ReadPackages(bytes.NewReader(readRaw(b, debianFile)), ReadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return pkgs
}

// BenchmarkNewDebian builds the CSR graph from parsed packages.
func BenchmarkNewDebian(b *testing.B) {
	pkgs := parsedDebian(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := New(pkgs, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewSimpleDirectedDebian builds the same graph as a gonum simple.DirectedGraph,
// for comparison with BenchmarkNewDebian: the reason Graph keeps its own rows.
func BenchmarkNewSimpleDirectedDebian(b *testing.B) {
	pkgs := parsedDebian(b)
	b.ReportAllocs()
	for b.Loop() {
		id := make(map[string]int64, len(pkgs))
		dg := simple.NewDirectedGraph()
		for i := range pkgs {
			id[pkgs[i].Key] = int64(i)
			dg.AddNode(simple.Node(i))
		}
		for i := range pkgs {
			for _, d := range pkgs[i].Deps {
				dg.SetEdge(simple.Edge{F: simple.Node(id[d]), T: simple.Node(i)})
			}
		}
	}
}

// BenchmarkSCCDebian: gonum's Tarjan over Graph's view versus over simple.DirectedGraph.
func BenchmarkSCCDebian(b *testing.B) {
	pkgs := parsedDebian(b)
	g := mustNew(b, pkgs)
	b.Run("csr", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			topo.TarjanSCC(g.Directed())
		}
	})
	b.Run("simple", func(b *testing.B) {
		dg := simple.NewDirectedGraph()
		for i := range pkgs {
			dg.AddNode(simple.Node(i))
		}
		for i := range pkgs {
			for _, d := range pkgs[i].Deps {
				u, _ := g.ID(d)
				v, _ := g.ID(pkgs[i].Key)
				dg.SetEdge(simple.Edge{F: simple.Node(u), T: simple.Node(v)})
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			topo.TarjanSCC(dg)
		}
	})
}

func benchPlan(b *testing.B, g *Graph, req PlanRequest) {
	b.Helper()
	p, err := g.Plan(req) // warm: the condensation is computed once per graph
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(p.Minor)), "waves")
	b.ReportMetric(float64(p.Totals.Builds), "builds")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Plan(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanDebianHeaviest20 plans the 20 heaviest Debian sources (default cost model)
// as root updates.
func BenchmarkPlanDebianHeaviest20(b *testing.B) {
	g := loadData(b, debianFile)
	benchPlan(b, g, PlanRequest{Updates: heaviest(g, 20), Wave: 1, Builders: 64})
}

// BenchmarkPlanDebianGlibcOpenssl plans glibc and openssl, which sit in the 4,850-package
// cycle and rebuild nearly the whole archive.
func BenchmarkPlanDebianGlibcOpenssl(b *testing.B) {
	g := loadData(b, debianFile)
	benchPlan(b, g, PlanRequest{Updates: []string{"glibc", "openssl"}, Wave: 1, Builders: 64})
}

// BenchmarkPlanDebianCold builds the graph from parsed packages and plans the heaviest 20.
func BenchmarkPlanDebianCold(b *testing.B) {
	pkgs := parsedDebian(b)
	updates := heaviest(loadData(b, debianFile), 20)
	b.ReportAllocs()
	for b.Loop() {
		g, _, err := New(pkgs, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := g.Plan(PlanRequest{Updates: updates, Wave: 1, Builders: 64}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanApps plans the 20 heaviest packages of the 960-node Nixpkgs apps graph.
func BenchmarkPlanApps(b *testing.B) {
	g := loadData(b, appsFile)
	benchPlan(b, g, PlanRequest{Updates: heaviest(g, 20), Wave: 1, Builders: 16})
}

// syntheticPackages makes a graph of the size the planner is specified for (35,000
// packages, 350,000 edges), which no recorded graph reaches: each package depends on ten
// earlier ones on average, and a ring through the first cycle packages makes them one
// strongly connected component, as Debian's toolchain is.
func syntheticPackages(n, deg, cycle int) []Package {
	rng := rand.New(rand.NewPCG(35, 350))
	names := make([]string, n)
	for i, j := range rng.Perm(n) {
		names[i] = fmt.Sprintf("s%05d", j)
	}
	pkgs := make([]Package, n)
	for i := range pkgs {
		pkgs[i] = Package{Key: names[i], Name: names[i], Cost: CostHints{BuildSeconds: float64(60 + rng.IntN(3600))}}
		seen := map[int]bool{i: true}
		if i < cycle {
			next := (i + 1) % cycle
			seen[next] = true
			pkgs[i].Deps = append(pkgs[i].Deps, names[next])
		}
		for range min(i, 2*deg-1) {
			// Favour near predecessors, as real graphs depend mostly on their own stack.
			d := i - 1 - int(float64(i)*rng.Float64()*rng.Float64())
			if !seen[d] {
				seen[d] = true
				pkgs[i].Deps = append(pkgs[i].Deps, names[d])
			}
		}
	}
	return pkgs
}

func BenchmarkPlanSynthetic35k(b *testing.B) {
	pkgs := syntheticPackages(35_000, 10, 5_000)
	g := mustNew(b, pkgs)
	b.ReportMetric(float64(g.EdgeCount()), "edges")
	benchPlan(b, g, PlanRequest{Updates: heaviest(g, 20), Wave: 1, Builders: 64})
}

func BenchmarkPlanSynthetic35kCold(b *testing.B) {
	pkgs := syntheticPackages(35_000, 10, 5_000)
	updates := heaviest(mustNew(b, pkgs), 20)
	b.ReportAllocs()
	for b.Loop() {
		g, _, err := New(pkgs, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := g.Plan(PlanRequest{Updates: updates, Wave: 1, Builders: 64}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanDebian1000Random plans 1,000 random Debian sources at once (some in the
// toolchain cycle, most not): many small waves.
func BenchmarkPlanDebian1000Random(b *testing.B) {
	g := loadData(b, debianFile)
	keys := g.Keys()
	rng := rand.New(rand.NewPCG(1, 2))
	var updates []string
	for _, i := range rng.Perm(len(keys))[:1000] {
		updates = append(updates, keys[i])
	}
	benchPlan(b, g, PlanRequest{Updates: updates, Wave: 1, Builders: 64})
}
