package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Migrations holds the versioned SQL migrations, named
// "migrations/NNNN_name.sql" and applied in the order of NNNN. Their table
// names are unqualified: run each with search_path set to the adapter's
// schema. Teams that use their own migration tool copy these files into it
// (see the package documentation) instead of calling Migrate.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// SchemaVersion is the migration version this code needs: the highest NNNN
// in Migrations.
const SchemaVersion = 2

// ErrSchemaVersion matches the error of CheckSchema when the database's
// schema is older or newer than SchemaVersion, or missing.
var ErrSchemaVersion = errors.New("postgres: schema version mismatch")

// migration is one file of Migrations.
type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(Migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, ent := range entries {
		name := ent.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("postgres: bad migration file name %q", name)
		}
		b, err := fs.ReadFile(Migrations, path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Migrate creates the schema (default "hookwise"; the Schema option of
// opts applies, the others are ignored) if needed and applies the migrations
// it has not applied yet, each in a transaction of its own, recording them
// in the table schema_migrations of the schema. Replicas that call it at the
// same time are serialized by a transaction-level advisory lock, so each
// migration is applied once. It returns an error, and leaves the schema at
// the last migration that succeeded, if one fails, or if the database holds
// a version newer than SchemaVersion.
func Migrate(ctx context.Context, db Conn, opts ...Option) error {
	return migrateTo(ctx, db, SchemaVersion, opts...)
}

// migrateTo applies the migrations up to version (the tests of upgrades
// stop at an older one).
func migrateTo(ctx context.Context, db Conn, version int, opts ...Option) error {
	cfg := newConfig(opts)
	ms, err := migrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.version > version {
			break
		}
		if err := applyOne(ctx, db, cfg.schema, m); err != nil {
			return err
		}
	}
	return nil
}

// migrateLockKey is the advisory lock Migrate holds (an arbitrary constant,
// combined with the schema's hash).
const migrateLockKey = 0x686f6f6b // "hook"

func applyOne(ctx context.Context, db Conn, schema string, m migration) error {
	q := quote(schema)
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, migrateLockKey, schema); err != nil {
			return fmt.Errorf("postgres: migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+q); err != nil {
			return fmt.Errorf("postgres: migrate: create schema: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+q+`.schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("postgres: migrate: create schema_migrations: %w", err)
		}
		var newest int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+q+`.schema_migrations`).Scan(&newest); err != nil {
			return fmt.Errorf("postgres: migrate: read version: %w", err)
		}
		if newest > SchemaVersion {
			return fmt.Errorf("%w: database at version %d, this code knows up to %d", ErrSchemaVersion, newest, SchemaVersion)
		}
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+q+`.schema_migrations WHERE version = $1)`, m.version).Scan(&done); err != nil {
			return fmt.Errorf("postgres: migrate: read version: %w", err)
		}
		if done {
			return nil
		}
		if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+q); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+q+`.schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			return fmt.Errorf("postgres: migrate: record %s: %w", m.name, err)
		}
		return nil
	})
}

// CheckSchema returns nil when the schema (the Schema option of opts, default
// "hookwise") is at SchemaVersion, and an error matching ErrSchemaVersion
// when it is missing, older or newer. Teams that apply the migrations with
// their own tool record each applied version in schema_migrations (see the
// package documentation) or skip this check.
func CheckSchema(ctx context.Context, db Conn, opts ...Option) error {
	cfg := newConfig(opts)
	var v int
	err := db.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+quote(cfg.schema)+`.schema_migrations`).Scan(&v)
	if err != nil {
		var missing bool
		_ = db.QueryRow(ctx, `SELECT to_regclass($1) IS NULL`, cfg.schema+".schema_migrations").Scan(&missing)
		if missing {
			return fmt.Errorf("%w: no schema_migrations table in schema %s (run Migrate)", ErrSchemaVersion, cfg.schema)
		}
		return fmt.Errorf("postgres: check schema: %w", err)
	}
	if v != SchemaVersion {
		return fmt.Errorf("%w: database at version %d, this code needs %d", ErrSchemaVersion, v, SchemaVersion)
	}
	return nil
}
