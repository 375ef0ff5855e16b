package graph

import (
	"slices"

	gg "gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/simple"
)

// Directed returns the graph as a gonum graph.Directed, for gonum's algorithms.
//
// Node IDs are the package numbers (see ID and Key). Edges point from a dependency to its
// dependents — the direction in which a change travels — so a topological order of this
// graph lists providers before consumers, and From(id) is what rebuilds when id changes.
func (g *Graph) Directed() gg.Directed { return directedView{g} }

// ID returns the gonum node ID of key.
func (g *Graph) ID(key string) (int64, bool) {
	v, ok := g.index[key]
	return int64(v), ok
}

// Key returns the key of the package with gonum node ID id, or "" if there is none.
func (g *Graph) Key(id int64) string {
	if id < 0 || id >= int64(len(g.pkgs)) {
		return ""
	}
	return g.pkgs[id].Key
}

type directedView struct{ g *Graph }

func (d directedView) valid(id int64) bool { return id >= 0 && id < int64(len(d.g.pkgs)) }

func (d directedView) Node(id int64) gg.Node {
	if !d.valid(id) {
		return nil
	}
	return simple.Node(id)
}

func (d directedView) Nodes() gg.Nodes { return &nodeIter{all: int32(len(d.g.pkgs)), pos: -1} }

func (d directedView) From(id int64) gg.Nodes {
	if !d.valid(id) {
		return gg.Empty
	}
	return &nodeIter{list: d.g.revsOf(int32(id)), all: -1, pos: -1}
}

func (d directedView) To(id int64) gg.Nodes {
	if !d.valid(id) {
		return gg.Empty
	}
	return &nodeIter{list: d.g.depsOf(int32(id)), all: -1, pos: -1}
}

func (d directedView) HasEdgeBetween(x, y int64) bool {
	return d.HasEdgeFromTo(x, y) || d.HasEdgeFromTo(y, x)
}

// HasEdgeFromTo reports whether v depends on u.
func (d directedView) HasEdgeFromTo(u, v int64) bool {
	if !d.valid(u) || !d.valid(v) {
		return false
	}
	_, ok := slices.BinarySearch(d.g.depsOf(int32(v)), int32(u))
	return ok
}

func (d directedView) Edge(u, v int64) gg.Edge {
	if !d.HasEdgeFromTo(u, v) {
		return nil
	}
	return simple.Edge{F: simple.Node(u), T: simple.Node(v)}
}

// nodeIter walks either a CSR row (list) or all nodes 0..all-1, without allocating per node.
type nodeIter struct {
	list []int32
	all  int32 // -1 when walking list
	pos  int
}

func (it *nodeIter) n() int {
	if it.all >= 0 {
		return int(it.all)
	}
	return len(it.list)
}

func (it *nodeIter) Len() int {
	if r := it.n() - it.pos - 1; r > 0 {
		return r
	}
	return 0
}

func (it *nodeIter) Next() bool {
	if it.pos+1 >= it.n() {
		it.pos = it.n()
		return false
	}
	it.pos++
	return true
}

func (it *nodeIter) Node() gg.Node {
	if it.pos < 0 || it.pos >= it.n() {
		return nil
	}
	if it.all >= 0 {
		return simple.Node(it.pos)
	}
	return simple.Node(it.list[it.pos])
}

func (it *nodeIter) Reset() { it.pos = -1 }

// NodeSlice lets gg.NodesOf take the remaining nodes in one allocation.
func (it *nodeIter) NodeSlice() []gg.Node {
	out := make([]gg.Node, 0, it.Len())
	for it.Next() {
		out = append(out, it.Node())
	}
	return out
}
