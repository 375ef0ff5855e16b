package workflows

import "go.temporal.io/sdk/worker"

// Register adds Crest's workflows to a worker.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflow(MajorWave)
	r.RegisterWorkflow(MinorWave)
	r.RegisterWorkflow(BuildShard)
	r.RegisterWorkflow(BuildSet)
	r.RegisterWorkflow(SecurityPatch)
	r.RegisterWorkflow(MergeQueue)
	r.RegisterWorkflow(WaveLaneBatch)
	r.RegisterWorkflow(QueueIntake)
}
