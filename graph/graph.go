package graph

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Graph is an immutable build graph over a set of packages.
//
// Packages are numbered 0..Len()-1 in key order, so the numbering (and with it every
// algorithm's tie-breaking) depends only on the set of packages, never on the order in which
// they were read. Edges are held twice in compressed sparse rows, once per direction, because
// planning walks both ways (closures down to dependents, build closures up to dependencies)
// and a map-of-maps graph spends most of its time hashing on graphs of Debian's size; see
// BenchmarkNewSimpleDirected. Directed exposes the same graph to gonum's algorithms.
//
// A Graph is safe for concurrent use: derived structures (components, orders, closure sizes)
// are computed once, on first use.
type Graph struct {
	pkgs  []Package
	index map[string]int32

	// depOff/deps: deps[depOff[v]:depOff[v+1]] are v's dependencies, ascending.
	depOff []int32
	deps   []int32
	// revOff/revs: revs[revOff[v]:revOff[v+1]] are v's dependents, ascending.
	revOff []int32
	revs   []int32

	compOnce sync.Once
	comps    *components

	closureOnce  sync.Once
	closureSizes []int32

	namesOnce sync.Once
	byName    map[string][]int32 // Attr and Name → nodes, for Resolve
}

// Options controls how New treats an inconsistent package list.
type Options struct {
	// Lenient drops unknown dependencies, duplicate keys (keeping the first) and self-edges
	// and counts them in the Report, instead of failing. Recorded graphs and half-broken
	// evaluations are still worth planning on; a strict default keeps mistakes loud.
	Lenient bool
}

// Report says what New found wrong with its input: in strict mode the reason for the error,
// in lenient mode what was dropped (the counts are the slices' lengths).
type Report struct {
	Packages    int      `json:"packages"`
	Edges       int      `json:"edges"`
	UnknownDeps []DepRef `json:"unknown_deps,omitempty"`
	Duplicates  []string `json:"duplicates,omitempty"`
	SelfEdges   []string `json:"self_edges,omitempty"`
	Repeated    int      `json:"repeated_deps,omitempty"` // a dependency listed twice by one package: harmless, merged silently
}

// DepRef names one dependency edge by the keys at both ends: From depends on To.
type DepRef struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Clean reports whether the input had nothing to drop.
func (r *Report) Clean() bool {
	return len(r.UnknownDeps) == 0 && len(r.Duplicates) == 0 && len(r.SelfEdges) == 0
}

// ValidationError is returned by New in strict mode; it names every offending package so
// that the person fixing the evaluation does not have to go looking.
type ValidationError struct {
	Report *Report
}

// Error lists up to ten offenders of each kind.
func (e *ValidationError) Error() string {
	const show = 10
	var parts []string
	r := e.Report
	if n := len(r.UnknownDeps); n > 0 {
		names := make([]string, 0, min(n, show))
		for _, d := range r.UnknownDeps[:min(n, show)] {
			names = append(names, d.From+" -> "+d.To)
		}
		parts = append(parts, fmt.Sprintf("%d unknown %s (%s)", n, plural(n, "dependency", "dependencies"), listMore(names, n)))
	}
	if n := len(r.Duplicates); n > 0 {
		parts = append(parts, fmt.Sprintf("%d duplicate %s (%s)", n, plural(n, "key", "keys"), listMore(r.Duplicates[:min(n, show)], n)))
	}
	if n := len(r.SelfEdges); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s (%s)", n, plural(n, "self-edge", "self-edges"), listMore(r.SelfEdges[:min(n, show)], n)))
	}
	return "invalid graph: " + strings.Join(parts, ", ")
}

func listMore(names []string, total int) string {
	s := strings.Join(names, ", ")
	if total > len(names) {
		s += fmt.Sprintf(", and %d more", total-len(names))
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// New builds a Graph from pkgs. The packages are copied; their Deps are sorted, merged and
// share the key strings of the packages they name.
//
// Unknown dependency keys, duplicate keys and self-edges make New return a
// *ValidationError naming them, unless opts.Lenient, in which case they are dropped and
// counted in the Report. The Report is returned in both modes.
func New(pkgs []Package, opts Options) (*Graph, *Report, error) {
	rep := &Report{}

	// Keep the first occurrence of each key, then number packages in key order.
	seen := make(map[string]struct{}, len(pkgs))
	kept := make([]Package, 0, len(pkgs))
	for i := range pkgs {
		k := pkgs[i].Key
		if _, dup := seen[k]; dup {
			rep.Duplicates = append(rep.Duplicates, k)
			continue
		}
		seen[k] = struct{}{}
		kept = append(kept, pkgs[i])
	}
	slices.SortFunc(kept, func(a, b Package) int { return strings.Compare(a.Key, b.Key) })
	slices.Sort(rep.Duplicates)
	rep.Duplicates = slices.Compact(rep.Duplicates)

	g := &Graph{
		pkgs:   kept,
		index:  make(map[string]int32, len(kept)),
		depOff: make([]int32, len(kept)+1),
	}
	for i := range kept {
		g.index[kept[i].Key] = int32(i)
	}

	// Resolve dependencies to node numbers, in key order, collecting the offenders.
	var ids []int32
	for v := range kept {
		p := &g.pkgs[v]
		ids = ids[:0]
		for _, d := range p.Deps {
			u, ok := g.index[d]
			switch {
			case !ok:
				rep.UnknownDeps = append(rep.UnknownDeps, DepRef{From: p.Key, To: d})
			case int(u) == v:
				rep.SelfEdges = append(rep.SelfEdges, p.Key)
			default:
				ids = append(ids, u)
			}
		}
		slices.Sort(ids)
		before := len(ids)
		ids = slices.Compact(ids)
		rep.Repeated += before - len(ids)
		g.deps = append(g.deps, ids...)
		g.depOff[v+1] = int32(len(g.deps))
		// Share the canonical key strings: one copy per key however many packages name it.
		names := make([]string, len(ids))
		for i, u := range ids {
			names[i] = g.pkgs[u].Key
		}
		if len(names) == 0 {
			names = nil
		}
		p.Deps = names
	}
	rep.SelfEdges = slices.Compact(rep.SelfEdges)
	rep.Packages = len(kept)
	rep.Edges = len(g.deps)
	if !opts.Lenient && !rep.Clean() {
		return nil, rep, &ValidationError{Report: rep}
	}
	g.buildReverse()
	return g, rep, nil
}

// buildReverse fills the dependents' rows by counting sort, which leaves every row ascending
// because dependencies are visited in ascending node order.
func (g *Graph) buildReverse() {
	n := len(g.pkgs)
	g.revOff = make([]int32, n+1)
	for _, u := range g.deps {
		g.revOff[u+1]++
	}
	for v := 0; v < n; v++ {
		g.revOff[v+1] += g.revOff[v]
	}
	g.revs = make([]int32, len(g.deps))
	next := slices.Clone(g.revOff[:n])
	for v := 0; v < n; v++ {
		for _, u := range g.depsOf(int32(v)) {
			g.revs[next[u]] = int32(v)
			next[u]++
		}
	}
}

func (g *Graph) depsOf(v int32) []int32 { return g.deps[g.depOff[v]:g.depOff[v+1]] }
func (g *Graph) revsOf(v int32) []int32 { return g.revs[g.revOff[v]:g.revOff[v+1]] }

// Len is the number of packages.
func (g *Graph) Len() int { return len(g.pkgs) }

// EdgeCount is the number of dependency edges.
func (g *Graph) EdgeCount() int { return len(g.deps) }

// Package returns the package with the given key. The pointer is into the graph: callers
// must not modify it.
func (g *Graph) Package(key string) (*Package, bool) {
	v, ok := g.index[key]
	if !ok {
		return nil, false
	}
	return &g.pkgs[v], true
}

// Has reports whether key names a package of the graph.
func (g *Graph) Has(key string) bool {
	_, ok := g.index[key]
	return ok
}

// Packages returns the packages in key order: a new slice, whose elements share Deps and
// other slices with the graph (treat them as read-only).
func (g *Graph) Packages() []Package { return slices.Clone(g.pkgs) }

// Keys returns every key in ascending order.
func (g *Graph) Keys() []string {
	keys := make([]string, len(g.pkgs))
	for i := range g.pkgs {
		keys[i] = g.pkgs[i].Key
	}
	return keys
}

// Deps returns the keys key directly depends on, ascending.
func (g *Graph) Deps(key string) []string {
	v, ok := g.index[key]
	if !ok {
		return nil
	}
	return g.keysOf(g.depsOf(v))
}

// Dependents returns the keys that directly depend on key, ascending.
func (g *Graph) Dependents(key string) []string {
	v, ok := g.index[key]
	if !ok {
		return nil
	}
	return g.keysOf(g.revsOf(v))
}

func (g *Graph) keysOf(vs []int32) []string {
	if len(vs) == 0 {
		return nil
	}
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = g.pkgs[v].Key
	}
	return keys
}

// nodes resolves keys to node numbers, failing with an *UnknownKeysError that suggests
// near names for every key the graph does not have.
func (g *Graph) nodes(keys []string) ([]int32, error) {
	vs := make([]int32, 0, len(keys))
	var unknown []string
	for _, k := range keys {
		v, ok := g.index[k]
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		vs = append(vs, v)
	}
	if len(unknown) > 0 {
		return nil, g.unknownKeys(unknown)
	}
	return vs, nil
}

// Subgraph returns the packages with the given keys, in key order, with their dependencies
// cut down to the same set: a self-contained package list for New. It is how tests carve a
// manageable piece out of a real collection.
func (g *Graph) Subgraph(keys []string) ([]Package, error) {
	vs, err := g.nodes(keys)
	if err != nil {
		return nil, fmt.Errorf("subgraph: %w", err)
	}
	in := newBitset(len(g.pkgs))
	for _, v := range vs {
		in.set(v)
	}
	var out []Package
	in.each(func(v int32) {
		p := g.pkgs[v]
		var deps []string
		for _, u := range g.depsOf(v) {
			if in.has(u) {
				deps = append(deps, g.pkgs[u].Key)
			}
		}
		p.Deps = deps
		out = append(out, p)
	})
	return out, nil
}
