package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/deploy/demo"
	"github.com/crestwaves/crest/workflows"
)

// runCrest runs the crest command line in this process and returns its output and error.
func runCrest(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestWaveStartRefusesBadInput: `crest wave start` with input that could only fail exits
// with an error naming every problem, and nothing is allocated (no wave in Postgres).
func TestWaveStartRefusesBadInput(t *testing.T) {
	cfg := devConfig(t)
	state, stop := startDev(t, cfg)
	defer stop()
	ctx := context.Background()
	st, err := store.Open(ctx, state.DatabaseURL)
	require.NoError(t, err)
	defer st.Close()

	c, err := client.Dial(client.Options{HostPort: state.Temporal, Namespace: state.Namespace})
	require.NoError(t, err)
	defer c.Close()
	for i, c2 := range []struct {
		args []string
		want []string
	}{
		{[]string{"--update", "nosuchpkg=" + demo.UpdateLibcore2}, []string{`nosuchpkg`, `unknown`}},
		{[]string{"--update", "libcroe=" + demo.UpdateLibcore2}, []string{`libcroe`, `libcore`}},
		{[]string{"--update", "libcore=no/such/ref"}, []string{`ref "no/such/ref" not found in the demo repository`}},
		{[]string{"--update", "libcore=" + demo.UpdateLibcore2, "--update", "libcore=" + demo.UpdateLibcore2RC1}, []string{"libcore is given twice"}},
		{[]string{"--update", "libcore=" + demo.UpdateLibcore2, "--group", "libcore,libnet"}, []string{"groups[0]: libnet is not one of the updated packages"}},
		{[]string{"--update", "libcore=" + demo.UpdateLibcore2, "--base-ref", "no-such-base"}, []string{`base ref "no-such-base" not found`}},
		{[]string{"--collection", "nosuch", "--update", "libcore=" + demo.UpdateLibcore2}, []string{`unknown collection "nosuch"`}},
	} {
		out, err := runCrest(t, append([]string{"--data-dir", cfg.DataDir, "wave", "start"}, c2.args...)...)
		require.Error(t, err, "%v: %s", c2.args, out)
		for _, w := range c2.want {
			require.ErrorContains(t, err, w, "%v", c2.args)
		}

		// The Web UI's path: a plain start with the same input as JSON. The workflow
		// refuses it in its first step with the same words.
		in := workflows.MajorWaveInput{Collection: "demo"}
		for j := 0; j < len(c2.args); j += 2 {
			switch c2.args[j] {
			case "--update":
				pkg, ref, _ := strings.Cut(c2.args[j+1], "=")
				in.Updates = append(in.Updates, wire.Update{Package: pkg, Ref: ref})
			case "--group":
				in.Groups = append(in.Groups, strings.Split(c2.args[j+1], ","))
			case "--base-ref":
				in.BaseRef = c2.args[j+1]
			case "--collection":
				in.Collection = c2.args[j+1]
			}
		}
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("demo/wave-ui-%d", i), TaskQueue: cfg.TaskQueues.Default},
			workflows.MajorWave, in)
		require.NoError(t, err)
		err = run.Get(ctx, nil)
		for _, w := range c2.want {
			require.ErrorContains(t, err, w, "Web UI path: %+v", in)
		}
	}
	waves, err := st.Waves(ctx, demoCollection)
	require.NoError(t, err)
	require.Empty(t, waves, "a refused wave allocates nothing")

	out, err := runCrest(t, "--data-dir", cfg.DataDir, "wave", "start", "--update", "libcore="+demo.UpdateLibcore2RC1)
	require.NoError(t, err)
	require.Contains(t, out, "started wave-1 of demo")
}
