package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Search attributes make waves findable in the Web UI and with `crest wave list`.
var (
	// SearchWave is the wave's name ("wave-3", "wave-3-2").
	SearchWave = temporal.NewSearchAttributeKeyKeyword("CrestWave")
	// SearchPhase is where the wave stands (planning, running, waiting, tagging, done…).
	SearchPhase = temporal.NewSearchAttributeKeyKeyword("CrestPhase")
	// SearchCollection is the collection the wave updates.
	SearchCollection = temporal.NewSearchAttributeKeyKeyword("CrestCollection")
)

// SearchAttributes is the set every Crest namespace must have registered.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	SearchWave.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SearchPhase.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SearchCollection.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}
