package planview

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/crestwaves/crest/graph"
)

// Table writes the plan for a person at a terminal: a summary line, one row per minor wave,
// the critical path of each wave, and the plan beside the naive alternatives. AFTER lists
// only the waves a wave waits for directly; those they wait for are implied.
func Table(w io.Writer, p *graph.Plan) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Major wave %d: %d root %s in %d minor %s; %s builds, %s of building; about %s with %d %s.\n\n",
		p.Wave, len(p.Updates), plural(len(p.Updates), "update", "updates"),
		len(p.Minor), plural(len(p.Minor), "wave", "waves"),
		count(p.Totals.Builds), Hours(p.Totals.CostSeconds), Duration(p.Totals.WallSeconds),
		p.Builders, plural(p.Builders, "builder", "builders"))
	if len(p.Locked) > 0 {
		fmt.Fprintf(bw, "Locked in, not rebuilt: %s\n\n", listKeys(p.Locked, 8))
	}

	direct := directAfter(p)
	rows := [][]string{{"MINOR WAVE", "AFTER", "UPDATES", "BUILDS", "TESTS", "COST", "CRITICAL PATH", "START", "FINISH"}}
	for i, m := range p.Minor {
		after := "-"
		if len(direct[i]) > 0 {
			after = strings.Join(direct[i], " ")
		}
		upd := listKeys(m.Updates, 3)
		if m.Reason != "" {
			upd += " (" + m.Reason + ")"
		}
		rows = append(rows, []string{m.ID, after, upd, count(m.Builds), count(m.Tests), Hours(m.CostSeconds),
			Duration(m.CriticalPathSeconds), Duration(m.StartSeconds), Duration(m.FinishSeconds)})
	}
	writeColumns(bw, rows, 3)

	fmt.Fprintln(bw, "\nCritical paths (longest chain of builds, providers first):")
	for _, m := range p.Minor {
		chain := make([]string, len(m.CriticalPath))
		for i, k := range m.CriticalPath {
			chain[i] = ShortKey(k)
		}
		fmt.Fprintf(bw, "  %s  %s: %s\n", m.ID, Duration(m.CriticalPathSeconds), strings.Join(chain, " -> "))
	}

	fmt.Fprintf(bw, "\nCompared with (wall time with %d %s):\n", p.Builders, plural(p.Builders, "builder", "builders"))
	rows = [][]string{{"STRATEGY", "BUILDS", "COST", "CRITICAL PATH", "WALL"}}
	for _, r := range []struct {
		name string
		e    graph.Estimate
	}{
		{"minor waves (this plan)", p.Totals},
		{"rebuild the world per update", p.PerUpdate},
		{"one staging batch", p.Staging},
	} {
		rows = append(rows, []string{r.name, count(r.e.Builds), Hours(r.e.CostSeconds),
			Duration(r.e.CriticalPathSeconds), Duration(r.e.WallSeconds)})
	}
	writeColumns(bw, rows, 1)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write plan table: %w", err)
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// writeColumns writes rows as columns two spaces apart: the first text columns
// left-aligned, the numbers after them right-aligned so that magnitudes line up.
func writeColumns(w io.Writer, rows [][]string, text int) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i < text {
				b.WriteString(c)
				if i < len(r)-1 {
					b.WriteString(pad)
				}
			} else {
				b.WriteString(pad + c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}
