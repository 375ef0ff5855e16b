package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/crestwaves/crest/activities/store"
)

func TestDbgConcurrent(t *testing.T) {
	st := issueStore(t)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Go(func() {
			is, ev, err := st.RecordRootCause(context.Background(), rootCauseRecord(3, 1))
			t.Logf("g%d: issue %d event %d %s err %v", i, is.ID, ev.ID, ev.Key, err)
		})
	}
	wg.Wait()
	all, _ := st.Issues(t.Context(), store.IssueFilter{})
	for _, is := range all {
		evs, _ := st.IssueEvents(t.Context(), is.ID)
		t.Logf("issue %+v events %d", is.ID, len(evs))
		for _, e := range evs { t.Logf("  ev %d %s", e.ID, e.Key) }
	}
}
