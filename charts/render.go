package charts

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Format is a picture's file format.
type Format string

// The formats Render writes.
const (
	SVG Format = "svg"
	PNG Format = "png"
)

// ParseFormat reads a format name as people type it ("svg", "PNG").
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case SVG, PNG:
		return f, nil
	}
	return "", fmt.Errorf("picture format %q: want svg or png", s)
}

// ContentType is the MIME type of pictures in f.
func (f Format) ContentType() string {
	if f == PNG {
		return "image/png"
	}
	return "image/svg+xml"
}

// PNGDPI is the resolution of PNG pictures: 1.5 pixels per CSS pixel, sharp on most screens
// and still small. A 16 cm picture is 945 pixels wide.
const PNGDPI = 150

// Chart is a picture Render can draw: Burndown, Failures or Gantt.
type Chart interface {
	figure() (*figure, error)
}

// figure is a chart laid out: the plot, the legend beside it (nil: none) and the size.
type figure struct {
	plot          *plot.Plot
	legend        *plot.Legend
	width, height vg.Length
}

// Option changes how Render writes a picture.
type Option func(*options)

type options struct{ embedFonts bool }

// EmbedFonts puts the font into an SVG file (about 550 kB), so that every viewer draws the
// text with the metrics it was laid out with: for files people keep and pass on. Without
// it, an SVG names Liberation Sans and then Arial, which has the same metrics, and is a few
// kilobytes: for pages a browser loads again and again.
func EmbedFonts(o *options) { o.embedFonts = true }

// Render draws c to w in format f. The whole picture is drawn in memory first, so that an
// error leaves nothing half-written.
func Render(w io.Writer, c Chart, f Format, opts ...Option) error {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	fig, err := c.figure()
	if err != nil {
		return err
	}
	fig.fit()
	var b bytes.Buffer
	switch f {
	case SVG:
		canvas := vgsvg.NewWith(vgsvg.UseWH(fig.width, fig.height), vgsvg.EmbedFonts(o.embedFonts))
		fig.draw(draw.New(canvas))
		if _, err := canvas.WriteTo(&b); err != nil {
			return fmt.Errorf("draw svg picture: %w", err)
		}
		if !o.embedFonts {
			b = *bytes.NewBuffer(bytes.ReplaceAll(b.Bytes(), []byte("font-family:Liberation Sans;"), []byte(fontFallbacks)))
		}
	case PNG:
		canvas := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(fig.width, fig.height), vgimg.UseDPI(PNGDPI))}
		fig.draw(draw.New(canvas))
		if _, err := canvas.WriteTo(&b); err != nil {
			return fmt.Errorf("draw png picture: %w", err)
		}
	default:
		return fmt.Errorf("picture format %q: want svg or png", f)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write %s picture: %w", f, err)
	}
	return nil
}

// fontFallbacks follows Liberation Sans with fonts of the same metrics (Arial, Helvetica),
// so that a viewer without it lays the text out as it was measured.
const fontFallbacks = `font-family:'Liberation Sans',Arial,Helvetica,sans-serif;`

// draw lays the figure out: the title across the whole width, then the plot with its
// legend in a column on the right, outside the data (with dozens of minor waves a legend
// inside would cover the lines).
func (f *figure) draw(c draw.Canvas) {
	pad := 3 * vg.Millimeter
	c = draw.Crop(c, pad, -pad, pad, -pad)
	p := f.plot
	if t := p.Title; t.Text != "" {
		c.FillText(t.TextStyle, vg.Point{X: c.Center().X, Y: c.Max.Y + t.TextStyle.FontExtents().Descent}, t.Text)
		c = draw.Crop(c, 0, 0, 0, -(t.TextStyle.Rectangle(t.Text).Size().Y + t.Padding))
		defer func(title string) { p.Title.Text = title }(t.Text)
		p.Title.Text = ""
	}
	if f.legend == nil {
		p.Draw(c)
		return
	}
	// 15% to spare: an SVG viewer without Liberation Sans or Arial draws a wider font
	// (DejaVu Sans, say), and the legend must still fit.
	lw := f.legend.Rectangle(c).Size().X*1.15 + 2*vg.Millimeter
	p.Draw(draw.Crop(c, 0, -lw, 0, 0))
	f.legend.Draw(draw.Crop(c, c.Size().X-lw+2*vg.Millimeter, 0, 0, 0))
}

// fit widens the figure when its title would not fit: a long title is better than a cut one.
func (f *figure) fit() {
	t := f.plot.Title
	f.width = max(f.width, t.TextStyle.Rectangle(t.Text).Size().X+1*vg.Centimeter)
}

// sans is the font variant of every text: gonum/plot defaults to a serif face, which reads
// worse at chart sizes.
const sans = font.Variant("Sans")

// newPlot is a plot with Crest's text style and a grid.
func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Variant = sans
	p.Title.Padding = 3 * vg.Millimeter
	p.Legend.TextStyle.Font.Variant = sans
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Variant = sans
		a.Tick.Label.Font.Variant = sans
	}
	return p
}

// newLegend is a legend for the column beside the plot.
func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font.Variant = sans
	l.TextStyle.Font.Size = vg.Points(9)
	l.Top, l.Left = true, true
	l.Padding = vg.Points(2)
	return &l
}

// empty turns p into a picture that says why there is nothing to draw, rather than empty
// axes a person could read as "zero".
func empty(p *plot.Plot, message string) {
	p.HideAxes()
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: 0.5, Y: 0.5}}, Labels: []string{message}})
	if err != nil { // cannot happen: one point, one label
		panic(err)
	}
	l.TextStyle[0].Font.Variant = sans
	l.TextStyle[0].Font.Size = vg.Points(12)
	l.TextStyle[0].Color = color.Gray{Y: 0x55}
	l.TextStyle[0].XAlign = draw.XCenter
	l.TextStyle[0].YAlign = draw.YCenter
	p.Add(l)
}

// countTicks are gonum/plot's default ticks for counts: whole numbers only (a burndown
// has no half packages) with thousands separators, so that 40,000 builds do not read as
// 4,000.
type countTicks struct{}

// Ticks implements plot.Ticker.
func (countTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Value != math.Trunc(t.Value) {
			continue
		}
		if t.Label != "" {
			t.Label = Thousands(t.Value, 0)
		}
		out = append(out, t)
	}
	return out
}

// Thousands formats x with prec decimals and commas between thousands: "1,234,567.9".
func Thousands(x float64, prec int) string {
	s := strconv.FormatFloat(x, 'f', prec, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if hasFrac {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}
