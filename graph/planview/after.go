package planview

import "github.com/crestwaves/crest/graph"

// directAfter returns, per minor wave, its After without the waves already implied by
// another wave it waits for (the transitive reduction). Pictures and tables show these:
// "after wave-3-4" says all a person needs when wave-3-4 itself waited for wave-3-1..3.
// JSON keeps the full After, which is what a scheduler checks.
func directAfter(p *graph.Plan) [][]string {
	index := make(map[string]int, len(p.Minor))
	for i, m := range p.Minor {
		index[m.ID] = i
	}
	// implied[i][j]: wave i waits, directly or not, for wave j. After points to earlier
	// waves only, so one pass in plan order suffices.
	implied := make([][]bool, len(p.Minor))
	for i, m := range p.Minor {
		implied[i] = make([]bool, len(p.Minor))
		for _, a := range m.After {
			j := index[a]
			implied[i][j] = true
			for k, yes := range implied[j] {
				implied[i][k] = implied[i][k] || yes
			}
		}
	}
	out := make([][]string, len(p.Minor))
	for i, m := range p.Minor {
		out[i] = []string{}
		for _, a := range m.After {
			j := index[a]
			redundant := false
			for _, b := range m.After {
				if k := index[b]; k != j && implied[k][j] {
					redundant = true
					break
				}
			}
			if !redundant {
				out[i] = append(out[i], a)
			}
		}
	}
	return out
}
