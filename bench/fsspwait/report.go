package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"
)

// writeReport prints the runs side by side as a Markdown table.
// load is the machine's load average when the tool started, to spot runs
// that shared the CPUs with other work.
func writeReport(out io.Writer, command, load string, o options, rs []*result) {
	fmt.Fprintf(out, "`%s` (%s, %s/%s, %d CPUs, %s, load average at start %s)\n\n", command, time.Now().Format("2006-01-02"),
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), load)
	head, rule := "| |", "|---|"
	for _, r := range rs {
		head += fmt.Sprintf(" %d waiters on %d tasks |", r.waiters, r.tasks)
		rule += "---:|"
	}
	fmt.Fprintln(out, head+" target |")
	fmt.Fprintln(out, rule+"---|")
	row := func(name, target string, cell func(r *result) string) {
		line := "| " + name + " |"
		for _, r := range rs {
			line += " " + cell(r) + " |"
		}
		fmt.Fprintln(out, line+" "+target+" |")
	}
	row("waiters' protocol: connections used (dialed)", "", func(r *result) string {
		proto := "HTTP/1.1"
		if r.h2c {
			proto = "h2c"
		}
		return fmt.Sprintf("%s: %d (%d)", proto, r.conns, r.dials)
	})
	row("all waiters parked (gateway_fssp_waiters) after", "", func(r *result) string { return seconds(r.connect) })
	row("gateway VmRSS: idle → all parked", "≤ 150 MB", func(r *result) string {
		return mb(r.idle.RSS) + " → " + mb(r.connected.RSS)
	})
	row("gateway VmHWM (peak) after all answered", "≤ 150 MB", func(r *result) string { return mb(r.after.HWM) })
	row("gateway VmRSS after all answered", "", func(r *result) string { return mb(r.after.RSS) })
	row("Go stacks / heap in use: all parked → largest sample while answering", "", func(r *result) string {
		return fmt.Sprintf("%s / %s → %s / %s", mb(int64(r.stackParked)), mb(int64(r.heapParked)), mb(int64(r.stackWake)), mb(int64(r.heapWake)))
	})
	row("go_goroutines: idle → all parked", "", func(r *result) string {
		return fmt.Sprintf("%d → %d", r.goIdle, r.goConnected)
	})
	row(fmt.Sprintf("FSSP /status calls while parked (%v)", o.hold), "independent of waiters", func(r *result) string {
		return fmt.Sprintf("%d (%.2f per task per s)", r.holdStatus, float64(r.holdStatus)/float64(r.tasks)/r.hold.Seconds())
	})
	row("FSSP /status, /result calls in the whole run", "/result: one per task", func(r *result) string {
		return fmt.Sprintf("%d, %d", r.totalStatus, r.totalResult)
	})
	row("wake-up after the task's /result answer: p50 / p99 / max", "p99 ≤ 50 ms", func(r *result) string {
		return percentiles(r.fromResult)
	})
	row("the gateway's own: final state saved → answer written (gateway_fssp_wakeup_seconds): p50 / p99, bucket bounds", "", func(r *result) string {
		if len(r.wakeup) == 0 {
			return "–"
		}
		return fmt.Sprintf("≤ %s / ≤ %s ms", ms(time.Duration(quantile(r.wakeup, .5)*float64(time.Second))),
			ms(time.Duration(quantile(r.wakeup, .99)*float64(time.Second))))
	})
	row("tasks' /result answers spread over; first /result → last answer", "", func(r *result) string {
		return seconds(r.resultSpread) + "; " + seconds(r.burst)
	})
	row("answer after the clock release: p50 / p99 / max", "includes the next poll (≤ 2.2 s)", func(r *result) string {
		return percentiles(r.fromRelease)
	})
	row("CPU from the release to the last answer: gateway / client (per answer)", "", func(r *result) string {
		per := func(d time.Duration) string {
			return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(max(r.answered, 1)))
		}
		return fmt.Sprintf("%s (%s) / %s (%s)", seconds(r.gatewayCPU), per(r.gatewayCPU), seconds(r.clientCPU), per(r.clientCPU))
	})
	row("answered final / answered / waiters", "all", func(r *result) string {
		return fmt.Sprintf("%d / %d / %d", r.final, r.answered, r.waiters)
	})
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// percentiles formats the nearest-rank p50, p99 and max of ds in ms.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "–"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return ms(at(0.50)) + " / " + ms(at(0.99)) + " / " + ms(s[len(s)-1]) + " ms"
}
