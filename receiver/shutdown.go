package receiver

import (
	"context"
	"errors"
	"log/slog"
)

// logUnfinished logs, at ERROR level, each acknowledged event a queue's
// Shutdown reported unfinished, then their count.
func (r *Receiver) logUnfinished(ctx context.Context, err error) {
	var se *ShutdownError
	if !errors.As(err, &se) {
		return
	}
	ctx = context.WithoutCancel(ctx)
	for _, id := range se.IDs {
		r.log.LogAttrs(ctx, slog.LevelError, "acknowledged event not handled before shutdown", slog.String("id", id))
	}
	r.log.LogAttrs(ctx, slog.LevelError, "shutdown deadline passed with acknowledged events not handled",
		slog.Int("unfinished", se.Unfinished), slog.Int("still_running", se.Running), slog.Any("error", se.Err))
}
