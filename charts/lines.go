package charts

import (
	"fmt"
	"image/color"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Point is a count that holds from At until the series' next point.
type Point struct {
	At    time.Time
	Count int
}

// Series is a named count over time, its points in time order.
type Series struct {
	Name   string
	Points []Point
}

// Burndown is remaining builds over time: one line per minor wave and, for a major wave,
// the total over its minor waves.
type Burndown struct {
	Title string
	// Start is where the time axis begins: when the wave started.
	Start time.Time
	// Now is where it ends: every line holds its last count until then.
	Now time.Time
	// Total is the major wave's remaining builds, drawn bold; without points it is left out
	// (the burndown of one minor wave).
	Total Series
	// Minor are the minor waves' remaining builds.
	Minor []Series
}

// Failures is how a wave's failures came and went: failures recorded so far by kind, the
// resolutions that settled them so far by kind, and the failures still open.
type Failures struct {
	Title      string
	Start, Now time.Time
	// Recorded are running totals of failures recorded, one series per kind of failure
	// (failed, test-failed, dependency-failed).
	Recorded []Series
	// Settled are running totals of resolutions, one series per kind (fixed, wont-fix, …).
	Settled []Series
	// Open is how many failures had no resolution yet, drawn bold.
	Open Series
}

// Colours: minor waves cycle through a palette that tells neighbours apart; the totals a
// person reads first are black and bold.
var (
	palette = []color.Color{
		color.RGBA{R: 0x4c, G: 0x72, B: 0xb0, A: 0xff}, color.RGBA{R: 0xdd, G: 0x84, B: 0x52, A: 0xff},
		color.RGBA{R: 0x55, G: 0xa8, B: 0x68, A: 0xff}, color.RGBA{R: 0xc4, G: 0x4e, B: 0x52, A: 0xff},
		color.RGBA{R: 0x81, G: 0x72, B: 0xb3, A: 0xff}, color.RGBA{R: 0x93, G: 0x78, B: 0x60, A: 0xff},
		color.RGBA{R: 0xda, G: 0x8b, B: 0xc3, A: 0xff}, color.RGBA{R: 0x8c, G: 0x8c, B: 0x8c, A: 0xff},
		color.RGBA{R: 0xcc, G: 0xb9, B: 0x74, A: 0xff}, color.RGBA{R: 0x64, G: 0xb5, B: 0xcd, A: 0xff},
	}
	totalColor = color.Black
	// manyColor draws minor waves beyond the legend's reach: a wave of Nixpkgs may have
	// hundreds, and a legend entry each would be longer than the picture.
	manyColor = color.Gray{Y: 0xaa}
)

// maxLegendLines is how many minor waves get their own colour and legend entry.
const maxLegendLines = 12

// Size of line charts: 16 × 9 cm, 605 × 340 CSS pixels.
const (
	lineWidth  = 16 * vg.Centimeter
	lineHeight = 9 * vg.Centimeter
)

func (b Burndown) figure() (*figure, error) {
	c := newLineChart(b.Title, "builds not done yet", "No builds recorded yet", b.Start, b.Now,
		append([]Series{b.Total}, b.Minor...))
	if c.axis == nil {
		return c.fig, nil
	}
	// The total first, bold, and the minor waves over it: where a minor wave is all that
	// runs, the two coincide and both still show.
	if err := c.add(b.Total, draw.LineStyle{Color: totalColor, Width: vg.Points(3)}, b.Total.Name); err != nil {
		return nil, fmt.Errorf("burndown: %w", err)
	}
	many := len(b.Minor) > maxLegendLines
	inLegend := false
	for i, s := range b.Minor {
		sty, name := draw.LineStyle{Color: palette[i%len(palette)], Width: vg.Points(1.5)}, s.Name
		if many { // one legend entry for all of them
			sty, name = draw.LineStyle{Color: manyColor, Width: vg.Points(0.8)}, ""
			if !inLegend && len(s.Points) > 0 {
				name, inLegend = fmt.Sprintf("%d minor waves", len(b.Minor)), true
			}
		}
		if err := c.add(s, sty, name); err != nil {
			return nil, fmt.Errorf("burndown: %w", err)
		}
	}
	return c.fig, nil
}

func (f Failures) figure() (*figure, error) {
	c := newLineChart(f.Title, "packages", "No failures recorded", f.Start, f.Now,
		append(append([]Series{f.Open}, f.Recorded...), f.Settled...))
	if c.axis == nil {
		return c.fig, nil
	}
	// Failures in warm colours, resolutions in cool ones and dashed: the two families read
	// apart at a glance, and each line's kind from the legend.
	warm := []color.Color{palette[3], palette[1], palette[8], palette[6]}
	cool := []color.Color{palette[2], palette[0], palette[9], palette[4], palette[5]}
	groups := []struct {
		series []Series
		colors []color.Color
		dashes []vg.Length
	}{{f.Recorded, warm, nil}, {f.Settled, cool, []vg.Length{vg.Points(4), vg.Points(2)}}}
	for _, g := range groups {
		for i, s := range g.series {
			sty := draw.LineStyle{Color: g.colors[i%len(g.colors)], Width: vg.Points(1.5), Dashes: g.dashes}
			if err := c.add(s, sty, s.Name); err != nil {
				return nil, fmt.Errorf("failures: %w", err)
			}
		}
	}
	if err := c.add(f.Open, draw.LineStyle{Color: totalColor, Width: vg.Points(2.5)}, f.Open.Name); err != nil {
		return nil, fmt.Errorf("failures: %w", err)
	}
	return c.fig, nil
}

// lineChart is a chart of counts over time being drawn.
type lineChart struct {
	fig  *figure
	axis *timeAxis // nil: nothing to draw, the figure says so
	now  time.Time
}

// newLineChart lays out a chart of the series all (to size its axes), or a picture with
// the message none when no series has a point.
func newLineChart(title, yLabel, none string, start, now time.Time, all []Series) *lineChart {
	c := &lineChart{fig: &figure{plot: newPlot(title), width: lineWidth, height: lineHeight}, now: now}
	if !anyPoints(all) {
		empty(c.fig.plot, none)
		return c
	}
	c.fig.plot.Y.Label.Text = yLabel
	c.fig.legend = newLegend()
	axis := stepAxis(c.fig.plot, start, now, all)
	c.axis = &axis
	return c
}

// add draws s as a step line that holds each count until the next point, and its last one
// until now, with a legend entry unless name is empty. A series without points draws
// nothing.
func (c *lineChart) add(s Series, sty draw.LineStyle, name string) error {
	if len(s.Points) == 0 {
		return nil
	}
	xys := make(plotter.XYs, 0, len(s.Points)+1)
	for _, pt := range s.Points {
		xys = append(xys, plotter.XY{X: c.axis.x(pt.At), Y: float64(pt.Count)})
	}
	if last := s.Points[len(s.Points)-1]; c.now.After(last.At) {
		xys = append(xys, plotter.XY{X: c.axis.x(c.now), Y: float64(last.Count)})
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	l.StepStyle = plotter.PostStep
	l.LineStyle = sty
	c.fig.plot.Add(l)
	if name != "" {
		c.fig.legend.Add(name, l)
	}
	return nil
}

func anyPoints(ss []Series) bool {
	for _, s := range ss {
		if len(s.Points) > 0 {
			return true
		}
	}
	return false
}

// stepAxis sets p up for counts over time from start (or the first point, when start is
// zero or later) to the later of now and the last point.
func stepAxis(p *plot.Plot, start, now time.Time, ss []Series) timeAxis {
	first, last := start, now
	top := 0
	for _, s := range ss {
		for _, pt := range s.Points {
			if first.IsZero() || pt.At.Before(first) {
				first = pt.At
			}
			last = latest(last, pt.At)
			top = max(top, pt.Count)
		}
	}
	axis := newTimeAxis(first, last)
	axis.apply(p)
	p.X.Max = max(axis.x(last), 1e-9)
	p.Y.Min, p.Y.Max = 0, max(1, float64(top)*1.05)
	p.Y.Tick.Marker = countTicks{}
	p.Add(plotter.NewGrid())
	return axis
}
