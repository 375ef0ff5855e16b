package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/crestwaves/crest/graph"
)

// Set is the protected part of a collection: the protected roots and everything in their
// build closure. A core package is protected not for itself but because the collection
// cannot be used without it; marking it broken would break everything downstream, so the
// policy never does. The zero Set protects nothing.
type Set struct {
	roots []string
	keys  []string // ascending
	// parent maps each member to the member that depends on it on a shortest chain from a
	// root ("" for the roots), so that Why can explain membership without the graph.
	parent map[string]string
}

// Protected returns every package in the build closure of roots, roots included. Roots are
// package keys, taken exactly: a protected root that silently matched some other package
// by name would move protection without anyone noticing. Unknown roots fail together in
// one *graph.UnknownKeysError carrying the closest names the graph has.
func Protected(g *graph.Graph, roots []string) (Set, error) {
	if g == nil {
		return Set{}, errors.New("protected roots: no graph")
	}
	roots = sortedUnique(roots)
	var unknown []string
	for _, r := range roots {
		if strings.TrimSpace(r) == "" {
			return Set{}, errors.New("protected roots: empty package name")
		}
		if !g.Has(r) {
			unknown = append(unknown, r)
		}
	}
	if len(unknown) > 0 {
		e := &graph.UnknownKeysError{Keys: unknown, Suggestions: make(map[string][]string, len(unknown))}
		for _, k := range unknown {
			e.Suggestions[k] = g.Suggest(k, graph.MaxSuggestions)
		}
		return Set{}, fmt.Errorf("protected roots: %w", e)
	}
	if len(roots) == 0 {
		return Set{}, nil
	}
	keys, err := g.BuildClosure(roots...)
	if err != nil {
		return Set{}, fmt.Errorf("protected roots: %w", err)
	}

	// Breadth first from the roots in key order over dependencies in key order: each member
	// is reached first along a shortest chain, and ties always break the same way.
	parent := make(map[string]string, len(keys))
	queue := make([]string, 0, len(keys))
	for _, r := range roots {
		parent[r] = ""
		queue = append(queue, r)
	}
	for i := 0; i < len(queue); i++ {
		for _, d := range g.Deps(queue[i]) {
			if _, seen := parent[d]; !seen {
				parent[d] = queue[i]
				queue = append(queue, d)
			}
		}
	}
	if len(parent) != len(keys) {
		// Both walk the same edges; a difference means the graph changed its rules.
		return Set{}, fmt.Errorf("protected roots: closure has %d packages, the walk reached %d", len(keys), len(parent))
	}
	return Set{roots: roots, keys: keys, parent: parent}, nil
}

// Has reports whether key is protected.
func (s Set) Has(key string) bool {
	_, ok := s.parent[key]
	return ok
}

// Len is the number of protected packages.
func (s Set) Len() int { return len(s.keys) }

// Keys returns the protected packages in key order.
func (s Set) Keys() []string { return slices.Clone(s.keys) }

// Roots returns the protected roots in key order.
func (s Set) Roots() []string { return slices.Clone(s.roots) }

// Why returns the dependency chain that makes key protected: a protected root first, then
// each package that the one before depends on, key last. It is a shortest such chain, from
// the first root in key order among the nearest; nil when key is not protected.
func (s Set) Why(key string) Chain {
	if !s.Has(key) {
		return nil
	}
	var c Chain
	for k := key; ; k = s.parent[k] {
		c = append(c, k)
		if s.parent[k] == "" {
			break
		}
	}
	slices.Reverse(c)
	return c
}

// Chain is a dependency chain from a protected root down to a protected package: each
// element depends on the next. It is how a Block decision explains itself.
type Chain []string

// Root is the protected root the chain starts from ("" for an empty chain).
func (c Chain) Root() string {
	if len(c) == 0 {
		return ""
	}
	return c[0]
}

// String renders "stdenv → gcc → libfoo", eliding the middle of chains longer than eight
// so that a reason stays one readable line.
func (c Chain) String() string {
	const head, tail = 3, 3
	if len(c) <= head+tail+2 {
		return strings.Join(c, " → ")
	}
	return strings.Join(c[:head], " → ") + fmt.Sprintf(" → … (%d more) → ", len(c)-head-tail) + strings.Join(c[len(c)-tail:], " → ")
}
