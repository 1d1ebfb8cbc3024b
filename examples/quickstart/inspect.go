package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/hookwise/hookwise/inspector"
	"github.com/hookwise/hookwise/receiver"
)

// inspectPath is where the inspector is mounted when INSPECTOR_TOKEN is set.
const inspectPath = "/_hookwise/"

// withInspector mounts the inspector (package inspector) on mux at
// inspectPath when INSPECTOR_TOKEN is set, and returns observer extended to
// feed it; otherwise it returns nil and observer unchanged.
func withInspector(mux *http.ServeMux, observer receiver.ObserverFunc, getenv func(string) string, log *slog.Logger) (*inspector.Inspector, receiver.ObserverFunc, error) {
	token := getenv("INSPECTOR_TOKEN")
	if token == "" {
		return nil, observer, nil
	}
	ins, err := inspector.New(inspector.Options{Token: token, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("INSPECTOR_TOKEN: %w", err)
	}
	mux.Handle(inspectPath, ins)
	log.Info("inspector mounted", "path", inspectPath)
	feed := ins.Observer()
	return ins, func(ctx context.Context, o receiver.Observation) {
		observer(ctx, o)
		feed.Observe(ctx, o)
	}, nil
}

// inspectDeadLetters lists rc's dead letters, with replay, on the
// inspector, if there is one.
func inspectDeadLetters(ins *inspector.Inspector, name string, rc *receiver.Receiver) error {
	if ins == nil {
		return nil
	}
	return ins.AddDeadLetters(inspector.DeadLetterSource{Name: name, Store: rc.DeadLetters(), Replay: rc.Replay})
}
