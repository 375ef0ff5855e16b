package site_test

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/charts/chartstest"
)

// TestWavePicturesShowTheWave: the wave page shows the major wave's burndown with a line
// per minor wave, its failures and resolutions, and the map of its minor waves planned
// and actual; each picture is SVG, PNG and JSON.
func TestWavePicturesShowTheWave(t *testing.T) {
	t.Parallel()
	srv, _, _ := newSite(t)

	_, _, page := get(t, srv, "/waves/demo/wave-1")
	for _, kind := range []string{"burndown", "failures", "gantt"} {
		require.Contains(t, page, `<a href="/waves/demo/wave-1/`+kind+`.svg"><img class="wave-`+kind+`" src="/waves/demo/wave-1/`+kind+`.png"`)
	}

	for path, want := range map[string][]string{
		"/waves/demo/wave-1/burndown.svg": {"Remaining builds of wave-1", "wave-1 (all minor waves)", "wave-1-1", "wave-1-2",
			"builds not done yet"},
		"/waves/demo/wave-1/failures.svg": {"Failures and resolutions of wave-1", "failed", "dependency-failed", "open (not settled)"},
		"/waves/demo/wave-1/gantt.svg": {"Minor waves of wave-1: planned and actual", "wave-1-1", "wave-1-2", "wave-1-3",
			"planned · 2 builds", "planned", "actual", "running", "now"},
	} {
		code, ctype, body := get(t, srv, path)
		require.Equal(t, http.StatusOK, code, path)
		require.Equal(t, "image/svg+xml", ctype, path)
		text := chartstest.Texts(t, []byte(body))
		for _, w := range want {
			require.Contains(t, text, w+"\n", path)
		}
	}
	_, _, gantt := get(t, srv, "/waves/demo/wave-1/gantt.svg")
	text := chartstest.Texts(t, []byte(gantt))
	require.Contains(t, text, "done · ", "wave-1-1 finished")
	require.Contains(t, text, "waiting · ", "wave-1-2 waits")

	code, ctype, body := get(t, srv, "/waves/demo/wave-1/burndown.png")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "image/png", ctype)
	img, err := png.Decode(bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	require.Equal(t, 945, img.Bounds().Dx())

	var burndown struct {
		Wave       string
		MinorWaves []struct {
			Name    string
			Samples []struct{ Count int }
		} `json:"minor_waves"`
		Total []struct{ Count int }
	}
	_, _, raw := get(t, srv, "/waves/demo/wave-1/burndown.json")
	require.NoError(t, json.Unmarshal([]byte(raw), &burndown), raw)
	require.Equal(t, "wave-1", burndown.Wave)
	require.Len(t, burndown.MinorWaves, 2)
	var total []int
	for _, s := range burndown.Total {
		total = append(total, s.Count)
	}
	// libcore laid out and built; then libfail, calc, app laid out; libfail failed, calc
	// passed, app blocked.
	require.Equal(t, []int{1, 0, 3, 2, 1, 0}, total)

	var failures struct {
		Recorded []struct{ Name string }
		Open     []struct{ Count int }
	}
	_, _, raw = get(t, srv, "/waves/demo/wave-1/failures.json")
	require.NoError(t, json.Unmarshal([]byte(raw), &failures), raw)
	require.Len(t, failures.Recorded, 2)
	require.Equal(t, 2, failures.Open[len(failures.Open)-1].Count, "libfail and app are open")

	var gm struct {
		MinorWaves []struct {
			Name, State   string
			PlannedStart  *string `json:"planned_start"`
			StartedAt     *string `json:"started_at"`
			PlannedBuilds int     `json:"planned_builds"`
		} `json:"minor_waves"`
	}
	_, _, raw = get(t, srv, "/waves/demo/wave-1/gantt.json")
	require.NoError(t, json.Unmarshal([]byte(raw), &gm), raw)
	require.Len(t, gm.MinorWaves, 3)
	require.Equal(t, "wave-1-3", gm.MinorWaves[2].Name)
	require.Equal(t, "planned", gm.MinorWaves[2].State)
	require.Nil(t, gm.MinorWaves[2].StartedAt)
	require.NotNil(t, gm.MinorWaves[2].PlannedStart)
	require.Equal(t, 2, gm.MinorWaves[2].PlannedBuilds)

	var wave struct {
		Pictures map[string]string
	}
	_, _, raw = get(t, srv, "/waves/demo/wave-1.json")
	require.NoError(t, json.Unmarshal([]byte(raw), &wave))
	require.Equal(t, "/waves/demo/wave-1/gantt.svg", wave.Pictures["gantt"])

	for _, path := range []string{"/waves/demo/wave-1/nope.svg", "/waves/demo/wave-1/burndown.gif",
		"/waves/demo/wave-9/burndown.svg", "/waves/demo/wave-1/burndown/wave-1-2.gif"} {
		code, _, _ := get(t, srv, path)
		require.Equal(t, http.StatusNotFound, code, path)
	}
	code, _, _ = get(t, srv, "/waves/demo/wave-1/burndown/wave-1-2.png")
	require.Equal(t, http.StatusOK, code)
}
