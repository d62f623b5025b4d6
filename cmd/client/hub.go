package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/warrenhq/warren/internal/config"
	"github.com/warrenhq/warren/queues"
)

// hubFlags registers the broker settings of `client hub`: it talks to RabbitMQ itself, not
// to the dispatcher.
func hubFlags(fs *flag.FlagSet, o *cmdOptions) {
	config.String(fs, &o.amqpURL, "amqp-url", "WARREN_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", "the broker's URL (comma-separated for a cluster)")
	config.String(fs, &o.hub, "hub", "WARREN_HUB", queues.DefaultHub, "the hub")
	config.Int(fs, &o.partitions, "partitions", "WARREN_PARTITIONS", 16, "the hub's partition count")
}

// runHub says whether the hub's queues have the arguments this release declares (status),
// or migrates those that differ (upgrade; docs/design.md section 19).
func runHub(ctx context.Context, c *cli, args []string, o *cmdOptions) int {
	if args[0] != "status" && args[0] != "upgrade" {
		return c.usageError(fmt.Sprintf("hub takes status or upgrade, not %q", args[0]))
	}
	conn, err := queues.Dial(ctx, queues.Config{URL: o.amqpURL, Hub: o.hub, Partitions: o.partitions,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return c.fail(err)
	}
	defer conn.Close()
	var us []queues.QueueUpgrade
	if args[0] == "status" {
		us, err = conn.UpgradeStatus(ctx)
	} else {
		us, err = conn.UpgradeTopology(ctx)
	}
	if err != nil {
		if len(us) > 0 && !c.cfg.JSON {
			printUpgrades(c, us)
		}
		return c.fail(err)
	}
	if c.cfg.JSON {
		if us == nil {
			us = []queues.QueueUpgrade{}
		}
		return c.printJSON(us)
	}
	if len(us) == 0 {
		fmt.Fprintf(c.stdout, "hub %q: every queue has the arguments this release declares\n", o.hub)
		return exitOK
	}
	printUpgrades(c, us)
	if args[0] == "status" {
		fmt.Fprintln(c.stdout, "stop the hub's workers and dispatchers, then `client hub upgrade`")
	}
	return exitOK
}

func printUpgrades(c *cli, us []queues.QueueUpgrade) {
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "QUEUE\tSTATE\tMOVED\tDETAIL")
	for _, u := range us {
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", u.Queue, u.State, u.Moved, orDash(u.Detail))
	}
	_ = w.Flush()
}
