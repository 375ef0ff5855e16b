package graph

// Rebuilds is the difference between two evaluations that matters for building: exactly
// what Nix would rebuild going from the old to the new one.
type Rebuilds struct {
	// Changed are keys in both evaluations whose derivation identity (Drv) differs.
	Changed []string `json:"changed"`
	// Added are keys only in the new evaluation: never built before.
	Added []string `json:"added"`
	// Removed are keys only in the old evaluation: nothing to build, but worth telling
	// the maintainers of what depended on them.
	Removed []string `json:"removed"`
}

// Keys returns Changed and Added together, ascending: the rebuild set.
func (r *Rebuilds) Keys() []string {
	out := make([]string, 0, len(r.Changed)+len(r.Added))
	i, j := 0, 0
	for i < len(r.Changed) || j < len(r.Added) {
		if j == len(r.Added) || (i < len(r.Changed) && r.Changed[i] < r.Added[j]) {
			out = append(out, r.Changed[i])
			i++
		} else {
			out = append(out, r.Added[j])
			j++
		}
	}
	return out
}

// RebuildSet compares two evaluations of one collection by key. It compares derivation
// identities only, not dependencies: a changed dependency changes its dependents' Drv too,
// so Nix's own hashing has already propagated every change; recomputing closures here would
// second-guess it. All three lists are ascending.
func RebuildSet(old, new *Graph) *Rebuilds {
	r := &Rebuilds{Changed: []string{}, Added: []string{}, Removed: []string{}}
	i, j := 0, 0
	for i < len(old.pkgs) || j < len(new.pkgs) {
		switch {
		case j == len(new.pkgs) || (i < len(old.pkgs) && old.pkgs[i].Key < new.pkgs[j].Key):
			r.Removed = append(r.Removed, old.pkgs[i].Key)
			i++
		case i == len(old.pkgs) || new.pkgs[j].Key < old.pkgs[i].Key:
			r.Added = append(r.Added, new.pkgs[j].Key)
			j++
		default:
			if old.pkgs[i].Drv != new.pkgs[j].Drv {
				r.Changed = append(r.Changed, new.pkgs[j].Key)
			}
			i++
			j++
		}
	}
	return r
}
