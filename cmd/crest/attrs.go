package main

import (
	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/workflows"
)

// waveAttributes are the search attributes a major wave starts with; name is the wave's
// name with its collection's tag prefix.
func waveAttributes(collection, name string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		workflows.SearchWave.ValueSet(name),
		workflows.SearchCollection.ValueSet(collection),
		workflows.SearchPhase.ValueSet(workflows.PhasePlanning),
	)
}
