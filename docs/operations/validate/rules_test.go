package validate

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const rulesFile = "../alerts.yml"

func loadRules(t *testing.T) []rulefmt.Rule {
	t.Helper()
	groups, errs := rulefmt.ParseFile(rulesFile, false, model.UTF8Validation, promqlParser, slog.New(slog.DiscardHandler))
	require.Empty(t, errs, "rulefmt (what promtool check rules runs)")
	require.NotEmpty(t, groups.Groups)
	var rules []rulefmt.Rule
	for _, g := range groups.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

var templateLabel = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)

// TestAlertRules parses the rules as Prometheus does, then checks each
// expression against the adapter's metrics and the conventions of the file:
// a unique Hookwise name, a severity, a summary and a description that
// only name labels the expression keeps.
func TestAlertRules(t *testing.T) {
	rules := loadRules(t)
	names := map[string]bool{}
	for _, r := range rules {
		require.NotEmpty(t, r.Alert, "only alerting rules here: %s", r.Record)
		assert.Regexp(t, `^Hookwise[A-Z][A-Za-z]+$`, r.Alert)
		assert.False(t, names[r.Alert], "alert %s twice", r.Alert)
		names[r.Alert] = true
		assert.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], r.Alert)
		assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
		assert.NotEmpty(t, r.Annotations["description"], r.Alert)
		selected := checkExpr(t, r.Alert, r.Expr)
		for _, text := range r.Annotations {
			for _, m := range templateLabel.FindAllStringSubmatch(text, -1) {
				assert.Contains(t, selected, m[1], "%s: annotation uses $labels.%s", r.Alert, m[1])
			}
		}
	}
	// The alerts the operations kit promises.
	for _, want := range []string{"HookwiseDeadLettersGrowing", "HookwiseHandlerFailureRatioHigh", "HookwiseQueueOldestEventOld",
		"HookwiseSignatureFailuresSpike", "HookwiseStoreOrQueueUnavailable"} {
		assert.True(t, names[want], "missing alert %s", want)
	}
}

// scenario is a load block of the promqltest language (series every minute
// from time 0) under which an alert fires, or stays silent, at the end of
// the window.
type scenario struct {
	fire    string            // series under which the alert fires at 30m
	labels  map[string]string // labels the firing alert carries
	healthy string            // series under which it stays silent
}

var scenarios = map[string]scenario{
	"HookwiseDeadLettersGrowing": {
		fire: `
			hookwise_handler_outcomes_total{provider="stripe", event_type="invoice.*", outcome="handled"} 0+10x40
			hookwise_handler_outcomes_total{provider="stripe", event_type="invoice.*", outcome="dead_lettered"} 0x20 1x20`,
		labels: map[string]string{"provider": "stripe", "event_type": "invoice.*"},
		healthy: `
			hookwise_handler_outcomes_total{provider="stripe", event_type="invoice.*", outcome="handled"} 0+10x40
			hookwise_handler_outcomes_total{provider="stripe", event_type="invoice.*", outcome="dead_lettered"} 3x40`,
	},
	"HookwiseHandlerFailureRatioHigh": {
		fire: `
			hookwise_handler_outcomes_total{provider="github", event_type="push", outcome="handled"} 0+60x40
			hookwise_handler_outcomes_total{provider="github", event_type="push", outcome="retried"} 0+20x40`,
		labels: map[string]string{"provider": "github", "event_type": "push"},
		healthy: `
			hookwise_handler_outcomes_total{provider="github", event_type="push", outcome="handled"} 0+60x40
			hookwise_handler_outcomes_total{provider="github", event_type="push", outcome="retried"} 0+2x40`,
	},
	"HookwiseQueueOldestEventOld": {
		fire:    `hookwise_queue_oldest_age_seconds{endpoint="stripe"} 0+30x40`,
		labels:  map[string]string{"endpoint": "stripe"},
		healthy: `hookwise_queue_oldest_age_seconds{endpoint="stripe"} 0 5 1 0x37`,
	},
	"HookwiseQueueStatsDown": {
		fire:    `hookwise_queue_stats_up{endpoint="stripe"} 1x10 0x30`,
		labels:  map[string]string{"endpoint": "stripe"},
		healthy: `hookwise_queue_stats_up{endpoint="stripe"} 1x40`,
	},
	"HookwiseSignatureFailuresSpike": { // a rotated secret: everything fails
		fire: `
			hookwise_deliveries_total{provider="stripe", outcome="accepted", reason=""} 0+60x10 600x30
			hookwise_deliveries_total{provider="stripe", outcome="rejected", reason="signature"} 0x10 0+60x30`,
		labels: map[string]string{"provider": "stripe"},
		healthy: `
			hookwise_deliveries_total{provider="stripe", outcome="accepted", reason=""} 0+60x40
			hookwise_deliveries_total{provider="stripe", outcome="rejected", reason="signature"} 0+1x40`,
	},
	"HookwiseStoreOrQueueUnavailable": {
		fire: `
			hookwise_deliveries_total{provider="stripe", outcome="accepted", reason=""} 0+60x20 1200x20
			hookwise_deliveries_total{provider="stripe", outcome="unavailable", reason="unavailable"} 0x20 0+60x20`,
		labels: map[string]string{"provider": "stripe"},
		healthy: `
			hookwise_deliveries_total{provider="stripe", outcome="accepted", reason=""} 0+60x40
			hookwise_deliveries_total{provider="stripe", outcome="unavailable", reason="unavailable"} 2x40
			hookwise_deliveries_total{provider="stripe", outcome="unavailable", reason="overloaded"} 0+5x40`,
	},
	"HookwiseOverloaded": {
		fire:    `hookwise_deliveries_total{provider="github", outcome="unavailable", reason="overloaded"} 0+5x40`,
		labels:  map[string]string{"provider": "github"},
		healthy: `hookwise_deliveries_total{provider="github", outcome="unavailable", reason="unavailable"} 0+5x40`,
	},
	"HookwiseClockSkew": { // the sender's clock runs 90 s ahead
		fire: `
			hookwise_timestamp_skew_seconds_sum{provider="stripe", sender_clock="ahead"} 0+900x40
			hookwise_timestamp_skew_seconds_count{provider="stripe", sender_clock="ahead"} 0+10x40
			hookwise_timestamp_skew_seconds_sum{provider="stripe", sender_clock="behind"} 0x40
			hookwise_timestamp_skew_seconds_count{provider="stripe", sender_clock="behind"} 0x40`,
		labels: map[string]string{"provider": "stripe", "sender_clock": "ahead"},
		healthy: `
			hookwise_timestamp_skew_seconds_sum{provider="stripe", sender_clock="behind"} 0+20x40
			hookwise_timestamp_skew_seconds_count{provider="stripe", sender_clock="behind"} 0+10x40
			hookwise_timestamp_skew_seconds_sum{provider="stripe", sender_clock="ahead"} 0+1x40
			hookwise_timestamp_skew_seconds_count{provider="stripe", sender_clock="ahead"} 0+1x40`,
	},
}

// TestAlertsFireOnTheirScenario evaluates every alert's expression, with the
// Prometheus engine, on a scenario that must fire it (the expression holds
// at every evaluation of its "for" window ending at 30m, with the labels its
// annotations use) and on a healthy one that must not.
func TestAlertsFireOnTheirScenario(t *testing.T) {
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	eval := func(t *testing.T, load, expr string, at time.Duration) promql.Vector {
		t.Helper()
		var lines []string
		for l := range strings.Lines(load) {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, "    "+l)
			}
		}
		st := promqltest.LoadedStorage(t, "load 1m\n"+strings.Join(lines, "\n"))
		q, err := engine.NewInstantQuery(context.Background(), st, nil, expr, time.Unix(0, 0).Add(at))
		require.NoError(t, err)
		defer q.Close()
		res := q.Exec(context.Background())
		require.NoError(t, res.Err)
		v, err := res.Vector()
		require.NoError(t, err)
		return v
	}
	const end = 30 * time.Minute
	rules := loadRules(t)
	for _, r := range rules {
		t.Run(r.Alert, func(t *testing.T) {
			sc, ok := scenarios[r.Alert]
			require.True(t, ok, "every alert needs a scenario in this test")
			for at := end - time.Duration(r.For); at <= end; at += time.Minute {
				v := eval(t, sc.fire, r.Expr, at)
				require.Len(t, v, 1, "fires at %v", at)
				for k, want := range sc.labels {
					assert.Equal(t, want, v[0].Metric.Get(k), "label %s", k)
				}
			}
			for _, at := range []time.Duration{10 * time.Minute, 20 * time.Minute, end} {
				assert.Empty(t, eval(t, sc.healthy, r.Expr, at), "silent when healthy, at %v", at)
			}
		})
	}
	var extra []string
	for name := range scenarios {
		if !slices.ContainsFunc(rules, func(r rulefmt.Rule) bool { return r.Alert == name }) {
			extra = append(extra, name)
		}
	}
	assert.Empty(t, extra, "scenarios of alerts that no longer exist")
}

// TestScenariosUseExportedSeries keeps the scenarios honest: the series
// they load are ones the adapter exports.
func TestScenariosUseExportedSeries(t *testing.T) {
	series := regexp.MustCompile(`(?m)^\s*([a-z_]+\{[^}]*\})`)
	for name, sc := range scenarios {
		for _, load := range []string{sc.fire, sc.healthy} {
			for _, m := range series.FindAllStringSubmatch(load, -1) {
				checkExpr(t, fmt.Sprintf("scenario %s", name), m[1])
			}
		}
	}
}
