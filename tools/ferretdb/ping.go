package main

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// ping runs the MongoDB `ping` command against addr. FerretDB answers it only when its backend
// answers too, so scripts use it to tell a ready server from a merely listening one.
func ping(addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	opts := options.Client().ApplyURI("mongodb://" + addr + "/").
		SetServerSelectionTimeout(timeout).SetConnectTimeout(timeout)
	c, err := mongo.Connect(ctx, opts)
	if err != nil {
		return err
	}
	defer c.Disconnect(context.Background())
	return c.Database("admin").RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err()
}
