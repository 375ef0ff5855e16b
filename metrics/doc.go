// Package metrics exports Prometheus metrics: the Temporal SDK's (through Handler, an
// SDK metrics handler on a Prometheus registry) and Crest's own, read from Postgres at
// scrape time (NewStoreCollector). cmd wires one Registry per process and serves it at
// /metrics on workers and on the status site.
package metrics
