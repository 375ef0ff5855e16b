package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/workflows"
)

// fakeFrontier stands in for a round's frontier in Postgres: a chain of layers, each
// package depending on every package of the layer before.
type fakeFrontier struct {
	mu     sync.Mutex
	deps   map[string][]string
	order  []string
	taken  map[string]bool
	built  map[string]int
	tokens map[string][]string
}

func newFakeFrontier(layers, width int) *fakeFrontier {
	f := &fakeFrontier{deps: map[string][]string{}, taken: map[string]bool{}, built: map[string]int{}, tokens: map[string][]string{}}
	var prev []string
	for l := range layers {
		var cur []string
		for i := range width {
			k := fmt.Sprintf("p%02d-%02d", l, i)
			f.deps[k] = prev
			f.order = append(f.order, k)
			cur = append(cur, k)
		}
		prev = cur
	}
	return f
}

func (f *fakeFrontier) take(in wire.TakeReadyInput) wire.ReadyTasks {
	f.mu.Lock()
	defer f.mu.Unlock()
	if got, ok := f.tokens[in.Token]; ok {
		return wire.ReadyTasks{Packages: got}
	}
	var out wire.ReadyTasks
	for _, k := range f.order {
		if f.taken[k] {
			continue
		}
		ready := !slices.ContainsFunc(f.deps[k], func(d string) bool { return f.built[d] == 0 })
		if ready && len(out.Packages) < in.Max {
			f.taken[k] = true
			out.Packages = append(out.Packages, k)
		} else {
			out.Waiting++
		}
	}
	f.tokens[in.Token] = out.Packages
	return out
}

// TestBuildSetContinuesAsNewAndLosesNothing: a dispatcher told to continue as new after a
// few builds does so many times over a round; every package is built exactly once, in
// dependency order, and the counts carry across runs. This is the dispatcher of waves
// started before build slots (slot-activities), which replays still run;
// TestBuildSlotsPauseContinueAsNewAndLoseNothing holds today's.
func TestBuildSetContinuesAsNewAndLosesNothing(t *testing.T) {
	f := newFakeFrontier(6, 7)
	in := workflows.BuildSetInput{RoundInput: wire.RoundInput{WaveID: 1, MinorWaveID: 7, System: "x86_64-linux"},
		Collection: "demo", KeyPrefix: "wave-1-1", Limits: workflows.Limits{Builds: 3}}
	runs := 0
	var res workflows.BuildSetResult
	for {
		runs++
		require.Less(t, runs, 100, "the round never ends")
		env := newTestEnv()
		env.OnGetVersion("slot-activities", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		acts := &activities.Activities{}
		env.RegisterActivity(acts)
		env.OnActivity(acts.TakeReady, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in wire.TakeReadyInput) (wire.ReadyTasks, error) {
				return f.take(in), nil
			})
		env.OnActivity(acts.BuildPackage, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in wire.BuildInput) (wire.BuildResult, error) {
				f.mu.Lock()
				defer f.mu.Unlock()
				for _, d := range f.deps[in.Package] {
					if f.built[d] == 0 {
						return wire.BuildResult{}, errors.New(in.Package + " built before " + d)
					}
				}
				f.built[in.Package]++
				return wire.BuildResult{}, nil
			}).After(time.Minute)
		// Temporal suggests continuing as new once the history grew: after a few builds.
		env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 150*time.Second)
		env.ExecuteWorkflow(workflows.BuildSet, in)
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			var next workflows.BuildSetInput
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
			require.NotNil(t, next.Resume)
			in = next
			continue
		}
		require.NoError(t, err)
		require.NoError(t, env.GetWorkflowResult(&res))
		break
	}
	require.Greater(t, runs, 3, "the dispatcher continued as new when Temporal suggested it")
	require.Len(t, f.built, len(f.order))
	for k, n := range f.built {
		require.Equal(t, 1, n, "%s built once", k)
	}
	require.Equal(t, len(f.order), res.Passed, "counts carried across runs")
	t.Logf("%d packages in %d runs", len(f.order), runs)
}
