package activities

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/crestwaves/crest/activities/wire"
)

// Register adds every activity of a to the worker of the workflows' queue, each under its
// method name: the wire.Activity… name workflows call it by, as an activity or (RecordState,
// RecordDecision) a local activity. A test holds the names to the methods.
func Register(r worker.ActivityRegistry, a *Activities) { r.RegisterActivity(a) }

// RegisterBuilds adds the activities builder queues run: BuildPackage, BuildSlot and
// RunSystemTests.
func RegisterBuilds(r worker.ActivityRegistry, a *Activities) {
	r.RegisterActivityWithOptions(a.BuildPackage, activity.RegisterOptions{Name: wire.ActivityBuildPackage})
	r.RegisterActivityWithOptions(a.BuildSlot, activity.RegisterOptions{Name: wire.ActivityBuildSlot})
	r.RegisterActivityWithOptions(a.RunSystemTests, activity.RegisterOptions{Name: wire.ActivityRunSystemTests})
}
