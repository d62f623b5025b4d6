package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/warrenhq/warren/api"
)

// runDeadLetters lists every dead letter the dispatcher has kept, oldest first.
func runDeadLetters(ctx context.Context, c *cli, _ []string, _ *cmdOptions) int {
	all := []api.DeadLetter{}
	cursor := ""
	for {
		page, err := c.client.DeadLetters(ctx, 0, cursor)
		if err != nil {
			return c.fail(err)
		}
		all = append(all, page.DeadLetters...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if c.cfg.JSON {
		return c.printJSON(all)
	}
	if len(all) == 0 {
		fmt.Fprintln(c.stdout, "No dead letters.")
		return exitOK
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tKIND\tINSTANCE\tQUEUE\tDEAD AT\tREASON\tBODY")
	for _, d := range all {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, orDash(d.Kind), orDash(d.InstanceID), orDash(d.SourceQueue),
			d.DeadAt.UTC().Format(time.RFC3339), orDash(shorten(d.Reason, 80)), orDash(shorten(d.BodyExcerpt, 60)))
	}
	_ = w.Flush()
	fmt.Fprintf(c.stdout, "%d dead letter(s); `client redrive ID` sends one again\n", len(all))
	return exitOK
}

// runRedrive sends each named dead letter again to the queue it died in.
func runRedrive(ctx context.Context, c *cli, args []string, _ *cmdOptions) int {
	if len(args) == 0 {
		return c.usageError("name the dead letters to redrive (client deadletters lists them)")
	}
	var done []api.DeadLetter
	for _, id := range args {
		d, err := c.client.Redrive(ctx, id)
		if err != nil {
			return c.fail(err)
		}
		done = append(done, *d)
		if !c.cfg.JSON {
			fmt.Fprintf(c.stdout, "redriven %s to %s\n", d.ID, d.SourceQueue)
		}
	}
	if c.cfg.JSON {
		return c.printJSON(done)
	}
	return exitOK
}
