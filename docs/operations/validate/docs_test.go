package validate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	hookprom "github.com/hookwise/hookwise/adapters/prometheus"
)

// root is the root module's directory.
const root = "../../.."

// logCall is one message the library logs.
type logCall struct {
	pos   string
	msg   string
	level string // DEBUG, INFO, WARN, ERROR
	keys  []string
}

// helpers are the root module's functions that log a message they are
// given: the position of the message argument, the level they log it at ("" when
// a level argument precedes the message), and what they append to it.
var helpers = map[string]struct {
	arg    int
	level  string
	suffix string
}{
	"logEvent":     {2, "", ""},
	"release":      {2, "WARN", ""},
	"forget":       {2, "WARN", ""},
	"recoverPanic": {2, "ERROR", " panicked"},
}

var levels = map[string]string{
	"LevelDebug": "DEBUG", "LevelInfo": "INFO", "LevelWarn": "WARN", "LevelError": "ERROR",
	"Debug": "DEBUG", "Info": "INFO", "Warn": "WARN", "Error": "ERROR",
	"DebugContext": "DEBUG", "InfoContext": "INFO", "WarnContext": "WARN", "ErrorContext": "ERROR",
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// isLogger reports whether x looks like a *slog.Logger: a name ending in
// "log" or "logger" (r.log, q.log, ins.log, p.o.logger).
func isLogger(x ast.Expr) bool {
	var name string
	switch v := x.(type) {
	case *ast.Ident:
		name = v.Name
	case *ast.SelectorExpr:
		name = v.Sel.Name
	}
	name = strings.ToLower(name)
	return name == "log" || name == "logger"
}

// attrKeys returns the keys of slog attributes among args: slog.String("k",
// …) and its kin, and "k", value pairs.
func attrKeys(args []ast.Expr) []string {
	var keys []string
	for i := 0; i < len(args); i++ {
		switch a := args[i].(type) {
		case *ast.CallExpr:
			if sel, ok := a.Fun.(*ast.SelectorExpr); ok && len(a.Args) > 0 {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "slog" {
					if k, ok := stringLit(a.Args[0]); ok {
						keys = append(keys, k)
					}
				}
			}
		case *ast.BasicLit:
			if k, ok := stringLit(a); ok {
				keys = append(keys, k)
				i++ // skip the value
			}
		}
	}
	return keys
}

// logCalls finds every message the root module's library code logs (tests,
// examples, the CLI's and benchmarks' own code and nested modules aside).
func logCalls(t *testing.T) []logCall {
	t.Helper()
	fset := token.NewFileSet()
	var calls []logCall
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // a nested module
				}
			}
			switch d.Name() {
			case ".git", "testdata", "examples", "bench", "cmd":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		if strings.HasSuffix(f.Name.Name, "test") { // test-helper packages
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		var fn string
		ast.Inspect(f, func(n ast.Node) bool {
			if fd, ok := n.(*ast.FuncDecl); ok {
				fn = fd.Name.Name
			}
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := c.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pos := rel + ":" + strconv.Itoa(fset.Position(c.Pos()).Line)
			name := sel.Sel.Name
			var msgArg ast.Expr
			var level string
			var rest []ast.Expr
			switch {
			case (name == "LogAttrs" || name == "Log") && isLogger(sel.X) && len(c.Args) >= 3:
				msgArg, rest = c.Args[2], c.Args[3:]
				if l, ok := c.Args[1].(*ast.SelectorExpr); ok {
					level = levels[l.Sel.Name]
				}
			case levels[name] != "" && isLogger(sel.X):
				i := 0
				if strings.HasSuffix(name, "Context") {
					i = 1
				}
				msgArg, rest, level = c.Args[i], c.Args[i+1:], levels[name]
			default:
				h, ok := helpers[name]
				if !ok || len(c.Args) <= h.arg {
					return true
				}
				msg, ok := stringLit(c.Args[h.arg])
				if !ok {
					return true
				}
				level = h.level
				if level == "" {
					if l, ok := c.Args[1].(*ast.SelectorExpr); ok {
						level = levels[l.Sel.Name]
					}
				}
				keys := attrKeys(c.Args[h.arg+1:])
				if name == "logEvent" {
					keys = append([]string{"id", "type", "attempt"}, keys...)
				}
				calls = append(calls, logCall{pos, msg + h.suffix, level, keys})
				return true
			}
			msg, ok := stringLit(msgArg)
			if !ok {
				// A message passed in: only the helpers may do that.
				_, known := helpers[fn]
				assert.True(t, known, "%s: a log message that is not a constant, outside the known helpers", pos)
				return true
			}
			calls = append(calls, logCall{pos, msg, level, attrKeys(rest)})
			return true
		})
		return nil
	})
	require.NoError(t, err)
	return calls
}

// TestLoggingDocListsEveryMessage reads every log call of the library and
// finds its message in logging.md, on a row that gives its level and every
// key the call sets.
func TestLoggingDocListsEveryMessage(t *testing.T) {
	doc, err := os.ReadFile("../logging.md")
	require.NoError(t, err)
	rows := map[string]string{}
	for line := range strings.Lines(string(doc)) {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		msg := strings.TrimPrefix(line, "| `")
		msg = msg[:strings.Index(msg, "`")]
		rows[msg] = line
	}
	calls := logCalls(t)
	require.Greater(t, len(calls), 30, "the scan finds the library's log calls")
	found := map[string]bool{}
	for _, c := range calls {
		found[c.msg] = true
		row, ok := rows[c.msg]
		if !assert.True(t, ok, "%s: %q is not in logging.md", c.pos, c.msg) {
			continue
		}
		require.NotEmpty(t, c.level, "%s: level not found", c.pos)
		assert.Contains(t, row, "| "+c.level+" |", "%s: %q is logged at %s", c.pos, c.msg, c.level)
		for _, k := range c.keys {
			assert.Contains(t, row, "`"+k+"`", "%s: %q has the key %s", c.pos, c.msg, k)
		}
	}
	for msg := range rows {
		if strings.Contains(msg, " ") { // a message, not a key of the keys table
			assert.True(t, found[msg], "logging.md lists %q, which nothing logs", msg)
		}
	}
}

// TestOperationsREADME checks that the folder's README names every metric
// family and every alert.
func TestOperationsREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	for _, f := range hookprom.Families() {
		assert.Contains(t, string(readme), "`"+f.Name+"`")
	}
	for _, r := range loadRules(t) {
		assert.Contains(t, string(readme), "`"+r.Alert+"`")
	}
}
