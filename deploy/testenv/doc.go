// Package testenv gives integration tests the real parts Crest runs on: a throwaway
// PostgreSQL cluster (from the system's binaries) and an embedded Temporal server, each
// started once per test package and shared by its tests, with an isolated database per test
// cloned from a migrated template.
//
// A missing prerequisite fails the test with what to install; nothing is skipped silently.
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
//	func TestX(t *testing.T) {
//		st := testenv.Store(t)            // fresh, migrated database
//		c, queue := testenv.Temporal(t)   // shared server, a task queue of this test's own
//	}
package testenv
