package graph

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMeasured(t *testing.T) {
	t.Parallel()
	g := mustNew(t, []Package{
		{Key: "lib"},
		{Key: "app", Deps: []string{"lib"}},
		{Key: "hinted", Cost: CostHints{BuildSeconds: 77}},
	})
	structural := func(k string) float64 {
		p, _ := g.Package(k)
		return DefaultCost.Seconds(p, g)
	}
	durations := map[string]float64{"lib": 3600, "hinted": 5, "zero": 0}
	cases := []struct {
		name     string
		model    Measured
		key      string
		want     float64
		whyWrong string
	}{
		{"measured", Measured{Durations: durations}, "lib", 3600, "a measured package costs its measurement"},
		{"unmeasured", Measured{Durations: durations}, "app", structural("app"), "an unmeasured one falls back to DefaultCost"},
		{"beats the graph's hint", Measured{Durations: durations}, "hinted", 5, "a measurement here beats the recorded graph's"},
		{"fallback given", Measured{Durations: durations, Fallback: UnitCost}, "app", 1, "the fallback given prices the rest"},
		{"fallback does not override", Measured{Durations: durations, Fallback: UnitCost}, "lib", 3600, "the fallback is only for the rest"},
		{"no durations", Measured{}, "lib", structural("lib"), "no measurements: the fallback throughout"},
		{"negative", Measured{Durations: map[string]float64{"lib": -1}}, "lib", structural("lib"), "a negative duration is no measurement"},
		{"NaN", Measured{Durations: map[string]float64{"lib": math.NaN()}}, "lib", structural("lib"), "NaN is no measurement"},
		{"infinite", Measured{Durations: map[string]float64{"lib": math.Inf(1)}}, "lib", structural("lib"), "+Inf is no measurement"},
		{"zero", Measured{Durations: map[string]float64{"lib": 0}}, "lib", 0, "a build with nothing to do took 0 s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, ok := g.Package(c.key)
			require.True(t, ok)
			require.Equal(t, c.want, c.model.Seconds(p, g), c.whyWrong)
		})
	}
	require.NotEqual(t, 3600.0, structural("lib"), "the table above would not tell measured from structural")
}

// TestMeasuredPropertiesOnRandomGraphs: with no durations Measured plans exactly as its
// fallback does; with some, each package costs its measurement or the fallback's estimate;
// and making one package's measured build longer lengthens its own remaining critical path by
// exactly that much, shortens nobody's, and adds exactly that much to a plan's cost when the
// plan builds it.
func TestMeasuredPropertiesOnRandomGraphs(t *testing.T) {
	t.Parallel()
	for seed := uint64(0); seed < 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 17))
		pkgs := randomPackages(rng, 20+rng.IntN(120), 1+rng.IntN(4), seed%3 == 0)
		for i := range pkgs {
			if rng.IntN(2) == 0 {
				pkgs[i].Cost.BuildSeconds = float64(rng.IntN(500))
			}
		}
		g := mustNewLenient(t, pkgs)
		req := randomRequest(rng, pkgs, 1)
		req.Cost = nil

		// No durations: the same plan as the fallback's, byte for byte.
		want, err := g.Plan(req)
		require.NoError(t, err)
		withNone := req
		withNone.Cost = Measured{}
		got, err := g.Plan(withNone)
		require.NoError(t, err)
		wantJSON, _ := json.Marshal(want)
		gotJSON, _ := json.Marshal(got)
		require.Equal(t, string(wantJSON), string(gotJSON), "seed %d", seed)

		// Some durations: measured or fallback, package by package.
		durations := map[string]float64{}
		for _, p := range pkgs {
			if rng.IntN(3) == 0 {
				durations[p.Key] = float64(rng.IntN(20_000))
			}
		}
		m := Measured{Durations: durations}
		keys := g.Keys()
		for _, k := range keys {
			p, _ := g.Package(k)
			if d, ok := durations[k]; ok {
				require.Equal(t, d, m.Seconds(p, g))
			} else {
				require.Equal(t, DefaultCost.Seconds(p, g), m.Seconds(p, g))
			}
		}

		// One build measured longer: its bottom level grows by exactly that, none shrinks.
		s, err := g.BuildSet(keys, m)
		require.NoError(t, err)
		slow := keys[rng.IntN(len(keys))]
		const more = 7_000.0
		longer := map[string]float64{}
		for k, d := range durations {
			longer[k] = d
		}
		p, _ := g.Package(slow)
		longer[slow] = m.Seconds(p, g) + more
		s2, err := g.BuildSet(keys, Measured{Durations: longer})
		require.NoError(t, err)
		for i := range s.Len() {
			require.Equal(t, s.Key(i), s2.Key(i))
			require.GreaterOrEqual(t, s2.BottomLevel(i), s.BottomLevel(i), "seed %d: %s", seed, s.Key(i))
			if s.Key(i) == slow {
				require.InDelta(t, s.BottomLevel(i)+more, s2.BottomLevel(i), 1e-6, "seed %d", seed)
			}
		}
		p1, err := g.Plan(PlanRequest{Updates: req.Updates, Groups: req.Groups, Locked: req.Locked, Wave: 1, Cost: m})
		require.NoError(t, err)
		p2, err := g.Plan(PlanRequest{Updates: req.Updates, Groups: req.Groups, Locked: req.Locked, Wave: 1, Cost: Measured{Durations: longer}})
		require.NoError(t, err)
		rebuilt := false
		for _, w := range p1.Minor {
			for _, k := range w.Rebuild {
				rebuilt = rebuilt || k == slow
			}
		}
		wantCost := p1.Totals.CostSeconds
		if rebuilt {
			wantCost += more
		}
		require.InDelta(t, wantCost, p2.Totals.CostSeconds, 1e-6, "seed %d: %s rebuilt: %v", seed, slow, rebuilt)
	}
}
