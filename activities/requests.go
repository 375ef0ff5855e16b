package activities

import (
	"context"
	"errors"
	"slices"

	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
)

// CheckRequest accepts a person's request (naming the minor wave and system it applies
// to) or refuses it with policy's reason as an InvalidInput error.
func (a *Activities) CheckRequest(ctx context.Context, in wire.CheckRequestInput) (wire.CheckRequestResult, error) {
	minors, err := a.Store.MinorWaves(ctx, in.WaveID)
	if err != nil {
		return wire.CheckRequestResult{}, err
	}
	var candidates []store.MinorWave
	for _, m := range minors {
		asked := m.ID == in.MinorWaveID // the minor wave's own update: whatever its state
		if in.MinorWaveID == 0 {
			asked = (in.Minor == 0 || m.Number == in.Minor) && running(m.State)
		}
		if asked {
			candidates = append(candidates, m)
		}
	}
	if len(candidates) == 0 {
		if in.Minor != 0 {
			return wire.CheckRequestResult{}, invalid("minor: minor wave %d is not running", in.Minor)
		}
		return wire.CheckRequestResult{}, invalid("package %q: no minor wave is running", in.Package)
	}
	var refusals []error
	for _, m := range candidates {
		rows, err := a.Store.ResultsFor(ctx, m.ID, "", []string{in.Package})
		if err != nil {
			return wire.CheckRequestResult{}, err
		}
		for _, row := range rows {
			states, err := a.statesAround(ctx, m.ID, row)
			if err != nil {
				return wire.CheckRequestResult{}, err
			}
			if err = validateRequest(in, states); err == nil {
				return wire.CheckRequestResult{MinorWaveID: m.ID, Minor: m.Number, Name: m.Name, System: row.System}, nil
			}
			refusals = append(refusals, err)
		}
	}
	if len(refusals) > 0 {
		return wire.CheckRequestResult{}, invalid("%s: %v", candidates[0].Name, refusals[0])
	}
	// Not in any running minor wave: let policy name it and suggest close names.
	last := candidates[len(candidates)-1]
	all, err := a.Store.Results(ctx, last.ID, "")
	if err != nil {
		return wire.CheckRequestResult{}, err
	}
	states := make([]policy.State, 0, len(all))
	for _, r := range all {
		states = append(states, policyState(r))
	}
	if err = validateRequest(in, states); err == nil {
		err = errors.New("not in a running minor wave")
	}
	return wire.CheckRequestResult{}, invalid("%s: %v", last.Name, err)
}

// validateRequest applies policy's rule for the request: a retry's, a resolution's, or a
// resolution's in a security patch's rebuild.
func validateRequest(in wire.CheckRequestInput, states []policy.State) error {
	switch {
	case in.Resolve == nil:
		return policy.ValidateRetry(in.Package, states)
	case in.Patch:
		return policy.ValidatePatchResolve(*in.Resolve, states)
	}
	return policy.ValidateResolve(*in.Resolve, states)
}

// statesAround returns the states policy needs to judge a request about row: its own and
// those of the root causes it names.
func (a *Activities) statesAround(ctx context.Context, minorWaveID int64, row store.PackageResult) ([]policy.State, error) {
	states := []policy.State{policyState(row)}
	if len(row.BlockedBy) == 0 {
		return states, nil
	}
	roots, err := a.Store.ResultsFor(ctx, minorWaveID, row.System, row.BlockedBy)
	if err != nil {
		return nil, err
	}
	for _, r := range roots {
		if r.Package != row.Package {
			states = append(states, policyState(r))
		}
	}
	return states, nil
}

// running tells whether a minor wave in state may still take requests.
func running(state string) bool {
	return !slices.Contains([]string{"done", "tagging", "cancelled", "failed"}, state)
}

// policyState is what policy's rules know of a recorded result.
func policyState(r store.PackageResult) policy.State {
	return policy.State{Package: r.Package, Status: policy.Status(r.Status), Resolution: policy.Resolution(r.Resolution),
		BlockedBy: r.BlockedBy, Protected: r.Protected}
}

// PolicyStates are recorded results as policy's rules see them (for `crest wave status`).
func PolicyStates(results []store.PackageResult) []policy.State {
	out := make([]policy.State, len(results))
	for i, r := range results {
		out[i] = policyState(r)
	}
	return out
}
