package charts_test

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/charts"
	"github.com/crestwaves/crest/charts/chartstest"
)

var keep = flag.String("keep", "", "write the test pictures to this directory, to look at them")

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

func at(min float64) time.Time { return t0.Add(time.Duration(min * float64(time.Minute))) }

// burndown is a major wave of two minor waves: wave-1-1 builds 40 packages in 30 minutes,
// wave-1-2 starts after it with 25, one of which is retried (the count goes back up).
func burndown() charts.Burndown {
	m1 := charts.Series{Name: "wave-1-1", Points: []charts.Point{{at(1), 40}, {at(10), 22}, {at(20), 5}, {at(30), 0}}}
	m2 := charts.Series{Name: "wave-1-2", Points: []charts.Point{{at(32), 25}, {at(40), 10}, {at(45), 0}, {at(50), 1}, {at(55), 0}}}
	total := charts.Series{Name: "wave-1 (all minor waves)", Points: []charts.Point{{at(1), 40}, {at(10), 22}, {at(20), 5},
		{at(30), 0}, {at(32), 25}, {at(40), 10}, {at(45), 0}, {at(50), 1}, {at(55), 0}}}
	return charts.Burndown{Title: "Remaining builds of wave-1", Start: t0, Now: at(60), Total: total, Minor: []charts.Series{m1, m2}}
}

func failures() charts.Failures {
	return charts.Failures{Title: "Failures and resolutions of wave-1", Start: t0, Now: at(60),
		Recorded: []charts.Series{
			{Name: "failed", Points: []charts.Point{{at(5), 1}, {at(33), 3}}},
			{Name: "dependency-failed", Points: []charts.Point{{at(6), 4}, {at(34), 9}}},
		},
		Settled: []charts.Series{
			{Name: "settled: wont-fix", Points: []charts.Point{{at(25), 1}}},
			{Name: "settled: dependency-failed", Points: []charts.Point{{at(25), 4}}},
			{Name: "settled: fixed", Points: []charts.Point{{at(55), 1}}},
		},
		Open: charts.Series{Name: "open failures", Points: []charts.Point{{at(5), 1}, {at(6), 5}, {at(25), 0}, {at(33), 2}, {at(34), 7}, {at(55), 6}}},
	}
}

func gantt() charts.Gantt {
	return charts.Gantt{Title: "Minor waves of wave-1: planned and actual", Start: t0, Now: at(60), Rows: []charts.GanttRow{
		{Name: "wave-1-1", Label: "40 builds", Planned: charts.Span{Start: at(1), Finish: at(25)}, Actual: charts.Span{Start: at(1), Finish: at(30)}},
		{Name: "wave-1-2", Label: "25 builds", Planned: charts.Span{Start: at(25), Finish: at(40)}, Actual: charts.Span{Start: at(32)}},
		{Name: "wave-1-3", Label: "3 builds", Planned: charts.Span{Start: at(40), Finish: at(44)}},
	}}
}

// svgText renders c as SVG, checks that it is well-formed XML, and returns the text it
// shows, one <text> element a line.
func svgText(t *testing.T, c charts.Chart) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, charts.Render(&b, c, charts.SVG))
	save(t, "svg", b.Bytes())
	text := chartstest.Texts(t, b.Bytes())
	var again bytes.Buffer
	require.NoError(t, charts.Render(&again, c, charts.SVG))
	require.Equal(t, b.Bytes(), again.Bytes(), "the same chart renders to the same bytes")
	return text
}

func save(t *testing.T, ext string, b []byte) {
	t.Helper()
	if *keep == "" {
		return
	}
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	require.NoError(t, os.WriteFile(filepath.Join(*keep, fmt.Sprintf("%s.%s", name, ext)), b, 0o644))
}

func TestChartsShowTheirSeries(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		chart charts.Chart
		want  []string
	}{
		{"burndown", burndown(), []string{"Remaining builds of wave-1", "wave-1-1", "wave-1-2", "wave-1 (all minor waves)",
			"builds not done yet", "minutes since 2026-05-04 09:00 UTC", "40"}},
		{"failures", failures(), []string{"Failures and resolutions of wave-1", "failed", "dependency-failed",
			"settled: wont-fix", "settled: fixed", "open failures", "packages"}},
		{"gantt", gantt(), []string{"Minor waves of wave-1: planned and actual", "wave-1-1", "wave-1-3", "40 builds",
			"planned", "actual", "running", "now", "minutes since 2026-05-04 09:00 UTC"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			text := svgText(t, c.chart)
			for _, want := range c.want {
				require.Contains(t, text, want+"\n")
			}
		})
	}
}

// TestPNGHasTheDocumentedSize decodes each chart's PNG: 16 cm wide at PNGDPI.
func TestPNGHasTheDocumentedSize(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]charts.Chart{"burndown": burndown(), "failures": failures(), "gantt": gantt()} {
		var b bytes.Buffer
		require.NoError(t, charts.Render(&b, c, charts.PNG), name)
		save(t, name+".png", b.Bytes())
		img, err := png.Decode(&b)
		require.NoError(t, err, name)
		require.Equal(t, 945, img.Bounds().Dx(), "%s: 16 cm at %d dpi", name, charts.PNGDPI)
		if name != "gantt" {
			require.Equal(t, 531, img.Bounds().Dy(), "%s: 9 cm at %d dpi", name, charts.PNGDPI)
		}
	}
}

// TestGanttGrowsWithRows: every minor wave gets the same height, so that a wave of forty
// is as readable as a wave of three.
func TestGanttGrowsWithRows(t *testing.T) {
	t.Parallel()
	g := gantt()
	height := func(g charts.Gantt) int {
		var b bytes.Buffer
		require.NoError(t, charts.Render(&b, g, charts.PNG))
		img, err := png.Decode(&b)
		require.NoError(t, err)
		return img.Bounds().Dy()
	}
	three := height(g)
	for i := 4; i <= 10; i++ {
		g.Rows = append(g.Rows, charts.GanttRow{Name: fmt.Sprintf("wave-1-%d", i), Planned: charts.Span{Start: at(44), Finish: at(50)}})
	}
	require.InDelta(t, float64(three)+7*0.8/2.54*charts.PNGDPI, float64(height(g)), 1, "0.8 cm a row")
}

// TestEmptyChartsSayWhy: nothing recorded draws a picture that says so, not empty axes
// (which would read as "zero") and not a panic.
func TestEmptyChartsSayWhy(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		chart charts.Chart
		want  string
	}{
		{charts.Burndown{Title: "Remaining builds of wave-3", Minor: []charts.Series{{Name: "wave-3-1"}}}, "No builds recorded yet"},
		{charts.Failures{Title: "Failures of wave-3"}, "No failures recorded"},
		{charts.Gantt{Title: "Minor waves of wave-3"}, "No minor waves planned or started yet"},
		{charts.Gantt{Title: "Minor waves of wave-3", Rows: []charts.GanttRow{{Name: "wave-3-1"}}}, "No minor waves planned or started yet"},
	} {
		text := svgText(t, c.chart)
		require.Contains(t, text, c.want)
		var b bytes.Buffer
		require.NoError(t, charts.Render(&b, c.chart, charts.PNG))
		_, err := png.Decode(&b)
		require.NoError(t, err)
	}
}

// TestPlanGanttReadsFromTheStart: a plan's offsets are not dates.
func TestPlanGanttReadsFromTheStart(t *testing.T) {
	t.Parallel()
	origin := time.Unix(0, 0)
	g := charts.Gantt{Title: "Major wave 2", Start: origin, Relative: true, Rows: []charts.GanttRow{
		{Name: "wave-2-1", Planned: charts.Span{Start: origin, Finish: origin.Add(5 * time.Hour)}},
		{Name: "wave-2-2", Planned: charts.Span{Start: origin.Add(5 * time.Hour), Finish: origin.Add(9 * time.Hour)}},
	}}
	text := svgText(t, g)
	require.Contains(t, text, "hours from the start\n")
	require.NotContains(t, text, "1970")
	require.NotContains(t, text, "actual", "a plan has nothing actual")
}

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]charts.Format{"svg": charts.SVG, "PNG": charts.PNG, " png ": charts.PNG} {
		f, err := charts.ParseFormat(in)
		require.NoError(t, err)
		require.Equal(t, want, f)
	}
	_, err := charts.ParseFormat("pdf")
	require.EqualError(t, err, `picture format "pdf": want svg or png`)
	require.Equal(t, "image/png", charts.PNG.ContentType())
	require.Equal(t, "image/svg+xml", charts.SVG.ContentType())
	require.ErrorContains(t, charts.Render(&bytes.Buffer{}, gantt(), "gif"), `picture format "gif"`)
}

func TestThousands(t *testing.T) {
	t.Parallel()
	require.Equal(t, "1,234,567.9", charts.Thousands(1234567.89, 1))
	require.Equal(t, "-1,000", charts.Thousands(-1000, 0))
	require.Equal(t, "999", charts.Thousands(999, 0))
}

// TestSVGFonts: pages get small SVGs naming fonts of Liberation Sans's metrics; files
// people keep can carry the font.
func TestSVGFonts(t *testing.T) {
	t.Parallel()
	var page, file bytes.Buffer
	require.NoError(t, charts.Render(&page, burndown(), charts.SVG))
	require.NoError(t, charts.Render(&file, burndown(), charts.SVG, charts.EmbedFonts))
	require.Less(t, page.Len(), 40_000)
	require.Contains(t, page.String(), `font-family:'Liberation Sans',Arial,Helvetica,sans-serif;`)
	require.NotContains(t, page.String(), "@font-face")
	require.Contains(t, file.String(), "@font-face")
	require.NoError(t, xml.Unmarshal(file.Bytes(), new(struct{})))
}
