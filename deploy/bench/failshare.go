package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/proto"

	"github.com/crestwaves/crest/activities"
	"github.com/crestwaves/crest/activities/store"
	"github.com/crestwaves/crest/activities/wire"
)

// FailPolicy is the wave policy of a run with failures: no protected roots, a grace period
// of one second and no extensions, so the minor wave's own policy loop marks every root
// cause broken (its dependents following) and the wave tags, through the path a real
// wave takes when maintainers do not answer.
const FailPolicy = `{"grace_period": "1s", "allow_short_periods": true, "max_extensions": 0}`

// Fails reports whether package key is among the share chosen to fail: the FNV-1a hash of
// the key, as a fraction of 2^64, is below share. The same key always gives the same answer.
func Fails(key string, share float64) bool {
	if share <= 0 {
		return false
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return float64(h.Sum64())/math.Exp2(64) < share
}

func policyOf(opts Options) json.RawMessage {
	if opts.FailShare <= 0 {
		return nil
	}
	return json.RawMessage(FailPolicy)
}

// failing is the no-op builder that fails the chosen share of packages.
type failing struct {
	activities.Builder
	share float64
}

// Build fails the derivation of a chosen package and passes the rest.
func (b failing) Build(ctx context.Context, drv string, tests []string, heartbeat func()) (wire.BuildResult, error) {
	if key, ok := keyOfDrv(drv); ok && Fails(key, b.share) {
		return wire.BuildResult{Status: store.StatusFailed, ExitCode: 1,
			LogTail: "crest bench: " + key + " is among the packages chosen to fail"}, nil
	}
	return b.Builder.Build(ctx, drv, tests, heartbeat)
}

// keyOfDrv is the package key in a derivation the synthetic Evaluator made
// ("/nix/store/bench-<version>-<key>.drv", "/" in keys written "_").
func keyOfDrv(drv string) (string, bool) {
	rest, ok := strings.CutPrefix(drv, "/nix/store/bench-")
	if !ok {
		return "", false
	}
	_, key, ok := strings.Cut(rest, "-")
	if !ok {
		return "", false
	}
	return strings.TrimSuffix(key, ".drv"), true
}

// failKey is the key Fails is asked about for a package of the collection.
func failKey(pkg string) string { return strings.ReplaceAll(pkg, "/", "_") }

// largestEvent reads one run's whole history and returns its largest event; see, when set,
// is shown every event.
func (s *stack) largestEvent(ctx context.Context, id, run string, see func(*historypb.HistoryEvent)) (Payload, error) {
	var p Payload
	scheduled := map[int64]string{} // activity type by scheduled event, to name a result
	it := s.c.GetWorkflowHistory(ctx, id, run, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return p, fmt.Errorf("history of %s: %w", id, err)
		}
		if see != nil {
			see(e)
		}
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			scheduled[e.GetEventId()] = a.GetActivityType().GetName()
		}
		if n := proto.Size(e); n > p.Bytes {
			p = Payload{WorkflowID: id, EventID: e.GetEventId(), EventType: e.GetEventType().String(), Bytes: n}
			if a := e.GetActivityTaskCompletedEventAttributes(); a != nil {
				p.Activity = scheduled[a.GetScheduledEventId()]
			} else if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
				p.Activity = a.GetActivityType().GetName()
			}
		}
	}
	return p, nil
}

// maxRetryErrors bounds Result.RetryErrors.
const maxRetryErrors = 5

// retryCounter wraps see to count retried activity attempts into res (an ActivityTaskStarted
// event, written when the attempt ends, carries its attempt number and the previous
// attempt's failure).
func retryCounter(res *Result, see func(*historypb.HistoryEvent)) func(*historypb.HistoryEvent) {
	return func(e *historypb.HistoryEvent) {
		if see != nil {
			see(e)
		}
		a := e.GetActivityTaskStartedEventAttributes()
		if a == nil || a.GetAttempt() <= 1 {
			return
		}
		res.Retried++
		msg := a.GetLastFailure().GetMessage()
		if len(res.RetryErrors) < maxRetryErrors && !slices.Contains(res.RetryErrors, msg) {
			res.RetryErrors = append(res.RetryErrors, msg)
		}
	}
}
