package config

import "github.com/platform/private-run-api/internal/diag"

// problems collects the diagnostics of one load, in config order.
type problems = diag.List
