// Package wire is the contract between workflows and activities: activity names, their
// input and result types, and the types of the errors workflows branch on. It imports no
// database, so workflow code never reaches pgx; the activities convert between these types
// and the store's rows.
//
// Payloads are add-only: an activity in flight during an upgrade decodes what the old
// worker wrote, and recorded histories must still decode into today's types. Add fields
// with defaults; never rename, retype or remove one, and never rename an activity.
package wire
