package planview

import (
	"fmt"
	"image/color"
	"io"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/crestwaves/crest/graph"
)

// Colours of the chart: one per quantity, the same in every plan so that people learn them.
var (
	buildsColor     = color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff}
	costColor       = color.RGBA{R: 0xdd, G: 0x84, B: 0x52, A: 0xff}
	cumulativeColor = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}
)

// SVG draws the plan as two charts over the minor waves, in plan order: the builds of each
// wave on top; below, the cost of each wave in builder-hours with the cumulative cost as a
// line, so that a person sees where the work is and how early the heavy part is done.
// Fonts are referenced, not embedded (Liberation Sans, metric-compatible with Arial), which
// keeps the file small.
func SVG(w io.Writer, p *graph.Plan) error {
	n := len(p.Minor)
	// Up to rotateAbove waves, labels stand upright under their bars and need 2.8 cm each;
	// beyond, they are slanted and 1.2 cm will do.
	const rotateAbove = 8
	names := make([]string, n)
	builds := make(plotter.Values, n)
	costs := make(plotter.Values, n)
	cumulative := make(plotter.XYs, n)
	sum := 0.0
	for i, m := range p.Minor {
		names[i] = m.ID + "\n" + tickUpdates(m.Updates)
		if n > rotateAbove {
			// A slanted label reads as one line; the trailing spaces keep its end off the axis.
			names[i] = m.ID + " " + tickUpdates(m.Updates) + "   "
		}
		builds[i] = float64(m.Builds)
		costs[i] = m.CostSeconds / 3600
		sum += costs[i]
		cumulative[i] = plotter.XY{X: float64(i), Y: sum}
	}

	perWave := 2.8 * vg.Centimeter
	if n > rotateAbove {
		perWave = 1.2 * vg.Centimeter
	}
	width := max(22*vg.Centimeter, vg.Length(n)*perWave+4*vg.Centimeter)
	height := 18 * vg.Centimeter
	barWidth := min(1*vg.Centimeter, (width-3*vg.Centimeter)/vg.Length(max(n, 1))*0.6)

	top := plot.New()
	top.Title.Text = fmt.Sprintf("Major wave %d: %s builds in %d minor %s, about %s with %d %s\n\nBuilds per minor wave",
		p.Wave, count(p.Totals.Builds), n, plural(n, "wave", "waves"), Duration(p.Totals.WallSeconds),
		p.Builders, plural(p.Builders, "builder", "builders"))
	top.Y.Label.Text = "builds"
	top.Y.Min = 0
	bars, err := plotter.NewBarChart(builds, barWidth)
	if err != nil {
		return fmt.Errorf("plot builds: %w", err)
	}
	bars.Color = buildsColor
	bars.LineStyle.Width = 0
	buildLabels, err := barLabels(builds, func(v float64) string { return count(int(v)) })
	if err != nil {
		return fmt.Errorf("plot builds: %w", err)
	}
	top.Add(horizontalGrid(), bars, buildLabels)
	top.Legend.Add("builds of the wave", bars)
	top.Legend.Top = true
	top.Legend.Left = true

	bottom := plot.New()
	bottom.Title.Text = "Cost per minor wave, and cumulative cost"
	bottom.Y.Label.Text = "builder-hours"
	bottom.X.Label.Text = "minor wave (in plan order)"
	bottom.Y.Min = 0
	costBars, err := plotter.NewBarChart(costs, barWidth)
	if err != nil {
		return fmt.Errorf("plot cost: %w", err)
	}
	costBars.Color = costColor
	costBars.LineStyle.Width = 0
	line, points, err := plotter.NewLinePoints(cumulative)
	if err != nil {
		return fmt.Errorf("plot cumulative cost: %w", err)
	}
	line.Color = cumulativeColor
	line.Width = vg.Points(1.5)
	points.Color = cumulativeColor
	points.Shape = draw.CircleGlyph{}
	costLabels, err := barLabels(costs, func(v float64) string { return Thousands(v, 1) })
	if err != nil {
		return fmt.Errorf("plot cost: %w", err)
	}
	bottom.Add(horizontalGrid(), costBars, line, points, costLabels)
	bottom.Legend.Add("cost of the wave", costBars)
	bottom.Legend.Add("cumulative cost", line, points)
	bottom.Legend.Top = true
	bottom.Legend.Left = true

	for _, pl := range []*plot.Plot{top, bottom} {
		sansSerif(pl)
		pl.Y.Tick.Marker = thousandsTicks{}
		pl.NominalX(names...)
		pl.X.Min, pl.X.Max = -0.6, float64(n)-0.4
		if n > rotateAbove {
			pl.X.Tick.Label.Rotation = 0.6
			pl.X.Tick.Label.XAlign = draw.XRight
			pl.X.Tick.Label.YAlign = draw.YCenter
		}
	}
	// The cumulative line ends above the tallest bar: leave it headroom for the legend.
	bottom.Y.Max = max(sum*1.4, 1)
	top.Y.Max = top.Y.Max * 1.35

	c := vgsvg.NewWith(vgsvg.UseWH(width, height), vgsvg.EmbedFonts(embedFonts))
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadY: vg.Millimeter * 6}
	canvases := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("write plan svg: %w", err)
	}
	return nil
}

// embedFonts puts the font in the file, so that every viewer draws the text with the
// metrics it was laid out with; without it a viewer lacking Liberation Sans substitutes a
// wider font and long titles run off the edge.
const embedFonts = true

// horizontalGrid is a grid of horizontal lines only: vertical ones would run through the
// middle of each bar.
func horizontalGrid() *plotter.Grid {
	g := plotter.NewGrid()
	g.Vertical.Width = 0
	return g
}

// sansSerif switches every text of pl to the sans-serif variant: gonum/plot defaults to a
// serif face, which reads worse at chart sizes.
func sansSerif(pl *plot.Plot) {
	const sans = font.Variant("Sans")
	pl.Title.TextStyle.Font.Variant = sans
	pl.Legend.TextStyle.Font.Variant = sans
	for _, a := range []*plot.Axis{&pl.X, &pl.Y} {
		a.Label.TextStyle.Font.Variant = sans
		a.Tick.Label.Font.Variant = sans
	}
}

// thousandsTicks are gonum/plot's default ticks labelled with thousands separators, so that
// 40,000 builds do not read as 4,000.
type thousandsTicks struct{}

// Ticks implements plot.Ticker.
func (thousandsTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label == "" {
			continue
		}
		prec := 0
		if _, frac, ok := strings.Cut(t.Label, "."); ok {
			prec = len(frac)
		}
		ticks[i].Label = Thousands(t.Value, prec)
	}
	return ticks
}

// tickUpdates names a wave's updates under its bar: the first, shortened, and how many more.
func tickUpdates(keys []string) string {
	s := ShortKey(keys[0])
	if r := []rune(s); len(r) > 14 {
		s = string(r[:13]) + "…"
	}
	if len(keys) > 1 {
		s += fmt.Sprintf(" +%d", len(keys)-1)
	}
	return s
}

// barLabels writes each bar's value just above it, so that a bar dwarfed by a big one
// still says what it is.
func barLabels(vs plotter.Values, format func(float64) string) (*plotter.Labels, error) {
	xyl := plotter.XYLabels{XYs: make(plotter.XYs, len(vs)), Labels: make([]string, len(vs))}
	for i, v := range vs {
		xyl.XYs[i] = plotter.XY{X: float64(i), Y: v}
		xyl.Labels[i] = format(v)
	}
	l, err := plotter.NewLabels(xyl)
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].Font.Variant = "Sans"
		l.TextStyle[i].Font.Size = vg.Points(8)
		l.TextStyle[i].XAlign = draw.XCenter
	}
	l.Offset = vg.Point{Y: vg.Points(3)}
	return l, nil
}
