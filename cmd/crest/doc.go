// Command crest is Crest's one binary: `crest dev` runs the embedded stack (Temporal server
// and Web UI, PostgreSQL, a worker, the demo collection) in one process; `crest worker`
// serves task queues against a Temporal cluster; `crest plan`, `crest wave …`, `crest pin`,
// `crest tags`, `crest issues`, `crest migrate` and `crest config` are for people.
//
// This package is wiring only: cobra commands, viper configuration, and construction of
// the store, adapters, workers and clients the other packages receive as plain values.
package main
