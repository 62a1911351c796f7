package config

import "github.com/platform/private-run-api/diag"

// problems collects the diagnostics of one load, in config order.
type problems = diag.List
