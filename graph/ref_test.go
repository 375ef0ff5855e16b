package graph

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

func cmpStr(a, b string) int { return strings.Compare(a, b) }

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// randomPackages makes n packages with about deg dependencies each. Names are a random
// permutation, so that key order says nothing about dependency order. Without cyclic,
// dependencies only point to packages made earlier (a DAG); with it, a few point later.
func randomPackages(rng *rand.Rand, n, deg int, cyclic bool) []Package {
	names := make([]string, n)
	for i, j := range rng.Perm(n) {
		names[i] = fmt.Sprintf("p%04d", j)
	}
	pkgs := make([]Package, n)
	for i := range pkgs {
		pkgs[i] = Package{Key: names[i], Name: names[i]}
		if i == 0 {
			continue
		}
		for range rng.IntN(2*deg + 1) {
			d := rng.IntN(i)
			if cyclic && rng.IntN(12) == 0 {
				d = rng.IntN(n)
			}
			if d != i && !slices.Contains(pkgs[i].Deps, names[d]) {
				pkgs[i].Deps = append(pkgs[i].Deps, names[d])
			}
		}
	}
	return pkgs
}

// shufflePackages returns a copy of pkgs in another order, each package's dependencies
// shuffled too.
func shufflePackages(rng *rand.Rand, pkgs []Package) []Package {
	out := make([]Package, len(pkgs))
	for i, j := range rng.Perm(len(pkgs)) {
		p := pkgs[j]
		p.Deps = slices.Clone(p.Deps)
		rng.Shuffle(len(p.Deps), func(a, b int) { p.Deps[a], p.Deps[b] = p.Deps[b], p.Deps[a] })
		out[i] = p
	}
	return out
}

// ref is a deliberately naive model of a graph, with maps and breadth-first searches, for
// checking the real one against.
type ref struct {
	deps, revs map[string][]string
}

func newRef(pkgs []Package) *ref {
	r := &ref{deps: map[string][]string{}, revs: map[string][]string{}}
	for _, p := range pkgs {
		r.deps[p.Key] = append(r.deps[p.Key], p.Deps...)
		for _, d := range p.Deps {
			r.revs[d] = append(r.revs[d], p.Key)
		}
	}
	return r
}

func (r *ref) walk(starts []string, next map[string][]string) map[string]bool {
	seen := map[string]bool{}
	queue := slices.Clone(starts)
	for _, s := range starts {
		seen[s] = true
	}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, n := range next[k] {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return seen
}

// down is k and everything that depends on it; up is k and everything it depends on.
func (r *ref) down(ks ...string) map[string]bool { return r.walk(ks, r.revs) }
func (r *ref) up(ks ...string) map[string]bool   { return r.walk(ks, r.deps) }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
