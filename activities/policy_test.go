package activities

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crestwaves/crest/activities/wire"
	"github.com/crestwaves/crest/policy"
)

func TestEffectivePolicyLayersCollectionAndWave(t *testing.T) {
	col := wire.Collection{Name: "demo", ProtectedRoots: []string{"stdenv"},
		Policy: json.RawMessage(`{"grace_period": "3d", "protected_roots": ["default-system"]}`)}
	js, err := EffectivePolicy(col, json.RawMessage(`{"max_extensions": 0}`))
	require.NoError(t, err)
	s, err := policy.DecodeSettings(js)
	require.NoError(t, err)
	require.Equal(t, []string{"stdenv", "default-system"}, s.ProtectedRoots, "the collection's policy adds roots")
	require.Equal(t, policy.Duration(3*policy.Day), *s.GracePeriod, "collection beats default")
	require.Equal(t, 0, *s.MaxExtensions, "the wave's override beats both, zero included")

	_, err = EffectivePolicy(col, json.RawMessage(`{"grace": "1d"}`))
	require.ErrorContains(t, err, "policy override")
	require.ErrorContains(t, err, "grace: unknown field")
	_, err = EffectivePolicy(col, json.RawMessage(`{"grace_period": "10m"}`))
	require.ErrorContains(t, err, "grace_period")
	_, err = EffectivePolicy(wire.Collection{Name: "bad", Policy: json.RawMessage(`{"extension": "soon"}`)}, nil)
	require.ErrorContains(t, err, "policy of collection bad")
	require.ErrorContains(t, err, "extension")
}
