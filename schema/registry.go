package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hookwise/hookwise/internal/pattern"
	"io"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/hookwise/hookwise/receiver"

	"github.com/hookwise/hookwise/internal/textcut"
)

// AnyVersion is the version of a schema that applies to every version of
// its events no versioned schema covers. In an fs.FS it is the file name
// "_.json".
const AnyVersion = "*"

// baseURL is where schema files live for $ref resolution: the file
// stripe/invoice._/2020-08-27.json has the URL baseURL +
// "stripe/invoice._/2020-08-27.json", so relative $refs between files of
// the same tree resolve. Nothing is ever fetched from it.
const baseURL = "https://hookwise.invalid/schemas/"

// maxCached bounds the (provider, type) lookups a Registry caches.
const maxCached = 4096

// Registry holds compiled JSON Schemas keyed by provider, event-type pattern
// and payload version. It implements receiver.Validator. A Registry is safe
// for concurrent use; its schemas never change after New.
type Registry struct {
	providers map[string][]*patternEntry // unsorted, per provider
	strict    bool
	values    bool // WithValuesInErrors
	resolver  VersionResolver
	resolvers map[string]VersionResolver

	cache  sync.Map // provider + "\x00" + type → []*patternEntry, most specific first
	cached atomic.Int64

	mu        sync.RWMutex
	upgraders map[string][]upgrader // per provider
}

type patternEntry struct {
	pat      pattern.Pattern
	versions []versionEntry // comparable versions sorted ascending, then the others
	any      *jsonschema.Schema
}

type versionEntry struct {
	version    string
	comparable bool
	schema     *jsonschema.Schema
}

// Option configures New.
type Option func(*config)

type config struct {
	fss       []fs.FS
	inline    []inlineSchema
	strict    bool
	values    bool
	resolver  VersionResolver
	resolvers map[string]VersionResolver
}

type inlineSchema struct {
	provider, pattern, version string
	doc                        []byte
}

// Strict makes Validate reject a delivery no schema covers (its type, or its
// version, has no schema) with a ValidationError whose cause is
// ErrUnknownType. By default such deliveries are valid.
func Strict() Option { return func(c *config) { c.strict = true } }

// WithValuesInErrors makes ValidationErrors quote the payload's values in
// their messages, as the JSON Schema validator words them ("'x' is not valid
// 'email'", "must be <= 100 but found 250", the names of unexpected
// properties, the text of a JSON syntax error). It leaks payload data (email
// addresses, tokens, card numbers) into Error(), ProblemJSON(), dead-letter
// reasons and logs, and into 422 answers on RejectInvalid routes: use it
// while developing schemas, not in production. By default a Problem names
// its JSON pointer, its keyword and what the schema asked for, never a value
// of the payload.
func WithValuesInErrors() Option { return func(c *config) { c.values = true } }

// WithVersionResolver sets how the version of a delivery is found for
// providers without their own resolver. The default is FromEvent().
func WithVersionResolver(r VersionResolver) Option {
	return func(c *config) { c.resolver = r }
}

// WithProviderVersionResolver sets how the version of a provider's
// deliveries is found, e.g. FirstOf(FromHeader("X-Api-Version"), Default("v1")).
func WithProviderVersionResolver(provider string, r VersionResolver) Option {
	return func(c *config) {
		if c.resolvers == nil {
			c.resolvers = make(map[string]VersionResolver)
		}
		c.resolvers[provider] = r
	}
}

// WithSchema adds a schema given as a JSON document for the provider's
// events matching typePattern at version (AnyVersion for all). It is
// compiled by New like the files of the fs.FS; its $refs resolve against the
// root of the FS ("stripe/event.json").
func WithSchema(provider, typePattern, version string, schemaJSON []byte) Option {
	return func(c *config) {
		c.inline = append(c.inline, inlineSchema{provider, typePattern, version, schemaJSON})
	}
}

// WithFS adds the schema files of another tree laid out as New describes,
// e.g. WithFS(BundledFS). All trees share one namespace for $ref: a path
// present in two trees is an error.
func WithFS(fsys fs.FS) Option { return func(c *config) { c.fss = append(c.fss, fsys) } }

// New compiles every schema of fsys (which may be nil) and of the options,
// and returns a Registry. Any file that is not valid JSON, not a valid
// schema of its draft, names an unknown $schema, or has a $ref that does not
// resolve inside the trees is an error matching ErrCompile: nothing is
// compiled lazily.
//
// Layout of a tree: every file <provider>/<type>/<version>.json is the
// schema of the provider's events matching <type> at <version>, where in
// <type> a last element "_" stands for "*" ("invoice._" is the pattern
// "invoice.*", "_" alone matches every type) and the version "_" is
// AnyVersion:
//
//	standard/user.created/v1.json   standard, "user.created", "v1"
//	stripe/invoice._/_.json         stripe, "invoice.*", any version
//	github/issues/_.json            github, "issues" and "issues.*"
//
// Every other .json file (stripe/event.json, _defs/x.json) is only a
// target for $ref. Files not ending in .json are ignored. Schemas use draft
// 2020-12 unless their $schema names draft 7 (or 2019-09, 6, 4); the
// "format" keyword is asserted (email, date-time, uri…). Nothing is ever
// loaded from the network or the file system outside the trees.
func New(fsys fs.FS, opts ...Option) (*Registry, error) {
	cfg := config{}
	if fsys != nil {
		cfg.fss = append(cfg.fss, fsys)
	}
	for _, o := range opts {
		o(&cfg)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	c.LoadURL = func(s string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("schema: %s is not in the schema tree", s)
	}

	type reg struct {
		provider, pattern, version, url, name string
	}
	var regs []reg
	var all []string             // every resource URL, compiled to catch broken $ref targets
	names := map[string]string{} // resource URL → name in errors
	add := func(name, u string, data []byte) error {
		if _, dup := names[u]; dup {
			return fmt.Errorf("%w: %s: duplicate path", ErrCompile, name)
		}
		names[u] = name
		if err := c.AddResource(u, bytes.NewReader(data)); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrCompile, name, err)
		}
		all = append(all, u)
		return nil
	}
	for _, fsys := range cfg.fss {
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || path.Ext(p) != ".json" {
				return nil
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			u := baseURL + escapePath(p)
			if err := add(p, u, data); err != nil {
				return err
			}
			parts := strings.Split(p, "/")
			if len(parts) != 3 {
				return nil
			}
			pat := parts[1]
			if pat == "_" {
				pat = "*"
			} else if strings.HasSuffix(pat, "._") {
				pat = strings.TrimSuffix(pat, "_") + "*"
			}
			ver := strings.TrimSuffix(parts[2], ".json")
			if ver == "_" {
				ver = AnyVersion
			}
			regs = append(regs, reg{parts[0], pat, ver, u, p})
			return nil
		})
		if err != nil {
			if errors.Is(err, ErrCompile) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", ErrCompile, err)
		}
	}
	for i, in := range cfg.inline {
		name := fmt.Sprintf("inline schema %d (%s %s %s)", i, in.provider, in.pattern, in.version)
		u := baseURL + fmt.Sprintf("_inline/%d.json", i)
		if err := add(name, u, in.doc); err != nil {
			return nil, err
		}
		regs = append(regs, reg{in.provider, in.pattern, in.version, u, name})
	}

	compiled := make(map[string]*jsonschema.Schema, len(all))
	for _, u := range all {
		s, err := c.Compile(u)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCompile, names[u], err)
		}
		compiled[u] = s
	}

	r := &Registry{
		providers: make(map[string][]*patternEntry),
		strict:    cfg.strict,
		values:    cfg.values,
		resolver:  cfg.resolver,
		resolvers: cfg.resolvers,
	}
	if r.resolver == nil {
		r.resolver = FromEvent()
	}
	for _, g := range regs {
		if g.provider == "" {
			return nil, fmt.Errorf("%w: %s: empty provider", ErrCompile, g.name)
		}
		pat, ok := parsePattern(g.pattern)
		if !ok {
			return nil, fmt.Errorf("%w: %s: invalid event-type pattern %q", ErrCompile, g.name, g.pattern)
		}
		if g.version == "" {
			return nil, fmt.Errorf("%w: %s: empty version", ErrCompile, g.name)
		}
		var pe *patternEntry
		for _, x := range r.providers[g.provider] {
			if x.pat.Raw == pat.Raw {
				pe = x
			}
		}
		if pe == nil {
			pe = &patternEntry{pat: pat}
			r.providers[g.provider] = append(r.providers[g.provider], pe)
		}
		s := compiled[g.url]
		if g.version == AnyVersion {
			if pe.any != nil {
				return nil, fmt.Errorf("%w: %s: duplicate schema for %s %s any version", ErrCompile, g.name, g.provider, g.pattern)
			}
			pe.any = s
			continue
		}
		if slices.ContainsFunc(pe.versions, func(v versionEntry) bool { return v.version == g.version }) {
			return nil, fmt.Errorf("%w: %s: duplicate schema for %s %s %s", ErrCompile, g.name, g.provider, g.pattern, g.version)
		}
		_, comparable := versionKey(g.version)
		pe.versions = append(pe.versions, versionEntry{g.version, comparable, s})
	}
	for _, pes := range r.providers {
		for _, pe := range pes {
			slices.SortStableFunc(pe.versions, func(a, b versionEntry) int {
				switch {
				case a.comparable && b.comparable:
					if c, ok := CompareVersions(a.version, b.version); ok {
						return c
					}
					ka, _ := versionKey(a.version)
					if ka.date { // dates before numbers
						return -1
					}
					return 1
				case a.comparable:
					return -1
				case b.comparable:
					return 1
				}
				return strings.Compare(a.version, b.version)
			})
		}
	}
	return r, nil
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// candidates returns the patterns of provider matching typ, most specific
// first.
func (r *Registry) candidates(provider, typ string) []*patternEntry {
	pes := r.providers[provider]
	if len(pes) == 0 {
		return nil
	}
	key := provider + "\x00" + typ
	if v, ok := r.cache.Load(key); ok {
		return v.([]*patternEntry)
	}
	var out []*patternEntry
	for _, pe := range pes {
		if pe.pat.Rank(typ) > 0 {
			out = append(out, pe)
		}
	}
	slices.SortStableFunc(out, func(a, b *patternEntry) int { return b.pat.Rank(typ) - a.pat.Rank(typ) })
	if r.cached.Load() < maxCached {
		if _, loaded := r.cache.LoadOrStore(key, out); !loaded {
			r.cached.Add(1)
		}
	}
	return out
}

// pick chooses the schema of the entry for version v:
//
//  1. the schema of exactly v;
//  2. else, when v is comparable (CompareVersions), the newest comparable
//     version not newer than v;
//  3. else the AnyVersion schema;
//  4. else, when v is "" (unknown), the newest version.
//
// A delivery older than every versioned schema of an entry without an
// AnyVersion schema is not covered by the entry.
func (pe *patternEntry) pick(v string) (string, *jsonschema.Schema, bool) {
	if v != "" {
		for _, x := range pe.versions {
			if x.version == v {
				return x.version, x.schema, true
			}
		}
		if _, ok := versionKey(v); ok {
			for i := len(pe.versions) - 1; i >= 0; i-- {
				x := pe.versions[i]
				if c, ok := CompareVersions(x.version, v); ok && c <= 0 {
					return x.version, x.schema, true
				}
			}
		}
	}
	if pe.any != nil {
		return AnyVersion, pe.any, true
	}
	if v == "" && len(pe.versions) > 0 {
		last := pe.versions[len(pe.versions)-1]
		for i := len(pe.versions) - 1; i >= 0; i-- {
			if pe.versions[i].comparable {
				last = pe.versions[i]
				break
			}
		}
		return last.version, last.schema, true
	}
	return "", nil, false
}

// find returns the schema for (provider, typ, v): the most specific pattern
// whose entry covers v wins; a more specific pattern without a schema for v
// falls through to a less specific one.
func (r *Registry) find(provider, typ, v string) (pat, version string, s *jsonschema.Schema, ok bool) {
	for _, pe := range r.candidates(provider, typ) {
		if ver, s, ok := pe.pick(v); ok {
			return pe.pat.Raw, ver, s, true
		}
	}
	return "", "", nil, false
}

// SchemaFor reports which schema validates a delivery of the provider's
// event type at version: the pattern and version it was registered under
// (AnyVersion for a version-less schema). ok is false when none does.
func (r *Registry) SchemaFor(provider, typ, version string) (typePattern, schemaVersion string, ok bool) {
	p, v, _, ok := r.find(provider, typ, version)
	return p, v, ok
}

// ResolveVersion returns the version of e as the provider's VersionResolver
// sees it; doc is the decoded payload or nil.
func (r *Registry) ResolveVersion(e *receiver.Event, doc any) string {
	return r.resolverFor(e.Provider)(e, doc)
}

func (r *Registry) resolverFor(provider string) VersionResolver {
	if res, ok := r.resolvers[provider]; ok && res != nil {
		return res
	}
	return r.resolver
}

// Validate checks the payload of e (Event.Payload, or Event.Body when
// Payload is nil) against the schema for its provider, type and version. It
// returns nil when the payload is valid or, unless the Registry is Strict,
// when no schema covers the event; otherwise a *ValidationError matching
// receiver.ErrInvalidPayload. A payload that is not a single JSON document
// is invalid whenever a schema could apply.
func (r *Registry) Validate(_ context.Context, e *receiver.Event) error {
	_, err := r.validate(e)
	return err
}

// validate is Validate, returning what it validated when a schema covered
// the event and the payload passed it (nil otherwise).
func (r *Registry) validate(e *receiver.Event) (*validated, error) {
	res := r.resolverFor(e.Provider)
	cands := r.candidates(e.Provider, e.Type)
	if len(cands) == 0 {
		if r.strict {
			return nil, unknownType(e.Provider, e.Type, res(e, nil))
		}
		return nil, nil
	}
	body := e.Payload
	if body == nil {
		body = e.Body
	}
	doc, err := decodeJSON(body)
	if err != nil {
		return nil, r.malformed(e.Provider, e.Type, res(e, nil), err)
	}
	v := res(e, doc)
	_, _, s, ok := r.find(e.Provider, e.Type, v)
	if !ok {
		if r.strict {
			return nil, unknownType(e.Provider, e.Type, v)
		}
		return nil, nil
	}
	if err := r.check(s, e.Provider, e.Type, v, doc); err != nil {
		return nil, err
	}
	return &validated{reg: r, payload: body, doc: doc, schema: s}, nil
}

var _ receiver.Validator = (*Registry)(nil)

// validateDoc validates an already decoded document; covered is false when
// no schema applies.
func (r *Registry) validateDoc(provider, typ, v string, doc any) (covered bool, err error) {
	_, _, s, ok := r.find(provider, typ, v)
	if !ok {
		if r.strict {
			return false, unknownType(provider, typ, v)
		}
		return false, nil
	}
	return true, r.check(s, provider, typ, v, doc)
}

func (r *Registry) check(s *jsonschema.Schema, provider, typ, v string, doc any) error {
	schemaRuns.Add(1)
	err := s.Validate(doc)
	if err == nil {
		return nil
	}
	ve := &ValidationError{Provider: provider, Type: typ, Version: truncate(v)}
	var jve *jsonschema.ValidationError
	if errors.As(err, &jve) {
		r.collect(jve, &ve.Problems)
	}
	if len(ve.Problems) == 0 {
		msg := "the payload does not match its schema"
		if r.values {
			msg = truncate(err.Error())
		}
		ve.Problems = append(ve.Problems, Problem{Keyword: "schema", Message: msg})
	}
	return ve
}

// collect appends the leaves of the error tree: the failing keywords.
func (r *Registry) collect(e *jsonschema.ValidationError, out *[]Problem) {
	if len(*out) >= maxProblems {
		return
	}
	if len(e.Causes) == 0 {
		kw := keywordOf(e.KeywordLocation)
		msg := e.Message
		if !r.values {
			msg = safeMessage(kw, msg)
		}
		*out = append(*out, Problem{
			Pointer: truncate(e.InstanceLocation),
			Keyword: truncate(kw),
			Message: truncate(msg),
		})
		return
	}
	for _, c := range e.Causes {
		r.collect(c, out)
	}
}

// safeMessage rewrites the validator's message for a failing keyword so that
// it says what the schema asked for and never quotes the payload: the
// messages of the keywords listed here are built from the schema's own
// parameters and from counts, every other one is replaced.
func safeMessage(keyword, msg string) string {
	switch keyword {
	case "type", // "expected string, but got number": JSON type names
		"required",      // "missing properties: 'a', 'b'": the schema's names
		"const", "enum", // the schema's values
		"pattern",                        // "does not match pattern '…'": the schema's pattern
		"minProperties", "maxProperties", // counts
		"minItems", "maxItems", "additionalItems", "uniqueItems",
		"minContains", "maxContains", "minLength", "maxLength",
		"contentEncoding", "contentMediaType", "contentSchema",
		"oneOf", "anyOf", "allOf", "not", "if", "then", "else":
		return msg
	case "format": // "'<value>' is not valid '<format>'"
		const sep = " is not valid '"
		if i := strings.LastIndex(msg, sep); i >= 0 && strings.HasSuffix(msg, "'") {
			name := msg[i+len(sep) : len(msg)-1]
			if _, known := jsonschema.Formats[name]; known {
				return "not a valid " + name
			}
		}
		return "not in the schema's format"
	case "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum":
		// "must be >= 5 but found 7": the bound comes first, the value last.
		if bound, _, ok := strings.Cut(msg, " but found "); ok {
			return bound
		}
		return "out of range"
	case "multipleOf": // "7 not multipleOf 5"
		if i := strings.LastIndex(msg, " not multipleOf "); i >= 0 {
			return msg[i+1:]
		}
		return "not a multiple of the schema's divisor"
	case "additionalProperties", "unevaluatedProperties": // quotes the payload's property names
		return "properties not allowed by the schema"
	case "propertyNames":
		return "a property name not allowed by the schema"
	}
	return "fails the schema's " + strconv.Quote(keyword) + " keyword"
}

// maxMessage bounds a problem's message, keyword and pointer: pointers
// name the payload's properties, and with WithValuesInErrors messages quote
// its values.
const maxMessage = 256

// truncate shortens s to at most maxMessage bytes on a rune boundary.
func truncate(s string) string { return textcut.Cut(s, maxMessage) }

// keywordOf returns the last keyword of a keyword location
// ("/properties/data/$ref/required" → "required"), skipping array indexes.
func keywordOf(loc string) string {
	parts := strings.Split(loc, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if p == "" || (p[0] >= '0' && p[0] <= '9') {
			continue
		}
		return strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return "schema"
}

var errTrailingData = errors.New("data after the JSON document")

func decodeJSON(b []byte) (any, error) {
	decodes.Add(1)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailingData
	}
	return v, nil
}

// malformed reports a payload that is not one JSON document; the decoder's
// message, which may quote the payload (`invalid character 'x' …`), only
// with WithValuesInErrors.
func (r *Registry) malformed(provider, typ, v string, err error) *ValidationError {
	var msg string
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		msg = "empty document"
	case r.values:
		msg = truncate(err.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg = "unexpected end of the JSON document"
	case errors.As(err, &syn):
		msg = "invalid JSON at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.Is(err, errTrailingData):
		msg = errTrailingData.Error()
	default:
		msg = "not a JSON document"
	}
	return &ValidationError{
		Provider: provider, Type: typ, Version: truncate(v), // the version may come from the payload
		Problems: []Problem{{Keyword: "json", Message: msg}},
		cause:    ErrMalformedJSON,
	}
}

func unknownType(provider, typ, v string) *ValidationError {
	return &ValidationError{
		Provider: provider, Type: typ, Version: truncate(v), // the version may come from the payload
		Problems: []Problem{{Keyword: "schema", Message: "no schema for this event type and version"}},
		cause:    ErrUnknownType,
	}
}
