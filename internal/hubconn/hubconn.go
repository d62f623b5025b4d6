// Package hubconn opens what a Warren binary works with: the history store and the broker
// connection of one hub. It is the one place where the sequence open the store → record the
// hub's partition count → dial RabbitMQ → declare the topology lives, so that the worker
// and the dispatcher start the same way and fail with the same messages ([Open]; the
// [Hub] holds the [mongostore.Store] and the [queues.Conn]).
//
//	h, err := hubconn.Open(ctx, hubconn.Options{AMQPURL: u, MongoURI: m, Hub: "warren", Partitions: 16})
//	if err != nil { ... }
//	defer h.Close()
package hubconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	mongostore "github.com/warrenhq/warren/history/mongo"
	"github.com/warrenhq/warren/internal/config"
	"github.com/warrenhq/warren/queues"
)

// ErrStore and ErrBroker mark the errors of Open by the service that failed (errors.Is), so
// that a binary can say which one it waits for without quoting the error, which names hosts.
var (
	ErrStore  = errors.New("hubconn: the store failed")
	ErrBroker = errors.New("hubconn: the broker failed")
)

// serviceError is err marked with the service it came from; it reads as err.
type serviceError struct{ err, service error }

func failed(service, err error) error   { return &serviceError{err: err, service: service} }
func (e *serviceError) Error() string   { return e.err.Error() }
func (e *serviceError) Unwrap() []error { return []error{e.err, e.service} }

// Options name the services and the hub; AppName labels both connections (the store's
// appName and the broker's connection name).
type Options struct {
	AMQPURL    string
	MongoURI   string
	Hub        string
	Partitions int
	AppName    string
	Logger     *slog.Logger
	// PayloadInlineMax is the store's inline limit for event inputs and outputs (0: the
	// default, history.DefaultPayloadInlineMax).
	PayloadInlineMax int
}

// Hub is an open store and broker connection of one hub.
type Hub struct {
	Store *mongostore.Store
	Conn  *queues.Conn
}

// Open opens the store, records the partition count (refusing a hub that has another),
// dials the broker and declares the hub's queues. Every step is bounded by ctx; on an error
// whatever was opened is closed again. Errors name the service by its redacted address.
func Open(ctx context.Context, o Options) (*Hub, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	store, err := mongostore.Open(ctx, mongostore.Options{URI: o.MongoURI, Hub: o.Hub, AppName: o.AppName, PayloadInlineMax: o.PayloadInlineMax})
	if err != nil {
		return nil, failed(ErrStore, fmt.Errorf("opening the store at %s: %w", config.Redact(o.MongoURI), err))
	}
	if err := store.EnsureHub(ctx, o.Partitions); err != nil {
		_ = store.Close(context.Background())
		return nil, failed(ErrStore, err)
	}
	conn, err := queues.Dial(ctx, queues.Config{URL: o.AMQPURL, Hub: o.Hub, Partitions: o.Partitions,
		Logger: o.Logger, ConnectionName: o.AppName})
	if err != nil {
		_ = store.Close(context.Background())
		return nil, failed(ErrBroker, fmt.Errorf("connecting to the broker at %s: %w", config.Redact(o.AMQPURL), err))
	}
	if err := conn.DeclareTopology(ctx); err != nil {
		_ = conn.Close()
		_ = store.Close(context.Background())
		return nil, failed(ErrBroker, fmt.Errorf("declaring the queues of hub %q: %w", o.Hub, err))
	}
	return &Hub{Store: store, Conn: conn}, nil
}

// Close closes the broker connection, then the store.
func (h *Hub) Close() error {
	return errors.Join(h.Conn.Close(), h.Store.Close(context.Background()))
}
