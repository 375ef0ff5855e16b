package policy_test

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/policy"
)

var (
	notified = time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)
	deadline = notified.Add(7 * policy.Day) // 2026-07-08T10:00:00Z with the defaults
)

func failure() policy.Failure {
	return policy.Failure{Package: "libhttp", Status: failed, Maintainers: []string{"bob", "alice"}, Notified: notified}
}

func grace(t *testing.T, f policy.Failure, s policy.Settings, now time.Time) policy.Decision {
	t.Helper()
	d, err := policy.Grace(f, s, now)
	require.NoError(t, err)
	require.Equal(t, f.Package, d.Package)
	require.NotEmpty(t, d.Reason)
	return d
}

func TestGraceBoundaries(t *testing.T) {
	t.Parallel()
	f := failure()

	d := grace(t, f, policy.Settings{}, notified)
	require.Equal(t, policy.ActionWait, d.Action)
	require.True(t, d.Until.Equal(deadline))

	d = grace(t, f, policy.Settings{}, deadline.Add(-time.Nanosecond))
	require.Equal(t, policy.Decision{
		Action:  policy.ActionWait,
		Package: "libhttp",
		Until:   deadline,
		Reason:  "grace period of 7d since 2026-07-01T10:00:00Z runs until 2026-07-08T10:00:00Z; maintainers alice, bob notified; 1 extension left (a comment or a retry adds 3d)",
	}, d)

	d = grace(t, f, policy.Settings{}, deadline)
	require.Equal(t, policy.Decision{
		Action:     policy.ActionMarkBroken,
		Package:    "libhttp",
		Resolution: policy.ResolutionMarkedBroken,
		Reason:     "grace period of 7d since 2026-07-01T10:00:00Z ended without a fix; maintainers alice, bob notified",
	}, d)

	d = grace(t, f, policy.Settings{}, deadline.Add(30*policy.Day))
	require.Equal(t, policy.ActionMarkBroken, d.Action)
	require.Equal(t, "libhttp: mark-broken: grace period of 7d since 2026-07-01T10:00:00Z ended without a fix; maintainers alice, bob notified", d.String())
	// The audit log's shape: no deadline when there is none.
	b, err := json.Marshal(d)
	require.NoError(t, err)
	require.JSONEq(t, `{"action": "mark-broken", "package": "libhttp", "resolution": "marked-broken",
		"reason": "grace period of 7d since 2026-07-01T10:00:00Z ended without a fix; maintainers alice, bob notified"}`, string(b))
	b, err = json.Marshal(grace(t, f, policy.Settings{}, notified))
	require.NoError(t, err)
	require.Contains(t, string(b), `"until":"2026-07-08T10:00:00Z"`)

	// The grace period comes from the settings.
	s := policy.Settings{GracePeriod: dur(2 * time.Minute), AllowShortPeriods: boolp(true), Extension: dur(time.Minute)}
	require.Equal(t, policy.ActionWait, grace(t, f, s, notified.Add(2*time.Minute-time.Nanosecond)).Action)
	d = grace(t, f, s, notified.Add(2*time.Minute))
	require.Equal(t, policy.ActionMarkBroken, d.Action)
	require.Contains(t, d.Reason, "grace period of 2m since")
}

func TestGraceNotNotified(t *testing.T) {
	t.Parallel()
	f := failure()
	f.Notified = time.Time{}
	d := grace(t, f, policy.Settings{}, deadline.Add(100*policy.Day))
	require.Equal(t, policy.Decision{
		Action:  policy.ActionWait,
		Package: "libhttp",
		Reason:  "maintainers of libhttp have not been notified yet; the grace period of 7d starts when they are",
	}, d)
	require.True(t, d.Until.IsZero())
}

func TestGraceProtected(t *testing.T) {
	t.Parallel()
	f := failure()
	f.Package = "pkgtool"
	f.Protected = policy.Chain{"default-system", "nix", "pkgtool"}
	for _, now := range []time.Time{notified, deadline, deadline.Add(365 * policy.Day)} {
		d := grace(t, f, policy.Settings{}, now)
		require.Equal(t, policy.Decision{
			Action:  policy.ActionBlock,
			Package: "pkgtool",
			Reason: "pkgtool is in the build closure of protected root default-system (via default-system → nix → pkgtool); " +
				"protected packages are never marked broken, so the minor wave waits for a fix or a person's resolution",
		}, d)
	}
	// Protection wins even before the notification.
	f.Notified = time.Time{}
	require.Equal(t, policy.ActionBlock, grace(t, f, policy.Settings{}, notified).Action)

	f = failure()
	f.Package, f.Protected = "stdenv", policy.Chain{"stdenv"}
	require.Contains(t, grace(t, f, policy.Settings{}, deadline).Reason, "stdenv is a protected root; protected packages are never marked broken")

	// A chain from a real Set.
	g := mkGraph(t, "default-system:nix", "nix:pkgtool", "pkgtool:libcrypto", "libcrypto:", "app:libcrypto")
	set, err := policy.Protected(g, []string{"default-system"})
	require.NoError(t, err)
	f = failure()
	f.Package, f.Protected = "libcrypto", set.Why("libcrypto")
	require.Contains(t, grace(t, f, policy.Settings{}, deadline).Reason, "(via default-system → nix → pkgtool → libcrypto)")
	f.Package, f.Protected = "app", set.Why("app")
	require.Equal(t, policy.ActionMarkBroken, grace(t, f, policy.Settings{}, deadline).Action)
}

func TestGraceExtension(t *testing.T) {
	t.Parallel()
	extended := deadline.Add(3 * policy.Day) // 2026-07-11T10:00:00Z
	comment := policy.Event{Kind: policy.EventComment, At: notified.Add(policy.Day), Actor: "alice"}

	f := failure()
	f.Events = []policy.Event{comment}
	d := grace(t, f, policy.Settings{}, deadline)
	require.Equal(t, policy.ActionWait, d.Action, d.Reason)
	require.True(t, d.Until.Equal(extended))
	require.Equal(t, "grace period of 7d since 2026-07-01T10:00:00Z, extended by 3d after a comment by alice at 2026-07-02T10:00:00Z, "+
		"runs until 2026-07-11T10:00:00Z; maintainers alice, bob notified; no extensions left", d.Reason)
	require.Equal(t, policy.ActionWait, grace(t, f, policy.Settings{}, extended.Add(-time.Nanosecond)).Action)
	d = grace(t, f, policy.Settings{}, extended)
	require.Equal(t, policy.ActionMarkBroken, d.Action)
	require.Equal(t, "grace period of 7d since 2026-07-01T10:00:00Z, extended by 3d after a comment by alice at 2026-07-02T10:00:00Z, "+
		"ended at 2026-07-11T10:00:00Z without a fix; maintainers alice, bob notified", d.Reason)

	// Once, then no more: a second comment or a retry does not extend again.
	for _, second := range []policy.Event{
		{Kind: policy.EventComment, At: notified.Add(2 * policy.Day), Actor: "bob"},
		{Kind: policy.EventRetry, At: deadline.Add(time.Hour), Actor: "carol"},
	} {
		f.Events = []policy.Event{comment, second}
		require.Equal(t, policy.ActionMarkBroken, grace(t, f, policy.Settings{}, extended).Action)
		require.True(t, grace(t, f, policy.Settings{}, extended.Add(-time.Second)).Until.Equal(extended))
	}

	// A retry extends like a comment and says so.
	f.Events = []policy.Event{{Kind: policy.EventRetry, At: notified.Add(6 * policy.Day), Actor: "bob"}}
	d = grace(t, f, policy.Settings{}, deadline)
	require.Equal(t, policy.ActionWait, d.Action)
	require.True(t, d.Until.Equal(extended))
	require.Contains(t, d.Reason, "extended by 3d after a retry by bob at 2026-07-07T10:00:00Z")

	// A comment from the tracker, without a known author.
	f.Events = []policy.Event{{Kind: policy.EventComment, At: notified.Add(time.Hour)}}
	require.Contains(t, grace(t, f, policy.Settings{}, deadline).Reason, "after a comment at 2026-07-01T11:00:00Z,")
}

func TestGraceExtensionEdges(t *testing.T) {
	t.Parallel()
	extended := deadline.Add(3 * policy.Day)
	at := func(ts time.Time) []policy.Event {
		return []policy.Event{{Kind: policy.EventComment, At: ts, Actor: "alice"}}
	}
	f := failure()

	// Just before the deadline extends; at the deadline it is too late.
	f.Events = at(deadline.Add(-time.Nanosecond))
	require.True(t, grace(t, f, policy.Settings{}, deadline).Until.Equal(extended))
	f.Events = at(deadline)
	require.Equal(t, policy.ActionMarkBroken, grace(t, f, policy.Settings{}, deadline).Action)
	// Before the notification, nothing was running to extend.
	f.Events = at(notified.Add(-time.Nanosecond))
	require.Equal(t, policy.ActionMarkBroken, grace(t, f, policy.Settings{}, deadline).Action)
	f.Events = at(notified)
	require.True(t, grace(t, f, policy.Settings{}, deadline).Until.Equal(extended))
	// Events after now are not known at now.
	f.Events = at(notified.Add(3 * policy.Day))
	d := grace(t, f, policy.Settings{}, notified.Add(2*policy.Day))
	require.True(t, d.Until.Equal(deadline), d.Reason)
	require.Contains(t, d.Reason, "1 extension left")

	// More extensions: the second may come after the original deadline, before the new one.
	s := policy.Settings{MaxExtensions: intp(2)}
	f.Events = []policy.Event{
		{Kind: policy.EventRetry, At: deadline.Add(time.Hour), Actor: "bob"},
		{Kind: policy.EventComment, At: notified.Add(policy.Day), Actor: "alice"},
	}
	d = grace(t, f, s, deadline.Add(2*time.Hour))
	require.True(t, d.Until.Equal(deadline.Add(6*policy.Day)), d.Reason)
	require.Contains(t, d.Reason, "extended by 2 × 3d after a comment by alice at 2026-07-02T10:00:00Z and a retry by bob at 2026-07-08T11:00:00Z,")
	require.Contains(t, d.Reason, "no extensions left")
	// Without the first, the retry came too late.
	f.Events = f.Events[:1]
	require.Equal(t, policy.ActionMarkBroken, grace(t, f, s, deadline.Add(2*time.Hour)).Action)

	// Extensions off.
	f.Events = at(notified.Add(policy.Day))
	d = grace(t, f, policy.Settings{MaxExtensions: intp(0)}, deadline.Add(-time.Hour))
	require.True(t, d.Until.Equal(deadline))
	require.Contains(t, d.Reason, "extensions are off")
	require.Equal(t, policy.ActionMarkBroken, grace(t, f, policy.Settings{MaxExtensions: intp(0)}, deadline).Action)
}

func TestGraceOther(t *testing.T) {
	t.Parallel()
	f := failure()
	f.Maintainers = nil
	f.Status = testFail
	d := grace(t, f, policy.Settings{}, deadline)
	require.Equal(t, "grace period of 7d since 2026-07-01T10:00:00Z ended without a fix; no maintainers listed; the issue was filed at 2026-07-01T10:00:00Z", d.Reason)

	for _, c := range []struct {
		change func(*policy.Failure)
		s      policy.Settings
		msg    string
	}{
		{func(f *policy.Failure) { f.Status = passed }, policy.Settings{}, `grace libhttp: status "passed" is not a failure`},
		{func(f *policy.Failure) { f.Status = depFail }, policy.Settings{}, `status "dependency-failed" is not a failure`},
		{func(f *policy.Failure) { f.Package = "" }, policy.Settings{}, "grace: no package"},
		{func(*policy.Failure) {}, policy.Settings{GracePeriod: dur(time.Minute)}, `grace libhttp: policy settings: grace_period "1m": must be at least 1h`},
		{func(f *policy.Failure) { f.Protected = policy.Chain{"stdenv", "gcc"} }, policy.Settings{}, "protection chain stdenv → gcc does not end at the package"},
		{func(f *policy.Failure) { f.Events = []policy.Event{{Kind: "like", At: notified}} }, policy.Settings{}, `has unknown kind "like"`},
	} {
		f := failure()
		c.change(&f)
		_, err := policy.Grace(f, c.s, deadline)
		require.ErrorContains(t, err, c.msg)
	}
}

// TestGraceDeterminism: the order of events and maintainers, and the location of the
// times given, never show in the decision.
func TestGraceDeterminism(t *testing.T) {
	t.Parallel()
	f := failure()
	f.Maintainers = []string{"carol", "alice", "bob", "alice"}
	f.Events = []policy.Event{
		{Kind: policy.EventRetry, At: notified.Add(2 * policy.Day), Actor: "carol"},
		{Kind: policy.EventComment, At: notified.Add(2 * policy.Day), Actor: "bob"},
		{Kind: policy.EventComment, At: notified.Add(2 * policy.Day), Actor: "alice"},
		{Kind: policy.EventComment, At: notified.Add(-policy.Day), Actor: "dave"},
		{Kind: policy.EventRetry, At: deadline.Add(policy.Day), Actor: "erin"},
	}
	s := policy.Settings{MaxExtensions: intp(2)}
	now := deadline.Add(time.Hour)
	want := grace(t, f, s, now)
	require.Contains(t, want.Reason, "after a comment by alice at 2026-07-03T10:00:00Z and a comment by bob at 2026-07-03T10:00:00Z,")
	require.Contains(t, want.Reason, "maintainers alice, bob, carol notified")

	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 20 {
		g := f
		g.Events = slices.Clone(f.Events)
		g.Maintainers = slices.Clone(f.Maintainers)
		rng.Shuffle(len(g.Events), func(i, j int) { g.Events[i], g.Events[j] = g.Events[j], g.Events[i] })
		rng.Shuffle(len(g.Maintainers), func(i, j int) { g.Maintainers[i], g.Maintainers[j] = g.Maintainers[j], g.Maintainers[i] })
		n := now
		if i%2 == 1 {
			g.Notified = g.Notified.In(zone)
			for j := range g.Events {
				g.Events[j].At = g.Events[j].At.In(zone)
			}
			n = now.In(zone)
		}
		got := grace(t, g, s, n)
		require.True(t, want.Equal(got), "%v\n%v", want, got)
		require.Equal(t, time.UTC, got.Until.Location())
	}
}
