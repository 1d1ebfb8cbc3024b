package receiver_test

import (
	"testing"

	"github.com/hookwise/hookwise/receiver"
	"github.com/hookwise/hookwise/receiver/driver"
	"github.com/hookwise/hookwise/receiver/drivertest"
)

// The in-memory queue and dead-letter store pass the drivers' conformance
// suites. The queue is not durable, and refuses events beyond its capacity;
// the store evicts its oldest dead letters beyond its capacity.

const memoryDeadLetters = 20

func TestMemoryQueueConformance(t *testing.T) {
	drivertest.RunQueue(t, func(t *testing.T) driver.Queue {
		return receiver.NewMemoryQueue(drivertest.DefaultLoad, 8) // shut down by the suite
	}, drivertest.QueueBound(drivertest.DefaultLoad))
}

func TestMemoryDeadLettersConformance(t *testing.T) {
	drivertest.RunDeadLetters(t, func(t *testing.T) driver.DeadLetterStore {
		return receiver.NewMemoryDeadLetters(memoryDeadLetters)
	}, drivertest.EvictsOldest(memoryDeadLetters))
}

func TestMemoryOrderConformance(t *testing.T) {
	drivertest.RunOrderStore(t, func(t *testing.T) driver.OrderStore {
		return receiver.NewMemoryOrder(64)
	}, drivertest.StoreBound(64))
}
