package main

import (
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/crestwaves/crest/workflows"
)

// waveAttributes are the search attributes a major wave starts with.
func waveAttributes(collection string, n int) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		workflows.SearchWave.ValueSet(fmt.Sprintf("wave-%d", n)),
		workflows.SearchCollection.ValueSet(collection),
		workflows.SearchPhase.ValueSet(workflows.PhasePlanning),
	)
}
