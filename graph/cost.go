package graph

import (
	"fmt"
	"math"
)

// CostModel estimates what building one package costs, in seconds of one builder. Plans add
// these up (cost), chain them (critical path) and divide them among builders (wall time).
// The graph is passed so that a model may look at structure, such as closure sizes.
type CostModel interface {
	Seconds(p *Package, g *Graph) float64
}

// CostFunc adapts a function to CostModel.
type CostFunc func(p *Package, g *Graph) float64

// Seconds calls f.
func (f CostFunc) Seconds(p *Package, g *Graph) float64 { return f(p, g) }

// UnitCost counts every build as one second, so that costs read as build counts; tests and
// what-if comparisons use it to take cost estimates out of the picture.
var UnitCost CostModel = CostFunc(func(*Package, *Graph) float64 { return 1 })

// DefaultCost is the structural cost model: what Crest uses when none is given, and what
// Measured falls back to for packages that have not been built yet. Where builds have run,
// the engine and the planner price packages with Measured, so measured durations win over
// every rule below. For each package, the first rule that applies:
//
//  1. Cost.BuildSeconds, when the source of the graph measured it.
//  2. Debian-style size hints (Cost.SourceBytes or Cost.InstalledKB):
//     DebianBaseSeconds + SourceBytes/DebianSourceBytesPerSecond +
//     InstalledKB/DebianInstalledKBPerSecond.
//  3. Otherwise (Nix): NixBaseSeconds + NixSecondsPerDependency × the size of the
//     package's build closure, plus NixBigParallelSeconds when Cost.BigParallel.
//
// The constants are fitted to the measured build times that ship with the recorded graphs
// (Spack CI medians joined to 121 Debian and 62 Nixpkgs-apps packages) and checked against
// well-known long builds; see each constant.
var DefaultCost CostModel = defaultCost{}

const (
	// DebianBaseSeconds is what any Debian build costs before it compiles anything: chroot
	// and build-dependency setup, the debhelper sequence, packaging and upload. The measured
	// builds of tiny packages (pure Python, a few KB of source) sit at 250–350 s.
	DebianBaseSeconds = 300.0
	// DebianSourceBytesPerSecond is the compile throughput over the source tarball: 50 KB/s,
	// i.e. 20 s per MB, close to the least-squares slope over the measured Debian builds
	// (21 s/MB), and putting chromium (949 MB) at 5.5 h and libreoffice (601 MB) at 3.8 h,
	// about what Debian's amd64 buildds take. Data-only sources (fonts, game data, TeX)
	// come out too expensive; they are few.
	DebianSourceBytesPerSecond = 50_000.0
	// DebianInstalledKBPerSecond is the packaging throughput over the installed size:
	// stripping, compressing and checking 2 MB/s of output. It is what makes binary-heavy
	// sources (linux: 140 MB of source, 28 GB installed, ≈ 4.8 h) expensive.
	DebianInstalledKBPerSecond = 2048.0

	// NixBaseSeconds is the floor of a Nix build: sandbox setup, unpacking, fixups.
	NixBaseSeconds = 60.0
	// NixSecondsPerDependency scales a Nix build with the size of its build closure, the
	// only size signal a derivation graph carries: a package that needs 120 others (the
	// median in nixpkgs-apps) comes to 300 s, near the measured median of 350–450 s for
	// ordinary packages there; hooks and wrappers, with small closures, stay cheap.
	NixSecondsPerDependency = 2.0
	// NixBigParallelSeconds is added for Hydra's big-parallel builds (llvm, rustc, kernels,
	// browsers, libreoffice): llvm and rustc measure 3,458 s and 1,865 s.
	NixBigParallelSeconds = 1800.0
)

// Measured is the cost model that has watched builds run: a package with a measured
// duration in Durations (by key) costs that; every other package costs what Fallback says
// (nil: DefaultCost). Crest fills Durations with the last completed build of each package on
// the graph's system (the store's LastBuildSeconds), as Hydra's build history prices a step
// by its previous build, so that plans and build priorities improve as waves run: the
// structural estimate is a fit over many packages, the measurement is this package on these
// builders. It wins over Cost.BuildSeconds too, which the source of a recorded graph
// measured elsewhere and earlier.
//
// Durations are per package key, so one Measured prices the packages of one system (an
// evaluation's graph). A duration that is not a finite, non-negative number of seconds is not
// a measurement: that package falls back as if it had none. Zero is a measurement (a build
// that had nothing to do).
type Measured struct {
	Durations map[string]float64
	Fallback  CostModel
}

// Seconds is the measured duration of p when there is one, else the fallback's estimate.
func (m Measured) Seconds(p *Package, g *Graph) float64 {
	if s, ok := m.Durations[p.Key]; ok && s >= 0 && !math.IsInf(s, 1) { // NaN fails s >= 0
		return s
	}
	if m.Fallback == nil {
		return DefaultCost.Seconds(p, g)
	}
	return m.Fallback.Seconds(p, g)
}

type defaultCost struct{}

func (defaultCost) Seconds(p *Package, g *Graph) float64 {
	h := p.Cost
	switch {
	case h.BuildSeconds > 0:
		return h.BuildSeconds
	case h.SourceBytes > 0 || h.InstalledKB > 0:
		return DebianBaseSeconds + float64(h.SourceBytes)/DebianSourceBytesPerSecond +
			float64(h.InstalledKB)/DebianInstalledKBPerSecond
	}
	s := NixBaseSeconds
	if g != nil {
		s += NixSecondsPerDependency * float64(g.BuildClosureSize(p.Key))
	}
	if h.BigParallel {
		s += NixBigParallelSeconds
	}
	return s
}

// checkedCost asks the model for node v's cost and refuses answers that would poison every
// sum they enter.
func checkedCost(m CostModel, g *Graph, v int32) (float64, error) {
	p := &g.pkgs[v]
	s := m.Seconds(p, g)
	if math.IsNaN(s) || math.IsInf(s, 0) || s < 0 {
		return 0, fmt.Errorf("cost of %s: %v seconds: must be finite and not negative", p.Key, s)
	}
	return s, nil
}
