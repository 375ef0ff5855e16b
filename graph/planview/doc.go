// Package planview renders a graph.Plan for people and programs: a table for the terminal,
// JSON with a stable schema, a DOT graph of the minor waves and a Gantt chart of their
// schedule (SVG or PNG, drawn by package charts).
//
// Like graph, it is pure: every renderer writes to an io.Writer and reads nothing else, so
// the same plan always renders to the same bytes (golden tests hold it to that).
package planview
