package demo

import "slices"

// Branch names of the demo repository.
const (
	// MainBranch is the collection's default branch: everything builds and passes its tests,
	// except oldtool, which is meta.broken.
	MainBranch = "main"

	// UpdateLibcore2 updates libcore 1.4.0 → 2.0.0 (rebuilds 39 packages): tetrix fails to
	// build, calc's passthru test "arith" fails.
	UpdateLibcore2 = "update/libcore-2"
	// UpdateLibcore2RC1 updates libcore to 2.0.0-rc1, which keeps the old API: everything
	// passes. It conflicts with UpdateLibcore2.
	UpdateLibcore2RC1 = "update/libcore-2-rc1"
	// UpdateLibnet2 updates libnet 1.9.0 → 2.0.0: libhttp fails to build, so its three
	// dependents fetch, webd and feedreader are dependency-failed.
	UpdateLibnet2 = "update/libnet-2"
	// UpdateLibcrypto3 updates libcrypto 2.5.0 → 3.0.0: only pkgtool fails to build, a
	// package in the closure of the protected root default-system.
	UpdateLibcrypto3 = "update/libcrypto-3"

	// FixLibhttpLibnet2 ports libhttp to net_dial (1.2.1), which builds with libnet 1.9 and 2.
	FixLibhttpLibnet2 = "fix/libhttp-libnet-2"
	// FixCalcPrecision makes calc print 3 decimals whatever libcore's default (1.0.1).
	FixCalcPrecision = "fix/calc-precision"
	// FixPkgtoolLibcrypto3 moves pkgtool's signature check to SHA-256 (1.1.0).
	FixPkgtoolLibcrypto3 = "fix/pkgtool-libcrypto-3"
	// FixTetrixMarkBroken sets meta.broken on tetrix; its derivation does not change.
	FixTetrixMarkBroken = "fix/tetrix-mark-broken"
	// FixTetrixCoreTimer ports tetrix to libcore 2's core_timer (0.9.2); it is based on
	// UpdateLibcore2 because the port does not build with libcore 1.
	FixTetrixCoreTimer = "fix/tetrix-core-timer"

	// SecurityLibcrypto251 is a security fix to libcrypto (2.5.0 → 2.5.1, CVE-2026-0001)
	// with the same API and a store path name of the same length: programs that use
	// libcrypto (backup, pkgtool, and through libtls chat and the web packages) show the
	// fixed release at run time, once rebuilt or grafted onto it.
	SecurityLibcrypto251 = "security/libcrypto-2.5.1"
	// SecurityLibcrypto260 is a security fix to libcrypto (2.5.0 → 2.6.0, CVE-2026-0002)
	// that needs a new ABI: same API, a store path name of the same length, so grafts of
	// its dependents pass every check but the default system's boot test, which finds
	// programs built against libcrypto 2.5 running with 2.6. Rebuilt, everything passes.
	SecurityLibcrypto260 = "security/libcrypto-2.6.0"
	// SecurityLibnet191 is a security fix to libnet (1.9.0 → 1.9.1, CVE-2026-0003) with
	// the same API and a store path name of the same length. Most of its dependents
	// (libtls, libhttp, backup, chat, the web packages, the default system) also use
	// libcrypto, so after libcrypto's fix it is the fix that stacks: their grafts rewrite
	// both. It conflicts with UpdateLibnet2.
	SecurityLibnet191 = "security/libnet-1.9.1"
)

// ProtectedRoots are the packages of the demo collection whose closure must never be marked
// broken: the stdenv and the default system.
func ProtectedRoots() []string { return []string{"default-system", "stdenv"} }

// SystemTests are the tests of the demo collection that a security patch runs against
// the grafted outputs before it tags a graft (the collection's system_tests): the default
// system's boot.
func SystemTests() []string { return []string{"default-system.boot"} }

// Kind says what a scenario branch is to a wave.
type Kind string

// Scenario kinds.
const (
	// KindUpdate is a root update: a new version of a package, merged by a minor wave.
	KindUpdate Kind = "update"
	// KindFix is a fix commit a maintainer offers to resolve a failure.
	KindFix Kind = "fix"
	// KindSecurity is a security fix to a package locked in by finished waves: a patch
	// (crest patch start) grafts or rebuilds its dependents in every finished tag.
	KindSecurity Kind = "security"
)

// Outcome is what happens when the collection at some commit is evaluated and every package
// that is not meta.broken is built and tested. Lists hold package keys (test failures
// "key.test"), sorted. oldtool, meta.broken in every state, fails to build everywhere and
// appears in none of the failure lists.
type Outcome struct {
	// Rebuilt lists the packages whose derivation differs from main's: the rebuild set.
	Rebuilt []string `json:"rebuilt"`
	// BuildFailures lists the packages whose own builder fails: root causes.
	BuildFailures []string `json:"build_failures,omitempty"`
	// TestFailures lists the passthru tests that fail although their package builds.
	TestFailures []string `json:"test_failures,omitempty"`
	// DependencyFailed lists the packages that cannot be built because a dependency fails.
	DependencyFailed []string `json:"dependency_failed,omitempty"`
	// Broken lists the packages that are meta.broken.
	Broken []string `json:"broken"`
	// LogLines maps every failure above (package or "key.test") to a line its build log
	// contains: the builder's own error message.
	LogLines map[string]string `json:"log_lines,omitempty"`
}

// The builders' error messages of the demo's failures.
const (
	logTetrix  = "ld: error: undefined reference to 'core_legacy_timer'"
	logCalc    = "calc 1 3: expected 0.333, got 0.333333"
	logLibhttp = "ld: error: undefined reference to 'net_connect'"
	logPkgtool = "ld: error: undefined reference to 'crypto_sha1'"
)

// Scenario is one branch of the demo repository: a single commit on top of Base that
// changes the definitions of Packages.
type Scenario struct {
	Branch   string   `json:"branch"`
	Base     string   `json:"base"`
	Kind     Kind     `json:"kind"`
	Packages []string `json:"packages"` // packages whose definition the commit changes
	Message  string   `json:"message"`  // commit message
	// Conflicts lists the branches that cannot be merged together with this one.
	Conflicts []string `json:"conflicts,omitempty"`
	// Expect is the outcome of the branch's head: main plus this branch (plus Base when Base
	// is not main).
	Expect Outcome `json:"expect"`
	// Commit is the branch's head commit, filled by Create.
	Commit string `json:"commit,omitempty"`
}

// libcore2Rebuilt is the reverse closure of libcore: everything but the bootstrap, zlib,
// libffi, libyaml and the two applications that use only those.
var libcore2Rebuilt = []string{
	"backup", "calc", "chat", "coreutils", "dbshell", "default-system", "docgen", "editor",
	"feedreader", "fetch", "hello", "imgview", "initd", "jsonfmt", "libarchive", "libcheck",
	"libconfig", "libcore", "libcrypto", "libdb", "libhttp", "libimage", "libjson", "libnet",
	"libparse", "libplugin", "libreadline", "libscript", "libsync", "libterm", "libtls", "libui",
	"libxml", "netd", "oldtool", "pkgtool", "shell", "tetrix", "webd",
}

// Scenarios returns the scenario branches Create makes, in the order it makes them (a base
// before the branches built on it), without commits.
func Scenarios() []Scenario {
	s := []Scenario{
		{
			Branch: UpdateLibcore2, Base: MainBranch, Kind: KindUpdate, Packages: []string{"libcore"},
			Message:   "libcore: 1.4.0 -> 2.0.0\n\ncore_legacy_timer is gone (use core_timer); the default precision is now 6 decimals.\n",
			Conflicts: []string{UpdateLibcore2RC1},
			Expect: Outcome{
				Rebuilt:       libcore2Rebuilt,
				BuildFailures: []string{"tetrix"},
				TestFailures:  []string{"calc.arith"},
				Broken:        []string{"oldtool"},
				LogLines:      map[string]string{"tetrix": logTetrix, "calc.arith": logCalc},
			},
		},
		{
			Branch: UpdateLibcore2RC1, Base: MainBranch, Kind: KindUpdate, Packages: []string{"libcore"},
			Message:   "libcore: 1.4.0 -> 2.0.0-rc1\n",
			Conflicts: []string{UpdateLibcore2},
			Expect:    Outcome{Rebuilt: libcore2Rebuilt, Broken: []string{"oldtool"}},
		},
		{
			Branch: UpdateLibnet2, Base: MainBranch, Kind: KindUpdate, Packages: []string{"libnet"},
			Message:   "libnet: 1.9.0 -> 2.0.0\n\nThe deprecated net_connect is removed; use net_dial.\n",
			Conflicts: []string{SecurityLibnet191},
			Expect: Outcome{
				Rebuilt: []string{"backup", "chat", "default-system", "feedreader", "fetch", "libhttp",
					"libnet", "libsync", "libtls", "netd", "webd"},
				BuildFailures:    []string{"libhttp"},
				DependencyFailed: []string{"feedreader", "fetch", "webd"},
				Broken:           []string{"oldtool"},
				LogLines:         map[string]string{"libhttp": logLibhttp},
			},
		},
		{
			Branch: UpdateLibcrypto3, Base: MainBranch, Kind: KindUpdate, Packages: []string{"libcrypto"},
			Message:   "libcrypto: 2.5.0 -> 3.0.0\n\nSHA-1 is removed; SHA-512 is added.\n",
			Conflicts: []string{SecurityLibcrypto251},
			Expect: Outcome{
				Rebuilt: []string{"backup", "chat", "default-system", "feedreader", "fetch", "libcrypto",
					"libhttp", "libtls", "pkgtool", "webd"},
				BuildFailures:    []string{"pkgtool"},
				DependencyFailed: []string{"default-system"},
				Broken:           []string{"oldtool"},
				LogLines:         map[string]string{"pkgtool": logPkgtool},
			},
		},
		{
			Branch: FixLibhttpLibnet2, Base: MainBranch, Kind: KindFix, Packages: []string{"libhttp"},
			Message: "libhttp: 1.2.0 -> 1.2.1, dial with net_dial\n\nnet_connect is deprecated since libnet 1.9 and removed in libnet 2.\n",
			Expect: Outcome{
				Rebuilt: []string{"feedreader", "fetch", "libhttp", "webd"},
				Broken:  []string{"oldtool"},
			},
		},
		{
			Branch: FixCalcPrecision, Base: MainBranch, Kind: KindFix, Packages: []string{"calc"},
			Message: "calc: 1.0.0 -> 1.0.1, print 3 decimals\n\nDo not depend on libcore's default precision, which libcore 2 changes.\n",
			Expect:  Outcome{Rebuilt: []string{"calc"}, Broken: []string{"oldtool"}},
		},
		{
			Branch: FixPkgtoolLibcrypto3, Base: MainBranch, Kind: KindFix, Packages: []string{"pkgtool"},
			Message: "pkgtool: 1.0.0 -> 1.1.0, verify signatures with SHA-256\n",
			Expect:  Outcome{Rebuilt: []string{"default-system", "pkgtool"}, Broken: []string{"oldtool"}},
		},
		{
			Branch: FixTetrixMarkBroken, Base: MainBranch, Kind: KindFix, Packages: []string{"tetrix"},
			Message:   "tetrix: mark broken\n\nIt needs core_legacy_timer, which libcore 2 removed.\n",
			Conflicts: []string{FixTetrixCoreTimer},
			Expect:    Outcome{Broken: []string{"oldtool", "tetrix"}},
		},
		{
			Branch: SecurityLibcrypto251, Base: MainBranch, Kind: KindSecurity, Packages: []string{"libcrypto"},
			Message:   "libcrypto: 2.5.0 -> 2.5.1, fix CVE-2026-0001\n\nA timing side channel in AES; the API is unchanged.\n",
			Conflicts: []string{UpdateLibcrypto3},
			Expect: Outcome{
				Rebuilt: []string{"backup", "chat", "default-system", "feedreader", "fetch", "libcrypto",
					"libhttp", "libtls", "pkgtool", "webd"},
				Broken: []string{"oldtool"},
			},
		},
		{
			Branch: FixTetrixCoreTimer, Base: UpdateLibcore2, Kind: KindFix, Packages: []string{"tetrix"},
			Message:   "tetrix: 0.9.1 -> 0.9.2, pace the game loop with core_timer\n",
			Conflicts: []string{FixTetrixMarkBroken},
			Expect: Outcome{
				Rebuilt:      libcore2Rebuilt,
				TestFailures: []string{"calc.arith"},
				Broken:       []string{"oldtool"},
				LogLines:     map[string]string{"calc.arith": logCalc},
			},
		},
		{
			Branch: SecurityLibnet191, Base: MainBranch, Kind: KindSecurity, Packages: []string{"libnet"},
			Message:   "libnet: 1.9.0 -> 1.9.1, fix CVE-2026-0003\n\nA buffer overread in net_dial's address parsing; the API is unchanged.\n",
			Conflicts: []string{UpdateLibnet2},
			Expect: Outcome{
				Rebuilt: []string{"backup", "chat", "default-system", "feedreader", "fetch", "libhttp",
					"libnet", "libsync", "libtls", "netd", "webd"},
				Broken: []string{"oldtool"},
			},
		},
		{
			Branch: SecurityLibcrypto260, Base: MainBranch, Kind: KindSecurity, Packages: []string{"libcrypto"},
			Message: "libcrypto: 2.5.0 -> 2.6.0, fix CVE-2026-0002\n\nA padding oracle in AES-CBC; the fix needs the new ABI 2.6 (the API is unchanged).\n",
			Expect: Outcome{
				Rebuilt: []string{"backup", "chat", "default-system", "feedreader", "fetch", "libcrypto",
					"libhttp", "libtls", "pkgtool", "webd"},
				Broken: []string{"oldtool"},
			},
		},
	}
	for i := range s {
		if s[i].Expect.Rebuilt == nil {
			s[i].Expect.Rebuilt = []string{}
		}
		s[i].Expect.Rebuilt = slices.Clone(s[i].Expect.Rebuilt)
	}
	return s
}

// Merge is a state a wave branch reaches by merging scenario branches onto main in order,
// with the outcome the demo collection has there.
type Merge struct {
	Name     string   `json:"name"`
	Branches []string `json:"branches"`
	Expect   Outcome  `json:"expect"`
}

// Merges returns the combined states the demo is designed for: the "libcore 2" wave with
// libnet 2 in its first minor wave, resolved step by step, and the libcrypto 3 update with
// its fix. Every list of branches merges without conflicts.
func Merges() []Merge {
	core := []string{UpdateLibcore2, UpdateLibnet2}
	with := func(extra ...string) []string { return append(slices.Clone(core), extra...) }
	return []Merge{
		{
			Name: "libcore-2+libnet-2", Branches: with(),
			Expect: Outcome{
				Rebuilt:          slices.Clone(libcore2Rebuilt),
				BuildFailures:    []string{"libhttp", "tetrix"},
				TestFailures:     []string{"calc.arith"},
				DependencyFailed: []string{"feedreader", "fetch", "webd"},
				Broken:           []string{"oldtool"},
				LogLines:         map[string]string{"libhttp": logLibhttp, "tetrix": logTetrix, "calc.arith": logCalc},
			},
		},
		{
			Name: "libcore-2+libnet-2+fix-libhttp", Branches: with(FixLibhttpLibnet2),
			Expect: Outcome{
				Rebuilt:       slices.Clone(libcore2Rebuilt),
				BuildFailures: []string{"tetrix"},
				TestFailures:  []string{"calc.arith"},
				Broken:        []string{"oldtool"},
				LogLines:      map[string]string{"tetrix": logTetrix, "calc.arith": logCalc},
			},
		},
		{
			Name: "libcore-2+libnet-2+fix-libhttp+fix-calc", Branches: with(FixLibhttpLibnet2, FixCalcPrecision),
			Expect: Outcome{
				Rebuilt:       slices.Clone(libcore2Rebuilt),
				BuildFailures: []string{"tetrix"},
				Broken:        []string{"oldtool"},
				LogLines:      map[string]string{"tetrix": logTetrix},
			},
		},
		{
			Name: "libcore-2+libnet-2+all-fixes", Branches: with(FixLibhttpLibnet2, FixCalcPrecision, FixTetrixMarkBroken),
			Expect: Outcome{
				Rebuilt: slices.Clone(libcore2Rebuilt),
				Broken:  []string{"oldtool", "tetrix"},
			},
		},
		{
			Name: "libcrypto-3+fix-pkgtool", Branches: []string{UpdateLibcrypto3, FixPkgtoolLibcrypto3},
			Expect: Outcome{
				Rebuilt: []string{"backup", "chat", "default-system", "feedreader", "fetch", "libcrypto",
					"libhttp", "libtls", "pkgtool", "webd"},
				Broken: []string{"oldtool"},
			},
		},
		{
			Name: "everything",
			Branches: []string{UpdateLibcore2, UpdateLibnet2, UpdateLibcrypto3, FixLibhttpLibnet2,
				FixCalcPrecision, FixPkgtoolLibcrypto3, FixTetrixCoreTimer},
			Expect: Outcome{
				Rebuilt: slices.Clone(libcore2Rebuilt),
				Broken:  []string{"oldtool"},
			},
		},
	}
}
