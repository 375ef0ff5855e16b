package graph

import (
	"fmt"
	"math/bits"
	"slices"
)

// reach returns the nodes reachable from starts, starts included: towards dependents when
// down is true (what rebuilds when starts change), towards dependencies otherwise (what
// starts need to build).
func (g *Graph) reach(starts []int32, down bool) bitset {
	seen := newBitset(len(g.pkgs))
	stack := make([]int32, 0, 64)
	for _, s := range starts {
		if !seen.has(s) {
			seen.set(s)
			stack = append(stack, s)
		}
	}
	off, adj := g.depOff, g.deps
	if down {
		off, adj = g.revOff, g.revs
	}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, u := range adj[off[v]:off[v+1]] {
			if !seen.has(u) {
				seen.set(u)
				stack = append(stack, u)
			}
		}
	}
	return seen
}

// ReverseClosure returns, in key order, every package that must be rebuilt when any of keys
// changes: the keys themselves and everything that transitively depends on them.
func (g *Graph) ReverseClosure(keys ...string) ([]string, error) {
	vs, err := g.nodes(keys)
	if err != nil {
		return nil, fmt.Errorf("reverse closure: %w", err)
	}
	return g.keysOf(g.reach(vs, true).members()), nil
}

// BuildClosure returns, in key order, everything needed to build keys: the keys themselves
// and everything they transitively depend on.
func (g *Graph) BuildClosure(keys ...string) ([]string, error) {
	vs, err := g.nodes(keys)
	if err != nil {
		return nil, fmt.Errorf("build closure: %w", err)
	}
	return g.keysOf(g.reach(vs, false).members()), nil
}

// BuildClosureSize returns how many other packages key transitively depends on (0 for an
// unknown key). The sizes of all packages are computed together on first use, 64 packages
// per pass with one bit each (O(n·(n+m)/64)), because cost models ask for every package of a
// closure and a search per package would cost O(n·(n+m)).
func (g *Graph) BuildClosureSize(key string) int {
	v, ok := g.index[key]
	if !ok {
		return 0
	}
	g.closureOnce.Do(g.computeClosureSizes)
	return int(g.closureSizes[v])
}

func (g *Graph) computeClosureSizes() {
	c := g.components()
	nc := c.len()
	// Dependencies between components, ascending and without repeats.
	dOff := make([]int32, nc+1)
	var dAdj []int32
	seen := make([]int32, nc)
	for i := range seen {
		seen[i] = -1
	}
	for ci := int32(0); ci < int32(nc); ci++ {
		start := len(dAdj)
		for _, v := range c.members(ci) {
			for _, u := range g.depsOf(v) {
				if cu := c.comp[u]; cu != ci && seen[cu] != ci {
					seen[cu] = ci
					dAdj = append(dAdj, cu)
				}
			}
		}
		slices.Sort(dAdj[start:])
		dOff[ci+1] = int32(len(dAdj))
	}
	total := make([]int64, nc)
	mask := make([]uint64, nc)
	for base := 0; base < nc; base += 64 {
		end := min(base+64, nc)
		singletons := true
		for ci := base; ci < end; ci++ {
			singletons = singletons && c.size(int32(ci)) == 1
		}
		// A component only depends on components before it, so nothing before base can
		// reach this block.
		for ci := base; ci < nc; ci++ {
			var m uint64
			for _, d := range dAdj[dOff[ci]:dOff[ci+1]] {
				if int(d) < base {
					continue
				}
				m |= mask[d]
				if int(d) < end {
					m |= 1 << (int(d) - base)
				}
			}
			mask[ci] = m
			if singletons {
				total[ci] += int64(bits.OnesCount64(m))
				continue
			}
			for w := m; w != 0; w &= w - 1 {
				total[ci] += int64(c.size(int32(base + bits.TrailingZeros64(w))))
			}
		}
	}
	sizes := make([]int32, len(g.pkgs))
	for v := range sizes {
		ci := c.comp[v]
		sizes[v] = int32(total[ci]) + int32(c.size(ci)) - 1 // the rest of its own cycle too
	}
	g.closureSizes = sizes
}

// longestChain returns the weighted longest dependency chain among the members of in
// (providers first) and its weight.
//
// Edges inside a dependency cycle are ignored: a cycle is broken the way distributions
// bootstrap one, by building its members against the previous build of their cycle partners,
// so they do not wait for each other. dist and prev are scratch of length Len().
func (g *Graph) longestChain(in bitset, cost []float64, dist []float64, prev []int32) (float64, []int32) {
	c := g.components()
	best, end := 0.0, int32(-1)
	for _, v := range c.order {
		if !in.has(v) {
			continue
		}
		d, p := 0.0, int32(-1)
		for _, u := range g.depsOf(v) {
			if in.has(u) && c.comp[u] != c.comp[v] && (p < 0 || dist[u] > d) {
				d, p = dist[u], u
			}
		}
		dist[v], prev[v] = d+cost[v], p
		if end < 0 || dist[v] > best || (dist[v] == best && v < end) {
			best, end = dist[v], v
		}
	}
	var chain []int32
	for v := end; v >= 0; v = prev[v] {
		chain = append(chain, v)
	}
	slices.Reverse(chain)
	return best, chain
}

// CriticalPath returns the longest dependency chain among keys, weighted by cost, and its
// length in seconds: how long rebuilding keys takes however many builders there are.
// Dependencies outside keys are taken as already built; edges inside a dependency cycle are
// ignored (see Plan).
func (g *Graph) CriticalPath(keys []string, cost CostModel) (float64, []string, error) {
	vs, err := g.nodes(keys)
	if err != nil {
		return 0, nil, fmt.Errorf("critical path: %w", err)
	}
	if cost == nil {
		cost = DefaultCost
	}
	in := newBitset(len(g.pkgs))
	costs := make([]float64, len(g.pkgs))
	for _, v := range vs {
		in.set(v)
		s, err := checkedCost(cost, g, v)
		if err != nil {
			return 0, nil, fmt.Errorf("critical path: %w", err)
		}
		costs[v] = s
	}
	secs, chain := g.longestChain(in, costs, make([]float64, len(g.pkgs)), make([]int32, len(g.pkgs)))
	return secs, g.keysOf(chain), nil
}
