// Package validate holds the tests of the operations kit in
// docs/operations: the Prometheus alerting rules (alerts.yml), the Grafana
// dashboard (grafana-dashboard.json) and the log schema (logging.md). They
// parse the rules and every PromQL expression with Prometheus's own
// libraries, check each metric, label and label value against what
// adapters/prometheus exports, run each alert on a scenario that must fire it
// and on a healthy one that must not, and check that logging.md lists every
// message the library logs. It is a module of its own so that the
// Prometheus server's dependencies stay out of the adapter's.
package validate
