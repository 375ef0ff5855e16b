// Package charts draws Crest's pictures with gonum/plot, as SVG or PNG: the burndown of a
// wave's remaining builds (one line per minor wave and the major wave's total), its
// failures and resolutions over time, and a Gantt chart of minor waves (planned against
// actual start and finish, or a plan's schedule alone).
//
// It is pure, like graph: every chart takes plain values (names, times, counts) and writes
// to an io.Writer, reading no clock and no database, so that the status site, the CLI and
// `crest plan` draw the same pictures from whatever they loaded, and the same data always
// gives the same bytes. It imports no package of Crest.
package charts
