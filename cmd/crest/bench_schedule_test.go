package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/internal/shareddata"
)

// runBenchSchedule runs `crest bench schedule` with args and returns stdout and stderr.
func runBenchScheduleCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newBenchCmd(&app{})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"schedule"}, args...))
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestBenchScheduleJSON(t *testing.T) {
	t.Parallel()
	hello := shareddata.For(t, shareddata.NixpkgsHello)
	out, progress, err := runBenchScheduleCmd(t, "--graph", hello, "--update", "pcre", "--update", "attr",
		"--builders", "1,4,64", "--format", "json")
	require.NoError(t, err, progress)
	require.Contains(t, progress, "loaded 93 packages, 368 edges")

	var res struct {
		Updates []string `json:"updates"`
		Minor   []struct {
			ID     string `json:"id"`
			Builds int    `json:"builds"`
		} `json:"minor_waves"`
		Major struct {
			Builds int `json:"builds"`
			Runs   []struct {
				Builders   *int     `json:"builders"`
				LowerBound *float64 `json:"lower_bound_seconds"`
				Layered    *float64 `json:"layered_seconds"`
				Makespan   *float64 `json:"makespan_seconds"`
			} `json:"runs"`
		} `json:"major_wave"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Len(t, res.Updates, 2)
	require.NotEmpty(t, res.Minor)
	builds := 0
	for _, m := range res.Minor {
		builds += m.Builds
	}
	require.Equal(t, builds, res.Major.Builds, "every rebuild in exactly one minor wave")
	require.Len(t, res.Major.Runs, 3)
	for i, want := range []int{1, 4, 64} {
		r := res.Major.Runs[i]
		require.NotNil(t, r.Builders)
		require.NotNil(t, r.LowerBound)
		require.NotNil(t, r.Layered)
		require.NotNil(t, r.Makespan)
		require.Equal(t, want, *r.Builders)
		require.Greater(t, *r.LowerBound, 0.0)
		require.GreaterOrEqual(t, *r.Makespan, *r.LowerBound*(1-1e-9))
		require.GreaterOrEqual(t, *r.Layered, *r.LowerBound*(1-1e-9))
	}
}

func TestBenchScheduleText(t *testing.T) {
	t.Parallel()
	hello := shareddata.For(t, shareddata.NixpkgsHello)
	out, progress, err := runBenchScheduleCmd(t, "--graph", hello, "--builders", "2,8", "-q")
	require.NoError(t, err)
	require.Empty(t, progress)
	require.Contains(t, out, "5 root updates")
	require.Contains(t, out, "wave-1-1: ")
	require.Contains(t, out, "whole major wave wave-1")
	require.Contains(t, out, "lower bound")
	require.Contains(t, out, "new (pipelined)")

	_, _, err = runBenchScheduleCmd(t, "--graph", hello, "--format", "yaml")
	require.ErrorContains(t, err, `format "yaml"`)
	_, _, err = runBenchScheduleCmd(t, "--graph", hello, "--builders", "0")
	require.ErrorContains(t, err, "--builders 0")
	_, _, err = runBenchScheduleCmd(t, "--graph", hello, "--update", "no-such-package-xyz", "-q")
	require.ErrorContains(t, err, "no-such-package-xyz")
}
