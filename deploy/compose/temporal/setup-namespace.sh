#!/bin/sh
# Registers Crest's namespace and the search attributes its workflows set (workflows/
# searchattrs.go: CrestWave, CrestPhase, CrestCollection, all Keyword). Idempotent: an
# existing namespace is kept and Temporal (SQL visibility) ignores attributes it already has.
# Against a Temporal cluster of your own, run the same commands once with the temporal CLI
# (deploy/README.md).
set -eu
addr=${TEMPORAL_ADDRESS:?}
ns=${TEMPORAL_NAMESPACE:?}

tries=0
until temporal operator cluster health --address "$addr"; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "Temporal at $addr is not healthy" >&2; exit 1; }
  sleep 2
done

temporal operator namespace describe --address "$addr" --namespace "$ns" >/dev/null 2>&1 ||
  temporal operator namespace create --address "$addr" --namespace "$ns" --retention 720h

temporal operator search-attribute create --address "$addr" --namespace "$ns" --name CrestWave --type Keyword
temporal operator search-attribute create --address "$addr" --namespace "$ns" --name CrestPhase --type Keyword
temporal operator search-attribute create --address "$addr" --namespace "$ns" --name CrestCollection --type Keyword
temporal operator search-attribute list --address "$addr" --namespace "$ns"
