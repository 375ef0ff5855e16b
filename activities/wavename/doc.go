// Package wavename is the one home of wave names. A collection's tag prefix (its
// TagPrefix setting; "wave" when empty) names major wave N "<prefix>-N" (also its branch
// and the label of its issues) and minor wave M of it "<prefix>-N-M" (also its tag).
//
// The package is pure and imports nothing of Crest's, so that every layer that names or
// reads waves (the store, the tracker's renderers, the filer, the activities, the site
// and the CLI) can use it without an import cycle. A test here holds the rule that no
// other non-test source spells the default prefix out.
package wavename
