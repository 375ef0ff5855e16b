package graph

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"gonum.org/v1/gonum/graph/simple"
	"gonum.org/v1/gonum/graph/topo"
)

// PlanRequest is what a release manager asks of a major wave.
type PlanRequest struct {
	// Updates are the keys of the root updates.
	Updates []string `json:"updates"`
	// Groups are hand-made groups of keys to update together in one minor wave; their keys
	// are updates too, whether or not Updates lists them.
	Groups [][]string `json:"groups,omitempty"`
	// Locked are the keys already updated and rebuilt in this major wave: never rebuilt
	// again, and never updated.
	Locked []string `json:"locked,omitempty"`
	// Cost prices builds; nil means DefaultCost.
	Cost CostModel `json:"-"`
	// Wave is the major wave number N, which names the minor waves wave-N-1, wave-N-2, …
	Wave int `json:"wave"`
	// Builders is how many builds can run at once, for wall-time estimates; 0 means 1.
	Builders int `json:"builders"`
}

// Plan is a major wave worked out before anything is built: its minor waves in the order
// they start, what each rebuilds and costs, and how it compares with the naive ways.
//
// The estimates use one model, stated here once. A build costs what the CostModel says, in
// seconds of one builder. A set of builds with B builders takes max(critical path, cost/B):
// no faster than its longest dependency chain, no faster than its total work spread over
// every builder. A minor wave starts when every wave in its After has finished (waves run
// concurrently otherwise), and the whole plan takes the later of its last finish and its
// total cost divided by B — concurrent waves share the same builders. Critical paths are
// the same schedule with unlimited builders. Dependency cycles are broken as distributions
// bootstrap them: their members build against their partners' previous builds, so edges
// inside a cycle are left out of chains.
type Plan struct {
	Wave     int         `json:"wave"`
	Builders int         `json:"builders"`
	Updates  []string    `json:"updates"`
	Locked   []string    `json:"locked"`
	Minor    []MinorWave `json:"minor_waves"`
	// Totals is this plan: every affected package built once.
	Totals Estimate `json:"totals"`
	// PerUpdate is the naive "rebuild the world once per update": each root update lands on
	// its own, one after another, and rebuilds its whole reverse closure (less the locked
	// packages, as in the plan, so that the two compare like with like).
	PerUpdate Estimate `json:"rebuild_per_update"`
	// Staging is the naive "one staging batch": every update lands at once and the union of
	// their closures is built once — as few builds as the plan, but nothing is locked in
	// until everything is green.
	Staging Estimate `json:"staging_batch"`
}

// MinorWave is one step of a major wave: a group of updates applied together, then the
// rebuild and test of every package whose last upstream update this is.
type MinorWave struct {
	ID      string   `json:"id"`               // wave-N-M
	Updates []string `json:"updates"`          // keys updated in this wave, ascending
	Reason  string   `json:"reason,omitempty"` // why several updates travel together
	// Rebuild are the keys rebuilt and tested in this wave, ascending: the updates
	// themselves and every package whose latest upstream update lands here.
	Rebuild []string `json:"rebuild"`
	Builds  int      `json:"builds"`
	// Tests counts the passthru tests of the rebuilt packages, which run with them.
	Tests               int      `json:"tests"`
	CostSeconds         float64  `json:"cost_seconds"`
	CriticalPathSeconds float64  `json:"critical_path_seconds"`
	CriticalPath        []string `json:"critical_path"` // the chain itself, providers first
	// After are the earlier waves whose updates are upstream of something this wave updates
	// or rebuilds: it must wait for them, and for nothing else.
	After         []string `json:"after"`
	StartSeconds  float64  `json:"start_seconds"`  // estimated, see Plan
	FinishSeconds float64  `json:"finish_seconds"` // estimated, see Plan
}

// Estimate sums up a way of running the updates.
type Estimate struct {
	Builds              int     `json:"builds"`
	CostSeconds         float64 `json:"cost_seconds"`
	CriticalPathSeconds float64 `json:"critical_path_seconds"` // wall time with unlimited builders
	WallSeconds         float64 `json:"wall_seconds"`          // wall time with Plan.Builders
}

// LockedUpdateError reports updates of packages already locked in this major wave: they
// were updated and rebuilt once and a major wave rebuilds nothing twice; the update belongs
// in the next major wave.
type LockedUpdateError struct {
	Keys []string
}

// Error names the packages.
func (e *LockedUpdateError) Error() string {
	return fmt.Sprintf("cannot update %s: locked in this major wave (already updated and rebuilt); update it in the next major wave",
		strings.Join(e.Keys, ", "))
}

// Why several updates share a minor wave.
const (
	whyCycle  = 1 << iota // they are in one dependency cycle
	whyHand               // a person grouped them
	whyMutual             // their groups depend on each other both ways
)

func whyText(w int) string {
	var parts []string
	if w&whyCycle != 0 {
		parts = append(parts, "dependency cycle")
	}
	if w&whyHand != 0 {
		parts = append(parts, "grouped by hand")
	}
	if w&whyMutual != 0 {
		parts = append(parts, "groups depend on each other")
	}
	return strings.Join(parts, "; ")
}

type planGroup struct {
	members []int32 // update nodes, ascending
	reach   bitset  // members and everything downstream of them
	cost    float64 // cost of reach less locked: the heavier group goes first
	why     int
	deps    []int // groups this one depends on, ascending
}

// Plan works out the major wave req asks for. The rules, in order:
//
//   - Updates in one dependency cycle form one group, and hand-made groups join theirs
//     (union-find); groups that would depend on each other both ways merge too. A group is
//     updated and rebuilt in one minor wave.
//   - A group starts only after every group it depends on (one of its packages transitively
//     depends on one of theirs): waves flow from providers to consumers. Among groups free
//     to start, the one whose reverse closure costs most goes first, so heavyweights lock
//     in early; ties go to the smallest key.
//   - Every affected package (downstream of some update, and not locked) is rebuilt exactly
//     once, in the latest minor wave among the groups upstream of it, so that it is built
//     after every update it depends on has landed and never twice.
//
// Unknown keys fail with an *UnknownKeysError carrying suggestions, updates of locked
// packages with a *LockedUpdateError. Plan reads no clock and no randomness: the same graph
// and request always give the same plan.
func (g *Graph) Plan(req PlanRequest) (*Plan, error) {
	if req.Wave < 1 {
		return nil, fmt.Errorf("plan: major wave number %d: must be at least 1", req.Wave)
	}
	builders := req.Builders
	switch {
	case builders == 0:
		builders = 1
	case builders < 0:
		return nil, fmt.Errorf("plan: %d builders: must not be negative", builders)
	}
	cost := req.Cost
	if cost == nil {
		cost = DefaultCost
	}

	updKeys := slices.Clone(req.Updates)
	for _, grp := range req.Groups {
		updKeys = append(updKeys, grp...)
	}
	slices.Sort(updKeys)
	updKeys = slices.Compact(updKeys)
	if len(updKeys) == 0 {
		return nil, errors.New("plan: no updates")
	}
	lockedKeys := slices.Clone(req.Locked)
	slices.Sort(lockedKeys)
	lockedKeys = slices.Compact(lockedKeys)
	var unknown []string
	for _, k := range append(slices.Clone(updKeys), lockedKeys...) {
		if !g.Has(k) && !slices.Contains(unknown, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("plan: %w", g.unknownKeys(unknown))
	}
	var lockedUpd []string
	for _, k := range updKeys {
		if _, ok := slices.BinarySearch(lockedKeys, k); ok {
			lockedUpd = append(lockedUpd, k)
		}
	}
	if len(lockedUpd) > 0 {
		return nil, fmt.Errorf("plan: %w", &LockedUpdateError{Keys: lockedUpd})
	}

	n := len(g.pkgs)
	upd, _ := g.nodes(updKeys) // ascending, like the keys
	locked := newBitset(n)
	for _, k := range lockedKeys {
		locked.set(g.index[k])
	}
	groups := g.groupUpdates(upd, req.Groups)

	// The affected closure, and what each of its packages costs.
	affected := newBitset(n)
	for _, gr := range groups {
		affected.or(gr.reach)
	}
	affected.andNot(locked)
	costs := make([]float64, n)
	var costErr error
	affected.each(func(v int32) {
		if costErr == nil {
			costs[v], costErr = checkedCost(cost, g, v)
		}
	})
	if costErr != nil {
		return nil, fmt.Errorf("plan: %w", costErr)
	}
	for i := range groups {
		groups[i].cost = sumCost(groups[i].reach, locked, costs)
	}

	order := orderGroups(groups)

	// Each affected package goes to the latest wave upstream of it: walking the groups in
	// plan order, the last write wins.
	waveOf := make([]int32, n)
	for pos, gi := range order {
		groups[gi].reach.each(func(v int32) { waveOf[v] = int32(pos) })
	}
	k := len(order)
	after := make([]bitset, k) // after[w] holds the waves w waits for
	for i := range after {
		after[i] = newBitset(k)
	}
	for pos, gi := range order {
		groups[gi].reach.each(func(v int32) {
			if w := waveOf[v]; int(w) != pos && !locked.has(v) {
				after[w].set(int32(pos))
			}
		})
	}
	rebuild := make([][]int32, k)
	affected.each(func(v int32) { rebuild[waveOf[v]] = append(rebuild[waveOf[v]], v) })

	plan := &Plan{
		Wave:     req.Wave,
		Builders: builders,
		Updates:  updKeys,
		Locked:   lockedKeys,
		Minor:    make([]MinorWave, k),
	}
	if plan.Locked == nil {
		plan.Locked = []string{}
	}
	dist, prev := make([]float64, n), make([]int32, n)
	scratch := newBitset(n)
	id := func(pos int) string { return fmt.Sprintf("wave-%d-%d", req.Wave, pos+1) }
	cpFinish := make([]float64, k)
	for pos, gi := range order {
		gr := &groups[gi]
		w := &plan.Minor[pos]
		w.ID = id(pos)
		w.Updates = g.keysOf(gr.members)
		w.Reason = whyText(gr.why)
		w.Rebuild = g.keysOf(rebuild[pos])
		if w.Rebuild == nil {
			w.Rebuild = []string{}
		}
		w.Builds = len(rebuild[pos])
		for _, v := range rebuild[pos] {
			scratch.set(v)
			w.CostSeconds += costs[v]
			w.Tests += len(g.pkgs[v].Tests)
		}
		var chain []int32
		w.CriticalPathSeconds, chain = g.longestChain(scratch, costs, dist, prev)
		w.CriticalPath = g.keysOf(chain)
		if w.CriticalPath == nil {
			w.CriticalPath = []string{}
		}
		for _, v := range rebuild[pos] {
			scratch.clear(v)
		}
		w.After = []string{}
		after[pos].each(func(j int32) {
			w.After = append(w.After, id(int(j)))
			w.StartSeconds = max(w.StartSeconds, plan.Minor[j].FinishSeconds)
			cpFinish[pos] = max(cpFinish[pos], cpFinish[j])
		})
		w.FinishSeconds = w.StartSeconds + wall(w.CriticalPathSeconds, w.CostSeconds, builders)
		cpFinish[pos] += w.CriticalPathSeconds
	}

	plan.Totals.Builds = affected.count()
	plan.Totals.CostSeconds = sumCost(affected, nil, costs)
	for pos := range plan.Minor {
		plan.Totals.CriticalPathSeconds = max(plan.Totals.CriticalPathSeconds, cpFinish[pos])
		plan.Totals.WallSeconds = max(plan.Totals.WallSeconds, plan.Minor[pos].FinishSeconds)
	}
	plan.Totals.WallSeconds = max(plan.Totals.WallSeconds, plan.Totals.CostSeconds/float64(builders))

	// Updates in one cycle have the same reverse closure: work each out once.
	type closureEstimate struct {
		builds   int
		cost, cp float64
	}
	byComp := make(map[int32]closureEstimate)
	comps := g.components()
	for _, u := range upd {
		e, ok := byComp[comps.comp[u]]
		if !ok {
			r := g.reach([]int32{u}, true)
			r.andNot(locked)
			e.builds, e.cost = r.count(), sumCost(r, nil, costs)
			e.cp, _ = g.longestChain(r, costs, dist, prev)
			byComp[comps.comp[u]] = e
		}
		plan.PerUpdate.Builds += e.builds
		plan.PerUpdate.CostSeconds += e.cost
		plan.PerUpdate.CriticalPathSeconds += e.cp
		plan.PerUpdate.WallSeconds += wall(e.cp, e.cost, builders)
	}
	cp, _ := g.longestChain(affected, costs, dist, prev)
	plan.Staging = Estimate{
		Builds:              plan.Totals.Builds,
		CostSeconds:         plan.Totals.CostSeconds,
		CriticalPathSeconds: cp,
		WallSeconds:         wall(cp, plan.Totals.CostSeconds, builders),
	}
	return plan, nil
}

// wall is how long a set of builds takes on b builders (see Plan).
func wall(criticalPath, cost float64, b int) float64 {
	return max(criticalPath, cost/float64(b))
}

// sumCost adds the costs of the members of set that are not in skip, in node order so that
// the float sum never depends on anything but the graph.
func sumCost(set, skip bitset, costs []float64) float64 {
	s := 0.0
	set.each(func(v int32) {
		if skip == nil || !skip.has(v) {
			s += costs[v]
		}
	})
	return s
}

// groupUpdates merges the updates (node numbers, ascending) into groups: one dependency
// cycle, one hand-made group, or groups that depend on each other both ways each become one.
// Groups come back ordered by their first member, with their reach and dependencies.
func (g *Graph) groupUpdates(upd []int32, hand [][]string) []planGroup {
	uf := newUnionFind(len(upd))
	at := make(map[int32]int, len(upd))
	for i, v := range upd {
		at[v] = i
	}
	c := g.components()
	firstInCycle := make(map[int32]int)
	for i, v := range upd {
		ci := c.comp[v]
		if !c.cyclic(ci) {
			continue
		}
		if j, ok := firstInCycle[ci]; ok {
			uf.union(j, i, whyCycle)
		} else {
			firstInCycle[ci] = i
		}
	}
	for _, grp := range hand {
		if len(grp) < 2 {
			continue
		}
		first := at[g.index[grp[0]]]
		for _, k := range grp[1:] {
			uf.union(first, at[g.index[k]], whyHand)
		}
	}

	for {
		groups := uf.groups(upd)
		for i := range groups {
			groups[i].reach = g.reach(groups[i].members, true)
		}
		groupOf := make(map[int32]int, len(upd))
		for i, gr := range groups {
			for _, v := range gr.members {
				groupOf[v] = i
			}
		}
		// gi depends on h when h reaches a member of gi.
		dg := simple.NewDirectedGraph()
		for i := range groups {
			dg.AddNode(simple.Node(i))
		}
		for h := range groups {
			for _, v := range upd {
				if gi := groupOf[v]; gi != h && groups[h].reach.has(v) && !dg.HasEdgeFromTo(int64(h), int64(gi)) {
					dg.SetEdge(simple.Edge{F: simple.Node(h), T: simple.Node(gi)})
					groups[gi].deps = append(groups[gi].deps, h)
				}
			}
		}
		merged := false
		for _, scc := range topo.TarjanSCC(dg) {
			if len(scc) < 2 {
				continue
			}
			// Only hand-made groups can close such a loop (a dependency cycle among updates
			// was merged above): it cannot be ordered, so it becomes one group.
			first := at[groups[scc[0].ID()].members[0]]
			for _, node := range scc[1:] {
				uf.union(first, at[groups[node.ID()].members[0]], whyMutual)
			}
			merged = true
		}
		if !merged {
			for i := range groups {
				slices.Sort(groups[i].deps)
			}
			return groups
		}
	}
}

// orderGroups returns group indices in plan order: Kahn's algorithm over the group
// dependencies, picking among the groups free to start the heaviest, then the one with the
// smallest first key (members are node numbers, which follow keys).
func orderGroups(groups []planGroup) []int {
	waiting := make([]int, len(groups))
	dependents := make([][]int, len(groups))
	for i, gr := range groups {
		waiting[i] = len(gr.deps)
		for _, d := range gr.deps {
			dependents[d] = append(dependents[d], i)
		}
	}
	var ready, order []int
	for i := range groups {
		if waiting[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		best := 0
		for j := 1; j < len(ready); j++ {
			a, b := &groups[ready[j]], &groups[ready[best]]
			if a.cost > b.cost || (a.cost == b.cost && a.members[0] < b.members[0]) {
				best = j
			}
		}
		gi := ready[best]
		ready = slices.Delete(ready, best, best+1)
		order = append(order, gi)
		for _, d := range dependents[gi] {
			if waiting[d]--; waiting[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	return order
}

// unionFind groups update indices, remembering why each set was formed.
type unionFind struct {
	parent []int
	why    []int
}

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int, n), why: make([]int, n)}
	for i := range u.parent {
		u.parent[i] = i
	}
	return u
}

func (u *unionFind) find(i int) int {
	for u.parent[i] != i {
		u.parent[i] = u.parent[u.parent[i]]
		i = u.parent[i]
	}
	return i
}

// union joins the sets of a and b; the smaller index stays the root, which keeps the
// result independent of the order of unions.
func (u *unionFind) union(a, b, why int) {
	ra, rb := u.find(a), u.find(b)
	if ra > rb {
		ra, rb = rb, ra
	}
	if ra != rb {
		u.parent[rb] = ra
		u.why[ra] |= u.why[rb]
	}
	u.why[ra] |= why
}

// groups lists the sets as planGroups ordered by first member.
func (u *unionFind) groups(upd []int32) []planGroup {
	idx := make(map[int]int)
	var out []planGroup
	for i, v := range upd {
		r := u.find(i)
		gi, ok := idx[r]
		if !ok {
			gi = len(out)
			idx[r] = gi
			out = append(out, planGroup{why: u.why[r]})
		}
		out[gi].members = append(out[gi].members, v)
	}
	return out
}
