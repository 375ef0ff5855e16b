package policy

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// EventKind says what happened on a root cause that may extend its grace period.
type EventKind string

// The events that extend a grace period.
const (
	// EventComment: someone other than Crest commented on the issue (the tracker's
	// LastExternalComment): the maintainers are on it.
	EventComment EventKind = "comment"
	// EventRetry: a person asked for a retry (usually after pushing a fix) and the package
	// still fails: work is under way.
	EventRetry EventKind = "retry"
)

// Event is one comment or retry on a root cause.
type Event struct {
	Kind  EventKind `json:"kind"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor,omitempty"` // who, when known
}

// Failure is what Grace needs to know about one root cause.
type Failure struct {
	Package     string   `json:"package"`
	Status      Status   `json:"status"` // failed or test-failed
	Maintainers []string `json:"maintainers,omitempty"`
	// Notified is when the maintainers were told (the issue was filed); zero while they
	// were not, and the grace period has not started.
	Notified time.Time `json:"notified,omitzero"`
	// Events are the comments and retries so far, in any order.
	Events []Event `json:"events,omitempty"`
	// Protected is why the package is protected (Set.Why), nil when it is not.
	Protected Chain `json:"protected,omitempty"`
}

// Grace decides, at now, what happens to a failed root cause:
//
//   - protected → ActionBlock, whatever the time: it is never marked broken;
//   - maintainers not notified → ActionWait without a deadline: the grace period starts
//     at the notification, since nobody can be blamed for not fixing what they were not
//     told about;
//   - before the deadline → ActionWait with Until the deadline;
//   - at or after it → ActionMarkBroken (Resolution marked-broken).
//
// The deadline is Notified plus the grace period. Each comment or retry made after the
// notification and before the deadline then in force (and not after now) extends it by
// one extension, up to max_extensions, in the order they happened. An extension adds to
// the deadline rather than counting from the event, so that answering early never
// shortens the time left, and every extension is worth the same.
//
// Settings are taken as Effective would make them; invalid settings, a status other than
// failed or test-failed, or a protection chain not ending at the package are errors.
func Grace(f Failure, s Settings, now time.Time) (Decision, error) {
	if f.Package == "" {
		return Decision{}, errors.New("grace: no package")
	}
	if !f.Status.Failed() {
		return Decision{}, fmt.Errorf("grace %s: status %q is not a failure (want failed or test-failed)", f.Package, f.Status)
	}
	for _, e := range f.Events {
		if e.Kind != EventComment && e.Kind != EventRetry {
			return Decision{}, fmt.Errorf("grace %s: event at %s has unknown kind %q (want comment or retry)", f.Package, formatTime(e.At), e.Kind)
		}
	}
	eff, err := Effective(s)
	if err != nil {
		return Decision{}, fmt.Errorf("grace %s: %w", f.Package, err)
	}
	grace := *eff.GracePeriod

	if len(f.Protected) > 0 {
		if f.Protected[len(f.Protected)-1] != f.Package {
			return Decision{}, fmt.Errorf("grace %s: protection chain %s does not end at the package", f.Package, f.Protected)
		}
		var where string
		if len(f.Protected) == 1 {
			where = fmt.Sprintf("%s is a protected root", f.Package)
		} else {
			where = fmt.Sprintf("%s is in the build closure of protected root %s (via %s)", f.Package, f.Protected.Root(), f.Protected)
		}
		return Decision{
			Action:  ActionBlock,
			Package: f.Package,
			Reason:  where + "; protected packages are never marked broken, so the minor wave waits for a fix or a person's resolution",
		}, nil
	}

	if f.Notified.IsZero() {
		return Decision{
			Action:  ActionWait,
			Package: f.Package,
			Reason:  fmt.Sprintf("maintainers of %s have not been notified yet; the grace period of %s starts when they are", f.Package, grace),
		}, nil
	}

	deadline := f.Notified.Add(time.Duration(grace))
	var used []Event
	for _, e := range sortedEvents(f.Events) {
		if len(used) == *eff.MaxExtensions {
			break
		}
		if e.At.Before(f.Notified) || !e.At.Before(deadline) || e.At.After(now) {
			continue
		}
		deadline = deadline.Add(time.Duration(*eff.Extension))
		used = append(used, e)
	}
	deadline = deadline.UTC()

	period := fmt.Sprintf("grace period of %s since %s", grace, formatTime(f.Notified))
	if len(used) > 0 {
		parts := make([]string, len(used))
		for i, e := range used {
			parts[i] = describeEvent(e)
		}
		period += fmt.Sprintf(", extended by %s after %s,", times(len(used), *eff.Extension), strings.Join(parts, " and "))
	}
	notified := "maintainers " + strings.Join(sortedUnique(f.Maintainers), ", ") + " notified"
	if len(sortedUnique(f.Maintainers)) == 0 {
		notified = "no maintainers listed; the issue was filed at " + formatTime(f.Notified)
	}

	if !now.Before(deadline) {
		ended := " ended without a fix"
		if len(used) > 0 {
			ended = " ended at " + formatTime(deadline) + " without a fix"
		}
		return Decision{
			Action:     ActionMarkBroken,
			Package:    f.Package,
			Resolution: ResolutionMarkedBroken,
			Reason:     period + ended + "; " + notified,
		}, nil
	}
	left := *eff.MaxExtensions - len(used)
	var ext string
	switch {
	case *eff.MaxExtensions == 0:
		ext = "extensions are off"
	case left == 0:
		ext = "no extensions left"
	default:
		ext = fmt.Sprintf("%d %s left (a comment or a retry adds %s)", left, plural(left, "extension", "extensions"), *eff.Extension)
	}
	return Decision{
		Action:  ActionWait,
		Package: f.Package,
		Until:   deadline,
		Reason:  period + " runs until " + formatTime(deadline) + "; " + notified + "; " + ext,
	}, nil
}

// sortedEvents orders events by time, then kind and actor, so that simultaneous events
// given in another order extend the same way.
func sortedEvents(events []Event) []Event {
	out := slices.Clone(events)
	slices.SortFunc(out, func(a, b Event) int {
		return cmp.Or(a.At.Compare(b.At), strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Actor, b.Actor))
	})
	return out
}

// describeEvent reads "a comment by alice at 2026-07-03T09:00:00Z" or "a retry at …".
func describeEvent(e Event) string {
	s := "a " + string(e.Kind)
	if e.Actor != "" {
		s += " by " + e.Actor
	}
	return s + " at " + formatTime(e.At)
}

// times reads "3d" for one extension, "2 × 3d" for more.
func times(n int, d Duration) string {
	if n == 1 {
		return d.String()
	}
	return fmt.Sprintf("%d × %s", n, d)
}
