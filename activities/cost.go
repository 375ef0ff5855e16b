package activities

import (
	"context"

	"github.com/crestwaves/crest/graph"
)

// costModel is how the engine and the planner price packages of one system: keys cost the
// last measured duration of their builds there (Store.LastBuildSeconds), graph.DefaultCost
// prices the packages never built there and every package outside keys. Every place that
// prices packages (frontier priorities, the Plan activity, a patch's rebuild cost) gets its
// model here, so that all of them improve together as waves run.
func (a *Activities) costModel(ctx context.Context, system string, keys []string) (graph.CostModel, error) {
	durations, err := a.Store.LastBuildSeconds(ctx, system, keys)
	if err != nil {
		return nil, err
	}
	return graph.Measured{Durations: durations, Fallback: graph.DefaultCost}, nil
}
