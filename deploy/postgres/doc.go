// Package postgres runs a PostgreSQL cluster from the system's server binaries (Debian's
// postgresql package: initdb and postgres under /usr/lib/postgresql/<major>/bin) as a child
// of the calling process.
//
// It is how `crest dev` gets a persistent database in its data directory and how tests get a
// throwaway one, with no container engine and no system service. The server dies with its
// parent (Pdeathsig), so a killed test run leaves no stray clusters behind.
package postgres
