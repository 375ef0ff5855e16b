package policy_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/policy"
)

var graftable = policy.Graftability{SameNameLength: true}

func TestChooseStrategy(t *testing.T) {
	t.Parallel()
	hour := 3600.0
	tests := []struct {
		name     string
		in       policy.StrategyInput
		strategy policy.Strategy
		schedule bool
		refused  bool
		offer    policy.Strategy
		reason   string
	}{
		{"critical and graftable: graft now, rebuild later",
			policy.StrategyInput{Severity: "critical", ChangedLines: 900, RebuildSeconds: 10 * hour, Graft: graftable},
			policy.StrategyReplaceDependency, true, false, "", "critical and graftable"},
		{"small closure: rebuild",
			policy.StrategyInput{Severity: "critical", ChangedLines: 3, RebuildSeconds: 600, Graft: graftable},
			policy.StrategyRebuild, false, false, "", "costs 10m, within small_closure 1h"},
		{"major version change: duplicate-wave",
			policy.StrategyInput{Severity: "critical", OldVersion: "2.5.0", NewVersion: "3.0.0", RebuildSeconds: 10 * hour, Graft: graftable},
			policy.StrategyDuplicateWave, false, false, "", "2.5.0 → 3.0.0 changes the major version"},
		{"minor version change is not major",
			policy.StrategyInput{Severity: "high", OldVersion: "2.5.0", NewVersion: "2.5.1", ChangedLines: 12, RebuildSeconds: 10 * hour, Graft: graftable},
			policy.StrategyReplaceDependency, true, false, "", "severity high, 12 changed lines and graftable"},
		{"high but large patch: rebuild",
			policy.StrategyInput{Severity: "high", ChangedLines: 201, RebuildSeconds: 10 * hour, Graft: graftable},
			policy.StrategyRebuild, false, false, "", "201 lines, more than max_graft_lines 200"},
		{"medium: rebuild",
			policy.StrategyInput{Severity: "medium", ChangedLines: 2, RebuildSeconds: 10 * hour, Graft: graftable},
			policy.StrategyRebuild, false, false, "", "below graft_severity high"},
		{"critical, not graftable (name length): rebuild",
			policy.StrategyInput{Severity: "critical", RebuildSeconds: 10 * hour},
			policy.StrategyRebuild, false, false, "", "differs in length"},
		{"critical, embedded: rebuild",
			policy.StrategyInput{Severity: "critical", RebuildSeconds: 10 * hour, Graft: policy.Graftability{SameNameLength: true, EmbeddedBy: []string{"backup"}}},
			policy.StrategyRebuild, false, false, "", "backup embeds the old output"},
		{"override: rebuild wins over auto's graft",
			policy.StrategyInput{Severity: "critical", Requested: "rebuild", RebuildSeconds: 10 * hour, Graft: graftable},
			policy.StrategyRebuild, false, false, "", "requested by a person"},
		{"override: graft of a small closure",
			policy.StrategyInput{Severity: "low", Requested: "replace-dependency", RebuildSeconds: 1, Graft: graftable},
			policy.StrategyReplaceDependency, true, false, "", "requested by a person"},
		{"override: unsafe graft refused, rebuild offered",
			policy.StrategyInput{Severity: "critical", Requested: "replace-dependency", RebuildSeconds: 10 * hour},
			"", false, true, policy.StrategyRebuild, "graft refused: the patched store path name differs in length"},
		{"override: unsafe graft of a major change offers duplicate-wave",
			policy.StrategyInput{Severity: "critical", Requested: "replace-dependency", OldVersion: "1.9", NewVersion: "2.0",
				Graft: policy.Graftability{SameNameLength: true, EmbeddedBy: []string{"a", "b"}}},
			"", false, true, policy.StrategyDuplicateWave, "a, b embed the old output"},
		{"unknown severity refused",
			policy.StrategyInput{Severity: "urgent"},
			"", false, true, "", `severity "urgent"`},
		{"unknown strategy refused",
			policy.StrategyInput{Severity: "low", Requested: "yolo"},
			"", false, true, "", `strategy "yolo"`},
		{"settings: small closure raised",
			policy.StrategyInput{Severity: "critical", RebuildSeconds: 10 * hour, Graft: graftable,
				Settings: policy.StrategySettings{SmallClosure: new(policy.Duration(24 * policy.Day))}},
			policy.StrategyRebuild, false, false, "", "within small_closure 24d"},
		{"settings: invalid refused",
			policy.StrategyInput{Severity: "critical", Settings: policy.StrategySettings{MaxGraftLines: new(-1)}},
			"", false, true, "", "max_graft_lines -1: must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Package = "libcrypto"
			d := policy.ChooseStrategy(tc.in)
			require.Equal(t, tc.strategy, d.Strategy, d.String())
			require.Equal(t, tc.schedule, d.ScheduleRebuild, d.String())
			require.Equal(t, tc.refused, d.Refused, d.String())
			require.Equal(t, tc.offer, d.Offer, d.String())
			require.Contains(t, d.Reason, tc.reason)
			require.Equal(t, "libcrypto", d.Package)
		})
	}
}

// TestChooseStrategyProperties: the same input always gives the same decision; a graft is
// never chosen (nor accepted) when it is unsafe; every decision has a reason; exactly one of
// a strategy and a refusal.
func TestChooseStrategyProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 7))
	sevs := []policy.Severity{"low", "medium", "high", "critical", "bogus"}
	reqs := []policy.Strategy{"", "auto", "replace-dependency", "rebuild", "duplicate-wave"}
	vers := []string{"", "2.5.0", "2.5.1", "3.0.0", "v3.1"}
	for range 5000 {
		in := policy.StrategyInput{
			Package:        "p",
			Severity:       sevs[rng.IntN(len(sevs))],
			Requested:      reqs[rng.IntN(len(reqs))],
			ChangedLines:   rng.IntN(500),
			OldVersion:     vers[rng.IntN(len(vers))],
			NewVersion:     vers[rng.IntN(len(vers))],
			RebuildSeconds: rng.Float64() * 20000,
			Graft:          policy.Graftability{SameNameLength: rng.IntN(2) == 0},
		}
		if rng.IntN(3) == 0 {
			in.Graft.EmbeddedBy = []string{"dep"}
		}
		d := policy.ChooseStrategy(in)
		require.Equal(t, d, policy.ChooseStrategy(in), "same input, same decision")
		safe := in.Graft.SameNameLength && len(in.Graft.EmbeddedBy) == 0
		if !safe {
			require.NotEqual(t, policy.StrategyReplaceDependency, d.Strategy, "%+v → %s", in, d)
		}
		require.NotEmpty(t, d.Reason)
		require.True(t, d.Refused != (d.Strategy != ""), "%s", d)
		require.Equal(t, d.Strategy == policy.StrategyReplaceDependency, d.ScheduleRebuild, "%s", d)
		if !d.Refused && in.Requested != "" && in.Requested != "auto" {
			require.Equal(t, in.Requested, d.Strategy, "an explicit strategy wins")
		}
		if d.Refused && d.Offer != "" {
			require.True(t, strings.Contains(d.Reason, "graft refused"), "%s", d)
		}
	}
}

func TestStrongerStrategy(t *testing.T) {
	graft := policy.StrategyDecision{Package: "libcrypto", Strategy: policy.StrategyReplaceDependency, Reason: "graftable", ScheduleRebuild: true}
	rebuild := policy.StrategyDecision{Package: "libcrypto", Strategy: policy.StrategyRebuild, Reason: "not graftable: names differ"}
	refused := policy.StrategyDecision{Package: "libcrypto", Refused: true, Offer: policy.StrategyRebuild, Reason: "graft refused: names differ"}
	dup := policy.StrategyDecision{Package: "libcrypto", Strategy: policy.StrategyDuplicateWave, Reason: "major version"}
	for _, c := range []struct {
		a, b policy.StrategyDecision
		want policy.StrategyDecision
	}{
		{graft, graft, graft},
		{graft, rebuild, policy.StrategyDecision{Package: "libcrypto", Strategy: policy.StrategyRebuild, Reason: "on i686-linux: not graftable: names differ"}},
		{rebuild, graft, rebuild},
		{rebuild, dup, policy.StrategyDecision{Package: "libcrypto", Strategy: policy.StrategyDuplicateWave, Reason: "on i686-linux: major version"}},
		{graft, refused, policy.StrategyDecision{Package: "libcrypto", Refused: true, Offer: policy.StrategyRebuild, Reason: "on i686-linux: graft refused: names differ"}},
		{refused, dup, refused},
	} {
		require.Equal(t, c.want, policy.StrongerStrategy(c.a, c.b, "i686-linux"), "%s with %s", c.a, c.b)
	}
}
