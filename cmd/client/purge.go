package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/client"
	"github.com/warrenhq/warren/history"
)

// purgeTimeout bounds a purge unless --timeout says otherwise: a filtered purge deletes in
// batches on the dispatcher and can take a while on a large hub.
const purgeTimeout = 10 * time.Minute

func purgeFlags(fs *flag.FlagSet, o *cmdOptions) {
	fs.Func("status", "purge instances in this status: Completed, Failed or Terminated (repeat, or comma-separate)", func(v string) error {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				o.statuses = append(o.statuses, s)
			}
		}
		return nil
	})
	fs.StringVar(&o.name, "name", "", "only instances of this orchestrator")
	fs.StringVar(&o.olderThan, "older-than", "", "only instances created longer ago than this, e.g. 12h or 7d")
	fs.StringVar(&o.timeout, "timeout", "", "give up after this long (default 10m)")
	fs.BoolVar(&o.recursive, "recursive", false, "with an instance id: purge its sub-orchestrations too, at any depth")
}

// runPurge purges one ended instance by id, or every ended instance a filter selects.
func runPurge(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	filtered := len(o.statuses) > 0 || o.name != "" || o.olderThan != ""
	switch {
	case len(args) > 1:
		return c.usageError(fmt.Sprintf("purge takes 1 argument (an instance id), or none with --status or --older-than; got %d", len(args)))
	case len(args) == 1 && filtered:
		return c.usageError("give an instance id or --status/--name/--older-than, not both")
	case len(args) == 0 && len(o.statuses) == 0 && o.olderThan == "":
		return c.usageError("name the instance to purge, or select instances with --status and/or --older-than")
	case len(args) == 0 && o.recursive:
		return c.usageError("--recursive purges one instance's sub-orchestrations: give an instance id")
	}
	timeout, err := parseTimeout(o.timeout, purgeTimeout)
	if err != nil {
		return c.usageError(err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if len(args) == 1 && o.recursive {
		n, err := c.client.PurgeRecursive(ctx, args[0])
		if err != nil {
			return c.fail(err)
		}
		if c.cfg.JSON {
			return c.printJSON(api.PurgeResponse{Purged: n})
		}
		fmt.Fprintf(c.stdout, "Purged %s and its sub-orchestrations: %d instance(s)\n", args[0], n)
		return exitOK
	}
	if len(args) == 1 {
		if err := c.client.Purge(ctx, args[0]); err != nil {
			return c.fail(err)
		}
		return c.accepted(args[0], "Purged "+args[0])
	}

	f := client.PurgeFilter{Name: o.name}
	for _, s := range o.statuses {
		f.Statuses = append(f.Statuses, history.Status(s))
	}
	if o.olderThan != "" {
		age, err := parseAge(o.olderThan)
		if err != nil {
			return c.usageError("--older-than: " + err.Error())
		}
		f.CreatedTo = time.Now().Add(-age)
	}
	n, err := c.client.PurgeInstances(ctx, f)
	if err != nil {
		return c.fail(err)
	}
	if c.cfg.JSON {
		return c.printJSON(api.PurgeResponse{Purged: n})
	}
	fmt.Fprintf(c.stdout, "Purged %d instance(s)\n", n)
	return exitOK
}

// parseAge reads an age: a Go duration (90m, 12h) or a number of days (7d, 1.5d).
func parseAge(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n float64
		if n, err = strconv.ParseFloat(days, 64); err == nil {
			d = time.Duration(n * float64(24*time.Hour))
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < 0 {
		return 0, errors.New(strconv.Quote(s) + " is not an age such as 12h or 7d")
	}
	return d, nil
}
