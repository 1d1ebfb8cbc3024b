package validate

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hookprom "github.com/hookwise/hookwise/adapters/prometheus"
)

const dashboardFile = "../grafana-dashboard.json"

type dashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
		RefID        string `json:"refId"`
	} `json:"targets"`
}

var (
	grafanaRange     = regexp.MustCompile(`\$__(rate_interval|interval|range)\b`)
	grafanaVar       = regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?`)
	legendLabel      = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
	labelValuesQuery = regexp.MustCompile(`^label_values\(\s*([a-z_]+)\s*,\s*([a-z_]+)\s*\)$`)
)

// substitute replaces Grafana's variables with what they stand for at
// query time, so that the expression parses as PromQL: ranges with a
// duration, template variables with a value (they appear in label
// matchers). It returns the template variables used.
func substitute(expr string) (string, []string) {
	expr = grafanaRange.ReplaceAllString(expr, "5m")
	var vars []string
	expr = grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		vars = append(vars, grafanaVar.FindStringSubmatch(m)[1])
		return "x"
	})
	return expr, vars
}

// TestDashboard checks the Grafana dashboard: valid JSON, a layout without
// overlaps, every panel querying series the adapter exports through the
// dashboard's data-source variable, with PromQL that parses and labels that
// exist, and every family of the adapter shown somewhere.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	require.True(t, json.Valid(raw), "valid JSON")
	var d dashboard
	require.NoError(t, json.Unmarshal(raw, &d))
	assert.NotEmpty(t, d.Title)
	assert.NotEmpty(t, d.UID)
	assert.GreaterOrEqual(t, d.SchemaVersion, 36)

	defined := map[string]bool{}
	for _, v := range d.Templating.List {
		defined[v.Name] = true
		switch v.Type {
		case "datasource":
			var q string
			require.NoError(t, json.Unmarshal(v.Query, &q))
			assert.Equal(t, "prometheus", q)
		case "query":
			var q struct{ Query string }
			require.NoError(t, json.Unmarshal(v.Query, &q))
			m := labelValuesQuery.FindStringSubmatch(q.Query)
			require.NotNil(t, m, "variable %s: %s", v.Name, q.Query)
			s, ok := exported()[m[1]]
			require.True(t, ok, "variable %s reads %s", v.Name, m[1])
			assert.Contains(t, s.labels, m[2], "variable %s", v.Name)
		default:
			t.Errorf("variable %s of type %s", v.Name, v.Type)
		}
	}
	require.True(t, defined["datasource"], "a data-source variable, so the dashboard imports anywhere")

	ids := map[int]bool{}
	used := map[string]bool{}
	var boxes []panel
	for _, p := range d.Panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		assert.False(t, ids[p.ID], "%s: id used twice", where)
		ids[p.ID] = true
		assert.NotEmpty(t, p.Title, where)
		g := p.GridPos
		assert.True(t, g.X >= 0 && g.W > 0 && g.X+g.W <= 24 && g.H > 0 && g.Y >= 0, "%s: grid position %+v", where, g)
		for _, b := range boxes {
			overlap := g.X < b.GridPos.X+b.GridPos.W && b.GridPos.X < g.X+g.W && g.Y < b.GridPos.Y+b.GridPos.H && b.GridPos.Y < g.Y+g.H
			assert.False(t, overlap, "%s overlaps panel %d", where, b.ID)
		}
		boxes = append(boxes, p)
		if p.Type == "row" {
			continue
		}
		assert.Contains(t, []string{"timeseries", "stat"}, p.Type, where)
		require.NotNil(t, p.Datasource, where)
		assert.Equal(t, "${datasource}", p.Datasource.UID, where)
		require.NotEmpty(t, p.Targets, "%s: no query", where)
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			assert.False(t, refs[tg.RefID], "%s: refId %s twice", where, tg.RefID)
			refs[tg.RefID] = true
			expr, vars := substitute(tg.Expr)
			for _, v := range vars {
				assert.True(t, defined[v], "%s: variable $%s is not defined", where, v)
			}
			selected := checkExpr(t, where, expr)
			for _, m := range legendLabel.FindAllStringSubmatch(tg.LegendFormat, -1) {
				assert.Contains(t, selected, m[1], "%s: legend uses {{%s}}", where, m[1])
			}
			ast, err := promqlParser.ParseExpr(expr)
			require.NoError(t, err)
			for name := range exported() {
				if strings.Contains(ast.String(), name) {
					used[name] = true
				}
			}
		}
	}
	for _, f := range hookprom.Families() {
		shown := used[f.Name] || used[f.Name+"_bucket"] || used[f.Name+"_sum"]
		assert.True(t, shown, "no panel shows %s", f.Name)
	}
}

func TestSubstitute(t *testing.T) {
	expr, vars := substitute(`sum by (reason) (rate(hookwise_deliveries_total{provider=~"$provider", x="${endpoint}"}[$__rate_interval]))`)
	assert.Equal(t, `sum by (reason) (rate(hookwise_deliveries_total{provider=~"x", x="x"}[5m]))`, expr)
	assert.Equal(t, []string{"provider", "endpoint"}, vars)
}
