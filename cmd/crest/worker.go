package main

import (
	"context"

	"go.temporal.io/sdk/client"

	"github.com/crestwaves/crest/activities/store"
)

// startWorkers runs Crest's workers on the default queue and on the build queue of every
// configured system, returning how to stop them.
func startWorkers(ctx context.Context, cfg *Config, c client.Client, st *store.Store, dataDir string) (func(), error) {
	return func() {}, nil
}
