package activities

import (
	"context"
	"log/slog"
	"time"

	"github.com/crestwaves/crest/activities/store"
)

// BuilderRefresh is how often builders announce their slots again: three times within
// store.BuilderFresh, after which an announcement no longer counts.
const BuilderRefresh = store.BuilderFresh / 3

// AnnounceBuilder tells dispatchers that this process builds for system with slots builds
// at once (TakeReady sizes dependency-driven rounds to the live slots of their system), and
// keeps saying so every BuilderRefresh until stop, which withdraws it. The first
// announcement is made before it returns, so that a builder starting with a database it
// cannot write fails at once.
func AnnounceBuilder(st *store.Store, identity, system string, slots int, logger *slog.Logger) (stop func(), err error) {
	ctx, cancel := context.WithCancel(context.Background())
	if err := st.AnnounceBuilder(ctx, identity, system, slots); err != nil {
		cancel()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(BuilderRefresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := st.AnnounceBuilder(ctx, identity, system, slots); err != nil && ctx.Err() == nil && logger != nil {
					logger.Warn("builder announcement failed; dispatchers fall back to their window once it is stale",
						"builder", identity, "error", err)
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
		wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer wcancel()
		_ = st.WithdrawBuilder(wctx, identity)
	}, nil
}
