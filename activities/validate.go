package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/crestwaves/crest/activities/gitrepo"
	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/graph"
)

// ValidateWave refuses, with every problem named at once, a major wave that could only fail:
// an unknown collection, a base ref or update ref missing from the collection's repository
// (or the update's repo), a package the base commit does not have (with close names), a
// package updated twice, a group naming a package that is not updated, a policy that does
// not decode. It allocates nothing: no wave number, branch or tag. A refusal is an
// InvalidInput error; the base evaluation it leaves in Postgres is the one the wave reuses.
func (a *Activities) ValidateWave(ctx context.Context, in wire.ValidateWaveInput) error {
	col, err := a.LoadCollection(ctx, in.Collection)
	if err != nil {
		return err
	}
	defer keepAlive(ctx, "validating a wave of "+in.Collection)()
	var problems []string
	if _, err := EffectivePolicy(col, in.Policy); err != nil {
		problems = append(problems, fmt.Sprintf("policy: %v", err))
	}
	seen := map[string]string{}
	for i, u := range in.Updates {
		if u.Package == "" || u.Ref == "" {
			problems = append(problems, fmt.Sprintf("updates[%d]: package and ref are required", i))
			continue
		}
		if prev, dup := seen[u.Package]; dup {
			problems = append(problems, fmt.Sprintf("package %s is given twice (%s and %s)", u.Package, prev, u.Ref))
		}
		seen[u.Package] = u.Ref
	}

	repo, err := a.Repos.Open(ctx, col)
	if err != nil {
		return err
	}
	baseRef := in.BaseRef
	if baseRef == "" {
		baseRef = col.MainBranch
	}
	base, err := repo.ResolveRef(ctx, baseRef)
	switch {
	case errors.Is(err, gitrepo.ErrRefNotFound):
		problems = append(problems, fmt.Sprintf("base ref %q not found in the %s repository", baseRef, col.Name))
	case err != nil:
		return err
	}
	for _, u := range in.Updates {
		if u.Ref == "" {
			continue
		}
		if err := wire.CheckNoCredentials(u.Repo); err != nil {
			problems = append(problems, fmt.Sprintf("update %s: %v", u.Package, err))
			continue
		}
		if u.Repo != "" {
			_, err = repo.FetchExternal(ctx, u.Repo, u.Ref)
		} else {
			_, err = repo.ResolveRef(ctx, u.Ref)
		}
		switch {
		case errors.Is(err, gitrepo.ErrRefNotFound):
			where := "the " + col.Name + " repository"
			if u.Repo != "" {
				where = gitrepo.RedactURL(u.Repo)
			}
			problems = append(problems, fmt.Sprintf("update %s: ref %q not found in %s", u.Package, u.Ref, where))
		case err != nil:
			return err
		}
	}

	if base != "" && len(col.Systems) > 0 {
		ev, err := a.Evaluate(ctx, wire.EvaluateInput{Collection: in.Collection, Commit: base, System: col.Systems[0]})
		if err != nil {
			return err
		}
		pkgs, err := a.Store.LoadPackages(ctx, ev.EvaluationID)
		if err != nil {
			return err
		}
		g, _, err := graph.New(pkgs, graph.Options{Lenient: true})
		if err != nil {
			return err
		}
		updated := map[string]bool{}
		byKey := map[string]string{}
		for _, u := range in.Updates {
			if u.Package == "" {
				continue
			}
			key, err := g.Resolve(u.Package)
			if err != nil {
				problems = append(problems, fmt.Sprintf("update %s: %v", u.Package, err))
				continue
			}
			if prev, dup := byKey[key]; dup && prev != u.Package {
				problems = append(problems, fmt.Sprintf("packages %s and %s are the same package (%s), given twice", prev, u.Package, key))
			}
			byKey[key] = u.Package
			updated[key], updated[u.Package] = true, true
		}
		for i, group := range in.Groups {
			for _, p := range group {
				key, err := g.Resolve(p)
				if err == nil && (updated[key] || updated[p]) {
					continue
				}
				problems = append(problems, fmt.Sprintf("groups[%d]: %s is not one of the updated packages (%s)", i, p, strings.Join(sortedKeys(seen), ", ")))
			}
		}
	}
	if len(problems) > 0 {
		return invalid("%s", strings.Join(problems, "; "))
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
