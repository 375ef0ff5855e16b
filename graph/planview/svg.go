package planview

import (
	"fmt"
	"io"
	"time"

	"github.com/crestwaves/crest/charts"
	"github.com/crestwaves/crest/graph"
)

// SVG draws the plan's schedule as a Gantt chart (see Gantt), with its font embedded: a
// plan is a file people keep and pass on, and every viewer should lay it out alike.
func SVG(w io.Writer, p *graph.Plan) error {
	return charts.Render(w, Gantt(p), charts.SVG, charts.EmbedFonts)
}

// PNG draws the same Gantt chart as SVG, as a PNG image.
func PNG(w io.Writer, p *graph.Plan) error {
	return charts.Render(w, Gantt(p), charts.PNG)
}

// Gantt is the plan's schedule: one row per minor wave, in plan order, from its estimated
// start to its estimated finish with the plan's builders (the later of its critical path
// and its cost shared among them, after the waves it must wait for), labelled with its
// builds and cost. A person sees which minor waves run together, which wait, and where the
// time goes.
func Gantt(p *graph.Plan) charts.Gantt {
	n := len(p.Minor)
	g := charts.Gantt{
		Title: fmt.Sprintf("Major wave %d: %s builds in %d minor %s, about %s with %d %s",
			p.Wave, count(p.Totals.Builds), n, plural(n, "wave", "waves"), Duration(p.Totals.WallSeconds),
			p.Builders, plural(p.Builders, "builder", "builders")),
		Start:    origin,
		Relative: true,
	}
	for _, m := range p.Minor {
		g.Rows = append(g.Rows, charts.GanttRow{
			Name:  m.ID + " " + tickUpdates(m.Updates),
			Label: fmt.Sprintf("%s %s · %s", count(m.Builds), plural(m.Builds, "build", "builds"), Hours(m.CostSeconds)),
			Planned: charts.Span{Start: origin.Add(seconds(m.StartSeconds)),
				Finish: origin.Add(seconds(max(m.FinishSeconds, m.StartSeconds)))},
		})
	}
	return g
}

// origin stands for the start of the wave: a plan's times are offsets from it, and the
// chart says "from the start" rather than a date.
var origin = time.Unix(0, 0).UTC()

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// tickUpdates names a wave's updates beside its name: the first, shortened, and how many
// more.
func tickUpdates(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	s := ShortKey(keys[0])
	if r := []rune(s); len(r) > 14 {
		s = string(r[:13]) + "…"
	}
	if len(keys) > 1 {
		s += fmt.Sprintf(" +%d", len(keys)-1)
	}
	return s
}
