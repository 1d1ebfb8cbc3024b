package validate

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hookprom "github.com/hookwise/hookwise/adapters/prometheus"
	"github.com/hookwise/hookwise/receiver"
)

// series describes one series name the adapter exports: a counter or gauge
// family's name, or a histogram's _bucket, _sum or _count.
type series struct {
	family hookprom.Family
	labels []string
}

// exported returns every series name the adapter exports, with its labels.
func exported() map[string]series {
	out := map[string]series{}
	for _, f := range hookprom.Families() {
		if f.Type != "histogram" {
			out[f.Name] = series{f, f.Labels}
			continue
		}
		out[f.Name+"_bucket"] = series{f, append(slices.Clone(f.Labels), "le")}
		out[f.Name+"_sum"] = series{f, f.Labels}
		out[f.Name+"_count"] = series{f, f.Labels}
	}
	return out
}

var deliveryOutcomes = []string{
	hookprom.OutcomeAccepted, hookprom.OutcomeDuplicate, hookprom.OutcomeHandshake,
	hookprom.OutcomeRejected, hookprom.OutcomeInvalid, hookprom.OutcomeUnavailable,
}

// labelValues lists, for a family and label, the values the adapter
// writes, where they form a closed set.
func labelValues(family, label string) []string {
	switch {
	case label == "reason" && family == hookprom.DeliveriesName:
		return []string{"", hookprom.OtherReason,
			receiver.ReasonMethod, receiver.ReasonTooLarge, receiver.ReasonUnreadable, receiver.ReasonSignature,
			receiver.ReasonTimestamp, receiver.ReasonMalformed, receiver.ReasonInvalid, receiver.ReasonUnavailable,
			receiver.ReasonOverloaded, receiver.ReasonPending, receiver.ReasonClosed, receiver.ReasonInternal}
	case label == "outcome" && (family == hookprom.DeliveriesName || family == hookprom.RequestDurationName):
		return deliveryOutcomes
	case label == "outcome" && family == hookprom.HandlerOutcomesName:
		return []string{hookprom.OutcomeHandled, hookprom.OutcomeUnhandled, hookprom.OutcomeRetried,
			hookprom.OutcomeDeadLettered, hookprom.OutcomeInvalid, hookprom.OutcomeDuplicate}
	}
	return nil
}

var alternation = regexp.MustCompile(`^[a-z_]+(\|[a-z_]+)*$`)

// checkMatcher checks a label matcher of a selector of s: the label exists,
// and a value compared with a closed set is in it (each alternative of a
// plain alternation, for a regexp).
func checkMatcher(t tb, where string, s series, m *labels.Matcher) {
	t.Helper()
	if m.Name == labels.MetricName {
		return
	}
	if !assert.Contains(t, s.labels, m.Name, "%s: %s has no label %q", where, s.family.Name, m.Name) {
		return
	}
	known := labelValues(s.family.Name, m.Name)
	if known == nil {
		return
	}
	switch m.Type {
	case labels.MatchEqual, labels.MatchNotEqual:
		assert.Contains(t, known, m.Value, "%s: %s{%s} is never %q", where, s.family.Name, m.Name, m.Value)
	case labels.MatchRegexp, labels.MatchNotRegexp:
		if alternation.MatchString(m.Value) {
			for _, v := range strings.Split(m.Value, "|") {
				assert.Contains(t, known, v, "%s: %s{%s} is never %q", where, s.family.Name, m.Name, v)
			}
			return
		}
		matched := false
		for _, v := range known {
			matched = matched || m.Matches(v)
		}
		assert.True(t, matched, "%s: %s{%s=~%q} matches no value the adapter writes", where, s.family.Name, m.Name, m.Value)
	}
}

// tb is the part of testing.TB the checks use, so that a test can run them
// on a recorder and see them fail.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	FailNow()
}

// recorder is a tb that records failures; FailNow panics with stop.
type recorder struct{ failed bool }

type stop struct{}

func (*recorder) Helper()                 {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) FailNow()              { r.failed = true; panic(stop{}) }

// fails reports whether check fails on a recorder.
func fails(check func(t tb)) bool {
	r := &recorder{}
	func() {
		defer func() {
			if v := recover(); v != nil {
				if _, ok := v.(stop); !ok {
					panic(v)
				}
			}
		}()
		check(r)
	}()
	return r.failed
}

var promqlParser = parser.NewParser(parser.Options{})

// checkExpr parses expr and checks every series it selects against the
// adapter's, with their label matchers, and the grouping labels of every
// aggregation. It returns the labels the selected series may carry.
func checkExpr(t tb, where, expr string) []string {
	t.Helper()
	ast, err := promqlParser.ParseExpr(expr)
	require.NoError(t, err, "%s: %s", where, expr)
	known := exported()
	var selected []string
	parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			s, ok := known[n.Name]
			if !assert.True(t, ok, "%s: %q is not a series the adapter exports", where, n.Name) {
				return nil
			}
			selected = append(selected, s.labels...)
			for _, m := range n.LabelMatchers {
				checkMatcher(t, where, s, m)
			}
		case *parser.AggregateExpr:
			if n.Without {
				return nil
			}
			parser.Inspect(n.Expr, func(inner parser.Node, _ []parser.Node) error {
				if vs, ok := inner.(*parser.VectorSelector); ok {
					if s, ok := known[vs.Name]; ok {
						for _, g := range n.Grouping {
							assert.Contains(t, s.labels, g, "%s: grouping %s by %q, a label it does not have", where, vs.Name, g)
						}
					}
				}
				return nil
			})
		}
		return nil
	})
	assert.NotEmpty(t, selected, "%s: selects no hookwise series", where)
	return selected
}

func TestCheckExprCatchesMistakes(t *testing.T) {
	for _, bad := range []string{
		`rate(hookwise_deliveries[5m])`,                                   // no such family
		`rate(hookwise_deliveries_total{outcome="acepted"}[5m])`,          // no such outcome
		`rate(hookwise_deliveries_total{reason=~"signature|forged"}[5m])`, // no such reason
		`rate(hookwise_deliveries_total{event_type="x"}[5m])`,             // no such label
		`sum by (endpoint) (rate(hookwise_deliveries_total[5m]))`,         // grouping by a missing label
		`hookwise_queue_wait_seconds_bucket{le="1", provider="x"} > `,     // syntax
		`rate(hookwise_handler_outcomes_total{outcome="accepted"}[5m])`,   // a delivery outcome on handler outcomes
	} {
		assert.True(t, fails(func(t tb) { checkExpr(t, "bad", bad) }), "not caught: %s", bad)
	}
	checkExpr(t, "good", `histogram_quantile(0.99, sum by (provider, le) (rate(hookwise_request_duration_seconds_bucket{outcome="accepted"}[5m])))`)
}
