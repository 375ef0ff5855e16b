package store

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/crestwaves/crest/graph"
)

// PinResult answers "which tag can I pin package P against?".
type PinResult struct {
	Package string `json:"package"`
	Tag     string `json:"tag"`
	Commit  string `json:"commit"`
	Closure int    `json:"closure"` // packages in P's build closure, P included
	// Covers is the finished tag whose newest security tag (<tag>-security-K, made by a
	// patch) Tag is: the fix of a locked-in package, grafted or rebuilt. Empty otherwise.
	Covers string `json:"covers,omitempty"`
	// Unfinished: Tag is an unfinished minor wave's (wave-N-Mpre, asked for with
	// PinOptions.Unfinished), and Unverified of its packages are still neither green nor
	// settled.
	Unfinished bool `json:"unfinished,omitempty"`
	Unverified int  `json:"unverified,omitempty"`
	// Rejected explains, newest first, why newer tags do not qualify.
	Rejected []PinRejection `json:"rejected,omitempty"`
}

// PinOptions say how much stability a pin may give up.
type PinOptions struct {
	// Unfinished lets the answer be a tag of an unfinished minor wave (its builds done,
	// some failures not settled yet) when it is newer than every qualifying finished tag.
	Unfinished bool
}

// PinRejection is a newer tag that does not qualify and the packages that spoil it.
type PinRejection struct {
	Tag     string   `json:"tag"`
	Reasons []string `json:"reasons"` // "libhttp: dependency-failed", sorted, at most a few
}

// ErrNoGreenTag reports that no tag has the package and its closure green.
var ErrNoGreenTag = fmt.Errorf("no tag has it green with its whole closure")

// Pin finds the newest tag of a collection at which pkg and its whole build closure are
// green: built and tested green in the tag's major wave up to that tag, or left untouched
// by the wave (same derivation as the wave's base) and not meta.broken. When security
// patches made tags of that tag, it answers the newest of them (Covers names the tag).
// With opts.Unfinished, tags of unfinished minor waves are candidates too.
func (s *Store) Pin(ctx context.Context, collection, pkg string, opts PinOptions) (PinResult, error) {
	res := PinResult{Package: pkg}
	tags, err := s.Tags(ctx, collection)
	if err != nil {
		return res, err
	}
	unfinished := map[string]bool{}
	if opts.Unfinished {
		pre, err := s.UnfinishedTags(ctx, collection)
		if err != nil {
			return res, err
		}
		for _, t := range pre {
			unfinished[t.Name] = true
		}
		tags = append(tags, pre...)
		sort.SliceStable(tags, func(i, j int) bool { return tags[i].CreatedAt.After(tags[j].CreatedAt) })
	}
	col, err := s.CollectionByName(ctx, collection)
	if err != nil {
		return res, err
	}
	seenAnywhere := false
	for _, t := range tags {
		ok, closure, reasons, found, err := s.greenAt(ctx, col.ID, t, pkg)
		if err != nil {
			return res, err
		}
		seenAnywhere = seenAnywhere || found
		if ok && unfinished[t.Name] {
			res.Tag, res.Commit, res.Closure, res.Unfinished = t.Name, t.Commit, closure, true
			res.Unverified, err = s.unverified(ctx, t.MinorWaveID)
			return res, err
		}
		if ok {
			res.Tag, res.Commit, res.Closure = t.Name, t.Commit, closure
			// A security tag of it is the same tag with a fix: prefer the newest.
			if sec, err := s.NewestSecurityTag(ctx, col.ID, t.Name); err == nil {
				res.Covers, res.Tag, res.Commit = t.Name, sec.Name, sec.Commit
			} else if !isNotFound(err) {
				return res, err
			}
			return res, nil
		}
		if found {
			res.Rejected = append(res.Rejected, PinRejection{Tag: t.Name, Reasons: reasons})
		}
	}
	if !seenAnywhere && len(tags) > 0 {
		return res, fmt.Errorf("pin %s: no package %q in %s: %w", pkg, pkg, collection, ErrNotFound)
	}
	return res, fmt.Errorf("pin %s: %w", pkg, ErrNoGreenTag)
}

// greenAt checks one tag.
func (s *Store) greenAt(ctx context.Context, collectionID int64, t Tag, pkg string) (ok bool, closure int, reasons []string, found bool, err error) {
	var waveID int64
	var minorNumber int
	var baseCommit string
	err = s.pool.QueryRow(ctx, `
		SELECT m.wave_id, m.number, w.base_commit FROM minor_waves m JOIN waves w ON w.id = m.wave_id WHERE m.id = $1`,
		t.MinorWaveID).Scan(&waveID, &minorNumber, &baseCommit)
	if err != nil {
		return false, 0, nil, false, notFound(err, "minor wave of tag "+t.Name)
	}
	evals, err := s.evaluationsAt(ctx, collectionID, t.Commit)
	if err != nil {
		return false, 0, nil, false, err
	}
	for _, ev := range evals {
		pkgs, err := s.LoadPackages(ctx, ev.ID)
		if err != nil {
			return false, 0, nil, false, err
		}
		g, _, err := graph.New(pkgs, graph.Options{Lenient: true})
		if err != nil {
			return false, 0, nil, false, err
		}
		if !g.Has(pkg) {
			continue
		}
		found = true
		keys, err := g.BuildClosure(pkg)
		if err != nil {
			return false, 0, nil, false, err
		}
		closure = len(keys)
		base := map[string]string{}
		if be, err := s.FindEvaluation(ctx, collectionID, baseCommit, ev.System); err == nil {
			bp, err := s.LoadPackages(ctx, be.ID)
			if err != nil {
				return false, 0, nil, false, err
			}
			for _, p := range bp {
				base[p.Key] = p.Drv
			}
		}
		latest, err := s.latestResults(ctx, waveID, minorNumber, ev.System, keys)
		if err != nil {
			return false, 0, nil, false, err
		}
		for _, k := range keys {
			p, _ := g.Package(k)
			r, built := latest[k]
			switch {
			case built && r != StatusPassed:
				reasons = append(reasons, k+": "+r)
			case built:
			case p.Broken:
				reasons = append(reasons, k+": meta.broken")
			case base[k] != p.Drv:
				reasons = append(reasons, k+": changed, not yet built in this wave")
			}
		}
	}
	sort.Strings(reasons)
	return found && len(reasons) == 0, closure, reasons[:min(len(reasons), 5)], found, nil
}

func (s *Store) evaluationsAt(ctx context.Context, collectionID int64, commit string) ([]Evaluation, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, system FROM evaluations WHERE collection_id = $1 AND commit = $2 ORDER BY system`, collectionID, commit)
	if err != nil {
		return nil, fmt.Errorf("evaluations at %s: %w", commit, err)
	}
	var out []Evaluation
	var ev Evaluation
	_, err = pgx.ForEachRow(rows, []any{&ev.ID, &ev.System}, func() error {
		out = append(out, ev)
		return nil
	})
	return out, err
}

// latestResults returns, for each of keys, its status in the latest minor wave (up to and
// including minorNumber) of a major wave that built it.
func (s *Store) latestResults(ctx context.Context, waveID int64, minorNumber int, system string, keys []string) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT ON (r.package) r.package, r.status
		FROM package_results r JOIN minor_waves m ON m.id = r.minor_wave_id
		WHERE m.wave_id = $1 AND m.number <= $2 AND r.system = $3 AND r.package = ANY($4)
		ORDER BY r.package, m.number DESC`, waveID, minorNumber, system, keys)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	out := map[string]string{}
	var k, st string
	_, err = pgx.ForEachRow(rows, []any{&k, &st}, func() error {
		out[k] = st
		return nil
	})
	return out, err
}
