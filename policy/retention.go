package policy

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Root is a tag whose outputs are rooted in the tag host's Nix store, as retention sees it.
type Root struct {
	Collection string
	Tag        string
	// Finished tells a finished minor wave's tag (wave-N-M) from an unfinished one's
	// (wave-N-Mpre) and from a security tag: only finished tags count towards KeepTags.
	Finished  bool
	CreatedAt time.Time
}

// Retention says which tag roots garbage collection may release.
type Retention struct {
	// KeepTags is how many of a collection's newest finished tags keep their roots, at
	// least 1: the tag people pin to now is never collected. Roots made after the oldest
	// of them (unfinished and security tags of the current waves) are kept too.
	KeepTags int
	// OlderThan, when positive, also keeps every root younger than it.
	OlderThan time.Duration
}

// Check tells what is wrong with a retention.
func (r Retention) Check() error {
	if r.KeepTags < 1 {
		return fmt.Errorf("keep at least the newest finished tag (keep-tags %d)", r.KeepTags)
	}
	if r.OlderThan < 0 {
		return errors.New("older-than must not be negative")
	}
	return nil
}

// RootDecision is what retention decides for one root, and why.
type RootDecision struct {
	Root    Root
	Release bool
	Reason  string
}

// ReleaseRoots decides, per collection, which roots to release at now: those older than
// the collection's KeepTags newest finished tags and, with OlderThan, older than that too.
// A collection with fewer finished tags releases nothing. Decisions come newest first
// within each collection, collections by name.
func ReleaseRoots(roots []Root, r Retention, now time.Time) ([]RootDecision, error) {
	if err := r.Check(); err != nil {
		return nil, err
	}
	sorted := slices.Clone(roots)
	slices.SortStableFunc(sorted, func(a, b Root) int {
		return cmp.Or(cmp.Compare(a.Collection, b.Collection), b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.Tag, a.Tag))
	})
	out := make([]RootDecision, 0, len(sorted))
	for start := 0; start < len(sorted); {
		end := start
		for end < len(sorted) && sorted[end].Collection == sorted[start].Collection {
			end++
		}
		finished := 0
		for _, root := range sorted[start:end] {
			d := RootDecision{Root: root}
			switch {
			case finished < r.KeepTags && root.Finished:
				finished++
				d.Reason = fmt.Sprintf("one of the %d newest finished tags", r.KeepTags)
			case finished < r.KeepTags:
				d.Reason = fmt.Sprintf("newer than the %d newest finished tags", r.KeepTags)
			case r.OlderThan > 0 && now.Sub(root.CreatedAt) < r.OlderThan:
				d.Reason = fmt.Sprintf("younger than %s", r.OlderThan)
			default:
				d.Release = true
				d.Reason = fmt.Sprintf("older than the %d newest finished tags", r.KeepTags)
				if r.OlderThan > 0 {
					d.Reason += fmt.Sprintf(" and than %s", r.OlderThan)
				}
			}
			out = append(out, d)
		}
		start = end
	}
	return out, nil
}
