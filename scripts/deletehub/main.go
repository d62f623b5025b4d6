// Command deletehub deletes Warren hubs: each hub's queues and exchanges on the broker and
// its database in the store. The bench and demo scripts run it when they end, so that the
// broker does not collect hubs (each is some forty quorum queues, and a RabbitMQ 3.x node
// with the default ulimit stops answering after about three hundred of them).
//
//	go run ./scripts/deletehub [--amqp-url URL] [--mongo-uri URI] [--queues-only] HUB...
//
// A hub that does not exist is no error. With no HUB, WARREN_HUB is deleted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/internal/config"
	"github.com/warrenhq/warren/queues"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "deletehub:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	var amqpURL, mongoURI, hub string
	var queuesOnly bool
	var timeout time.Duration
	fs := flag.NewFlagSet("deletehub", flag.ContinueOnError)
	config.String(fs, &amqpURL, "amqp-url", "WARREN_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ URL")
	config.String(fs, &mongoURI, "mongo-uri", "WARREN_MONGO_URI", "mongodb://127.0.0.1:27017/", "MongoDB URI of the store")
	config.String(fs, &hub, "hub", "WARREN_HUB", "", "the hub to delete when no HUB argument is given")
	fs.BoolVar(&queuesOnly, "queues-only", false, "delete the queues and exchanges only, not the database")
	config.Duration(fs, &timeout, "timeout", "", time.Minute, "give up after this long")
	fs.Usage = config.Usage(fs, "deletehub [flags] HUB...", "Deletes Warren hubs: queues and exchanges on the broker, the database in the store.")
	if err := config.Parse(fs, args); err != nil {
		return err
	}
	hubs := fs.Args()
	if len(hubs) == 0 && hub != "" {
		hubs = []string{hub}
	}
	if len(hubs) == 0 {
		return errors.New("no hub given (name one, or set WARREN_HUB)")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var errs []error
	for _, h := range hubs {
		if err := deleteHub(ctx, amqpURL, mongoURI, h, queuesOnly); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(os.Stderr, "deletehub: deleted hub %s\n", h)
		}
	}
	return errors.Join(errs...)
}

func deleteHub(ctx context.Context, amqpURL, mongoURI, hub string, queuesOnly bool) error {
	c, err := queues.Dial(ctx, queues.Config{URL: amqpURL, Hub: hub})
	if err != nil {
		return fmt.Errorf("hub %s: %w", hub, err)
	}
	err = c.DeleteTopology(ctx)
	c.Close()
	if err != nil {
		return fmt.Errorf("hub %s: %w", hub, err)
	}
	if queuesOnly {
		return nil
	}
	s, err := mongostore.Open(ctx, mongostore.Options{URI: mongoURI, Hub: hub})
	if err != nil {
		return fmt.Errorf("hub %s: %w", hub, err)
	}
	defer s.Close(context.Background())
	if err := s.DropHub(ctx); err != nil {
		return fmt.Errorf("hub %s: %w", hub, err)
	}
	return nil
}
