// Package crest is the root of Crest, a wave-based release orchestration engine for large
// package collections. The root package only embeds the demo collection (testdata/demo);
// the parts live in cmd/crest, workflows, activities, graph, policy and deploy (see the
// README's "find your way around").
package crest
