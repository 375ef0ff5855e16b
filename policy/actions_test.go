package policy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestActionsAgreeWithValidators holds the one rule from both sides: whatever a status
// invites (Actions) the validators accept, and whatever they accept a status invites, over
// random minor waves.
func TestActionsAgreeWithValidators(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	statuses := []Status{StatusPending, StatusPassed, StatusFailed, StatusTestFailed, StatusDependencyFailed}
	resolutions := []Resolution{"", "", "", ResolutionWontFix, ResolutionCantFix, ResolutionMarkedBroken, ResolutionFixed}
	for trial := range 500 {
		n := 2 + rng.IntN(12)
		states := make([]State, n)
		for i := range states {
			s := State{Package: fmt.Sprintf("p%02d", i), Status: statuses[rng.IntN(len(statuses))], Protected: rng.IntN(3) == 0}
			switch s.Status {
			case StatusFailed, StatusTestFailed:
				s.Resolution = resolutions[rng.IntN(len(resolutions))]
				if s.Resolution == ResolutionFixed {
					s.Status = StatusPassed
				}
			case StatusDependencyFailed:
				for range 1 + rng.IntN(2) {
					s.BlockedBy = append(s.BlockedBy, fmt.Sprintf("p%02d", rng.IntN(n)))
				}
				if rng.IntN(4) == 0 {
					s.Resolution = DependencyFailedFrom(ResolutionWontFix)
				}
			}
			states[i] = s
		}
		actions := Actions(states)
		for _, s := range states {
			invited := actions[s.Package]
			resolveErr := ValidateResolve(ResolveRequest{Package: s.Package, Resolution: ResolutionWontFix, By: "alice", Reason: "gone"}, states)
			retryErr := ValidateRetry(s.Package, states)
			require.Equal(t, slices.Contains(invited, ActionPersonResolve), resolveErr == nil, "trial %d %+v: resolve %v", trial, s, resolveErr)
			require.Equal(t, slices.Contains(invited, ActionPersonRetry), retryErr == nil, "trial %d %+v: retry %v", trial, s, retryErr)
			if len(invited) > 0 {
				require.NotEmpty(t, NextStep(invited))
			}
		}
	}
}

func TestSettleAsSoonAsRecorded(t *testing.T) {
	// tetrix failed while calc is still building: tetrix may be settled at once.
	states := []State{
		{Package: "tetrix", Status: StatusFailed},
		{Package: "calc", Status: StatusPending},
		{Package: "games", Status: StatusDependencyFailed, BlockedBy: []string{"tetrix"}},
	}
	require.NoError(t, ValidateResolve(ResolveRequest{Package: "tetrix", Resolution: ResolutionWontFix, By: "alice", Reason: "gone"}, states))
	require.NoError(t, ValidateRetry("tetrix", states))
	err := ValidateRetry("calc", states)
	require.ErrorIs(t, err, ErrNotFailed)
	require.ErrorContains(t, err, "not built yet")
	err = ValidateRetry("games", states)
	require.ErrorContains(t, err, "tetrix failed: retry those")
	require.ErrorContains(t, ValidateRetry("tetrs", states), "did you mean tetrix")
	require.Equal(t, "resolve (wont-fix, cant-fix) or retry with a fix", NextStep(Actions(states)["tetrix"]))
	require.Equal(t, "resolve (wont-fix, cant-fix), or fix its root causes", NextStep(Actions(states)["games"]))
	require.Empty(t, Actions(states)["calc"])
	require.ErrorIs(t, CheckResolveRequest(ResolveRequest{Package: "tetrix", Resolution: "fixed", By: "a", Reason: "b"}), ErrBadResolution)
	require.NoError(t, CheckResolveRequest(ResolveRequest{Package: "tetrix", Resolution: ResolutionCantFix, By: "a", Reason: "b"}))
}
