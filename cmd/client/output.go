package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/history"
)

func (c *cli) printJSON(v any) int {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return c.fail(err)
	}
	return exitOK
}

// printStatus prints one instance's status, as JSON or as aligned lines.
func (c *cli) printStatus(st *api.Status) int {
	if c.cfg.JSON {
		return c.printJSON(st)
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s:\t%s\n", k, v)
		}
	}
	line("Instance", st.InstanceID)
	line("Name", st.Name)
	line("Status", string(st.Status))
	line("Created", when(st.CreatedAt))
	line("Updated", when(st.LastUpdatedAt))
	line("Parent", st.ParentInstanceID)
	line("Trace", st.TraceID)
	line("Output", rawText(st.Output))
	line("Custom status", rawText(st.CustomStatus))
	if f := st.Failure; f != nil {
		line("Failure", failureText(f))
	}
	_ = w.Flush()
	if f := st.Failure; f != nil && f.Stack != "" {
		fmt.Fprintf(c.stdout, "Stack:\n%s\n", indent(f.Stack, "  "))
	}
	return exitOK
}

// printStatusQuiet prints the last status seen before a wait gave up.
func (c *cli) printStatusQuiet(st *api.Status) { c.printStatus(st) }

func (c *cli) printTable(all []api.Status) {
	if len(all) == 0 {
		fmt.Fprintln(c.stdout, "No instances.")
		return
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "INSTANCE\tNAME\tSTATUS\tCREATED\tUPDATED")
	for _, st := range all {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", st.InstanceID, st.Name, st.Status, when(st.CreatedAt), when(st.LastUpdatedAt))
	}
	_ = w.Flush()
	fmt.Fprintf(c.stdout, "%d instance(s)\n", len(all))
}

func (c *cli) printWorkers(wr *api.WorkersResponse) {
	if len(wr.Workers) == 0 {
		fmt.Fprintf(c.stdout, "No live workers (%d partitions unowned).\n", wr.Partitions)
		return
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "WORKER\tHOST\tPARTITIONS\tHEARTBEAT\tORCHESTRATORS")
	for _, wk := range wr.Workers {
		ps := make([]string, len(wk.Partitions))
		for i, p := range wk.Partitions {
			ps[i] = fmt.Sprint(p)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s ago\t%s\n", wk.WorkerID, wk.Host, orDash(strings.Join(ps, ",")),
			time.Since(wk.HeartbeatAt).Round(100*time.Millisecond), orDash(strings.Join(wk.Orchestrators, ", ")))
	}
	_ = w.Flush()
	fmt.Fprintf(c.stdout, "%d live worker(s), %d partitions\n", len(wr.Workers), wr.Partitions)
}

// describeEvent is one readable line for a history event.
func describeEvent(ev history.Event) string {
	parts := []string{string(ev.Kind)}
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	if ev.TaskID != 0 {
		add("task", fmt.Sprint(ev.TaskID))
	}
	add("name", ev.Name)
	add("instance", ev.InstanceID)
	add("input", shorten(rawText(ev.Input), 60))
	add("result", shorten(rawText(ev.Result), 60))
	if ev.Failure != nil {
		add("failure", shorten(failureText(ev.Failure), 80))
	}
	if !ev.FireAt.IsZero() {
		add("fireAt", when(ev.FireAt))
	}
	add("reason", ev.Reason)
	add("rewoundFrom", strings.Join(ev.RewoundFrom, ","))
	if ev.Attempt > 1 {
		add("attempt", fmt.Sprint(ev.Attempt))
	}
	return strings.Join(parts, " ")
}

func failureText(f *history.Failure) string { return f.Error() }

func rawText(r json.RawMessage) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	return string(r)
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05.000")
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
