package graph

import (
	"fmt"
	"slices"
	"strings"
)

// MaxSuggestions is how many "did you mean" candidates an unknown name gets.
const MaxSuggestions = 5

// UnknownKeysError reports names that match no package, each with the closest names the
// graph does have, so that a typo costs one more try, not a search through the graph.
type UnknownKeysError struct {
	Keys        []string            // the unknown names, in the order given
	Suggestions map[string][]string // per unknown name, at most MaxSuggestions, best first
}

// Error reads `unknown package "glibcc" (did you mean: glibc, glib2.0?)`, one clause per name.
func (e *UnknownKeysError) Error() string {
	parts := make([]string, 0, len(e.Keys))
	for _, k := range e.Keys {
		s := fmt.Sprintf("unknown package %q", k)
		if sug := e.Suggestions[k]; len(sug) > 0 {
			s += " (did you mean: " + strings.Join(sug, ", ") + "?)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// AmbiguousNameError reports a name that is not a key and matches several packages by
// attribute or name (Nix graphs hold several gcc or perl derivations: bootstrap stages,
// variants); the caller must pass one of the keys.
type AmbiguousNameError struct {
	Name       string
	Candidates []string // keys, ascending
}

// Error lists the candidates.
func (e *AmbiguousNameError) Error() string {
	return fmt.Sprintf("package name %q is ambiguous: it matches %s; pass a key", e.Name, listMore(e.Candidates[:min(len(e.Candidates), 10)], len(e.Candidates)))
}

func (g *Graph) unknownKeys(keys []string) *UnknownKeysError {
	e := &UnknownKeysError{Keys: keys, Suggestions: make(map[string][]string, len(keys))}
	for _, k := range keys {
		e.Suggestions[k] = g.Suggest(k, MaxSuggestions)
	}
	return e
}

func (g *Graph) names() map[string][]int32 {
	g.namesOnce.Do(func() {
		m := make(map[string][]int32)
		for v := range g.pkgs {
			p := &g.pkgs[v]
			if p.Attr != "" {
				m["attr:"+p.Attr] = append(m["attr:"+p.Attr], int32(v))
			}
			if p.Name != "" {
				m["name:"+p.Name] = append(m["name:"+p.Name], int32(v))
			}
		}
		g.byName = m
	})
	return g.byName
}

// Resolve turns a name a person typed into a key: the key itself, else the one package
// whose Attr is name, else the one package whose Name is name. It fails with an
// *AmbiguousNameError when several packages share the attribute or name, and with an
// *UnknownKeysError (carrying suggestions) when nothing matches.
func (g *Graph) Resolve(name string) (string, error) {
	if _, ok := g.index[name]; ok {
		return name, nil
	}
	m := g.names()
	for _, kind := range []string{"attr:", "name:"} {
		switch vs := m[kind+name]; len(vs) {
		case 0:
		case 1:
			return g.pkgs[vs[0]].Key, nil
		default:
			return "", &AmbiguousNameError{Name: name, Candidates: g.keysOf(vs)}
		}
	}
	return "", g.unknownKeys([]string{name})
}

// ResolveAll resolves every name, reporting all unknown names in one *UnknownKeysError
// (an ambiguous name fails at once).
func (g *Graph) ResolveAll(names []string) ([]string, error) {
	keys := make([]string, 0, len(names))
	var unknown []string
	for _, n := range names {
		k, err := g.Resolve(n)
		if err != nil {
			if _, ok := err.(*UnknownKeysError); ok {
				unknown = append(unknown, n)
				continue
			}
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(unknown) > 0 {
		return nil, g.unknownKeys(unknown)
	}
	return keys, nil
}

// Suggest returns up to max names close to name, best first. A name qualifies if it
// contains name or is within a small edit distance of it (a third of its length, at least
// 2); the closer (fewer edits, or fewer extra characters around a contained name) the
// better, ties by name. Each package is offered under the name a person would type and
// Resolve accepts: its attribute path if it has one and that is unique, else its key.
func (g *Graph) Suggest(name string, max int) []string {
	q, limit := suggestQuery(name)
	var cands []scored
	m := g.names()
	for v := range g.pkgs {
		p := &g.pkgs[v]
		best := -1
		for _, s := range [...]string{p.Key, p.Attr, p.Name} {
			if score := matchScore(q, s, limit); s != "" && score >= 0 && (best < 0 || score < best) {
				best = score
			}
		}
		if best < 0 {
			continue
		}
		show := p.Key
		if p.Attr != "" && len(m["attr:"+p.Attr]) == 1 {
			show = p.Attr
		}
		cands = append(cands, scored{best, show})
	}
	return bestOf(cands, max)
}

// Closest applies Suggest's rule to a plain list of names: "did you mean" for settings
// fields, the packages of one minor wave and other short lists.
func Closest(name string, candidates []string, max int) []string {
	q, limit := suggestQuery(name)
	var cands []scored
	for _, c := range candidates {
		if score := matchScore(q, c, limit); score >= 0 {
			cands = append(cands, scored{score, c})
		}
	}
	return bestOf(cands, max)
}

type scored struct {
	score int
	name  string
}

func suggestQuery(name string) (string, int) {
	q := strings.ToLower(name)
	return q, max(len(q)/3, 2)
}

// matchScore rates candidate s against query q (lowercase): the edit distance when within
// limit, or the characters around q when s contains it, whichever is smaller; -1 when
// neither holds.
func matchScore(q, s string, limit int) int {
	s = strings.ToLower(s)
	score := editDistance(q, s, limit)
	if score > limit {
		score = -1
	}
	if q != "" && strings.Contains(s, q) && (score < 0 || len(s)-len(q) < score) {
		score = len(s) - len(q)
	}
	return score
}

// bestOf returns up to max distinct names, lowest score first, ties by name.
func bestOf(cands []scored, max int) []string {
	slices.SortFunc(cands, func(a, b scored) int {
		if a.score != b.score {
			return a.score - b.score
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]string, 0, max)
	for _, c := range cands {
		if len(out) == max {
			break
		}
		if !slices.Contains(out, c.name) {
			out = append(out, c.name)
		}
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// editDistance is the Levenshtein distance of a and b, or limit+1 as soon as it must exceed
// limit: suggestions compare a name with every package, so hopeless pairs must be cheap.
func editDistance(a, b string, limit int) int {
	if abs(len(a)-len(b)) > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
