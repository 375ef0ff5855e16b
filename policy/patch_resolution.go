package policy

import (
	"errors"
	"slices"
)

// ErrProtected is what ValidatePatchResolve refuses for a protected package: a security
// patch settles it with a fix only.
var ErrProtected = errors.New("protected: a security tag needs it fixed")

// ValidatePatchResolve checks a person's resolution of a failure in a security patch's
// rebuild: the rules of ValidateResolve, and one more. A protected package (in the build
// closure of a protected root, such as the system people boot) may not be settled without
// a fix. A minor wave may go on without one, since its tag is a step of a wave still
// under way; a security tag replaces its covered tag for everyone who pins it, and a
// protected root must be whole in it. The way on is a retry with a fix, or a patch with
// another strategy. All problems are reported at once, as ValidateResolve does.
func ValidatePatchResolve(req ResolveRequest, states []State) error {
	err := ValidateResolve(req, states)
	idx, dups := indexStates(states)
	if s, ok := idx[req.Package]; ok && !slices.Contains(dups, req.Package) && s.Protected {
		err = errors.Join(err, &ResolveError{Package: req.Package, Field: "package", Err: ErrProtected,
			Detail: "it is in the closure of a protected root: retry it with a fix"})
	}
	return err
}

// PatchActions is Actions for a security patch's rebuild, by the rules of
// ValidatePatchResolve and ValidateRetry: a protected package is never invited to be
// resolved, only retried.
func PatchActions(states []State) map[string][]string {
	out := Actions(states)
	idx, _ := indexStates(states)
	for k, s := range idx {
		if !s.Protected {
			continue
		}
		if kept := slices.DeleteFunc(out[k], func(a string) bool { return a == ActionPersonResolve }); len(kept) > 0 {
			out[k] = kept
		} else {
			delete(out, k)
		}
	}
	return out
}
