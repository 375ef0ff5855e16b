package policy_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/policy"
)

// oracle answers probes for a batch: a package fails at prefix k when it is pre-existing
// or when one of the first k changes breaks it; flaky packages failed once, in the
// candidate's build, and pass on every probe.
type oracle struct {
	breaks      [][]string // per change
	preexisting []string
	flaky       []string
}

func (o oracle) fails(pkg string, prefix int) bool {
	if slices.Contains(o.flaky, pkg) {
		return false
	}
	if slices.Contains(o.preexisting, pkg) {
		return true
	}
	for _, b := range o.breaks[:prefix] {
		if slices.Contains(b, pkg) {
			return true
		}
	}
	return false
}

// failedAll is what the candidate's build reports.
func (o oracle) failedAll(pkgs []string) []string {
	var out []string
	for _, p := range pkgs {
		if o.fails(p, len(o.breaks)) || slices.Contains(o.flaky, p) {
			out = append(out, p)
		}
	}
	return out
}

func (o oracle) answer(p policy.Probe) []string {
	var out []string
	for _, pkg := range p.Packages {
		if o.fails(pkg, p.Prefix) {
			out = append(out, pkg)
		}
	}
	return out
}

// runBisection drives a bisection to its verdict, recording each round's outcomes in the
// order shuffle gives (nil: in order), and returns the verdict.
func runBisection(t *testing.T, b policy.Bisection, answer func(policy.Probe) []string, shuffle *rand.Rand) policy.BisectVerdict {
	t.Helper()
	for guard := 0; guard < 100; guard++ {
		probes := policy.NextProbes(b)
		if len(probes) == 0 {
			v := policy.Culprit(b)
			require.True(t, v.Done)
			return v
		}
		require.LessOrEqual(t, len(probes), max(b.Parallelism, 2))
		if shuffle != nil {
			shuffle.Shuffle(len(probes), func(i, j int) { probes[i], probes[j] = probes[j], probes[i] })
		}
		for _, p := range probes {
			var err error
			b, err = policy.Record(b, p, answer(p))
			require.NoError(t, err)
		}
	}
	t.Fatal("bisection did not finish")
	return policy.BisectVerdict{}
}

// roundBound is the most rounds the k-way split may take for a batch of n.
func roundBound(n, parallelism int) int {
	rounds := 1
	if s := parallelism - 2; s > 0 {
		n = (n + s) / (s + 1)
	}
	for n > 1 {
		n = (n + parallelism) / (parallelism + 1)
		rounds++
	}
	return rounds
}

func log2Bound(n int) int { return int(math.Ceil(math.Log2(float64(n)))) + 1 }

func TestBisectionFindsTheFirstCulprit(t *testing.T) {
	t.Parallel()
	o := oracle{breaks: make([][]string, 8)}
	o.breaks[5] = []string{"curl"} // change c6
	changes := []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"}
	b, err := policy.NewBisection(changes, []string{"curl"}, 4)
	require.NoError(t, err)

	probes := policy.NextProbes(b)
	require.Equal(t, []policy.Probe{
		{Round: 1, Kind: policy.ProbeBase, Prefix: 0, Packages: []string{"curl"}},
		{Round: 1, Kind: policy.ProbeRebuild, Prefix: 8, Packages: []string{"curl"}},
		{Round: 1, Kind: policy.ProbePrefix, Prefix: 2, Packages: []string{"curl"}},
		{Round: 1, Kind: policy.ProbePrefix, Prefix: 5, Packages: []string{"curl"}},
	}, probes)

	v := runBisection(t, b, o.answer, nil)
	require.Equal(t, "c6", v.Culprit)
	require.Equal(t, 6, v.Position)
	require.Equal(t, []string{"curl"}, v.Broke)
	require.Equal(t, []string{"c1", "c2", "c3", "c4", "c5", "c7", "c8"}, v.Requeue)
	require.Equal(t, 2, v.Rounds)
	require.Contains(t, v.Reason, "c6 (change 6 of 8) breaks curl: they build with the first 5 changes and fail with c6 added; found in 2 rounds")
	for _, e := range v.Evidence {
		require.Contains(t, []int{0, 5, 6}, e.Probe.Prefix)
	}
}

func TestBisectionPreexistingAndFlaky(t *testing.T) {
	t.Parallel()
	changes := []string{"a", "b", "c", "d"}
	for _, c := range []struct {
		name            string
		o               oracle
		failed          []string
		culprit         string
		pre, flaky      []string
		reasonFragments []string
	}{
		{"pre-existing only ejects nobody", oracle{breaks: make([][]string, 4), preexisting: []string{"gtk"}},
			[]string{"gtk"}, "", []string{"gtk"}, nil, []string{"no change is at fault", "pre-existing (also fail on the base): gtk"}},
		{"flaky only ejects nobody", oracle{breaks: make([][]string, 4), flaky: []string{"qemu"}},
			[]string{"qemu"}, "", nil, []string{"qemu"}, []string{"flaky (passed on a rebuild): qemu"}},
		{"a real failure beside them", oracle{breaks: [][]string{nil, nil, {"vim"}, nil}, preexisting: []string{"gtk"}, flaky: []string{"qemu"}},
			[]string{"gtk", "qemu", "vim"}, "c", []string{"gtk"}, []string{"qemu"}, []string{"c (change 3 of 4) breaks vim", "also pre-existing"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, err := policy.NewBisection(changes, c.failed, 2)
			require.NoError(t, err)
			v := runBisection(t, b, c.o.answer, nil)
			require.Equal(t, c.culprit, v.Culprit)
			require.Equal(t, c.pre, v.Preexisting)
			require.Equal(t, c.flaky, v.Flaky)
			for _, f := range c.reasonFragments {
				require.Contains(t, v.Reason, f)
			}
			if c.culprit == "" {
				require.Equal(t, changes, v.Requeue)
				require.Equal(t, 1, v.Rounds)
			}
		})
	}
}

func TestBisectionRejects(t *testing.T) {
	t.Parallel()
	_, err := policy.NewBisection(nil, []string{"x"}, 4)
	require.ErrorContains(t, err, "no changes")
	_, err = policy.NewBisection([]string{"a", "a"}, nil, 1)
	require.ErrorContains(t, err, `change "a": empty or listed twice`)
	require.ErrorContains(t, err, "no failed packages")
	require.ErrorContains(t, err, "parallelism 1")

	b, err := policy.NewBisection([]string{"a", "b"}, []string{"x"}, 0)
	require.NoError(t, err)
	require.Equal(t, policy.DefaultParallelism, b.Parallelism)
	_, err = policy.Record(b, policy.Probe{Round: 2, Kind: policy.ProbePrefix, Prefix: 1}, nil)
	require.ErrorContains(t, err, "not an outstanding probe of round 1")
	p := policy.NextProbes(b)[0]
	_, err = policy.Record(b, p, []string{"y"})
	require.ErrorContains(t, err, "y failed but the probe did not build it")
	b, err = policy.Record(b, p, nil)
	require.NoError(t, err)
	_, err = policy.Record(b, p, nil)
	require.ErrorContains(t, err, "not an outstanding probe")
	require.False(t, policy.Culprit(b).Done)
}

// TestBisectionProperties: over many random batches, the first culprit is always found, a
// good change is never blamed, outcomes may arrive in any order, and the rounds stay within
// ⌈log₂ B⌉+1 (and within the k-way bound).
func TestBisectionProperties(t *testing.T) {
	t.Parallel()
	pkgs := []string{"bash", "curl", "gtk", "openssl", "perl", "python", "qemu", "vim", "zlib"}
	for _, par := range []int{2, 3, 4, 8} {
		t.Run(fmt.Sprint("parallelism ", par), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(par), 12))
			for trial := 0; trial < 2000; trial++ {
				n := 1 + rng.IntN(48)
				o := oracle{breaks: make([][]string, n)}
				changes := make([]string, n)
				for i := range changes {
					changes[i] = fmt.Sprintf("c%02d", i+1)
					if rng.Float64() < 0.15 {
						o.breaks[i] = []string{pkgs[rng.IntN(len(pkgs))]}
					}
				}
				if rng.Float64() < 0.2 {
					o.preexisting = []string{pkgs[rng.IntN(len(pkgs))]}
				}
				if rng.Float64() < 0.2 {
					o.flaky = []string{pkgs[rng.IntN(len(pkgs))]}
				}
				failed := o.failedAll(pkgs)
				if len(failed) == 0 {
					continue
				}
				b, err := policy.NewBisection(changes, failed, par)
				require.NoError(t, err)
				v := runBisection(t, b, o.answer, rng)

				want := -1
				for i, br := range o.breaks {
					if slices.ContainsFunc(br, func(p string) bool {
						return !slices.Contains(o.preexisting, p) && !slices.Contains(o.flaky, p)
					}) {
						want = i
						break
					}
				}
				if want < 0 {
					require.Empty(t, v.Culprit, "trial %d: nobody is at fault", trial)
					require.Equal(t, changes, v.Requeue)
				} else {
					require.Equal(t, changes[want], v.Culprit, "trial %d", trial)
					require.NotEmpty(t, o.breaks[want], "a good change is never ejected")
					require.Len(t, v.Requeue, n-1)
					require.NotContains(t, v.Requeue, v.Culprit)
				}
				require.LessOrEqual(t, v.Rounds, log2Bound(n), "trial %d: batch of %d", trial, n)
				require.LessOrEqual(t, v.Rounds, roundBound(n, par), "trial %d: batch of %d", trial, n)
			}
		})
	}
}

// TestBisectionWithoutMonotony: when outcomes do not grow with the prefix (a later change
// repairs an earlier breakage), the culprit still turns a prefix that built the packages it
// broke into one that fails them.
func TestBisectionWithoutMonotony(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := 0; trial < 2000; trial++ {
		n := 2 + rng.IntN(30)
		fail := make([]bool, n+1)
		for k := 1; k < n; k++ {
			fail[k] = rng.IntN(2) == 0
		}
		fail[n] = true
		changes := make([]string, n)
		for i := range changes {
			changes[i] = fmt.Sprint("c", i+1)
		}
		b, err := policy.NewBisection(changes, []string{"x"}, 2+rng.IntN(5))
		require.NoError(t, err)
		v := runBisection(t, b, func(p policy.Probe) []string {
			if fail[p.Prefix] {
				return []string{"x"}
			}
			return nil
		}, rng)
		require.Positive(t, v.Position)
		require.True(t, fail[v.Position], "trial %d: the culprit's prefix fails", trial)
		require.False(t, fail[v.Position-1], "trial %d: the prefix before it builds", trial)
		require.LessOrEqual(t, v.Rounds, log2Bound(n))
	}
}
