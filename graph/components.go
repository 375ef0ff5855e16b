package graph

import (
	"errors"
	"slices"
	"strings"

	"gonum.org/v1/gonum/graph/topo"
)

// components is the condensation of the graph, computed once: strongly connected
// components in a stable topological order (providers first) and every node's place in it.
type components struct {
	comp   []int32 // node → component number
	memOff []int32 // members of component c: mem[memOff[c]:memOff[c+1]], ascending
	mem    []int32
	order  []int32 // every node, in component order then node number: a topological order
}

func (c *components) len() int                 { return len(c.memOff) - 1 }
func (c *components) members(ci int32) []int32 { return c.mem[c.memOff[ci]:c.memOff[ci+1]] }
func (c *components) size(ci int32) int        { return int(c.memOff[ci+1] - c.memOff[ci]) }
func (c *components) cyclic(ci int32) bool     { return c.size(ci) > 1 }

// components computes the condensation with gonum's topo.SortStabilized over Directed:
// it returns the acyclic nodes in a stable topological order with a nil hole where each
// strongly connected component goes, and the components themselves (in the same order) in
// its Unorderable error. Node numbers follow keys, so the order depends only on the graph.
func (g *Graph) components() *components {
	g.compOnce.Do(func() {
		n := len(g.pkgs)
		sorted, err := topo.SortStabilized(g.Directed(), nil)
		var cycles topo.Unorderable
		if err != nil && !errors.As(err, &cycles) {
			// SortStabilized fails only with Unorderable; anything else is a gonum change
			// that must not go unnoticed.
			panic("graph: topological sort: " + err.Error())
		}
		c := &components{
			comp:   make([]int32, n),
			memOff: make([]int32, 1, len(sorted)+1),
			mem:    make([]int32, 0, n),
		}
		next := 0
		for _, node := range sorted {
			ci := int32(len(c.memOff) - 1)
			start := len(c.mem)
			if node != nil {
				c.mem = append(c.mem, int32(node.ID()))
			} else {
				for _, m := range cycles[next] {
					c.mem = append(c.mem, int32(m.ID()))
				}
				next++
			}
			slices.Sort(c.mem[start:])
			for _, v := range c.mem[start:] {
				c.comp[v] = ci
			}
			c.memOff = append(c.memOff, int32(len(c.mem)))
		}
		c.order = c.mem // members listed component by component: already a topological order
		g.comps = c
	})
	return g.comps
}

// SCCs returns the strongly connected components with more than one package — the
// dependency cycles, which are updated and rebuilt as one group — largest first, ties by
// first key, members in key order.
func (g *Graph) SCCs() [][]string {
	c := g.components()
	var out [][]string
	for ci := int32(0); ci < int32(c.len()); ci++ {
		if c.cyclic(ci) {
			out = append(out, g.keysOf(c.members(ci)))
		}
	}
	slices.SortStableFunc(out, func(a, b []string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a[0], b[0])
	})
	return out
}

// Cycle returns the keys of the dependency cycle key belongs to (key included), or nil if
// key is in no cycle.
func (g *Graph) Cycle(key string) []string {
	v, ok := g.index[key]
	if !ok {
		return nil
	}
	c := g.components()
	if !c.cyclic(c.comp[v]) {
		return nil
	}
	return g.keysOf(c.members(c.comp[v]))
}

// Condensation is the graph with each strongly connected component contracted to one node:
// always acyclic, so it can be ordered even when the package graph cannot.
type Condensation struct {
	// Components in a stable topological order, providers first; members in key order.
	Components [][]string
	// Deps[i] are the indices of the components that component i depends on, ascending.
	Deps [][]int
}

// Condensation returns the condensation of the graph.
func (g *Graph) Condensation() *Condensation {
	c := g.components()
	out := &Condensation{
		Components: make([][]string, c.len()),
		Deps:       make([][]int, c.len()),
	}
	seen := make([]int32, c.len())
	for i := range seen {
		seen[i] = -1
	}
	for ci := int32(0); ci < int32(c.len()); ci++ {
		out.Components[ci] = g.keysOf(c.members(ci))
		var deps []int
		for _, v := range c.members(ci) {
			for _, u := range g.depsOf(v) {
				if cu := c.comp[u]; cu != ci && seen[cu] != ci {
					seen[cu] = ci
					deps = append(deps, int(cu))
				}
			}
		}
		slices.Sort(deps)
		out.Deps[ci] = deps
	}
	return out
}

// TopoOrder returns every key in a stable topological order: dependencies before their
// dependents, the members of a cycle together in key order.
func (g *Graph) TopoOrder() []string { return g.keysOf(g.components().order) }

// Layers returns the stable topological layering of the graph: layer 0 holds the packages
// that depend on nothing, layer i those whose longest dependency chain has i steps. The
// members of a cycle share a layer. Each layer is in key order, so the same graph always
// gives the same layers, whatever the order it was read in.
func (g *Graph) Layers() [][]string {
	c := g.components()
	depth := make([]int32, c.len())
	var layers [][]int32
	for ci := int32(0); ci < int32(c.len()); ci++ {
		d := int32(0)
		for _, v := range c.members(ci) {
			for _, u := range g.depsOf(v) {
				if cu := c.comp[u]; cu != ci {
					d = max(d, depth[cu]+1)
				}
			}
		}
		depth[ci] = d
		for int(d) >= len(layers) {
			layers = append(layers, nil)
		}
		layers[d] = append(layers[d], c.members(ci)...)
	}
	out := make([][]string, len(layers))
	for i, l := range layers {
		slices.Sort(l)
		out[i] = g.keysOf(l)
	}
	return out
}
