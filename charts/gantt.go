package charts

import (
	"image/color"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Gantt is a wave map: one row per minor wave, its planned span as a wide pale bar and its
// actual one as a narrow solid bar inside, so that a person sees at once which minor waves
// ran late, which ran together, and what is still to come. A plan's schedule is a Gantt
// with planned spans only.
type Gantt struct {
	Title string
	// Start is where the time axis begins; zero: at the first span.
	Start time.Time
	// Relative says the times are not dates but offsets from Start (a plan's schedule):
	// the axis reads "hours from the start" rather than "hours since <date>".
	Relative bool
	// Now is where running spans end, marked by a dashed line; zero when nothing runs.
	Now  time.Time
	Rows []GanttRow
}

// GanttRow is one minor wave.
type GanttRow struct {
	Name string // on the axis: "wave-1-2"
	// Label is written after the bars: "357 builds · 3h 12m".
	Label   string
	Planned Span
	Actual  Span
}

// Span is when something ran or is planned to. A zero Start means there is none; a zero
// Finish after a Start means it is still running, until Gantt.Now.
type Span struct {
	Start, Finish time.Time
}

func (s Span) ok() bool { return !s.Start.IsZero() }

// end is the span's finish, or now while it runs.
func (s Span) end(now time.Time) time.Time {
	if s.Finish.IsZero() {
		return latest(s.Start, now)
	}
	return s.Finish
}

var (
	plannedColor = color.RGBA{R: 0xc6, G: 0xd4, B: 0xe8, A: 0xff}
	plannedEdge  = color.RGBA{R: 0x7f, G: 0x99, B: 0xc0, A: 0xff}
	actualColor  = color.RGBA{R: 0x2b, G: 0x4f, B: 0x8a, A: 0xff}
	runningColor = color.RGBA{R: 0xdd, G: 0x84, B: 0x52, A: 0xff}
	nowColor     = color.RGBA{R: 0xc4, G: 0x4e, B: 0x52, A: 0xff}
)

// Gantt sizes: 16 cm wide, 3.5 cm for title and axis plus 0.8 cm a row, so that labels
// never overlap however many minor waves there are.
const (
	ganttWidth  = 16 * vg.Centimeter
	ganttFrame  = 3.5 * vg.Centimeter
	ganttPerRow = 0.8 * vg.Centimeter
)

func (g Gantt) figure() (*figure, error) {
	p := newPlot(g.Title)
	fig := &figure{plot: p, width: ganttWidth, height: ganttFrame + vg.Length(max(len(g.Rows), 3))*ganttPerRow}
	var first, last time.Time
	planned, actual, running := false, false, false
	for _, r := range g.Rows {
		for _, s := range []Span{r.Planned, r.Actual} {
			if !s.ok() {
				continue
			}
			if first.IsZero() || s.Start.Before(first) {
				first = s.Start
			}
			last = latest(last, s.end(g.Now))
		}
		planned = planned || r.Planned.ok()
		actual = actual || (r.Actual.ok() && !r.Actual.Finish.IsZero())
		running = running || (r.Actual.ok() && r.Actual.Finish.IsZero())
	}
	if !planned && !actual && !running {
		empty(p, "No minor waves planned or started yet")
		return fig, nil
	}
	start := g.Start
	if start.IsZero() {
		start = first
	}
	axis := newTimeAxis(start, latest(last, g.Now))
	axis.relative = g.Relative
	axis.apply(p)
	p.X.Max = max(axis.x(latest(last, g.Now)), 1e-9)
	names := make([]string, len(g.Rows))
	for i, r := range g.Rows {
		names[len(g.Rows)-1-i] = r.Name // the first row on top
	}
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.6, float64(len(g.Rows))-0.4
	grid := plotter.NewGrid() // vertical lines only: horizontal ones would run through the bars
	grid.Horizontal.Width = 0
	p.Add(grid, &ganttBars{g: g, axis: axis})
	fig.legend = newLegend()
	if planned {
		fig.legend.Add("planned", swatch{plannedColor, plannedEdge, 0.8})
	}
	if actual {
		fig.legend.Add("actual", swatch{actualColor, nil, 0.4})
	}
	if running {
		fig.legend.Add("running", swatch{runningColor, nil, 0.4})
	}
	if !g.Now.IsZero() && running {
		fig.legend.Add("now", lineThumb(nowLine()))
	}
	return fig, nil
}

func nowLine() draw.LineStyle {
	return draw.LineStyle{Color: nowColor, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}
}

// ganttBars draws the rows' bars and labels.
type ganttBars struct {
	g    Gantt
	axis timeAxis
}

// Fractions of a row's height the bars take.
const (
	plannedHeight = 0.7
	actualHeight  = 0.34
)

// minBar is the narrowest bar drawn: a minor wave that took seconds in a wave of days
// still shows.
const minBar = 1.5 * vg.Millimeter

// Plot implements plot.Plotter.
func (b *ganttBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	rowH := trY(1) - trY(0)
	n := len(b.g.Rows)
	bar := func(s Span, y float64, frac float64, fill, edge color.Color) vg.Length {
		x0, x1 := trX(b.axis.x(s.Start)), trX(b.axis.x(s.end(b.g.Now)))
		x1 = max(x1, x0+minBar)
		h := rowH * vg.Length(frac) / 2
		rect := []vg.Point{{X: x0, Y: trY(y) - h}, {X: x1, Y: trY(y) - h}, {X: x1, Y: trY(y) + h}, {X: x0, Y: trY(y) + h}}
		c.FillPolygon(fill, rect)
		if edge != nil {
			c.StrokeLines(draw.LineStyle{Color: edge, Width: vg.Points(0.6)}, append(rect, rect[0]))
		}
		return x1
	}
	sty := b.labelStyle()
	for i, r := range b.g.Rows {
		y := float64(n - 1 - i)
		right := vg.Length(-1)
		if r.Planned.ok() {
			right = max(right, bar(r.Planned, y, plannedHeight, plannedColor, plannedEdge))
		}
		if r.Actual.ok() {
			fill := actualColor
			if r.Actual.Finish.IsZero() {
				fill = runningColor
			}
			right = max(right, bar(r.Actual, y, actualHeight, fill, nil))
		}
		if r.Label != "" && right >= 0 {
			c.FillText(sty, vg.Point{X: right + vg.Millimeter, Y: trY(y)}, r.Label)
		}
	}
	if !b.g.Now.IsZero() {
		x := trX(b.axis.x(b.g.Now))
		c.StrokeLine2(nowLine(), x, c.Min.Y, x, c.Max.Y)
	}
}

func (b *ganttBars) labelStyle() text.Style {
	f := font.From(plot.DefaultFont, vg.Points(8))
	f.Variant = sans
	return text.Style{Color: color.Gray{Y: 0x33}, Font: f, XAlign: draw.XLeft, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler}
}

// DataRange implements plot.DataRanger.
func (b *ganttBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmax = 1e-9
	for _, r := range b.g.Rows {
		for _, s := range []Span{r.Planned, r.Actual} {
			if s.ok() {
				xmax = max(xmax, b.axis.x(s.end(b.g.Now)))
			}
		}
	}
	return 0, xmax, -0.6, float64(len(b.g.Rows)) - 0.4
}

// GlyphBoxes implements plot.GlyphBoxer: room on the right for the labels after the bars.
func (b *ganttBars) GlyphBoxes(p *plot.Plot) []plot.GlyphBox {
	sty := b.labelStyle()
	var out []plot.GlyphBox
	n := len(b.g.Rows)
	for i, r := range b.g.Rows {
		if r.Label == "" {
			continue
		}
		var end time.Time
		for _, s := range []Span{r.Planned, r.Actual} {
			if s.ok() {
				end = latest(end, s.end(b.g.Now))
			}
		}
		if end.IsZero() {
			continue
		}
		w := sty.Width(r.Label) + vg.Millimeter + minBar
		h := sty.Height(r.Label)
		out = append(out, plot.GlyphBox{X: p.X.Norm(b.axis.x(end)), Y: p.Y.Norm(float64(n - 1 - i)),
			Rectangle: vg.Rectangle{Min: vg.Point{Y: -h / 2}, Max: vg.Point{X: w, Y: h / 2}}})
	}
	return out
}

// swatch is a legend thumbnail of a bar: a filled rectangle of frac of the entry's height.
type swatch struct {
	fill, edge color.Color
	frac       float64
}

// Thumbnail implements plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	h := c.Size().Y * vg.Length(s.frac) / 2
	mid := c.Center().Y
	rect := []vg.Point{{X: c.Min.X, Y: mid - h}, {X: c.Max.X, Y: mid - h}, {X: c.Max.X, Y: mid + h}, {X: c.Min.X, Y: mid + h}}
	c.FillPolygon(s.fill, rect)
	if s.edge != nil {
		c.StrokeLines(draw.LineStyle{Color: s.edge, Width: vg.Points(0.6)}, append(rect, rect[0]))
	}
}

// lineThumb is a legend thumbnail of a line.
type lineThumb draw.LineStyle

// Thumbnail implements plot.Thumbnailer.
func (l lineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(draw.LineStyle(l), c.Min.X, y, c.Max.X, y)
}
