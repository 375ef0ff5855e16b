package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// storeBuilds lists the derivations a Nix store's Nix built, by derivation (the .drv's
// base name), with when each build began. Nix opens a derivation's build log
// (<store root>/var/log/nix/drvs/xx/rest.drv[.bz2]) when it starts building it and never
// for a path it substitutes or finds valid, so the logs are the store's own record of what
// it built, and a log's birth time is when that build began. A store that built nothing
// has no log directory.
func storeBuilds(root string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	dir := filepath.Join(root, "var", "log", "nix", "drvs")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dir {
			return fs.SkipDir
		}
		if err != nil || d.IsDir() {
			return err
		}
		name := filepath.Base(filepath.Dir(p)) + strings.TrimSuffix(d.Name(), ".bz2")
		if !strings.HasSuffix(name, ".drv") {
			return nil
		}
		var st unix.Statx_t
		if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &st); err != nil {
			return fmt.Errorf("build log %s: %w", p, err)
		}
		if st.Mask&unix.STATX_BTIME == 0 {
			return fmt.Errorf("the filesystem of %s does not record when files were created: cannot tell when builds began", p)
		}
		out[name] = time.Unix(st.Btime.Sec, int64(st.Btime.Nsec))
		return nil
	})
	return out, err
}

// cachePushes returns, by derivation (the .drv's base name), when all its outputs were in
// a file:// binary cache: the newest modification time of the narinfos that name it as
// their Deriver. Nix writes a path's narinfo once, after its NAR, and skips paths the cache
// has, so that is when the last of them was pushed.
func cachePushes(cacheDir string) (map[string]time.Time, error) {
	infos, err := filepath.Glob(filepath.Join(cacheDir, "*.narinfo"))
	if err != nil {
		return nil, err
	}
	out := map[string]time.Time{}
	for _, p := range infos {
		deriver, mtime, err := narinfoDeriver(p)
		if err != nil {
			return nil, err
		}
		if deriver != "" && mtime.After(out[deriver]) {
			out[deriver] = mtime
		}
	}
	return out, nil
}

func narinfoDeriver(path string) (string, time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", time.Time{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", time.Time{}, err
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "Deriver: "); ok && d != "unknown-deriver" {
			return strings.TrimSpace(d), st.ModTime(), nil
		}
	}
	return "", st.ModTime(), sc.Err()
}

// recordedBuild is one recorded package build of a builder: from when it began (before Nix decided
// what to substitute and what to build) to when it was recorded.
type recordedBuild struct {
	Package         string
	Start, Finished time.Time
}

// clockSlack absorbs the difference between the clocks compared: a build's start is
// Postgres's now() less the builder's own measure of the build's age, taken a few
// milliseconds earlier, and file times are kept by the kernel's coarse clock.
const clockSlack = time.Second

// builtOnce holds what each builder's Nix built (storeBuilds, by builder) against the
// cache's pushes and the package builds recorded for each builder:
//
//   - rebuilt lists derivations a builder built although their outputs were in the cache
//     before the package build that needed them began (Nix, which remembers no negative
//     lookups, would have fetched them): the cache failed to save a build. A derivation's
//     build is held against the earliest recorded build of its builder that spans its
//     start. Only builders whose every build is recorded have spans: one killed mid-build
//     left builds without a record, which could not be told from those recorded.
//   - twice lists derivations more than one builder built, each of those builds begun before
//     the output was in the cache (a race, or a package build that failed and pushed
//     nothing): the price of building on several machines at once, reported, not a fault.
func builtOnce(built map[string]map[string]time.Time, spans map[string][]recordedBuild, pushed map[string]time.Time) (rebuilt, twice []string) {
	by := map[string][]string{}
	for _, builder := range slices.Sorted(mapKeys(built)) {
		for _, drv := range slices.Sorted(mapKeys(built[builder])) {
			by[drv] = append(by[drv], builder)
			began := built[builder][drv]
			p, ok := pushed[drv]
			if !ok {
				continue
			}
			var start time.Time
			for _, s := range spans[builder] {
				if !s.Start.After(began) && !s.Finished.Before(began) && (start.IsZero() || s.Start.Before(start)) {
					start = s.Start
				}
			}
			if !start.IsZero() && p.Add(clockSlack).Before(start) {
				rebuilt = append(rebuilt, fmt.Sprintf("%s on %s (in the cache %s before the build needing it began)",
					drv, builder, start.Sub(p).Round(time.Millisecond)))
			}
		}
	}
	for _, drv := range slices.Sorted(mapKeys(by)) {
		if len(by[drv]) > 1 {
			twice = append(twice, drv+" ("+strings.Join(by[drv], ", ")+")")
		}
	}
	return rebuilt, twice
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
