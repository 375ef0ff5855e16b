package graph

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// costed makes a package with a measured build time.
func costed(key string, secs float64, deps ...string) Package {
	return Package{Key: key, Name: key, Deps: deps, Cost: CostHints{BuildSeconds: secs}}
}

func TestPlanRebuildsAfterTheLastUpstreamUpdate(t *testing.T) {
	t.Parallel()
	// x needs both a and b; y only a, z only b. a's closure is heavier, so it goes first, and x
	// waits for b's wave: built once, against both new versions.
	g := mustNew(t, []Package{
		costed("a", 100), costed("b", 10),
		costed("x", 1, "a", "b"), costed("y", 1, "a"), costed("z", 1, "b"),
		costed("other", 1),
	})
	p, err := g.Plan(PlanRequest{Updates: []string{"b", "a"}, Wave: 7, Builders: 2})
	require.NoError(t, err)
	require.Len(t, p.Minor, 2)
	w1, w2 := p.Minor[0], p.Minor[1]
	require.Equal(t, "wave-7-1", w1.ID)
	require.Equal(t, []string{"a"}, w1.Updates)
	require.Equal(t, []string{"a", "y"}, w1.Rebuild)
	require.Equal(t, []string{}, w1.After)
	require.Equal(t, "wave-7-2", w2.ID)
	require.Equal(t, []string{"b"}, w2.Updates)
	require.Equal(t, []string{"b", "x", "z"}, w2.Rebuild)
	require.Equal(t, []string{"wave-7-1"}, w2.After, "x is downstream of a")
	require.Equal(t, 3, w2.Builds)
	require.Equal(t, 12.0, w2.CostSeconds)
	require.Equal(t, 11.0, w2.CriticalPathSeconds)
	require.Equal(t, []string{"b", "x"}, w2.CriticalPath)

	// Schedule: wave 1 takes max(101, 101/2) = 101; wave 2 starts then and takes max(11, 6).
	require.Equal(t, 0.0, w1.StartSeconds)
	require.Equal(t, 101.0, w1.FinishSeconds)
	require.Equal(t, 101.0, w2.StartSeconds)
	require.Equal(t, 112.0, w2.FinishSeconds)
	require.Equal(t, Estimate{Builds: 5, CostSeconds: 113, CriticalPathSeconds: 112, WallSeconds: 112}, p.Totals)
	// Per update: a rebuilds a, x, y (102; chain 101); b rebuilds b, x, z (12; chain 11).
	require.Equal(t, Estimate{Builds: 6, CostSeconds: 114, CriticalPathSeconds: 112, WallSeconds: 112}, p.PerUpdate)
	require.Equal(t, Estimate{Builds: 5, CostSeconds: 113, CriticalPathSeconds: 101, WallSeconds: 101}, p.Staging)
}

func TestPlanIndependentWavesRunConcurrently(t *testing.T) {
	t.Parallel()
	g := mustNew(t, []Package{
		costed("a", 5), costed("b", 50), costed("c", 5),
		costed("ua", 1, "a"), costed("ub", 1, "b"), costed("uc", 1, "c"),
	})
	p, err := g.Plan(PlanRequest{Updates: []string{"a", "b", "c"}, Wave: 1, Builders: 4})
	require.NoError(t, err)
	var order []string
	for _, w := range p.Minor {
		order = append(order, w.Updates[0])
		require.Empty(t, w.After)
		require.Equal(t, 0.0, w.StartSeconds)
	}
	require.Equal(t, []string{"b", "a", "c"}, order, "heaviest first, then by key")
	require.Equal(t, 51.0, p.Totals.WallSeconds)
}

func TestPlanProvidersBeforeConsumers(t *testing.T) {
	t.Parallel()
	// app is far heavier, but it depends on lib: lib's wave comes first.
	g := mustNew(t, []Package{costed("lib", 1), costed("app", 1000, "lib"), costed("tool", 1, "app")})
	p, err := g.Plan(PlanRequest{Updates: []string{"app", "lib"}, Wave: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"lib"}, p.Minor[0].Updates)
	require.Equal(t, []string{"lib"}, p.Minor[0].Rebuild)
	require.Equal(t, []string{"app"}, p.Minor[1].Updates)
	require.Equal(t, []string{"app", "tool"}, p.Minor[1].Rebuild)
	require.Equal(t, []string{"wave-1-1"}, p.Minor[1].After)
}

func TestPlanGroupsCyclesAndHandMadeGroups(t *testing.T) {
	t.Parallel()
	g := mustNew(t, []Package{
		pk("gcc", "glibc"), pk("glibc", "gcc"), pk("hello", "glibc"),
		pk("a"), pk("b"), pk("ua", "a"), pk("ub", "b"),
	})
	p, err := g.Plan(PlanRequest{Updates: []string{"gcc", "glibc", "a"}, Groups: [][]string{{"a", "b"}}, Wave: 2, Cost: UnitCost})
	require.NoError(t, err)
	require.Len(t, p.Minor, 2)
	// Four builds behind a+b, three behind the cycle: a+b goes first.
	require.Equal(t, []string{"a", "b"}, p.Minor[0].Updates, "group members are updates even if not listed")
	require.Equal(t, "grouped by hand", p.Minor[0].Reason)
	require.Equal(t, []string{"a", "b", "ua", "ub"}, p.Minor[0].Rebuild)
	require.Equal(t, []string{"gcc", "glibc"}, p.Minor[1].Updates)
	require.Equal(t, "dependency cycle", p.Minor[1].Reason)
	require.Equal(t, []string{"gcc", "glibc", "hello"}, p.Minor[1].Rebuild)
	require.Empty(t, p.Minor[1].After)
	require.Equal(t, []string{"a", "b", "gcc", "glibc"}, p.Updates)
}

func TestPlanMergesGroupsThatDependOnEachOther(t *testing.T) {
	t.Parallel()
	// top → mid → bottom. Grouping top with bottom while mid is updated alone would need
	// mid both before and after the group: the three land together.
	g := mustNew(t, []Package{pk("bottom"), pk("mid", "bottom"), pk("top", "mid"), pk("user", "top")})
	p, err := g.Plan(PlanRequest{Updates: []string{"mid"}, Groups: [][]string{{"top", "bottom"}}, Wave: 1})
	require.NoError(t, err)
	require.Len(t, p.Minor, 1)
	require.Equal(t, []string{"bottom", "mid", "top"}, p.Minor[0].Updates)
	require.Equal(t, "grouped by hand; groups depend on each other", p.Minor[0].Reason)
	require.Equal(t, []string{"bottom", "mid", "top", "user"}, p.Minor[0].Rebuild)
}

func TestPlanNeverRebuildsLockedPackages(t *testing.T) {
	t.Parallel()
	// lib was already rebuilt in this major wave; app, which needs it, still rebuilds.
	g := mustNew(t, []Package{pk("zlib"), pk("lib", "zlib"), pk("app", "lib")})
	p, err := g.Plan(PlanRequest{Updates: []string{"zlib"}, Locked: []string{"lib"}, Wave: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"app", "zlib"}, p.Minor[0].Rebuild)
	require.Equal(t, []string{"lib"}, p.Locked)

	_, err = g.Plan(PlanRequest{Updates: []string{"zlib", "lib"}, Locked: []string{"lib"}, Wave: 1})
	var lerr *LockedUpdateError
	require.ErrorAs(t, err, &lerr)
	require.Equal(t, []string{"lib"}, lerr.Keys)
	require.ErrorContains(t, err, "cannot update lib: locked in this major wave")
}

func TestPlanErrors(t *testing.T) {
	t.Parallel()
	g := mustNew(t, []Package{pk("openssl"), pk("openssh", "openssl"), pk("glibc")})
	_, err := g.Plan(PlanRequest{Updates: []string{"opnssl", "glibc"}, Locked: []string{"glibcc"}, Wave: 1})
	var unk *UnknownKeysError
	require.ErrorAs(t, err, &unk)
	require.Equal(t, []string{"opnssl", "glibcc"}, unk.Keys)
	require.Equal(t, []string{"openssl", "openssh"}, unk.Suggestions["opnssl"])
	require.Equal(t, []string{"glibc"}, unk.Suggestions["glibcc"])
	require.ErrorContains(t, err, `plan: unknown package "opnssl" (did you mean: openssl, openssh?)`)

	_, err = g.Plan(PlanRequest{Wave: 1})
	require.ErrorContains(t, err, "no updates")
	_, err = g.Plan(PlanRequest{Updates: []string{"glibc"}})
	require.ErrorContains(t, err, "major wave number 0")
	_, err = g.Plan(PlanRequest{Updates: []string{"glibc"}, Wave: 1, Builders: -1})
	require.ErrorContains(t, err, "-1 builders")
	nan := CostFunc(func(*Package, *Graph) float64 { return math.NaN() })
	_, err = g.Plan(PlanRequest{Updates: []string{"glibc"}, Wave: 1, Cost: nan})
	require.ErrorContains(t, err, "cost of glibc: NaN seconds")
}

func TestDefaultCost(t *testing.T) {
	t.Parallel()
	g := mustNew(t, []Package{
		{Key: "measured", Cost: CostHints{BuildSeconds: 77, SourceBytes: 1e9}},
		{Key: "deb", Cost: CostHints{SourceBytes: 50_000_000, InstalledKB: 204_800}},
		{Key: "nix", Deps: []string{"measured", "deb"}},
		{Key: "heavy", Deps: []string{"nix"}, Cost: CostHints{BigParallel: true}},
	})
	cost := func(k string) float64 {
		p, _ := g.Package(k)
		return DefaultCost.Seconds(p, g)
	}
	require.Equal(t, 77.0, cost("measured"))
	require.Equal(t, 300+1000+100.0, cost("deb"))
	require.Equal(t, 60+2*2.0, cost("nix"))
	require.Equal(t, 60+2*3+1800.0, cost("heavy"))
}

// checkPlan holds a plan to the rules of the planner, computed again from scratch with the
// naive reference model: nothing here trusts the planner's own data structures.
func checkPlan(t *testing.T, pkgs []Package, req PlanRequest, p *Plan) {
	t.Helper()
	r := newRef(pkgs)
	cost := req.Cost
	if cost == nil {
		cost = DefaultCost
	}
	g := mustNewLenient(t, pkgs)

	updates := slices.Clone(req.Updates)
	for _, grp := range req.Groups {
		updates = append(updates, grp...)
	}
	slices.Sort(updates)
	updates = slices.Compact(updates)
	require.Equal(t, updates, p.Updates)
	locked := map[string]bool{}
	for _, k := range req.Locked {
		locked[k] = true
	}

	// Minor wave IDs, and which wave updates and rebuilds each key.
	pos := map[string]int{}
	updWave := map[string]int{}
	rebuildWave := map[string]int{}
	for i, w := range p.Minor {
		require.Equal(t, fmt.Sprintf("wave-%d-%d", req.Wave, i+1), w.ID)
		pos[w.ID] = i
		require.NotEmpty(t, w.Updates)
		for _, u := range w.Updates {
			_, dup := updWave[u]
			require.False(t, dup, "%s updated twice", u)
			updWave[u] = i
		}
		require.True(t, slices.IsSorted(w.Rebuild))
		require.Equal(t, len(w.Rebuild), w.Builds)
		for _, k := range w.Rebuild {
			_, dup := rebuildWave[k]
			require.False(t, dup, "%s rebuilt twice", k)
			rebuildWave[k] = i
		}
	}
	require.Len(t, updWave, len(updates))

	// The affected closure is rebuilt, exactly once, and nothing else; locked never.
	downOf := map[string]map[string]bool{}
	affected := map[string]bool{}
	for _, u := range updates {
		downOf[u] = r.down(u)
		for k := range downOf[u] {
			if !locked[k] {
				affected[k] = true
			}
		}
	}
	require.Len(t, rebuildWave, len(affected), "rebuilt = affected closure")
	for k := range affected {
		_, ok := rebuildWave[k]
		require.True(t, ok, "%s is affected but not rebuilt", k)
	}
	for k := range locked {
		_, rebuilt := rebuildWave[k]
		require.False(t, rebuilt, "locked %s rebuilt", k)
	}

	// Each package is rebuilt in the latest wave among the updates upstream of it — never
	// before an update it depends on. Updates are rebuilt in their own wave.
	for k, w := range rebuildWave {
		latest := -1
		for _, u := range updates {
			if downOf[u][k] {
				latest = max(latest, updWave[u])
			}
		}
		require.Equal(t, latest, w, "%s", k)
	}
	for _, u := range updates {
		require.Equal(t, updWave[u], rebuildWave[u], "update %s rebuilt in its own wave", u)
	}

	// Dependencies' groups come no later than their dependents'; cycles and hand-made
	// groups share a wave.
	for _, u := range updates {
		for _, v := range updates {
			if u != v && downOf[u][v] {
				require.LessOrEqual(t, updWave[u], updWave[v], "%s is upstream of %s", u, v)
				if downOf[v][u] {
					require.Equal(t, updWave[u], updWave[v], "%s and %s are in one cycle", u, v)
				}
			}
		}
	}
	for _, grp := range req.Groups {
		for _, k := range grp {
			require.Equal(t, updWave[grp[0]], updWave[k], "group %v", grp)
		}
	}

	// After is exactly the earlier waves upstream of something this wave updates or rebuilds.
	for i, w := range p.Minor {
		var want []string
		for j := 0; j < i; j++ {
			upstream := false
			for _, u := range p.Minor[j].Updates {
				for _, k := range w.Rebuild {
					if downOf[u][k] {
						upstream = true
					}
				}
			}
			if upstream {
				want = append(want, p.Minor[j].ID)
			}
		}
		if want == nil {
			want = []string{}
		}
		require.Equal(t, want, w.After, "%s", w.ID)
	}

	// Costs, chains and the schedule.
	costOf := func(k string) float64 {
		pk, ok := g.Package(k)
		require.True(t, ok)
		return cost.Seconds(pk, g)
	}
	total := 0.0
	finish := 0.0
	for _, w := range p.Minor {
		sum := 0.0
		for _, k := range w.Rebuild {
			sum += costOf(k)
		}
		require.InDelta(t, sum, w.CostSeconds, 1e-6*max(1, sum))
		total += sum
		chain := 0.0
		for i, k := range w.CriticalPath {
			require.Equal(t, w.ID, p.Minor[rebuildWave[k]].ID, "critical path stays in its wave")
			chain += costOf(k)
			if i > 0 {
				require.Contains(t, r.deps[k], w.CriticalPath[i-1])
			}
		}
		require.InDelta(t, chain, w.CriticalPathSeconds, 1e-6*max(1, chain))
		start := 0.0
		for _, a := range w.After {
			start = max(start, p.Minor[pos[a]].FinishSeconds)
		}
		require.Equal(t, start, w.StartSeconds)
		b := float64(max(req.Builders, 1))
		require.InDelta(t, start+max(w.CriticalPathSeconds, w.CostSeconds/b), w.FinishSeconds, 1e-6*max(1, w.FinishSeconds))
		finish = max(finish, w.FinishSeconds)
	}
	require.Equal(t, len(affected), p.Totals.Builds)
	require.Equal(t, len(affected), p.Staging.Builds)
	require.InDelta(t, total, p.Totals.CostSeconds, 1e-6*max(1, total))
	require.GreaterOrEqual(t, p.Totals.WallSeconds, finish)
	require.GreaterOrEqual(t, p.Totals.WallSeconds, p.Staging.WallSeconds-1e-6*p.Staging.WallSeconds)
	perUpdate := 0
	for _, u := range updates {
		for k := range downOf[u] {
			if !locked[k] {
				perUpdate++
			}
		}
	}
	require.Equal(t, perUpdate, p.PerUpdate.Builds)
}

func mustNewLenient(t *testing.T, pkgs []Package) *Graph {
	t.Helper()
	g, _, err := New(pkgs, Options{Lenient: true})
	require.NoError(t, err)
	return g
}

// randomRequest picks updates, a hand-made group or two and locked packages.
func randomRequest(rng *rand.Rand, pkgs []Package, wave int) PlanRequest {
	req := PlanRequest{Wave: wave, Builders: 1 + rng.IntN(16)}
	perm := rng.Perm(len(pkgs))
	nUpd := 1 + rng.IntN(8)
	for _, i := range perm[:nUpd] {
		req.Updates = append(req.Updates, pkgs[i].Key)
	}
	if rng.IntN(2) == 0 && nUpd >= 3 {
		req.Groups = append(req.Groups, []string{req.Updates[0], req.Updates[2]})
	}
	if rng.IntN(3) == 0 {
		req.Groups = append(req.Groups, []string{pkgs[perm[nUpd]].Key})
	}
	for _, i := range perm[nUpd+1 : nUpd+1+rng.IntN(6)] {
		req.Locked = append(req.Locked, pkgs[i].Key)
	}
	if rng.IntN(2) == 0 {
		req.Cost = UnitCost
	}
	return req
}

func TestPlanPropertiesOnRandomGraphs(t *testing.T) {
	t.Parallel()
	for seed := uint64(0); seed < 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		pkgs := randomPackages(rng, 20+rng.IntN(120), 1+rng.IntN(4), seed%3 == 0)
		for i := range pkgs {
			pkgs[i].Cost.BuildSeconds = float64(rng.IntN(50))
		}
		g := mustNew(t, pkgs)
		req := randomRequest(rng, pkgs, 1+int(seed))
		p, err := g.Plan(req)
		require.NoError(t, err, "seed %d", seed)
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkPlan(t, pkgs, req, p) })

		// Same input in another order: byte-identical plan.
		want, err := json.Marshal(p)
		require.NoError(t, err)
		g2 := mustNew(t, shufflePackages(rng, pkgs))
		req2 := req
		req2.Updates = slices.Clone(req.Updates)
		rng.Shuffle(len(req2.Updates), func(i, j int) { req2.Updates[i], req2.Updates[j] = req2.Updates[j], req2.Updates[i] })
		p2, err := g2.Plan(req2)
		require.NoError(t, err)
		got, err := json.Marshal(p2)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "seed %d", seed)
	}
}

// heaviest returns the n packages that cost most under the default model, ties by key.
func heaviest(g *Graph, n int) []string {
	keys := g.Keys()
	cost := map[string]float64{}
	for _, k := range keys {
		p, _ := g.Package(k)
		cost[k] = DefaultCost.Seconds(p, g)
	}
	sort.SliceStable(keys, func(i, j int) bool { return cost[keys[i]] > cost[keys[j]] })
	return keys[:n]
}

func TestPlanPropertiesOnRecordedGraphs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		file string
		req  func(g *Graph, rng *rand.Rand) PlanRequest
	}{
		{"hello", helloFile, func(g *Graph, rng *rand.Rand) PlanRequest {
			return randomRequest(rng, g.Packages(), 3)
		}},
		{"apps", appsFile, func(g *Graph, rng *rand.Rand) PlanRequest {
			req := randomRequest(rng, g.Packages(), 4)
			req.Updates = append(req.Updates, heaviest(g, 5)...)
			return req
		}},
		{"debian-heaviest-and-glibc", debianFile, func(g *Graph, rng *rand.Rand) PlanRequest {
			req := PlanRequest{Updates: append(heaviest(g, 20), "glibc", "openssl", "libpng1.6"), Wave: 5, Builders: 64}
			req.Groups = [][]string{{"enet", "gloox"}}
			req.Locked = []string{"0ad", "digikam", "perl"}
			return req
		}},
		{"debian-random", debianFile, func(g *Graph, rng *rand.Rand) PlanRequest {
			return randomRequest(rng, g.Packages(), 6)
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := loadData(t, c.file)
			rng := rand.New(rand.NewPCG(uint64(i), 5))
			req := c.req(g, rng)
			p, err := g.Plan(req)
			require.NoError(t, err)
			pkgs := g.Packages()
			checkPlan(t, pkgs, req, p)

			want, err := json.Marshal(p)
			require.NoError(t, err)
			g2 := mustNew(t, shufflePackages(rng, pkgs))
			p2, err := g2.Plan(req)
			require.NoError(t, err)
			got, err := json.Marshal(p2)
			require.NoError(t, err)
			require.True(t, string(want) == string(got), "the same graph in another order gives another plan")
		})
	}
}
