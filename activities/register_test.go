package activities_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/wire"
)

// TestActivityNamesAreRegistered holds the names workflows call activities by to what the
// worker registers: every wire name is a method of Activities registered under that name,
// and every activity the worker registers has a wire name. Renaming either side fails here
// instead of in a running wave.
func TestActivityNamesAreRegistered(t *testing.T) {
	t.Parallel()
	acts := &activities.Activities{}
	var suite testsuite.WorkflowTestSuite
	main := suite.NewTestWorkflowEnvironment()
	activities.Register(main, acts)
	for _, name := range wire.ActivityNames {
		_, ok := reflect.TypeOf(acts).MethodByName(name)
		require.True(t, ok, "wire name %s is no method of Activities", name)
		// OnActivity by name panics when the registry has no such activity.
		require.NotPanics(t, func() { main.OnActivity(name, nil) }, "the worker does not register %s", name)
	}
	ctx := reflect.TypeFor[context.Context]()
	for m := range reflect.TypeOf(acts).Methods() {
		if m.Type.NumIn() > 1 && m.Type.In(1) == ctx {
			require.True(t, slices.Contains(wire.ActivityNames, m.Name), "activity %s has no wire name", m.Name)
		}
	}

	builds := suite.NewTestWorkflowEnvironment()
	activities.RegisterBuilds(builds, acts)
	require.NotPanics(t, func() { builds.OnActivity(wire.ActivityBuildPackage, nil) })
	require.NotPanics(t, func() { builds.OnActivity(wire.ActivityRunSystemTests, nil) })
}
