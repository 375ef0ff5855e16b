package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/crestwaves/crest/internal/shareddata"

	"github.com/crestwaves/crest/graph"
)

// GraphFileName is the recorded Debian bookworm (amd64) source-package graph the synthetic
// collection is derived from; the project keeps it in shared/data beside the repository.
const GraphFileName = "debian-bookworm-amd64-graph.jsonl.gz"

// FindGraph returns the path of the Debian graph: $CREST_BENCH_GRAPH, else where
// shareddata finds it.
func FindGraph() (string, error) {
	if p := os.Getenv("CREST_BENCH_GRAPH"); p != "" {
		return p, nil
	}
	return shareddata.Path(GraphFileName)
}

// Collection is a synthetic package collection of the requested size.
type Collection struct {
	// Packages have no derivation yet: the Evaluator gives them one per VERSION.
	Packages []graph.Package
	Edges    int
	Layers   int
	// Source is how the collection was derived, for people.
	Source string
	// Update is the package the benchmark's major wave updates.
	Update string
}

// LoadCollection reads the graph at path and derives a collection of n packages from it.
func LoadCollection(path string, n int) (Collection, error) {
	f, err := os.Open(path)
	if err != nil {
		return Collection{}, fmt.Errorf("graph: %w", err)
	}
	defer f.Close()
	pkgs, err := graph.ReadPackages(f, graph.ReadOptions{})
	if err != nil {
		return Collection{}, fmt.Errorf("graph %s: %w", path, err)
	}
	return Derive(pkgs, n, "Debian bookworm amd64 source graph")
}

// Derive makes a collection of exactly n packages with the shape of the real graph pkgs:
// whole copies of it (the first keeps its keys, copy k renames every key to key~k), then a
// dependency-closed part of one more copy: its first packages in layer order (dependencies
// first), dropping the few edges into a dependency cycle cut at the border. Depth, fan-in and
// cycles of each copy are the real graph's, so a rebuild of all of it has the real number of
// dependency layers, each as many times wider as there are copies.
func Derive(pkgs []graph.Package, n int, name string) (Collection, error) {
	if n <= 0 {
		return Collection{}, errors.New("packages: must be positive")
	}
	g, _, err := graph.New(pkgs, graph.Options{Lenient: true})
	if err != nil {
		return Collection{}, err
	}
	if g.Len() == 0 {
		return Collection{}, errors.New("graph: no packages")
	}
	var order []string
	for _, layer := range g.Layers() {
		order = append(order, layer...)
	}
	copies, rest := n/len(order), n%len(order)
	out := Collection{Packages: make([]graph.Package, 0, n)}
	for c := 1; c <= copies; c++ {
		for _, k := range order {
			p, _ := g.Package(k)
			out.Packages = append(out.Packages, renamed(*p, c, nil))
		}
	}
	if rest > 0 {
		keep := make(map[string]bool, rest)
		for _, k := range order[:rest] {
			keep[k] = true
		}
		for _, k := range order[:rest] {
			p, _ := g.Package(k)
			out.Packages = append(out.Packages, renamed(*p, copies+1, keep))
		}
	}
	sg, rep, err := graph.New(out.Packages, graph.Options{})
	if err != nil {
		return Collection{}, fmt.Errorf("derived graph: %w", err)
	}
	out.Edges = rep.Edges
	out.Layers = len(sg.Layers())
	out.Update = order[0]
	if g.Has("glibc") && (copies > 0 || keepsKey(order[:rest], "glibc")) {
		out.Update = "glibc"
	}
	switch {
	case copies == 0:
		out.Source = fmt.Sprintf("%s (%d packages, %d edges): its first %d packages in dependency-layer order (dependency-closed), %d edges, %d layers",
			name, g.Len(), g.EdgeCount(), n, out.Edges, out.Layers)
	case rest == 0:
		out.Source = fmt.Sprintf("%s (%d packages, %d edges) replicated %d times (copy k renames key to key~k), %d edges, %d layers",
			name, g.Len(), g.EdgeCount(), copies, out.Edges, out.Layers)
	default:
		out.Source = fmt.Sprintf("%s (%d packages, %d edges) replicated %d times (copy k renames key to key~k) plus the first %d packages of one more copy in dependency-layer order, %d edges, %d layers",
			name, g.Len(), g.EdgeCount(), copies, rest, out.Edges, out.Layers)
	}
	return out, nil
}

func keepsKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// renamed is p in copy c (1 keeps the real keys); with keep, dependencies outside it go.
func renamed(p graph.Package, c int, keep map[string]bool) graph.Package {
	rename := func(k string) string {
		if c == 1 {
			return k
		}
		return fmt.Sprintf("%s~%d", k, c)
	}
	q := graph.Package{Key: rename(p.Key), Name: p.Name, Version: p.Version, Cost: p.Cost}
	if c != 1 {
		q.Name = q.Key
	}
	q.Deps = make([]string, 0, len(p.Deps))
	for _, d := range p.Deps {
		if keep == nil || keep[d] {
			q.Deps = append(q.Deps, rename(d))
		}
	}
	return q
}

// VersionFile is the file of the benchmark's collection whose content (v1 on main, v2 on
// the update branch) every derivation depends on.
const VersionFile = "VERSION"

// Evaluator is the synthetic collection's evaluator: it reads VERSION in the checkout and
// gives every package the derivation "/nix/store/bench-<version>-<key>.drv", so everything
// differs between the base commit and the update, as a mass rebuild does.
type Evaluator struct {
	Packages []graph.Package
}

// Evaluate lists the packages at a checkout.
func (e Evaluator) Evaluate(_ context.Context, dir, system string) ([]graph.Package, error) {
	b, err := os.ReadFile(filepath.Join(dir, VersionFile))
	if err != nil {
		return nil, fmt.Errorf("synthetic evaluation: %w", err)
	}
	version := strings.TrimSpace(string(b))
	out := make([]graph.Package, len(e.Packages))
	for i, p := range e.Packages {
		p.System = system
		p.Drv = "/nix/store/bench-" + version + "-" + strings.ReplaceAll(p.Key, "/", "_") + ".drv"
		out[i] = p
	}
	return out, nil
}
