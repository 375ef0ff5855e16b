package policy_test

import (
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/graph"
	"github.com/crestwaves/crest/policy"
)

const (
	pending  = policy.StatusPending
	passed   = policy.StatusPassed
	failed   = policy.StatusFailed
	testFail = policy.StatusTestFailed
	depFail  = policy.StatusDependencyFailed
)

func TestStatus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s                    policy.Status
		valid, built, failed bool
	}{
		{pending, true, false, false},
		{passed, true, true, false},
		{failed, true, false, true},
		{testFail, true, true, true},
		{depFail, true, false, false},
		{"broken", false, false, false},
	} {
		require.Equal(t, c.valid, c.s.Valid(), c.s)
		require.Equal(t, c.built, c.s.Built(), c.s)
		require.Equal(t, c.failed, c.s.Failed(), c.s)
	}
}

func TestGate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		deps    []policy.DepState
		action  policy.Action
		blocked []string
		reason  string
	}{
		{"no dependencies", nil, policy.ActionBuild, nil, "no dependencies to wait for"},
		{"one built", []policy.DepState{{Key: "a", Status: passed}}, policy.ActionBuild, nil, "its only dependency built"},
		{"all built", []policy.DepState{{Key: "b", Status: passed}, {Key: "a", Status: passed}},
			policy.ActionBuild, nil, "all 2 dependencies built"},
		{"a test failure does not block", []policy.DepState{{Key: "calc", Status: testFail}, {Key: "libc", Status: passed}},
			policy.ActionBuild, nil, "all 2 dependencies built; tests of calc fail, but the output exists"},
		{"pending waits", []policy.DepState{{Key: "a", Status: pending}, {Key: "b", Status: passed}},
			policy.ActionWait, nil, "waiting for 1 dependency to build: a"},
		{"pending waits even after a failure", []policy.DepState{{Key: "b", Status: failed}, {Key: "a", Status: pending}},
			policy.ActionWait, nil, "waiting for 1 dependency to build: a; b did not build, so x will not be built either way"},
		{"failed dependency", []policy.DepState{{Key: "libhttp", Status: failed}, {Key: "libc", Status: passed}},
			policy.ActionDependencyFailed, []string{"libhttp"}, "not built: dependency libhttp did not build; blocked by root cause libhttp"},
		{"inherits root causes", []policy.DepState{{Key: "fetch", Status: depFail, BlockedBy: []string{"libnet", "libhttp"}}, {Key: "tetrix", Status: failed}},
			policy.ActionDependencyFailed, []string{"libhttp", "libnet", "tetrix"}, "not built: dependencies fetch, tetrix did not build; blocked by root causes libhttp, libnet, tetrix"},
		{"a root cause reached twice is listed once", []policy.DepState{{Key: "l", Status: depFail, BlockedBy: []string{"apex"}}, {Key: "r", Status: depFail, BlockedBy: []string{"apex"}}},
			policy.ActionDependencyFailed, []string{"apex"}, "not built: dependencies l, r did not build; blocked by root cause apex"},
	} {
		d, err := policy.Gate("x", c.deps)
		require.NoError(t, err, c.name)
		require.Equal(t, c.action, d.Action, c.name)
		require.Equal(t, "x", d.Package, c.name)
		require.Equal(t, c.blocked, d.BlockedBy, c.name)
		require.Equal(t, c.reason, d.Reason, c.name)

		// The order of the dependencies never shows.
		rev := slices.Clone(c.deps)
		slices.Reverse(rev)
		d2, err := policy.Gate("x", rev)
		require.NoError(t, err)
		require.True(t, d.Equal(d2), c.name)
	}

	_, err := policy.Gate("x", []policy.DepState{{Key: "a", Status: "broken"}})
	require.ErrorContains(t, err, `gate x: dependency a has unknown status "broken"`)
	_, err = policy.Gate("x", []policy.DepState{{Key: "a", Status: depFail}})
	require.ErrorContains(t, err, "gate x: dependency a is dependency-failed but names no root cause")
}

func classify(t *testing.T, g *graph.Graph, outcomes map[string]policy.Status) *policy.Round {
	t.Helper()
	r, err := policy.Classify(g, outcomes)
	require.NoError(t, err)
	return r
}

func verdict(t *testing.T, r *policy.Round, k string) policy.Verdict {
	t.Helper()
	v, ok := r.Verdict(k)
	require.True(t, ok, k)
	return v
}

func TestClassifyChain(t *testing.T) {
	t.Parallel()
	g := mkGraph(t, "base:", "lib:base", "app:lib", "other:")
	r := classify(t, g, map[string]policy.Status{"base": failed, "lib": pending, "app": depFail, "other": passed})
	require.Equal(t, []string{"base"}, r.RootCauses)
	require.Equal(t, policy.Verdict{Package: "base", Status: failed, RootCause: true}, verdict(t, r, "base"))
	require.Equal(t, policy.Verdict{Package: "lib", Status: depFail, BlockedBy: []string{"base"}}, verdict(t, r, "lib"))
	require.Equal(t, policy.Verdict{Package: "app", Status: depFail, BlockedBy: []string{"base"}}, verdict(t, r, "app"))
	require.Equal(t, policy.Verdict{Package: "other", Status: passed}, verdict(t, r, "other"))
	require.Equal(t, []string{"app", "lib"}, r.Blocks("base"))
	require.Empty(t, r.Blocks("other"))

	set, err := policy.Protected(g, []string{"lib"})
	require.NoError(t, err)
	require.Equal(t, []policy.State{
		{Package: "app", Status: depFail, BlockedBy: []string{"base"}},
		{Package: "base", Status: failed, Protected: true},
		{Package: "lib", Status: depFail, BlockedBy: []string{"base"}, Protected: true},
		{Package: "other", Status: passed},
	}, r.States(set))
	_, ok := r.Verdict("nope")
	require.False(t, ok)
}

func TestClassifyDiamond(t *testing.T) {
	t.Parallel()
	g := mkGraph(t, "apex:", "left:apex", "right:apex", "top:left,right")
	r := classify(t, g, map[string]policy.Status{"apex": failed, "left": pending, "right": pending, "top": pending})
	require.Equal(t, []string{"apex"}, r.RootCauses)
	for _, k := range []string{"left", "right", "top"} {
		require.Equal(t, []string{"apex"}, verdict(t, r, k).BlockedBy, k)
	}
	require.Equal(t, []string{"left", "right", "top"}, r.Blocks("apex"))
}

func TestClassifyTwoRoots(t *testing.T) {
	t.Parallel()
	g := mkGraph(t, "a:", "b:", "x:", "c:x", "d:a,b", "e:d,c", "f:a")
	r := classify(t, g, map[string]policy.Status{"a": failed, "b": failed, "x": failed, "c": pending, "d": pending, "e": pending, "f": pending})
	require.Equal(t, []string{"a", "b", "x"}, r.RootCauses)
	require.Equal(t, []string{"a", "b"}, verdict(t, r, "d").BlockedBy)
	require.Equal(t, []string{"a", "b", "x"}, verdict(t, r, "e").BlockedBy)
	require.Equal(t, []string{"a"}, verdict(t, r, "f").BlockedBy)
	require.Equal(t, []string{"d", "e"}, r.Blocks("b"))
}

func TestClassifyTestFailureDoesNotBlock(t *testing.T) {
	t.Parallel()
	g := mkGraph(t, "libcore:", "calc:libcore", "report:calc", "gui:report")
	r := classify(t, g, map[string]policy.Status{"libcore": passed, "calc": testFail, "report": failed, "gui": pending})
	// calc's output exists: report was built (and failed by itself), so both are root causes.
	require.Equal(t, []string{"calc", "report"}, r.RootCauses)
	require.Equal(t, []string{"report"}, verdict(t, r, "gui").BlockedBy)
	require.Empty(t, r.Blocks("calc"))

	// A package that never built is a consequence, not a root cause, even if it would fail.
	r = classify(t, g, map[string]policy.Status{"libcore": failed, "calc": depFail, "report": depFail, "gui": depFail})
	require.Equal(t, []string{"libcore"}, r.RootCauses)
}

func TestClassifyOutsideRoundCountsAsBuilt(t *testing.T) {
	t.Parallel()
	g := mkGraph(t, "locked:", "lib:locked", "app:lib")
	r := classify(t, g, map[string]policy.Status{"lib": failed, "app": pending})
	require.Equal(t, []string{"lib"}, r.RootCauses)
	require.Len(t, r.Verdicts, 2)
	r = classify(t, g, map[string]policy.Status{"app": pending})
	require.Equal(t, policy.Verdict{Package: "app", Status: pending}, verdict(t, r, "app"))
}

// Members of a dependency cycle do not wait for each other (they are built against their
// partners' previous build), so two failing members are both root causes.
func TestClassifyCycle(t *testing.T) {
	t.Parallel()
	g := mkGraph(t, "base:", "gcc:glibc,base", "glibc:gcc,base", "perl:glibc")
	pre := policy.Prerequisites(g)
	require.Equal(t, []string{"base"}, pre("gcc"))
	require.Equal(t, []string{"glibc"}, pre("perl"))

	r := classify(t, g, map[string]policy.Status{"gcc": failed, "glibc": failed, "perl": pending})
	require.Equal(t, []string{"gcc", "glibc"}, r.RootCauses)
	require.Equal(t, []string{"glibc"}, verdict(t, r, "perl").BlockedBy)

	r = classify(t, g, map[string]policy.Status{"base": failed, "gcc": pending, "glibc": pending, "perl": pending})
	require.Equal(t, []string{"base"}, r.RootCauses)
	require.Equal(t, []string{"base"}, verdict(t, r, "perl").BlockedBy)
}

func TestClassifyInconsistent(t *testing.T) {
	t.Parallel()
	g := mkGraph(t, "a:", "b:a", "c:b", "d:", "e:d", "f:", "h:f", "i:h")
	r, err := policy.Classify(g, map[string]policy.Status{
		"a": failed, "b": passed, // built although a failed
		"c": pending,
		"d": passed, "e": depFail, // dependency-failed with nothing failed
		"f": pending, "h": depFail, // dependency-failed while f is pending
		"i": pending,
	})
	var ie *policy.InconsistentError
	require.True(t, errors.As(err, &ie), "%v", err)
	require.Len(t, ie.Problems, 3)
	require.Contains(t, ie.Problems[0], "b is passed but was not buildable: not built: dependency a did not build")
	require.Contains(t, ie.Problems[1], "e is dependency-failed but its only dependency built")
	require.Contains(t, ie.Problems[2], "h is dependency-failed while dependencies are still pending")
	require.NotNil(t, r)
	require.False(t, verdict(t, r, "b").RootCause)
	require.Equal(t, []string{"a"}, r.RootCauses)

	_, err = policy.Classify(g, map[string]policy.Status{"aa": passed})
	require.ErrorContains(t, err, `classify round: unknown package "aa"`)
	_, err = policy.Classify(g, map[string]policy.Status{"a": "green"})
	require.ErrorContains(t, err, `a has unknown status "green"`)
}

// simulate runs a build round as a workflow would: it gates packages in a random order as
// their prerequisites become final (and now and then one whose prerequisites are not,
// which must wait); a package that builds fails if in fails, fails its tests if in
// testFails, else passes. Packages of g outside round are already built.
func simulate(t *testing.T, g *graph.Graph, round []string, fails, testFails map[string]bool, rng *rand.Rand) map[string]policy.DepState {
	t.Helper()
	pre := policy.Prerequisites(g)
	in := make(map[string]bool, len(round))
	for _, k := range round {
		in[k] = true
	}
	waitsFor := make(map[string]int, len(round))      // prerequisites not final yet
	unblocks := make(map[string][]string, len(round)) // prerequisite → its dependents in the round
	var ready []string
	for _, k := range round {
		for _, d := range pre(k) {
			if in[d] {
				waitsFor[k]++
				unblocks[d] = append(unblocks[d], k)
			}
		}
		if waitsFor[k] == 0 {
			ready = append(ready, k)
		}
	}
	state := make(map[string]policy.DepState, len(round))
	depsOf := func(k string) []policy.DepState {
		var deps []policy.DepState
		for _, d := range pre(k) {
			if !in[d] {
				continue
			}
			s, ok := state[d]
			if !ok {
				s = policy.DepState{Key: d, Status: pending}
			}
			deps = append(deps, s)
		}
		return deps
	}
	for len(ready) > 0 {
		if probe := round[rng.IntN(len(round))]; waitsFor[probe] > 0 {
			dec, err := policy.Gate(probe, depsOf(probe))
			require.NoError(t, err)
			require.Equal(t, policy.ActionWait, dec.Action, "%s: %s", probe, dec.Reason)
		}
		i := rng.IntN(len(ready))
		k := ready[i]
		ready[i] = ready[len(ready)-1]
		ready = ready[:len(ready)-1]

		dec, err := policy.Gate(k, depsOf(k))
		require.NoError(t, err)
		switch dec.Action {
		case policy.ActionDependencyFailed:
			state[k] = policy.DepState{Key: k, Status: depFail, BlockedBy: dec.BlockedBy}
		case policy.ActionBuild:
			st := passed
			if fails[k] {
				st = failed
			} else if testFails[k] {
				st = testFail
			}
			state[k] = policy.DepState{Key: k, Status: st}
		default:
			t.Fatalf("%s is ready but Gate says %s: %s", k, dec.Action, dec.Reason)
		}
		for _, u := range unblocks[k] {
			if waitsFor[u]--; waitsFor[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	require.Len(t, state, len(round), "every package of the round is decided")
	return state
}

// TestRoundProperties builds real Nixpkgs closures with random failures in random orders
// and checks that the incremental decisions (Gate), the whole-round classification
// (Classify) and an independent definition over build closures all agree:
//
//   - a failed package is a root cause iff no other failing package of the round is in its
//     build closure;
//   - a package is dependency-failed iff a failing package is in its build closure, and it
//     is blocked by exactly the failed root causes in its build closure.
func TestRoundProperties(t *testing.T) {
	t.Parallel()
	for _, file := range []string{helloFile, appsFile} {
		g := loadData(t, file)
		keys := g.Keys()
		closure := make(map[string][]string, len(keys))
		for _, k := range keys {
			c, err := g.BuildClosure(k)
			require.NoError(t, err)
			closure[k] = c
		}
		for seed := range uint64(6) {
			rng := rand.New(rand.NewPCG(seed, 7))
			// Half the trials rebuild everything, half the reverse closure of a few updates.
			round := keys
			if seed%2 == 1 {
				var err error
				round, err = g.ReverseClosure(keys[rng.IntN(len(keys))], keys[rng.IntN(len(keys))])
				require.NoError(t, err)
			}
			inRound := make(map[string]bool, len(round))
			fails, testFails := map[string]bool{}, map[string]bool{}
			for _, k := range round {
				inRound[k] = true
				switch x := rng.IntN(100); {
				case x < 3:
					fails[k] = true
				case x < 6:
					testFails[k] = true
				}
			}

			// Oracle over build closures.
			wantStatus := make(map[string]policy.Status, len(round))
			for _, k := range round {
				upstreamFail := false
				for _, u := range closure[k] {
					if u != k && fails[u] {
						upstreamFail = true
					}
				}
				switch {
				case upstreamFail:
					wantStatus[k] = depFail
				case fails[k]:
					wantStatus[k] = failed
				case testFails[k]:
					wantStatus[k] = testFail
				default:
					wantStatus[k] = passed
				}
			}
			wantBlocked := make(map[string][]string)
			for _, k := range round {
				if wantStatus[k] != depFail {
					continue
				}
				for _, u := range closure[k] {
					if wantStatus[u] == failed {
						wantBlocked[k] = append(wantBlocked[k], u)
					}
				}
			}

			var first map[string]policy.DepState
			for order := range uint64(3) {
				got := simulate(t, g, round, fails, testFails, rand.New(rand.NewPCG(seed, 100+order)))
				if first == nil {
					first = got
				} else {
					require.Equal(t, first, got, "%s seed %d: the build order showed in the result", file, seed)
				}
			}

			outcomes := make(map[string]policy.Status, len(round))
			for k, s := range first {
				outcomes[k] = s.Status
			}
			r, err := policy.Classify(g, outcomes)
			require.NoError(t, err)
			require.Len(t, r.Verdicts, len(round))
			var wantRoots []string
			for _, k := range round {
				v := verdict(t, r, k)
				require.Equal(t, wantStatus[k], v.Status, "%s seed %d: %s", file, seed, k)
				require.Equal(t, wantBlocked[k], v.BlockedBy, "%s seed %d: %s", file, seed, k)
				require.Equal(t, first[k].BlockedBy, v.BlockedBy, k)
				if wantStatus[k].Failed() {
					wantRoots = append(wantRoots, k)
					require.True(t, v.RootCause, k)
				}
			}
			slices.Sort(wantRoots)
			require.Equal(t, wantRoots, r.RootCauses)

			// Classifying from only the builds (every not-built package left pending)
			// reaches the same round: Classify derives dependency-failed as Gate does.
			raw := maps.Clone(outcomes)
			for k, s := range raw {
				if s == depFail {
					raw[k] = pending
				}
			}
			r2, err := policy.Classify(g, raw)
			require.NoError(t, err)
			require.Equal(t, r, r2)
		}
	}
}
