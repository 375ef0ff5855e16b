package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// heartbeatEvery is how often long bookkeeping activities report that they are alive:
// well inside the bookkeeping heartbeat timeout, so that a Nixpkgs-size evaluation or a
// clone of a large repository, silent for minutes, is not taken for a dead worker. (The
// SDK throttles what it sends to the server; recording often costs nothing.)
const heartbeatEvery = 10 * time.Second

// keepAlive heartbeats what until the returned stop is called. It does nothing outside an
// activity (tests call activities directly).
func keepAlive(ctx context.Context, what string) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	return pulse(ctx, beatEvery(ctx), true, func() { activity.RecordHeartbeat(ctx, what) })
}

// keepAliveIfSlow is keepAlive for work that is usually quick (a build's bookkeeping): its
// first heartbeat goes out only after heartbeatEvery, so quick work sends none.
func keepAliveIfSlow(ctx context.Context, what string) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	return pulse(ctx, beatEvery(ctx), false, func() { activity.RecordHeartbeat(ctx, what) })
}

// beatEvery is heartbeatEvery, or a third of the activity's heartbeat timeout when that is
// shorter (limits.heartbeat_timeout is a setting), so that a beat always lands in time.
func beatEvery(ctx context.Context) time.Duration {
	if t := activity.GetInfo(ctx).HeartbeatTimeout; t > 0 && t/3 < heartbeatEvery {
		return max(t/3, 10*time.Millisecond)
	}
	return heartbeatEvery
}

// pulse calls beat every period (and at once, with atOnce) until stop is called or ctx
// ends.
func pulse(ctx context.Context, every time.Duration, atOnce bool, beat func()) (stop func()) {
	if atOnce {
		beat()
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				beat()
			}
		}
	}()
	return func() { close(done); <-finished }
}
