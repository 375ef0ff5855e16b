package policy_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/policy"
)

func TestResolutionValues(t *testing.T) {
	t.Parallel()
	for _, r := range []policy.Resolution{"passed", "fixed", "wont-fix", "cant-fix", "marked-broken", "dependency-failed",
		"dependency-failed/wont-fix", "dependency-failed/cant-fix+marked-broken+wont-fix"} {
		require.True(t, r.Valid(), r)
	}
	for _, r := range []policy.Resolution{"", "broken", "dependency-failed/", "dependency-failed/fixed", "dependency-failed/wont-fix+cant-fix",
		"dependency-failed/wont-fix+wont-fix", "wont-fix/cant-fix", "dependency-failed/dependency-failed"} {
		require.False(t, r.Valid(), r)
	}
	require.Equal(t, policy.ResolutionDependencyFailed, policy.Resolution("dependency-failed/wont-fix").Base())
	require.Equal(t, policy.ResolutionWontFix, policy.ResolutionWontFix.Base())
	require.Equal(t, []policy.Resolution{"cant-fix", "wont-fix"}, policy.Resolution("dependency-failed/cant-fix+wont-fix").Inherited())
	require.Nil(t, policy.ResolutionWontFix.Inherited())

	require.Equal(t, policy.Resolution("dependency-failed/marked-broken"), policy.DependencyFailedFrom(policy.ResolutionMarkedBroken))
	require.Equal(t, policy.Resolution("dependency-failed/cant-fix+wont-fix"),
		policy.DependencyFailedFrom(policy.ResolutionWontFix, policy.ResolutionCantFix, policy.ResolutionWontFix))
	require.Equal(t, policy.ResolutionDependencyFailed, policy.DependencyFailedFrom())

	for r, want := range map[policy.Resolution]bool{"wont-fix": true, "cant-fix": true, "fixed": false, "passed": false, "marked-broken": false, "dependency-failed": false} {
		require.Equal(t, want, r.Settable(), r)
	}
	require.True(t, policy.ResolutionFixed.Green())
	require.True(t, policy.ResolutionPassed.Green())
	require.False(t, policy.ResolutionWontFix.Green())
}

// wave is the demo's libnet-2 minor wave: libhttp fails (fetch, webd, feedreader depend on
// it), tetrix fails, calc's tests fail, feedreader also needs tetrix, pkgtool (protected)
// fails and blocks nix (protected).
func wave() []policy.State {
	return []policy.State{
		{Package: "libnet", Status: passed},
		{Package: "libhttp", Status: failed},
		{Package: "fetch", Status: depFail, BlockedBy: []string{"libhttp"}},
		{Package: "webd", Status: depFail, BlockedBy: []string{"libhttp"}},
		{Package: "tetrix", Status: failed},
		{Package: "feedreader", Status: depFail, BlockedBy: []string{"libhttp", "tetrix"}},
		{Package: "calc", Status: testFail},
		{Package: "pkgtool", Status: failed, Protected: true},
		{Package: "nix", Status: depFail, BlockedBy: []string{"pkgtool"}, Protected: true},
		{Package: "ed", Status: pending},
	}
}

// apply sets the resolution (or for a rebuild, the status) a decision asks for.
func apply(states []policy.State, ds ...policy.Decision) []policy.State {
	out := slices.Clone(states)
	for _, d := range ds {
		for i := range out {
			if out[i].Package != d.Package {
				continue
			}
			switch d.Action {
			case policy.ActionResolve, policy.ActionMarkBroken:
				out[i].Resolution = d.Resolution
			case policy.ActionRebuild:
				out[i].Status, out[i].BlockedBy = pending, nil
			}
		}
	}
	return out
}

func set(states []policy.State, pkg string, f func(*policy.State)) []policy.State {
	out := slices.Clone(states)
	for i := range out {
		if out[i].Package == pkg {
			f(&out[i])
		}
	}
	return out
}

func TestValidateResolve(t *testing.T) {
	t.Parallel()
	states := set(wave(), "tetrix", func(s *policy.State) { s.Resolution = policy.ResolutionMarkedBroken })
	ok := policy.ResolveRequest{Package: "libhttp", Resolution: policy.ResolutionWontFix, By: "alice", Reason: "upstream dropped support"}
	require.NoError(t, policy.ValidateResolve(ok, states))

	for _, c := range []struct {
		name   string
		change func(*policy.ResolveRequest)
		is     error
		field  string
		msg    string
	}{
		{"unknown package", func(r *policy.ResolveRequest) { r.Package = "libhtp" }, policy.ErrUnknownPackage, "package",
			"resolve libhtp: package: unknown package (not in this minor wave; did you mean libhttp?)"},
		{"fixed is not a person's", func(r *policy.ResolveRequest) { r.Resolution = policy.ResolutionFixed }, policy.ErrBadResolution, "resolution",
			`resolve libhttp: resolution "fixed": bad resolution (a person may set wont-fix or cant-fix; fixed comes from a green build)`},
		{"marked-broken is the policy's", func(r *policy.ResolveRequest) { r.Resolution = policy.ResolutionMarkedBroken }, policy.ErrBadResolution, "resolution",
			"marked-broken is the policy's to set"},
		{"garbage resolution", func(r *policy.ResolveRequest) { r.Resolution = "meh" }, policy.ErrBadResolution, "resolution", `resolution "meh": bad resolution`},
		{"passed", func(r *policy.ResolveRequest) { r.Package = "libnet" }, policy.ErrNotFailed, "package", "resolve libnet: package: package did not fail (it passed)"},
		{"pending", func(r *policy.ResolveRequest) { r.Package = "ed" }, policy.ErrNotFailed, "package", "resolve ed: package: package did not fail (it is not built yet)"},
		{"already resolved", func(r *policy.ResolveRequest) { r.Package = "tetrix" }, policy.ErrAlreadyResolved, "package", "resolve tetrix: package: already resolved (as marked-broken)"},
		{"reason", func(r *policy.ResolveRequest) { r.Reason = "  " }, policy.ErrReasonRequired, "reason", "resolve libhttp: reason: reason required"},
		{"by", func(r *policy.ResolveRequest) { r.By = "" }, policy.ErrByRequired, "by", "resolve libhttp: by: who resolves is required"},
	} {
		req := ok
		c.change(&req)
		err := policy.ValidateResolve(req, states)
		require.ErrorIs(t, err, c.is, c.name)
		require.ErrorContains(t, err, c.msg, c.name)
		var re *policy.ResolveError
		require.True(t, errors.As(err, &re), c.name)
		require.Equal(t, req.Package, re.Package)
		require.Equal(t, c.field, re.Field, c.name)
	}

	// All problems at once.
	err := policy.ValidateResolve(policy.ResolveRequest{Package: "libnet", Resolution: "fixed"}, states)
	for _, is := range []error{policy.ErrNotFailed, policy.ErrBadResolution, policy.ErrReasonRequired, policy.ErrByRequired} {
		require.ErrorIs(t, err, is)
	}

	// Test failures and dependency-failed packages may be resolved by a person; protected
	// ones too (only the policy never resolves them).
	for _, pkg := range []string{"calc", "fetch", "pkgtool", "nix"} {
		req := ok
		req.Package = pkg
		require.NoError(t, policy.ValidateResolve(req, states), pkg)
	}
	// A dependent already settled through its root causes is resolved.
	settled := set(states, "libhttp", func(s *policy.State) { s.Resolution = policy.ResolutionCantFix })
	req := ok
	req.Package = "feedreader"
	require.ErrorContains(t, policy.ValidateResolve(req, settled), "already resolved (as dependency-failed/cant-fix+marked-broken through its root causes)")
}

func TestResolveDecision(t *testing.T) {
	t.Parallel()
	d, err := policy.Resolve(policy.ResolveRequest{Package: "libhttp", Resolution: policy.ResolutionWontFix, By: " alice ", Reason: "upstream dropped support "}, wave())
	require.NoError(t, err)
	require.Equal(t, policy.Decision{Action: policy.ActionResolve, Package: "libhttp", Resolution: policy.ResolutionWontFix, Reason: "alice: upstream dropped support"}, d)
	_, err = policy.Resolve(policy.ResolveRequest{Package: "libhttp", Resolution: policy.ResolutionWontFix, By: "alice"}, wave())
	require.ErrorIs(t, err, policy.ErrReasonRequired)
}

func TestFollow(t *testing.T) {
	t.Parallel()
	states := wave()
	require.Empty(t, policy.Follow(states), "nothing is settled yet")

	// libhttp marked broken: fetch and webd follow; feedreader still waits for tetrix.
	states = apply(states, policy.Decision{Action: policy.ActionMarkBroken, Package: "libhttp", Resolution: policy.ResolutionMarkedBroken})
	got := policy.Follow(states)
	require.Equal(t, []policy.Decision{
		{Action: policy.ActionResolve, Package: "fetch", Resolution: "dependency-failed/marked-broken", BlockedBy: []string{"libhttp"}, Reason: "blocked by libhttp (marked-broken)"},
		{Action: policy.ActionResolve, Package: "webd", Resolution: "dependency-failed/marked-broken", BlockedBy: []string{"libhttp"}, Reason: "blocked by libhttp (marked-broken)"},
	}, got)
	states = apply(states, got...)
	require.Empty(t, policy.Follow(states), "applied decisions are not repeated")

	// tetrix wont-fix: feedreader, blocked by both, follows both.
	states = apply(states, policy.Decision{Action: policy.ActionResolve, Package: "tetrix", Resolution: policy.ResolutionWontFix})
	got = policy.Follow(states)
	require.Equal(t, []policy.Decision{
		{Action: policy.ActionResolve, Package: "feedreader", Resolution: "dependency-failed/marked-broken+wont-fix", BlockedBy: []string{"libhttp", "tetrix"},
			Reason: "blocked by libhttp (marked-broken) and tetrix (wont-fix)"},
	}, got)

	// A person resolves protected pkgtool wont-fix: nix, protected, is not resolved for them.
	states = apply(states, got...)
	states = apply(states, policy.Decision{Action: policy.ActionResolve, Package: "pkgtool", Resolution: policy.ResolutionWontFix})
	require.Empty(t, policy.Follow(states))
	ok, blocking := policy.Settled(states)
	require.False(t, ok)
	require.Contains(t, blocking, "nix: dependency-failed and protected, so not resolved automatically: blocked by pkgtool (wont-fix); a person must resolve it")
}

func TestFollowFixedRootRebuilds(t *testing.T) {
	t.Parallel()
	// libhttp fixed on a retry: its dependents are rebuilt, feedreader too (it will then
	// be blocked by tetrix alone, or build once tetrix is fixed).
	states := set(wave(), "libhttp", func(s *policy.State) { s.Status, s.Resolution = passed, policy.ResolutionFixed })
	got := policy.Follow(states)
	require.Equal(t, []string{"feedreader", "fetch", "webd"}, packagesOf(got))
	for _, d := range got {
		require.Equal(t, policy.ActionRebuild, d.Action)
		require.Contains(t, d.Reason, "root cause libhttp was fixed; rebuild to see whether "+d.Package+" builds now")
	}
	// Passed on a retry without a resolution counts the same.
	states = set(wave(), "libhttp", func(s *policy.State) { s.Status = passed })
	require.Equal(t, []string{"feedreader", "fetch", "webd"}, packagesOf(policy.Follow(states)))
	// A fixed protected root rebuilds its protected dependents.
	states = set(wave(), "pkgtool", func(s *policy.State) { s.Status, s.Resolution = passed, policy.ResolutionFixed })
	require.Equal(t, []string{"nix"}, packagesOf(policy.Follow(states)))
}

func packagesOf(ds []policy.Decision) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Package)
	}
	return out
}

func TestSettled(t *testing.T) {
	t.Parallel()
	ok, blocking := policy.Settled(wave())
	require.False(t, ok)
	require.Equal(t, []string{
		"calc: tests fail; waits for a fix, a person's resolution or the end of its grace period",
		"ed: not built yet",
		"libhttp: fails to build; waits for a fix, a person's resolution or the end of its grace period (blocks 3 packages)",
		"pkgtool: fails to build; protected, so never marked broken: waits for a fix or a person's resolution (blocks 1 package)",
		"tetrix: fails to build; waits for a fix, a person's resolution or the end of its grace period (blocks 1 package)",
	}, blocking)

	// Settle everything the way a wave would: builds, a person, the policy, followers.
	states := wave()
	states = set(states, "ed", func(s *policy.State) { s.Status = passed })
	states = set(states, "calc", func(s *policy.State) { s.Status, s.Resolution = passed, policy.ResolutionFixed })
	states = apply(states,
		policy.Decision{Action: policy.ActionMarkBroken, Package: "libhttp", Resolution: policy.ResolutionMarkedBroken},
		policy.Decision{Action: policy.ActionResolve, Package: "tetrix", Resolution: policy.ResolutionCantFix},
		policy.Decision{Action: policy.ActionResolve, Package: "pkgtool", Resolution: policy.ResolutionWontFix},
	)
	ok, blocking = policy.Settled(states)
	require.False(t, ok)
	require.Equal(t, []string{"nix: dependency-failed and protected, so not resolved automatically: blocked by pkgtool (wont-fix); a person must resolve it"}, blocking)
	states = apply(states, policy.Decision{Action: policy.ActionResolve, Package: "nix", Resolution: policy.ResolutionWontFix})
	// Unprotected followers count as settled through their root causes, applied or not.
	ok, blocking = policy.Settled(states)
	require.True(t, ok, "%v", blocking)
	require.Empty(t, blocking)
	ok, _ = policy.Settled(apply(states, policy.Follow(states)...))
	require.True(t, ok)
}

func TestSettledInconsistent(t *testing.T) {
	t.Parallel()
	ok, blocking := policy.Settled([]policy.State{
		{Package: "a", Status: depFail},
		{Package: "b", Status: depFail, BlockedBy: []string{"gone"}},
		{Package: "c", Status: "weird"},
		{Package: "d", Status: failed, Resolution: policy.ResolutionFixed},
		{Package: "e", Status: failed, Resolution: "nope"},
		{Package: "f", Status: passed},
		{Package: "f", Status: passed},
		{Package: "g", Status: depFail, BlockedBy: []string{"h"}},
		{Package: "h", Status: depFail, BlockedBy: []string{"i"}},
		{Package: "i", Status: failed, Resolution: policy.ResolutionWontFix},
	})
	require.False(t, ok)
	require.Equal(t, []string{
		"a: dependency-failed but names no root cause",
		"b: blocked by gone, which has no single state in this minor wave",
		`c: unknown status "weird"`,
		"d: resolved as fixed but its status is failed",
		`e: unknown resolution "nope"`,
		"f: listed more than once",
		"g: dependency-failed, waits for root causes h",
	}, blocking)
	require.Empty(t, policy.Follow([]policy.State{{Package: "b", Status: depFail, BlockedBy: []string{"gone"}}}))

	// A root cause listed twice decides nothing for its dependents, whatever the order.
	for _, states := range [][]policy.State{
		{{Package: "r", Status: passed}, {Package: "r", Status: failed, Resolution: "wont-fix"}, {Package: "d", Status: depFail, BlockedBy: []string{"r"}}},
		{{Package: "r", Status: failed, Resolution: "wont-fix"}, {Package: "r", Status: passed}, {Package: "d", Status: depFail, BlockedBy: []string{"r"}}},
	} {
		require.Empty(t, policy.Follow(states))
		_, blocking := policy.Settled(states)
		require.Equal(t, []string{"d: blocked by r, which has no single state in this minor wave", "r: listed more than once"}, blocking)
		err := policy.ValidateResolve(policy.ResolveRequest{Package: "r", Resolution: "wont-fix", By: "a", Reason: "b"}, states)
		require.ErrorContains(t, err, "resolve r: package: unknown package (the minor wave lists it more than once)")
	}
}

// TestResolutionDeterminism: the order of the states never shows in any result.
func TestResolutionDeterminism(t *testing.T) {
	t.Parallel()
	base := apply(wave(), policy.Decision{Action: policy.ActionMarkBroken, Package: "libhttp", Resolution: policy.ResolutionMarkedBroken},
		policy.Decision{Action: policy.ActionResolve, Package: "tetrix", Resolution: policy.ResolutionWontFix})
	wantFollow := policy.Follow(base)
	wantOK, wantBlocking := policy.Settled(base)
	req := policy.ResolveRequest{Package: "calc", Resolution: "wont-fix", By: "bob", Reason: "flaky upstream test"}
	wantDec, err := policy.Resolve(req, base)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		s := slices.Clone(base)
		rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		for i := range s {
			s[i].BlockedBy = slices.Clone(s[i].BlockedBy)
			slices.Reverse(s[i].BlockedBy)
		}
		require.Equal(t, wantFollow, policy.Follow(s))
		ok, blocking := policy.Settled(s)
		require.Equal(t, wantOK, ok)
		require.Equal(t, wantBlocking, blocking)
		d, err := policy.Resolve(req, s)
		require.NoError(t, err)
		require.Equal(t, wantDec, d)
	}
}
