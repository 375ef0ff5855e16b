package site

import (
	"net/http"
	"time"

	"github.com/crestwaves/crest/activities/store"
)

// QueuePage shows every collection's merge queue: what waits, what is building, what
// merged or was ejected and why, and the latencies per lane.
type QueuePage struct {
	Title  string      `json:"-"`
	Queues []QueueView `json:"queues"`
}

// QueueView is one collection's merge queue (every branch).
type QueueView struct {
	Collection string           `json:"collection"`
	Stats      store.QueueStats `json:"stats"`
	Changes    []ChangeView     `json:"changes"` // newest first, at most queueChangesShown
}

// ChangeView is one change of a merge queue as people follow it.
type ChangeView struct {
	ID          int64      `json:"id"`
	Branch      string     `json:"branch"`
	Ref         string     `json:"ref"`
	Title       string     `json:"title,omitempty"`
	Lane        string     `json:"lane,omitempty"`
	State       string     `json:"state"`
	Reason      string     `json:"reason,omitempty"`
	Attempts    int        `json:"attempts"`
	SubmittedAt time.Time  `json:"submitted_at"`
	MergedAt    *time.Time `json:"merged_at,omitempty"`
	EjectedAt   *time.Time `json:"ejected_at,omitempty"`
	// Latency is from submission to merge or ejection, in seconds (0 while queued).
	Latency float64 `json:"latency_seconds,omitempty"`
}

// queueChangesShown bounds a queue's list: the page is for what happens now.
const queueChangesShown = 200

func (s *Server) queue(r *http.Request) (any, error) {
	ctx, cancel := withTimeout(r)
	defer cancel()
	cols, err := s.st.Collections(ctx)
	if err != nil {
		return nil, err
	}
	p := QueuePage{Title: "Merge queue", Queues: []QueueView{}}
	for _, col := range cols {
		if want := r.URL.Query().Get("collection"); want != "" && want != col {
			continue
		}
		changes, err := s.st.QueueChanges(ctx, col, "")
		if err != nil {
			return nil, err
		}
		if len(changes) == 0 {
			continue
		}
		stats, err := s.st.QueueStatsOf(ctx, col, "")
		if err != nil {
			return nil, err
		}
		v := QueueView{Collection: col, Stats: stats}
		for _, c := range changes[:min(len(changes), queueChangesShown)] {
			cv := ChangeView{ID: c.ID, Branch: c.Branch, Ref: c.Ref, Title: c.Title, Lane: c.Lane, State: c.State,
				Reason: c.Reason, Attempts: c.Attempts, SubmittedAt: c.SubmittedAt, MergedAt: c.MergedAt, EjectedAt: c.EjectedAt}
			for _, end := range []*time.Time{c.MergedAt, c.EjectedAt} {
				if end != nil {
					cv.Latency = end.Sub(c.SubmittedAt).Seconds()
				}
			}
			v.Changes = append(v.Changes, cv)
		}
		p.Queues = append(p.Queues, v)
	}
	return p, nil
}
