package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteText prints a result for people.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	l := r.Limits
	fmt.Fprintf(&b, "crest bench waves: %s packages, builder %s\n", thousands(int64(r.Packages)), r.Builder)
	fmt.Fprintf(&b, "  collection    %s; the major wave updates %s and every derivation changes\n", r.Collection, r.Update)
	fmt.Fprintf(&b, "  layout        %d layers, %d shards\n", r.Layers, r.Shards)
	for _, lt := range r.LayerTimes {
		per := 0.0
		if lt.Seconds > 0 {
			per = float64(lt.Packages) / lt.Seconds
		}
		fmt.Fprintf(&b, "                layer %2d: %7s packages in %3d shards, %8s (%s/s)\n",
			lt.Layer, thousands(int64(lt.Packages)), lt.Shards, secs(lt.Seconds), rate(per))
	}
	fmt.Fprintf(&b, "  limits        shard size %d, %d shards at a time, %d builds in flight per shard (%d at most)\n",
		l.ShardSize, l.Shards, l.BuildsPerShard, l.Shards*l.BuildsPerShard)
	wk := r.Workers
	fmt.Fprintf(&b, "  workers       build worker %d concurrent activities; workflow worker %d activities, %s workflow tasks, pollers %s workflow / %s activity\n",
		wk.MaxBuilds, wk.MaxActivities, orSDK(wk.MaxWorkflowTasks), orSDK(wk.WorkflowPollers), orSDK(wk.ActivityPollers))
	c := r.Crest
	fmt.Fprintf(&b, "  crest         %s packages/s: %s packages in %s\n", rate(c.PerSec), thousands(int64(r.Packages)), secs(c.Seconds))
	fmt.Fprintf(&b, "                (%s)\n", c.What)
	fmt.Fprintf(&b, "                before the first shard %s, builds %s (%s/s), after the last shard %s; major wave %s\n",
		secs(c.BeforeSeconds), secs(c.BuildSeconds), rate(c.BuildPerSec), secs(c.AfterSeconds), secs(c.MajorSeconds))
	fmt.Fprintf(&b, "                CPU %s in this process, %s in Postgres (major wave)\n", secs(c.CPUSeconds), secs(c.PostgresCPUSeconds))
	if r.Raw.Seconds > 0 {
		fmt.Fprintf(&b, "  raw           %s activities/s: %s no-op activities in %s\n", rate(r.Raw.PerSec), thousands(int64(r.Packages)), secs(r.Raw.Seconds))
		fmt.Fprintf(&b, "                (%s)\n", r.Raw.What)
		fmt.Fprintf(&b, "                CPU %s in this process, %s in Postgres\n", secs(r.Raw.CPUSeconds), secs(r.Raw.PostgresCPUSeconds))
		fmt.Fprintf(&b, "  ratio         %.1f%% of the raw rate (target 80%%)\n", 100*r.Ratio)
		if r.CPURatio > 0 {
			fmt.Fprintf(&b, "                by CPU time: %.2f ms per package (major wave, this process + Postgres) against %.2f ms per raw activity: %.1f%%\n",
				1000*(c.CPUSeconds+c.PostgresCPUSeconds)/float64(r.Packages), 1000*(r.Raw.CPUSeconds+r.Raw.PostgresCPUSeconds)/float64(r.Packages), 100*r.CPURatio)
		}
	}
	if r.FailShare > 0 {
		fmt.Fprintf(&b, "  failures      share %g chosen by hash of the key: %s builds, %s failed (marked broken by the policy: %s), %s dependency-failed\n",
			r.FailShare, thousands(r.Builds), thousands(int64(r.Failed)), thousands(int64(r.MarkedBroken)), thousands(int64(r.DependencyFailed)))
	} else {
		fmt.Fprintf(&b, "  builds        %s\n", thousands(r.Builds))
	}
	if r.Retried > 0 {
		fmt.Fprintf(&b, "  retries       %d activity attempts retried after: %s\n", r.Retried, strings.Join(r.RetryErrors, "; "))
	}
	if m := r.Model; m != nil {
		fmt.Fprintf(&b, "  model         %d slots (BuildSet window and build worker), time scale %g: %s\n", m.Slots, m.TimeScale, describeScale(m.TimeScale))
		fmt.Fprintf(&b, "                %s builds: work %s, critical path %s, lower bound max(critical path, work / %d) %s\n",
			thousands(int64(m.Builds)), secs(m.WorkSeconds), secs(m.CriticalPathSeconds), m.Slots, secs(m.LowerBoundSeconds))
		fmt.Fprintf(&b, "                makespan %s (first build start to last build end): %.3f× the lower bound\n", secs(m.MakespanSeconds), m.Ratio)
		fmt.Fprintf(&b, "                simulated %s (graph.Simulate, same durations and slots, critical path first, no overhead): %.3f×\n",
			secs(m.SimulatedSeconds), m.SimulatedRatio)
		busy := 0.0
		if m.MakespanSeconds > 0 && m.Slots > 0 {
			busy = m.BusySeconds / (float64(m.Slots) * m.MakespanSeconds)
		}
		fmt.Fprintf(&b, "                slots busy %.1f%% (%s slept of %d × makespan); at most %d builds at once\n",
			100*busy, secs(m.BusySeconds), m.Slots, m.PeakBuilds)
		l := m.Losses
		fmt.Fprintf(&b, "                lost to dispatch: a slot free while a package was ready for %s of makespan (slot time / slots), %s of it in drains;\n",
			secs(l.IdleReadySeconds), secs(l.DrainIdleReadySeconds))
		fmt.Fprintf(&b, "                %d dispatcher runs: %d continue-as-new drains, %s from a run's last build start to the next run's first (longest %s)\n",
			l.Runs, max(l.Runs-1, 0), secs(l.DrainSeconds), secs(l.LongestDrainSeconds))
		lt := m.Latency
		if lt.Builds == 0 && lt.Takes == 0 {
			fmt.Fprintf(&b, "                dispatch loop: none in the dispatcher's history (builds ran in build slots, BuildSlot activities that take, build and record on the builder; their cost is in \"lost to dispatch\")\n")
		} else {
			fmt.Fprintf(&b, "                dispatch loop, means: record %s, react %s, take %s (%s takes for %s builds), refill %s, pickup %s: %s from a build's end to its slot's next start\n",
				ms(lt.RecordSeconds), ms(lt.ReactSeconds), ms(lt.TakeSeconds), thousands(int64(lt.Takes)), thousands(int64(lt.Builds)), ms(lt.RefillSeconds), ms(lt.PickupSeconds),
				ms(lt.RecordSeconds+lt.ReactSeconds+lt.TakeSeconds+lt.RefillSeconds+lt.PickupSeconds))
		}
		fmt.Fprintf(&b, "                load average (1 min) during the major wave: mean %.2f, max %.2f on %d CPUs\n", m.Load.Mean, m.Load.Max, m.Load.CPUs)
	}
	what := r.MaxPayload.EventType
	if r.MaxPayload.Activity != "" {
		what += " " + r.MaxPayload.Activity
	}
	fmt.Fprintf(&b, "  payload       largest history event %s bytes: event %d (%s) of %s\n",
		thousands(int64(r.MaxPayload.Bytes)), r.MaxPayload.EventID, what, r.MaxPayload.WorkflowID)
	fmt.Fprintf(&b, "  history       longest %s events: %s (%s); %d workflows read (budget %s, Temporal's limit 51,200)\n",
		thousands(r.MaxHistory.Length), r.MaxHistory.WorkflowID, r.MaxHistory.Type, r.Workflows, thousands(HistoryBudget))
	for _, t := range r.Types {
		fmt.Fprintf(&b, "                %-18s %4d workflows, %s events (longest %s)\n", t.Type, t.Workflows, thousands(t.Events), thousands(t.Max))
	}
	for _, v := range r.Verified {
		fmt.Fprintf(&b, "  checked       %s\n", v)
	}
	fmt.Fprintf(&b, "  postgres      %s; pool of %d connections\n", r.Postgres, r.PoolConns)
	fmt.Fprintf(&b, "  run           %s in all (stack, collection, both runs, checks); peak RSS %s\n",
		secs(r.TotalSeconds), bytesOf(r.PeakRSSBytes))
	_, err := io.WriteString(w, b.String())
	return err
}

func orSDK(n int) string {
	if n <= 0 {
		return "SDK default"
	}
	return fmt.Sprint(n)
}

func secs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(100 * time.Millisecond).String()
}

func ms(s float64) string { return fmt.Sprintf("%.0fms", 1000*s) }

func rate(r float64) string { return thousands(int64(r + 0.5)) }

func bytesOf(n int64) string {
	if n <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// thousands writes n with comma separators.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var parts []string
	for len(s) > 3 {
		parts = append([]string{s[len(s)-3:]}, parts...)
		s = s[:len(s)-3]
	}
	parts = append([]string{s}, parts...)
	out := strings.Join(parts, ",")
	if neg {
		out = "-" + out
	}
	return out
}
