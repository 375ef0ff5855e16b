package policy_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/policy"
)

// TestValidatePatchResolve: in a security patch's rebuild a person may settle what a minor
// wave lets them settle, except protected packages, which are fixed or nothing; every
// problem is named at once, the protected one among them.
func TestValidatePatchResolve(t *testing.T) {
	t.Parallel()
	states := wave()
	ok := policy.ResolveRequest{Package: "libhttp", Resolution: policy.ResolutionWontFix, By: "alice", Reason: "upstream dropped support"}
	for _, pkg := range []string{"libhttp", "calc", "fetch", "tetrix"} {
		req := ok
		req.Package = pkg
		require.NoError(t, policy.ValidatePatchResolve(req, states), pkg)
	}
	for _, pkg := range []string{"pkgtool", "nix"} {
		req := ok
		req.Package = pkg
		require.NoError(t, policy.ValidateResolve(req, states), "a minor wave lets a person resolve %s", pkg)
		err := policy.ValidatePatchResolve(req, states)
		require.ErrorIs(t, err, policy.ErrProtected, pkg)
		require.ErrorContains(t, err, "resolve "+pkg+": package: protected: a security tag needs it fixed (it is in the closure of a protected root: retry it with a fix)")
		var re *policy.ResolveError
		require.True(t, errors.As(err, &re))
		require.Equal(t, "package", re.Field)
	}

	// The minor wave's refusals stay, with the protected one beside them.
	err := policy.ValidatePatchResolve(policy.ResolveRequest{Package: "pkgtool", Resolution: "fixed"}, states)
	for _, is := range []error{policy.ErrProtected, policy.ErrBadResolution, policy.ErrReasonRequired, policy.ErrByRequired} {
		require.ErrorIs(t, err, is)
	}
	err = policy.ValidatePatchResolve(policy.ResolveRequest{Package: "libhtp", Resolution: "wont-fix", By: "a", Reason: "b"}, states)
	require.ErrorIs(t, err, policy.ErrUnknownPackage)
	require.ErrorContains(t, err, "did you mean libhttp?")
	require.NotErrorIs(t, err, policy.ErrProtected)

	actions := policy.PatchActions(states)
	require.Equal(t, []string{policy.ActionPersonRetry}, actions["pkgtool"], "protected: retry with a fix only")
	require.NotContains(t, actions, "nix", "a protected dependent waits for its root cause's fix")
	require.Equal(t, policy.Actions(states)["libhttp"], actions["libhttp"])
}

// TestPatchActionsAgreeWithValidators: what a patch's status invites, its validators
// accept, and the reverse, over random rebuilds.
func TestPatchActionsAgreeWithValidators(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(17, 3))
	statuses := []policy.Status{policy.StatusPending, policy.StatusPassed, policy.StatusFailed, policy.StatusTestFailed, policy.StatusDependencyFailed}
	for trial := range 500 {
		n := 2 + rng.IntN(10)
		states := make([]policy.State, n)
		for i := range states {
			s := policy.State{Package: fmt.Sprintf("p%02d", i), Status: statuses[rng.IntN(len(statuses))], Protected: rng.IntN(2) == 0}
			if s.Status == policy.StatusDependencyFailed {
				s.BlockedBy = []string{fmt.Sprintf("p%02d", rng.IntN(n))}
			}
			if s.Status == policy.StatusFailed && rng.IntN(4) == 0 {
				s.Resolution = policy.ResolutionWontFix
			}
			states[i] = s
		}
		actions := policy.PatchActions(states)
		for _, s := range states {
			err := policy.ValidatePatchResolve(policy.ResolveRequest{Package: s.Package, Resolution: policy.ResolutionWontFix, By: "a", Reason: "b"}, states)
			require.Equal(t, slices.Contains(actions[s.Package], policy.ActionPersonResolve), err == nil, "trial %d %+v: %v", trial, s, err)
			require.Equal(t, slices.Contains(actions[s.Package], policy.ActionPersonRetry), policy.ValidateRetry(s.Package, states) == nil)
		}
	}
}
