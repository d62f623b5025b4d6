package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
)

func runStart(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	if o.input != "" && o.inputFile != "" {
		return c.usageError("give --input or --input-file, not both")
	}
	raw := []byte(o.input)
	if o.inputFile != "" {
		var err error
		if o.inputFile == "-" {
			raw, err = io.ReadAll(c.stdin)
		} else {
			raw, err = os.ReadFile(o.inputFile)
		}
		if err != nil {
			return c.fail(fmt.Errorf("reading the input: %w", err))
		}
	}
	var input json.RawMessage
	if strings.TrimSpace(string(raw)) != "" {
		if !json.Valid(raw) {
			return c.fail(fmt.Errorf("the input is not valid JSON: %s", shorten(string(raw), 80)))
		}
		input = raw
	}
	var opts []client.StartOption
	if o.id != "" {
		opts = append(opts, client.WithInstanceID(o.id))
	}
	st, err := c.client.Start(ctx, args[0], input, opts...)
	if err != nil {
		return c.fail(err)
	}
	if !o.wait {
		if c.cfg.JSON {
			return c.printJSON(st)
		}
		fmt.Fprintf(c.stdout, "Started %s as %s (trace %s)\n", st.Name, st.InstanceID, st.TraceID)
		return exitOK
	}
	if !c.cfg.JSON {
		fmt.Fprintf(c.stderr, "Started %s as %s (trace %s)\n", st.Name, st.InstanceID, st.TraceID)
	}
	return c.waitAndPrint(ctx, st.InstanceID, 0)
}

func runWait(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	timeout, err := parseTimeout(o.timeout, 0)
	if err != nil {
		return c.usageError(err.Error())
	}
	return c.waitAndPrint(ctx, args[0], timeout)
}

// parseTimeout reads --timeout: def when it is not given, else a positive duration.
func parseTimeout(v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--timeout %q: want a duration such as 30s or 5m", v)
	}
	return d, nil
}

// noLimit stands for "wait as long as it takes".
const noLimit = 100 * 365 * 24 * time.Hour

// waitAndPrint waits for the instance to end (timeout 0: no limit), showing progress on a
// terminal, prints its status and turns the outcome into the exit code.
func (c *cli) waitAndPrint(ctx context.Context, id string, timeout time.Duration) int {
	limit := timeout
	if limit == 0 {
		limit = noLimit
	}
	p := c.newProgress(id)
	st, err := c.waitClient().Wait(ctx, id, limit, p.update)
	p.done()
	if errors.Is(err, client.ErrWaitTimeout) {
		if st != nil {
			c.printStatusQuiet(st)
		}
		fmt.Fprintf(c.stderr, "client %s: %s is still %s after %s\n", c.cmd, id, statusOr(st), timeout)
		return exitTimedOut
	}
	if err != nil {
		return c.fail(err)
	}
	if code := c.printStatus(st); code != exitOK {
		return code
	}
	switch st.Status {
	case history.StatusFailed, history.StatusTerminated:
		if !c.cfg.JSON {
			fmt.Fprintf(c.stderr, "client %s: %s ended %s\n", c.cmd, id, st.Status)
		}
		return exitFailed
	}
	return exitOK
}

// waitClient polls often enough for the progress line on a terminal and rarely elsewhere.
func (c *cli) waitClient() *client.Client {
	poll := 30 * time.Second
	if c.tty && !c.cfg.JSON {
		poll = time.Second
	}
	return client.New(c.cfg.Dispatcher, append(c.opts, client.WithMaxPoll(poll))...)
}

func statusOr(st *api.Status) string {
	if st == nil {
		return "running"
	}
	return string(st.Status)
}

func runStatus(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	st, err := c.client.Status(ctx, args[0])
	if err != nil {
		return c.fail(err)
	}
	return c.printStatus(st)
}

func runHistory(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	sh, err := c.client.History(ctx, args[0])
	if err != nil {
		return c.fail(err)
	}
	if c.cfg.JSON {
		return c.printJSON(sh)
	}
	c.printStatus(&sh.Status)
	fmt.Fprintf(c.stdout, "\nHistory (%d events):\n", len(sh.History))
	for i, ev := range sh.History {
		fmt.Fprintf(c.stdout, "  %3d  %s  %s\n", i+1, ev.Timestamp.UTC().Format("15:04:05.000"), describeEvent(ev))
	}
	return exitOK
}

func runList(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	var lo client.ListOptions
	for _, s := range strings.Split(o.status, ",") {
		if s = strings.TrimSpace(s); s != "" {
			lo.Statuses = append(lo.Statuses, history.Status(s))
		}
	}
	lo.Name, lo.ParentID = o.name, o.parent
	all, err := c.client.ListAll(ctx, lo)
	if err != nil {
		return c.fail(err)
	}
	if all == nil {
		all = []api.Status{}
	}
	if c.cfg.JSON {
		return c.printJSON(all)
	}
	c.printTable(all)
	return exitOK
}

func runRaise(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	var data json.RawMessage
	if strings.TrimSpace(o.data) != "" {
		if !json.Valid([]byte(o.data)) {
			return c.fail(fmt.Errorf("--data is not valid JSON: %s (a string needs quotes: --data '\"text\"')", shorten(o.data, 80)))
		}
		data = json.RawMessage(o.data)
	}
	if err := c.client.Raise(ctx, args[0], args[1], data); err != nil {
		return c.fail(err)
	}
	return c.accepted(args[0], fmt.Sprintf("Raised %s on %s", args[1], args[0]))
}

func runTerminate(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	if err := c.client.Terminate(ctx, args[0], o.reason, o.recursive); err != nil {
		return c.fail(err)
	}
	what := "Terminating " + args[0]
	if o.recursive {
		what += " and its sub-orchestrations"
	}
	return c.accepted(args[0], what)
}

func runSuspend(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	if err := c.client.Suspend(ctx, args[0], ""); err != nil {
		return c.fail(err)
	}
	return c.accepted(args[0], "Suspending "+args[0])
}

func runResume(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	if err := c.client.Resume(ctx, args[0], ""); err != nil {
		return c.fail(err)
	}
	return c.accepted(args[0], "Resuming "+args[0])
}

func runRestart(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	if _, err := c.client.Restart(ctx, args[0]); err != nil {
		return c.fail(err)
	}
	return c.accepted(args[0], "Restarting "+args[0]+" (a new execution, with the same input)")
}

func runRewind(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	if _, err := c.client.Rewind(ctx, args[0], o.reason); err != nil {
		return c.fail(err)
	}
	return c.accepted(args[0], "Rewinding "+args[0]+" (a new execution, from just before its failure)")
}

func runWorkers(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	wr, err := c.client.Workers(ctx)
	if err != nil {
		return c.fail(err)
	}
	if c.cfg.JSON {
		// An array, like list --json; the partition count is each worker's business.
		if wr.Workers == nil {
			wr.Workers = []api.Worker{}
		}
		return c.printJSON(wr.Workers)
	}
	c.printWorkers(wr)
	return exitOK
}

// accepted reports a request the dispatcher took.
func (c *cli) accepted(id, text string) int {
	if c.cfg.JSON {
		return c.printJSON(map[string]any{"instanceId": id, "command": c.cmd, "accepted": true})
	}
	fmt.Fprintln(c.stdout, text)
	return exitOK
}
