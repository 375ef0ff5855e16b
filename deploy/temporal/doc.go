// Package temporal runs a Temporal server (go.temporal.io/server on SQLite) and its Web UI
// (ui-server) inside the calling process.
//
// It is the embedded default of `crest dev` and the server of the integration tests: the
// same frontend, history, matching and worker services a cluster runs, with one history
// shard and SQLite persistence in a file (or in memory). Crest's namespace and search
// attributes are registered on every start, so upgrading Crest on an existing data
// directory adds what is new.
package temporal
