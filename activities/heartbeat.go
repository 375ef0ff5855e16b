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
	return pulse(ctx, heartbeatEvery, func() { activity.RecordHeartbeat(ctx, what) })
}

// pulse calls beat at once and then every period until stop is called or ctx ends.
func pulse(ctx context.Context, every time.Duration, beat func()) (stop func()) {
	beat()
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
