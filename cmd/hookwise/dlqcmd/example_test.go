package dlqcmd_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hookwise/hookwise/cmd/hookwise/dlqcmd"
	"github.com/hookwise/hookwise/receiver"
)

// memory is a Backend on a receiver's in-memory dead-letter store and
// queue (a real tool opens the stores of Redis or PostgreSQL).
type memory struct {
	dl *receiver.MemoryDeadLetters
	q  *receiver.MemoryQueue
}

func (m memory) List(ctx context.Context) ([]dlqcmd.Entry, error) {
	all, err := m.dl.List(ctx, 0)
	out := make([]dlqcmd.Entry, 0, len(all))
	for _, d := range all {
		out = append(out, dlqcmd.Entry{DeadLetter: d, Endpoint: "billing"})
	}
	return out, err
}

func (m memory) Delete(ctx context.Context, e dlqcmd.Entry) error {
	return m.dl.Delete(ctx, e.DeadLetter.Event.Provider, e.DeadLetter.Key())
}

func (m memory) Replayer(context.Context, dlqcmd.Entry) (receiver.Replayer, error) {
	return receiver.Replayer{Queue: m.q, DeadLetters: m.dl}, nil
}

// A tool's "dlq" command on a backend: here, list then replay.
func ExampleCommand() {
	ctx := context.Background()
	failed := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	b := memory{dl: receiver.NewMemoryDeadLetters(10), q: receiver.NewMemoryQueue(10, 1)}
	_ = b.dl.Put(ctx, receiver.DeadLetter{
		Event:  &receiver.Event{Provider: "stripe", ID: "evt_1", Type: "invoice.paid", Attempt: 5, Body: []byte(`{}`)},
		Reason: "billing service said no", FailedAt: failed,
	})
	c := &dlqcmd.Command{
		Name: "mytool", Help: "usage: mytool dlq list|show|replay|purge\n", Stdout: os.Stdout, Stderr: os.Stdout,
		Now:  func() time.Time { return failed.Add(time.Hour) },
		Open: func(context.Context) (dlqcmd.Backend, func(), error) { return b, nil, nil },
	}
	fmt.Println(c.Run(ctx, []string{"list", "-newer-than", "1d"}))
	fmt.Println(c.Run(ctx, []string{"replay", "evt_1"}))
	var x *dlqcmd.ExitError
	if err := c.Run(ctx, []string{"list"}); errors.As(err, &x) {
		fmt.Println("exit", x.Code)
	}
	// Output:
	// FAILED                PROVIDER      ID                            TYPE                          ATT  REASON
	// 2026-12-01T09:30:00Z  stripe        evt_1                         invoice.paid                    5  billing service said no
	// <nil>
	// replayed stripe evt_1 invoice.paid (endpoint billing)
	// <nil>
	// mytool: no dead letter matches
	// exit 1
}
