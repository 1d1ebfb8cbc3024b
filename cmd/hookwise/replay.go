package main

import (
	"context"
	"encoding/base64"

	"github.com/hookwise/hookwise/dedupe"
	"github.com/hookwise/hookwise/receiver"
)

// replayDeadLetter queues d's event again through the normal path with
// receiver.Replayer: a fresh attempt count and claim token, the event's
// dedupe mark released (so the worker does not skip it as done), the event
// enqueued on q (which need not be started: the receiver consuming it
// handles the event), then the dead letter deleted.
func replayDeadLetter(ctx context.Context, q receiver.Queue, store dedupe.Store, dl receiver.DeadLetterStore, d receiver.DeadLetter) error {
	return receiver.Replayer{Queue: q, Store: store, DeadLetters: dl}.Replay(ctx, d)
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
