package planview

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/crestwaves/crest/graph"
)

// DOT writes the minor-wave DAG in Graphviz's language: one box per minor wave with its
// updates, builds and cost, and an edge to each wave from the waves it must run after. Only
// direct edges are drawn (the transitive reduction of After): an order already implied by
// a path is not drawn again. Waves with no path between them may run concurrently.
func DOT(w io.Writer, p *graph.Plan) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "digraph %s {\n", quote(fmt.Sprintf("wave-%d", p.Wave)))
	fmt.Fprintf(bw, "\tgraph [rankdir=LR, labelloc=t, fontname=\"Helvetica\", label=%s];\n",
		quote(fmt.Sprintf("major wave %d: %s builds, %s, about %s with %d %s",
			p.Wave, count(p.Totals.Builds), Hours(p.Totals.CostSeconds), Duration(p.Totals.WallSeconds),
			p.Builders, plural(p.Builders, "builder", "builders"))))
	fmt.Fprintln(bw, "\tnode [shape=box, style=rounded, fontname=\"Helvetica\"];")
	direct := directAfter(p)
	for _, m := range p.Minor {
		label := []string{
			m.ID,
			"updates: " + listKeys(m.Updates, 3),
			fmt.Sprintf("%s %s, %s", count(m.Builds), plural(m.Builds, "build", "builds"), Hours(m.CostSeconds)),
			"critical path " + Duration(m.CriticalPathSeconds),
		}
		if m.Reason != "" {
			label = append(label[:2], append([]string{"(" + m.Reason + ")"}, label[2:]...)...)
		}
		fmt.Fprintf(bw, "\t%s [label=%s];\n", quote(m.ID), quote(strings.Join(label, "\n")))
	}
	for i, m := range p.Minor {
		for _, a := range direct[i] {
			fmt.Fprintf(bw, "\t%s -> %s;\n", quote(a), quote(m.ID))
		}
	}
	fmt.Fprintln(bw, "}")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write plan dot: %w", err)
	}
	return nil
}

// quote makes a DOT double-quoted string; newlines become DOT's centred line breaks.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
