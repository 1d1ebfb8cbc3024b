package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of the optional variables.
const (
	defaultAddr            = ":8080"
	defaultAdminAddr       = "127.0.0.1:9090"
	defaultDrain           = 5 * time.Second
	defaultShutdownTimeout = 20 * time.Second
	defaultServiceName     = "hookwise-receiver"
)

// endpoint is one webhook route: its provider (a name of the providers
// catalog), its path, and the variable holding its secret. The variable
// name + "_PREVIOUS" may hold the secret being rotated out.
type endpoint struct {
	name     string // endpoint name: metrics, traces, the Redis stream
	provider string // providers.New name
	path     string
	env      string
}

var endpoints = []endpoint{
	{name: "github", provider: "github", path: "/webhooks/github", env: "GITHUB_WEBHOOK_SECRET"},
	{name: "stripe", provider: "stripe", path: "/webhooks/stripe", env: "STRIPE_WEBHOOK_SECRET"},
	{name: "standard", provider: "standard-webhooks", path: "/webhooks/standard", env: "STANDARD_WEBHOOK_SECRET"},
}

// config is everything read from the environment.
type config struct {
	addr, adminAddr string
	redis           *redis.Options
	consumer        string // the redisq consumer name: POD_NAME, else the host name
	logLevel        slog.Level
	drain           time.Duration // SHUTDOWN_DRAIN
	shutdownTimeout time.Duration // SHUTDOWN_TIMEOUT
	tracesURL       string        // the OTLP/HTTP traces URL; "" turns tracing off
	serviceName     string
	secrets         map[string][]string // by endpoint name: current first, then previous
}

// ConfigError lists what the environment lacks or gets wrong. It names
// variables, never their values.
type ConfigError struct {
	Missing []string // required variables that are unset or blank
	Invalid []string // "NAME: what is wrong", never quoting the value
}

// Error implements error.
func (e *ConfigError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "missing required environment variables: "+strings.Join(e.Missing, ", ")+
			" (this program has no development secrets: set each one, see README.md)")
	}
	parts = append(parts, e.Invalid...)
	return strings.Join(parts, "; ")
}

// ErrConfig is matched (errors.Is) by every *ConfigError.
var ErrConfig = errors.New("configuration")

// Is makes errors.Is(err, ErrConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

// loadConfig reads the configuration through env, collecting every problem
// before it reports them together.
func loadConfig(env func(string) string) (*config, error) {
	ce := &ConfigError{}
	c := &config{
		addr:            orDefault(env("ADDR"), defaultAddr),
		adminAddr:       orDefault(env("ADMIN_ADDR"), defaultAdminAddr),
		drain:           defaultDrain,
		shutdownTimeout: defaultShutdownTimeout,
		serviceName:     orDefault(env("OTEL_SERVICE_NAME"), defaultServiceName),
		secrets:         map[string][]string{},
	}
	for name, addr := range map[string]string{"ADDR": c.addr, "ADMIN_ADDR": c.adminAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			ce.Invalid = append(ce.Invalid, name+": want host:port")
		}
	}
	sort.Strings(ce.Invalid)

	if raw := strings.TrimSpace(env("REDIS_URL")); raw == "" {
		ce.Missing = append(ce.Missing, "REDIS_URL")
	} else if opt, err := redis.ParseURL(raw); err != nil {
		// Never the URL nor go-redis's message: either may quote the password.
		ce.Invalid = append(ce.Invalid, "REDIS_URL: not a valid URL (want redis://[user:password@]host:port/db or rediss://…)")
	} else {
		opt.ContextTimeoutEnabled = true // per-call deadlines reach the socket: redisq.CallTimeout holds on a hung connection
		c.redis = opt
	}

	for _, ep := range endpoints {
		s := strings.TrimSpace(env(ep.env))
		if s == "" {
			ce.Missing = append(ce.Missing, ep.env)
			continue
		}
		c.secrets[ep.name] = []string{s}
		if prev := strings.TrimSpace(env(ep.env + "_PREVIOUS")); prev != "" {
			c.secrets[ep.name] = append(c.secrets[ep.name], prev)
		}
	}

	c.consumer = strings.TrimSpace(env("POD_NAME"))
	if c.consumer == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			ce.Invalid = append(ce.Invalid, "POD_NAME: unset and the host name is unknown; set a name unique among replicas and stable across restarts")
		}
		c.consumer = host
	}

	if s := env("LOG_LEVEL"); s != "" {
		if err := c.logLevel.UnmarshalText([]byte(s)); err != nil {
			ce.Invalid = append(ce.Invalid, "LOG_LEVEL: want debug, info, warn or error")
		}
	}
	c.drain = duration(env, "SHUTDOWN_DRAIN", defaultDrain, true, ce)
	c.shutdownTimeout = duration(env, "SHUTDOWN_TIMEOUT", defaultShutdownTimeout, false, ce)

	// OTLP over HTTP, as the OpenTelemetry variables say: the signal's own
	// URL, else the base endpoint + /v1/traces.
	if u := strings.TrimSpace(env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")); u != "" {
		c.tracesURL = u
	} else if u := strings.TrimSpace(env("OTEL_EXPORTER_OTLP_ENDPOINT")); u != "" {
		c.tracesURL = strings.TrimSuffix(u, "/") + "/v1/traces"
	}
	if c.tracesURL != "" && !strings.HasPrefix(c.tracesURL, "http://") && !strings.HasPrefix(c.tracesURL, "https://") {
		ce.Invalid = append(ce.Invalid, "OTEL_EXPORTER_OTLP_ENDPOINT: want an http:// or https:// URL (OTLP over HTTP)")
	}

	if len(ce.Missing) > 0 || len(ce.Invalid) > 0 {
		return nil, ce
	}
	return c, nil
}

func orDefault(s, def string) string {
	if s = strings.TrimSpace(s); s == "" {
		return def
	}
	return s
}

// duration reads a Go duration; zero is allowed only when zeroOK.
func duration(env func(string) string, name string, def time.Duration, zeroOK bool, ce *ConfigError) time.Duration {
	s := strings.TrimSpace(env(name))
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || (d == 0 && !zeroOK) {
		ce.Invalid = append(ce.Invalid, fmt.Sprintf("%s: want a positive Go duration such as %s", name, def))
		return def
	}
	return d
}
