package memstore

import (
	"testing"

	"github.com/warrenhq/warren/history"
	"github.com/warrenhq/warren/history/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) history.Store { return New(Options{}) })
}

func TestCountInstances(t *testing.T) {
	storetest.RunCount(t, func(t *testing.T) history.Store { return New(Options{}) })
}

func TestDeadLetters(t *testing.T) {
	storetest.RunDeadLetters(t, func(t *testing.T) history.Store { return New(Options{}) })
}
